/**
 * Capabilities plug into the app through {@link AppHooks}: Apollo plugins,
 * WebSocket subscribe guards, HTTP routes, and start/stop steps. Each
 * capability has one `install` function listed in {@link MODULES}.
 */
import type { ApolloServerPlugin } from '@apollo/server';
import type { Context } from './context';
import type { RouteHandler } from './http/server';
import type { Logger } from './logger';
import type { Metrics } from './metrics';
import type { RedisClient, ConcreteTarget } from './redis/connection';
import type { Services } from './services';
import type { RefusedHook, SubscribeGuard } from './ws/server';
import { installAnalytics } from './modules/analytics';
import { installCommerce } from './modules/commerce';
import { installJobs } from './modules/jobs';
import { installEvents } from './modules/events';
import { installRegistry } from './modules/registry';
import { installRateLimits } from './modules/ratelimit';

export interface AppHooks {
  plugins: Array<ApolloServerPlugin<Context>>;
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
