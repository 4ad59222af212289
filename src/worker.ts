/**
 * Standalone worker (`npm run worker`): runs jobs without serving HTTP.
 * SIGTERM/SIGINT: stop taking jobs, let running ones finish within
 * WORKER_SHUTDOWN_GRACE, hand the rest back to the queue, exit 0.
 */
import 'reflect-metadata';
import { loadConfig, ConfigError, type Config } from './config';
import { createLogger } from './util/logger';
import { closeQuietly, connect, waitReady, type ConcreteTarget } from './redis/connection';
import { resolveDefaultRedis } from './redis/embedded';
import { Keys } from './redis/keys';
import { GatewayPubSub } from './redis/pubsub';
import { defineScripts } from './redis/scripts';
import { createServices } from './services/container';
import { projectRoot } from './util/paths';
import { JobRunner } from './worker/job-runner';

/** Beyond the grace period, closing connections may take this long before the process gives up. */
const CLOSE_LIMIT_MS = 10_000;

async function redisTarget(config: Config): Promise<ConcreteTarget> {
  if (config.redis.target.kind !== 'auto') return config.redis.target;
  return { kind: 'standalone', url: (await resolveDefaultRedis(projectRoot())).url };
}

async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`Configuration error: ${err.message}`);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger(config).child({ component: 'worker' });
  const target = await redisTarget(config);
  const redis = connect(target, { name: 'gw-worker-cmd' });
  const subscriber = connect(target, { name: 'gw-worker-sub', blocking: true });
  const blocking = connect(target, { name: 'gw-worker', blocking: true });
  for (const c of [redis, subscriber, blocking]) c.on('error', (err) => log.debug({ err: err.message }, 'redis error'));
  defineScripts(redis);
  await Promise.all([waitReady(redis), waitReady(blocking)]);

  const keys = new Keys(config.redis.keyPrefix);
  const services = createServices(config, redis, keys, new GatewayPubSub(keys, redis, subscriber), log);
  const runner = new JobRunner({ services, registry: services.jobs.registry, connection: blocking, commands: redis, keys, config, log });
  await runner.start();
  log.info({ concurrency: config.jobs.concurrency, types: services.jobs.registry.types(), pid: process.pid }, 'worker running');

  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, running: runner.active }, 'worker stopping');
    setTimeout(() => {
      log.error('worker shutdown took too long; exiting');
      process.exit(1);
    }, config.jobs.shutdownGraceMs + CLOSE_LIMIT_MS).unref();
    void (async () => {
      const { handedBack } = await runner.close();
      await services.jobs.close();
      services.mail.close();
      await Promise.all([redis, subscriber, blocking].map(closeQuietly));
      log.info({ handedBack }, 'worker stopped');
      process.exit(0);
    })().catch((err: Error) => {
      log.error({ err: err.message }, 'worker shutdown failed');
      process.exit(1);
    });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err) => {
  console.error(`Worker failed to start: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
