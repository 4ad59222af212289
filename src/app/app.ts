/**
 * Assembles one gateway instance: Redis -> services -> schema -> Apollo -> HTTP
 * and WebSocket, and tears it down in the reverse order.
 */
import 'reflect-metadata';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import type { Config } from '../config';
import type { ResolverContext } from '../resolvers/context';
import { createLogger, type Logger } from '../util/logger';
import { Metrics } from '../util/metrics';
import { gatewayApolloOptions } from './apollo';
import { MODULES, type AppHooks } from '../modules/module';
import { memoizeMediaTypeNegotiation } from '../http/negotiation-cache';
import { closeQuietly, connect, waitReady, type ConcreteTarget, type RedisClient } from '../redis/connection';
import { resolveDefaultRedis, type EmbeddedRedis } from '../redis/embedded';
import { Keys } from '../redis/keys';
import { GatewayPubSub } from '../redis/pubsub';
import { defineScripts } from '../redis/scripts';
import { checkRedisSettings } from '../redis/settings';
import { buildGatewaySchema } from './schema';
import { createServices, type Services } from '../services/container';
import { createRouter } from '../http/router';
import { createMetricsServer } from '../http/metrics-endpoint';
import { startWebSocket, type WsHandle } from '../ws/server';
import { projectRoot } from '../util/paths';

export interface App {
  readonly config: Config;
  readonly url: string;
  readonly port: number;
  /** Where GET /metrics is served when METRICS_PORT is set. */
  readonly metricsUrl?: string;
  readonly services: Services;
  readonly redis: RedisClient;
  readonly redisTarget: ConcreteTarget;
  readonly httpServer: Server;
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly ws: WsHandle;
  /** Drains HTTP and WebSocket, stops modules, quits Redis. Idempotent. */
  close(): Promise<void>;
}

export interface StartOptions {
  log?: Logger;
}

async function redisTargetFor(config: Config): Promise<{ target: ConcreteTarget; embedded?: EmbeddedRedis }> {
  if (config.redis.target.kind !== 'auto') return { target: config.redis.target };
  const embedded = await resolveDefaultRedis(projectRoot());
  return { target: { kind: 'standalone', url: embedded.url }, embedded };
}

export async function startApp(config: Config, opts: StartOptions = {}): Promise<App> {
  memoizeMediaTypeNegotiation();
  const log = opts.log ?? createLogger(config);
  const { target, embedded } = await redisTargetFor(config);
  if (embedded) log.info({ url: embedded.url }, 'using local Redis');
  try {
    return await assemble(config, log, target, embedded);
  } catch (err) {
    // A local redis-server started for this process must not outlive a failed start.
    await embedded?.stop();
    throw err;
  }
}

async function assemble(config: Config, log: Logger, target: ConcreteTarget, embedded: EmbeddedRedis | undefined): Promise<App> {
  const metrics = new Metrics();
  const redis = connect(target, { name: 'gw-main' });
  const subscriber = connect(target, { name: 'gw-sub', blocking: true });
  redis.on('error', (err) => log.debug({ err: err.message }, 'redis error'));
  subscriber.on('error', (err) => log.debug({ err: err.message }, 'redis subscriber error'));
  defineScripts(redis);
  metrics.instrumentRedis(redis);
  await Promise.all([waitReady(redis), waitReady(subscriber)]);
  try {
    await checkRedisSettings(redis, config, log);
  } catch (err) {
    await Promise.all([closeQuietly(redis), closeQuietly(subscriber)]);
    throw err;
  }

  const keys = new Keys(config.redis.keyPrefix);
  const pubsub = new GatewayPubSub(keys, redis, subscriber);
  const services = createServices(config, redis, keys, pubsub, log);
  const hooks: AppHooks = { plugins: [], wsGuards: [], wsRefused: [], routes: new Map(), onStart: [], onStop: [] };
  for (const install of MODULES) await install({ services, redis, redisTarget: target, log, metrics, hooks });

  if (config.sessions.admin && (await services.users.ensureAdmin(config.sessions.admin.email, config.sessions.admin.password))) {
    log.info({ email: config.sessions.admin.email }, 'admin account created');
  }

  const schema = await buildGatewaySchema(pubsub);
  const httpServer = createServer();
  httpServer.keepAliveTimeout = 65_000;
  const apollo = new ApolloServer<ResolverContext>(
    gatewayApolloOptions({ config, schema, log, metrics, before: [ApolloServerPluginDrainHttpServer({ httpServer, stopGracePeriodMillis: 5000 })], after: hooks.plugins }),
  );
  await apollo.start();
  const ready = async (): Promise<boolean> => {
    try {
      return (await redis.ping()) === 'PONG';
    } catch {
      return false;
    }
  };
  const { metrics: metricsAccess } = config;
  const metricsHere = metricsAccess.port === null ? { token: metricsAccess.token } : null;
  httpServer.on('request', createRouter({ apollo, services, log, metrics, metricsHere, ready, routes: hooks.routes }));
  const ws = await startWebSocket({ server: httpServer, schema, services, log, metrics, guards: hooks.wsGuards, refused: hooks.wsRefused });
  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(config.http.port, config.http.host, () => resolve());
  });
  const port = (httpServer.address() as AddressInfo).port;
  const urlOf = (p: number): string => `http://${config.http.host.includes(':') ? `[${config.http.host}]` : config.http.host}:${p}`;
  const url = urlOf(port);
  const metricsServer = metricsAccess.port === null ? null : createMetricsServer(metrics, metricsAccess.token);
  if (metricsServer) {
    await new Promise<void>((resolve, reject) => {
      metricsServer.once('error', reject);
      metricsServer.listen(metricsAccess.port!, config.http.host, () => resolve());
    });
  } else if (config.production && !metricsAccess.token) {
    log.warn('GET /metrics is open to anyone who reaches this port: set METRICS_TOKEN or METRICS_PORT to keep it private');
  }
  const metricsUrl = metricsServer ? urlOf((metricsServer.address() as AddressInfo).port) : undefined;
  for (const start of hooks.onStart) await start({ url });
  log.info({ url, redis: target.kind }, 'gateway listening');

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      await ws.close();
      await apollo.stop();
      if (metricsServer) await new Promise<void>((resolve) => metricsServer.close(() => resolve()));
      for (const stop of [...hooks.onStop].reverse()) {
        try {
          await stop();
        } catch (err) {
          log.error({ err }, 'error while stopping a module');
        }
      }
      await Promise.all([closeQuietly(redis), closeQuietly(subscriber)]);
      await embedded?.stop();
    })());

  return { config, url, port, metricsUrl, services, redis, redisTarget: target, httpServer, log, metrics, ws, close };
}
