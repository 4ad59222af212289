/** Counting what an operation costs in Redis, from both ends, on a private redis-server. */
import type Redis from 'ioredis';
import type { App } from '../../src/app/app';
import { startTestApp, type TestApp } from './app';
import { ownRedis, rawRedis, type OwnRedis } from './redis';

export interface RedisCost {
  /** Commands the app's client sent (each one a round trip, as a request issues them in sequence). */
  sent: Record<string, number>;
  /** Redis's own commandstats, which also count the commands a script runs inside itself. */
  redis: Record<string, number>;
}

async function sentByApp(app: App): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const v of (await app.metrics.redisDuration.get()).values) {
    if (v.metricName?.endsWith('_count') && v.value) out[String(v.labels.command)] = v.value;
  }
  return out;
}

/** What `fn` cost. `raw` must be a client of the app's own private Redis (its stats are reset). */
export async function redisCost(app: App, raw: Redis, fn: () => Promise<unknown>): Promise<RedisCost> {
  const before = await sentByApp(app);
  await raw.config('RESETSTAT');
  await fn();
  const info = await raw.info('commandstats');
  const after = await sentByApp(app);
  const sent: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) if (v - (before[k] ?? 0)) sent[k] = v - (before[k] ?? 0);
  const redis: Record<string, number> = {};
  for (const m of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) if (!/^(config|info)/.test(m[1])) redis[m[1]] = Number(m[2]);
  return { sent, redis };
}

export interface CountingSetup {
  own: OwnRedis;
  /** A gateway on `own`. */
  t: TestApp;
  /** A raw client of `own`. */
  r: Redis;
  /** What `fn` cost, counted on `own`. */
  cost(fn: () => Promise<unknown>): Promise<RedisCost>;
}

/**
 * For a file that counts Redis commands: a private redis-server (so no other test file's
 * traffic counts), a gateway on it and a raw client of it. They start before the file's
 * tests and stop after them; the returned object is filled in when they have started.
 */
export function countingSetup(env: Record<string, string> = {}): CountingSetup {
  const s = { cost: (fn: () => Promise<unknown>) => redisCost(s.t.app, s.r, fn) } as CountingSetup;
  beforeAll(async () => {
    s.own = await ownRedis();
    s.t = await startTestApp({ REDIS_URL: s.own.url, ...env });
    s.r = rawRedis(s.own.url);
  });
  afterAll(async () => {
    s.r?.disconnect();
    await s.t?.close();
    await s.own?.destroy();
  });
  return s;
}
