/** Counting what an operation costs in Redis, from both ends, on a private redis-server. */
import type Redis from 'ioredis';
import type { App } from '../../src/app';

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
