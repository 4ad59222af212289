/**
 * One process of the gateway: Redis -> the modules' services and hooks -> (for the gateway)
 * schema, Apollo, HTTP and WebSocket; torn down in the reverse order. The standalone worker
 * is the same process without HTTP (role `worker`): it connects, checks Redis, runs the same
 * modules, registers in the instance list and stops in the same order.
 */
import 'reflect-metadata';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import type { Config } from '../config';
import { createMetricsServer } from '../http/metrics-endpoint';
import { memoizeMediaTypeNegotiation } from '../http/negotiation-cache';
import { createRouter } from '../http/router';
import { buildServices, MODULES } from '../modules';
import type { AppHooks, Core, Role } from '../modules/module';
import { closeQuietly, connect, waitReady, type ConcreteTarget, type RedisClient } from '../redis/connection';
import { resolveDefaultRedis, type EmbeddedRedis } from '../redis/embedded';
import { Keys } from '../redis/keys';
import { GatewayPubSub } from '../redis/pubsub';
import { loadScripts } from '../redis/scripts';
import { checkRedisSettings } from '../redis/settings';
import type { ResolverContext } from '../resolvers/context';
import type { Services } from '../services/container';
import { newInstanceId } from '../services/instances/instances.service';
import { createLogger, type Logger } from '../util/logger';
import { Metrics } from '../util/metrics';
import { projectRoot } from '../util/paths';
import { startWebSocket, type WsHandle } from '../ws/server';
import { gatewayApolloOptions } from './apollo';
import { buildGatewaySchema } from './schema';

/** What the gateway and the worker have alike. */
export interface Process {
  readonly config: Config;
  readonly role: Role;
  readonly services: Services;
  readonly redis: RedisClient;
  readonly redisTarget: ConcreteTarget;
  readonly log: Logger;
  readonly metrics: Metrics;
  /** Drains HTTP and WebSocket (gateway), stops modules in reverse order, quits Redis. Idempotent. */
  close(): Promise<void>;
}

export interface App extends Process {
  readonly url: string;
  readonly port: number;
  /** Where GET /metrics is served when METRICS_PORT is set. */
  readonly metricsUrl?: string;
  readonly httpServer: Server;
  readonly ws: WsHandle;
}

export interface StartOptions {
  log?: Logger;
}

interface Started {
  core: Core;
  services: Services;
  hooks: AppHooks;
  subscriber: RedisClient;
  embedded?: EmbeddedRedis;
}

async function redisTargetFor(config: Config): Promise<{ target: ConcreteTarget; embedded?: EmbeddedRedis }> {
  if (config.redis.target.kind !== 'auto') return { target: config.redis.target };
  const embedded = await resolveDefaultRedis(projectRoot());
  return { target: { kind: 'standalone', url: embedded.url }, embedded };
}

/** Redis connected and checked, every module's services built and hooks installed. */
async function startModules(config: Config, role: Role, log: Logger): Promise<Started> {
  const { target, embedded } = await redisTargetFor(config);
  if (embedded) log.info({ url: embedded.url }, 'using local Redis');
  const redis = connect(target, { name: `gw-${role}` });
  const subscriber = connect(target, { name: `gw-${role}-sub`, blocking: true });
  try {
    redis.on('error', (err: Error) => log.debug({ err: err.message }, 'redis error'));
    subscriber.on('error', (err: Error) => log.debug({ err: err.message }, 'redis subscriber error'));
    loadScripts();
    const metrics = new Metrics();
    metrics.instrumentRedis(redis);
    await Promise.all([waitReady(redis), waitReady(subscriber)]);
    await checkRedisSettings(redis, config, log);
    const keys = new Keys(config.redis.keyPrefix);
    const core: Core = {
      config,
      role,
      log,
      metrics,
      redis,
      redisTarget: target,
      keys,
      pubsub: new GatewayPubSub(keys, redis, subscriber),
      instanceId: newInstanceId(),
    };
    const services = buildServices(core);
    const hooks: AppHooks = { plugins: [], wsGuards: [], wsRefused: [], routes: new Map(), onStart: [], onStop: [] };
    for (const m of MODULES) await m.install?.({ ...core, services, hooks });
    return { core, services, hooks, subscriber, embedded };
  } catch (err) {
    // A local redis-server started for this process must not outlive a failed start.
    await Promise.all([closeQuietly(redis), closeQuietly(subscriber)]);
    await embedded?.stop();
    throw err;
  }
}

/** The shared end of both roles: modules' stop steps in reverse, then Redis, then a local redis-server. */
async function stopModules({ core, hooks, subscriber, embedded }: Started): Promise<void> {
  for (const stop of [...hooks.onStop].reverse()) {
    try {
      await stop();
    } catch (err) {
      core.log.error({ err }, 'error while stopping a module');
    }
  }
  await Promise.all([closeQuietly(core.redis), closeQuietly(subscriber)]);
  await embedded?.stop();
}

const listen = (server: Server, port: number, host: string): Promise<void> =>
  new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });

/** Starts a gateway: HTTP and WebSocket on PORT, job workers too with WORKER=1. */
export async function startApp(config: Config, opts: StartOptions = {}): Promise<App> {
  memoizeMediaTypeNegotiation();
  const log = opts.log ?? createLogger(config);
  const started = await startModules(config, 'gateway', log);
  const { core, services, hooks } = started;
  const { metrics, redis, pubsub } = core;
  try {
    const schema = await buildGatewaySchema(pubsub);
    const httpServer = createServer();
    httpServer.keepAliveTimeout = 65_000;
    const apollo = new ApolloServer<ResolverContext>(
      gatewayApolloOptions({
        config,
        schema,
        log,
        metrics,
        before: [ApolloServerPluginDrainHttpServer({ httpServer, stopGracePeriodMillis: 5000 })],
        after: hooks.plugins,
      }),
    );
    await apollo.start();
    const ready = async (): Promise<boolean> => {
      try {
        return (await redis.ping()) === 'PONG';
      } catch {
        return false;
      }
    };
    const access = config.metrics;
    const metricsHere = access.port === null ? { token: access.token } : null;
    const route = createRouter({ apollo, services, log, metrics, metricsHere, ready, routes: hooks.routes });
    // The router answers every failure itself (500 at worst): its promise never rejects.
    httpServer.on('request', (req, res) => void route(req, res));
    const ws = await startWebSocket({ server: httpServer, schema, services, log, metrics, guards: hooks.wsGuards, refused: hooks.wsRefused });
    await listen(httpServer, config.http.port, config.http.host);
    const { host } = config.http;
    const urlOf = (p: number): string => `http://${host.includes(':') ? `[${host}]` : host}:${p}`;
    const port = (httpServer.address() as AddressInfo).port;
    const url = urlOf(port);
    const metricsServer = access.port === null ? null : createMetricsServer(metrics, access.token);
    if (metricsServer) await listen(metricsServer, access.port!, host);
    else if (config.production && !access.token)
      log.warn('GET /metrics is open to anyone who reaches this port: set METRICS_TOKEN or METRICS_PORT to keep it private');
    const metricsUrl = metricsServer ? urlOf((metricsServer.address() as AddressInfo).port) : undefined;
    for (const start of hooks.onStart) await start({ url });
    log.info({ url, redis: core.redisTarget.kind }, 'gateway listening');

    let closing: Promise<void> | undefined;
    const close = (): Promise<void> =>
      (closing ??= (async () => {
        await ws.close();
        await apollo.stop();
        if (metricsServer) await new Promise<void>((resolve) => metricsServer.close(() => resolve()));
        await stopModules(started);
      })());
    return { config, role: 'gateway', services, redis, redisTarget: core.redisTarget, log, metrics, close, url, port, metricsUrl, httpServer, ws };
  } catch (err) {
    await stopModules(started);
    throw err;
  }
}

/** Starts a standalone worker: the gateway's modules without HTTP. */
export async function startWorker(config: Config, opts: StartOptions = {}): Promise<Process> {
  const log = opts.log ?? createLogger(config);
  const started = await startModules(config, 'worker', log);
  const { core, services, hooks } = started;
  try {
    for (const start of hooks.onStart) await start({ url: null });
  } catch (err) {
    await stopModules(started);
    throw err;
  }
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => (closing ??= stopModules(started));
  return { config, role: 'worker', services, redis: core.redis, redisTarget: core.redisTarget, log, metrics: core.metrics, close };
}
