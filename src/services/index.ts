/** The service container: every service built once per app from its Redis client and key builder. */
import type { Config } from '../config';
import type { Logger } from '../logger';
import type { RedisClient } from '../redis/connection';
import type { Keys } from '../redis/keys';
import type { GatewayPubSub } from '../redis/pubsub';
import { AuthService } from './auth.service';
import { SessionService } from './session.service';
import { UserService } from './user.service';

export interface Services {
  config: Config;
  keys: Keys;
  pubsub: GatewayPubSub;
  users: UserService;
  sessions: SessionService;
  auth: AuthService;
}

export function createServices(config: Config, redis: RedisClient, keys: Keys, pubsub: GatewayPubSub, log: Logger): Services {
  const users = new UserService(redis, keys, config.scryptN);
  const sessions = new SessionService(redis, keys, pubsub, config, log);
  const auth = new AuthService(users, sessions);
  return { config, keys, pubsub, users, sessions, auth };
}
