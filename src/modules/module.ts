/**
 * A capability module says in one place what its capability contributes: its services (added
 * to the container in the module list's order), its resolvers (the schema), and how it hooks
 * into a running process: request plugins (composed into one Apollo plugin), WebSocket guards, HTTP routes, start and stop steps.
 * The gateway and the standalone worker run the same modules (`role` tells them apart).
 */
import type { GatewayPlugin } from '../plugins/compose';
import type { Config } from '../config';
import type { RouteHandler } from '../http/router';
import type { ConcreteTarget, RedisClient } from '../redis/connection';
import type { Keys } from '../redis/keys';
import type { GatewayPubSub } from '../redis/pubsub';
import type { ResolverContext } from '../resolvers/context';
import type { Services } from '../services/container';
import type { Logger } from '../util/logger';
import type { Metrics } from '../util/metrics';
import type { RefusedHook, SubscribeGuard } from '../ws/server';

/** `gateway` serves HTTP and WebSocket (and runs workers with WORKER=1); `worker` only runs jobs. */
export type Role = 'gateway' | 'worker';

/** What every module builds on: one per process. */
export interface Core {
  readonly config: Config;
  readonly role: Role;
  readonly log: Logger;
  readonly metrics: Metrics;
  /** The shared command connection (fails fast while Redis is away). */
  readonly redis: RedisClient;
  readonly redisTarget: ConcreteTarget;
  readonly keys: Keys;
  readonly pubsub: GatewayPubSub;
  /** This process's id in the instance list and the source of its domain events. */
  readonly instanceId: string;
}

export interface AppHooks {
  plugins: Array<GatewayPlugin<ResolverContext>>;
  wsGuards: SubscribeGuard[];
  /** Run for each WebSocket document refused before execution (rate limits charge it by size). */
  wsRefused: RefusedHook[];
  routes: Map<string, RouteHandler>;
  /** Run once the process is ready (the gateway listens at `url`; a worker has none), in module order. */
  onStart: Array<(started: { url: string | null }) => Promise<void>>;
  /** Run at shutdown after HTTP and WebSocket are drained, before Redis clients quit; in reverse module order. */
  onStop: Array<() => Promise<void>>;
}

export interface ModuleEnv extends Core {
  readonly services: Services;
  readonly hooks: AppHooks;
}

// TypeGraphQL takes resolver classes as plain constructors of any shape.
// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type -- TypeGraphQL's own type for resolver classes
export type ResolverClass = Function;

export interface Module {
  readonly name: string;
  /** Adds this capability's services; `built` holds those of the modules listed before (and config, keys, pubsub). */
  services?(core: Core, built: Services): Partial<Services>;
  /** The resolver classes this capability adds to the schema. */
  readonly resolvers?: readonly ResolverClass[];
  /** Hooks into the running process, once every module's services exist. */
  install?(env: ModuleEnv): void | Promise<void>;
}
