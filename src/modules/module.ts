/**
 * Capabilities plug into the app through {@link AppHooks}: Apollo plugins,
 * WebSocket subscribe guards, HTTP routes, and start/stop steps. Each
 * capability has one `install` function listed in {@link MODULES}.
 */
import type { ApolloServerPlugin } from '@apollo/server';
import type { ResolverContext } from '../resolvers/context';
import type { RouteHandler } from '../http/router';
import type { Logger } from '../util/logger';
import type { Metrics } from '../util/metrics';
import type { RedisClient, ConcreteTarget } from '../redis/connection';
import type { Services } from '../services/container';
import type { RefusedHook, SubscribeGuard } from '../ws/server';
import { installAnalytics } from './analytics.module';
import { installCommerce } from './commerce.module';
import { installJobs } from './jobs.module';
import { installEvents } from './events.module';
import { installRegistry } from './instances.module';
import { installRateLimits } from './ratelimit.module';

export interface AppHooks {
  plugins: Array<ApolloServerPlugin<ResolverContext>>;
  wsGuards: SubscribeGuard[];
  /** Run for each WebSocket document refused before execution (rate limits charge it by size). */
  wsRefused: RefusedHook[];
  routes: Map<string, RouteHandler>;
  /** Run after the HTTP server listens; `url` is where it listens. */
  onStart: Array<(started: { url: string }) => Promise<void>>;
  /** Run at shutdown after HTTP and WebSocket are drained, before Redis clients quit; in reverse order. */
  onStop: Array<() => Promise<void>>;
}

export interface ModuleEnv {
  services: Services;
  redis: RedisClient;
  redisTarget: ConcreteTarget;
  log: Logger;
  metrics: Metrics;
  hooks: AppHooks;
}

export type Module = (env: ModuleEnv) => void | Promise<void>;

// installRegistry last: stop hooks run in reverse, so an instance leaves the registry before its workers stop.
export const MODULES: Module[] = [installRateLimits, installCommerce, installAnalytics, installJobs, installEvents, installRegistry];
