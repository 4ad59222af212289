/**
 * The two-level cache of `@Cached` results (services/cache/result-cache.ts) between two processes
 * on one private Redis: a hit in memory costs no command; one process's result serves the other
 * from Redis; a tag invalidated on one drops the result from both memories and from Redis;
 * arguments never appear in a key, whatever their shape; results over the cap are kept nowhere;
 * and a result computed before an invalidation is never written after it, under concurrency.
 */
import type Redis from 'ioredis';
import { ownRedis, rawRedis, uniquePrefix, type OwnRedis } from '../helpers/redis';
import { startServices, type ServicesHandle } from '../helpers/services';
import { MAX_CACHED_BYTES, canonicalJson, type ResultCache, type ResultCacheOptions } from '../../src/services/cache/result-cache';

let own: OwnRedis;
let a: ServicesHandle;
let b: ServicesHandle;
let ra: ResultCache;
let rb: ResultCache;
let r: Redis;
let prefix: string;
beforeAll(async () => {
  own = await ownRedis();
  prefix = uniquePrefix('results');
  const env = { REDIS_URL: own.url, KEY_PREFIX: prefix };
  [a, b] = await Promise.all([startServices(env), startServices(env)]);
  ra = a.app.services.results;
  rb = b.app.services.results;
  r = rawRedis(own.url);
});
afterAll(async () => {
  r?.disconnect();
  await Promise.all([a?.app.close(), b?.app.close()]);
  await own?.destroy();
});

const opts = (tags: string[], more: Partial<ResultCacheOptions> = {}): ResultCacheOptions => ({ ttlSeconds: 60, tags, redis: true, ...more });

/** Commands Redis ran while `fn` ran (INFO and CONFIG left out). */
async function commands(fn: () => Promise<unknown>): Promise<Record<string, number>> {
  await r.config('RESETSTAT');
  await fn();
  const out: Record<string, number> = {};
  for (const m of (await r.info('commandstats')).matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) if (!/^(config|info)/.test(m[1])) out[m[1]] = Number(m[2]);
  return out;
}

async function within(ms: number, check: () => boolean | Promise<boolean>): Promise<void> {
  const t0 = Date.now();
  while (!(await check())) {
    if (Date.now() - t0 > ms) throw new Error(`not within ${ms} ms`);
    await new Promise((res) => setTimeout(res, 2));
  }
}

let n = 0;
const field = (): string => `Query.test${++n}`;

test('a second call is a hit in memory (no Redis command); the other instance takes the result from Redis', async () => {
  const f = field();
  let computed = 0;
  const compute = async (): Promise<{ answer: number }> => ({ answer: ++computed });
  expect(await ra.get(f, { id: 1, limit: 5 }, opts(['t1']), compute)).toEqual({ answer: 1 });
  expect(await commands(() => ra.get(f, { id: 1, limit: 5 }, opts(['t1']), compute))).toEqual({});
  // Arguments in another order are the same arguments.
  expect(await ra.get(f, { limit: 5, id: 1 }, opts(['t1']), compute)).toEqual({ answer: 1 });
  const before = rb.stats.secondLevelHits;
  expect(await rb.get(f, { id: 1, limit: 5 }, opts(['t1']), compute)).toEqual({ answer: 1 });
  expect(rb.stats.secondLevelHits).toBe(before + 1);
  expect(computed).toBe(1);
  // What memory hands out cannot be changed by one caller for the others.
  const hit = await rb.get<{ answer: number }>(f, { id: 1, limit: 5 }, opts(['t1']), compute);
  expect(Object.isFrozen(hit)).toBe(true);
});

test('invalidating a tag on one instance drops the result from both memories and from Redis', async () => {
  const f = field();
  let version = 1;
  const compute = async (): Promise<number> => version;
  await ra.get(f, {}, opts(['t2', 'other']), compute);
  await rb.get(f, {}, opts(['t2', 'other']), compute);
  expect(await r.exists(ra.keyOf(f, {}))).toBe(1);
  version = 2;
  await a.app.services.cache.invalidateTags(['t2']);
  expect(await r.exists(ra.keyOf(f, {}))).toBe(0);
  expect(await ra.get(f, {}, opts(['t2', 'other']), compute)).toBe(2);
  // b's memory hears of it over pub/sub.
  await within(1000, async () => (await rb.get(f, {}, opts(['t2', 'other']), compute)) === 2);
  // The tag's member list holds live entries only.
  expect(await r.zrange(`${prefix}:cache:{cache}:tag:t2`, '0', '-1')).toEqual([ra.keyOf(f, {})]);
});

test('arguments of any shape are only ever hashed: no key holds them, whatever separators, NUL or size', async () => {
  const f = field();
  const hostile = [
    { id: 'a:{b}:c' },
    { id: '}{cache}:tag:x' },
    { id: 'nul\u0000byte', 'k:{x}': '\u0000' },
    { id: '*', pattern: '[a-z]?' },
    { id: 'x'.repeat(1_000_000) },
    { nested: { list: ['\n', '\r\n', ' ', '\u2028'], deep: { deeper: '{}' } } },
  ];
  for (const args of hostile) await ra.get(f, args, opts(['t3']), async () => ({ ok: true }));
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, found] = await r.scan(cursor, 'MATCH', `${prefix}:cache:*`, 'COUNT', 1000);
    cursor = next;
    keys.push(...found);
  } while (cursor !== '0');
  const entries = keys.filter((k) => !k.includes(':tag:') && !k.endsWith(':gen'));
  expect(entries.length).toBeGreaterThanOrEqual(hostile.length);
  for (const k of entries) expect(k).toMatch(new RegExp(`^${prefix}:cache:\\{cache\\}:field:[0-9a-f]{64}$`));
  for (const k of keys) expect(k).toMatch(new RegExp(`^${prefix}:cache:\\{cache\\}:(field:[0-9a-f]{64}|tag:[a-z0-9]+|gen)$`));
  for (const args of hostile) expect(keys).toContain(ra.keyOf(f, args));
  // The tag's members are those keys, nothing else.
  for (const m of await r.zrange(`${prefix}:cache:{cache}:tag:t3`, '0', '-1')) expect(m).toMatch(/:field:[0-9a-f]{64}$/);
});

test('a result over the cap, not plain JSON, or null is returned but kept nowhere', async () => {
  const f = field();
  let computed = 0;
  const big = async (): Promise<string> => {
    computed++;
    return 'x'.repeat(MAX_CACHED_BYTES + 1);
  };
  expect((await ra.get(f, { big: true }, opts(['t4']), big)).length).toBe(MAX_CACHED_BYTES + 1);
  expect((await ra.get(f, { big: true }, opts(['t4']), big)).length).toBe(MAX_CACHED_BYTES + 1);
  expect(computed).toBe(2);
  expect(await r.exists(ra.keyOf(f, { big: true }))).toBe(0);
  expect(ra.stats.oversize).toBeGreaterThanOrEqual(2);
  // Just under the cap (the JSON's quotes count) is kept.
  const fits = 'y'.repeat(MAX_CACHED_BYTES - 2);
  await ra.get(f, { fits: true }, opts(['t4']), async () => fits);
  expect(await r.exists(ra.keyOf(f, { fits: true }))).toBe(1);
  // A Date would come back from Redis as a string: not kept.
  await ra.get(f, { date: true }, opts(['t4']), async () => ({ at: new Date() }));
  expect(await r.exists(ra.keyOf(f, { date: true }))).toBe(0);
  await ra.get(f, { none: true }, opts(['t4']), async () => null);
  expect(await r.exists(ra.keyOf(f, { none: true }))).toBe(0);
});

test('redis: false keeps a result in memory only', async () => {
  const f = field();
  let computed = 0;
  await ra.get(f, {}, opts(['t5'], { redis: false }), async () => ++computed);
  expect(await commands(() => ra.get(f, {}, opts(['t5'], { redis: false }), async () => ++computed))).toEqual({});
  expect(await r.exists(ra.keyOf(f, {}))).toBe(0);
  expect(computed).toBe(1);
});

test('a result computed before an invalidation is never written after it (concurrent reads and invalidations on two instances)', async () => {
  const f = field();
  const TAG = 'race';
  const key = ra.keyOf(f, {});
  let version = 0;
  // The lowest version a read may answer from now on (raised once an invalidation has returned).
  let floor = 0;
  const violations: string[] = [];
  const compute = async (): Promise<{ v: number }> => {
    const seen = version;
    // Slow, so that invalidations land while results are being computed.
    await new Promise((res) => setTimeout(res, Math.random() * 6));
    return { v: seen };
  };
  let running = true;
  const readers = [ra, rb, ra, rb].map(async (rc, i) => {
    while (running) {
      const min = floor;
      const got = await rc.get<{ v: number }>(f, {}, opts([TAG]), compute);
      // a's own reads see its invalidations at once (applied before the script is sent).
      if (rc === ra && got.v < min) violations.push(`reader ${i} (a) got ${got.v} after ${min} was invalidated`);
      await new Promise((res) => setImmediate(res));
    }
  });
  for (let i = 0; i < 150; i++) {
    version++;
    await a.app.services.cache.invalidateTags([TAG]);
    floor = version;
    const inRedis = await r.get(key);
    if (inRedis && (JSON.parse(inRedis) as { v: number }).v < floor) violations.push(`Redis held ${inRedis} after ${floor} was invalidated`);
    await new Promise((res) => setTimeout(res, Math.random() * 4));
  }
  running = false;
  await Promise.all(readers);
  await new Promise((res) => setTimeout(res, 20));
  const last = await r.get(key);
  if (last) expect(JSON.parse(last)).toEqual({ v: version });
  expect(violations).toEqual([]);
  // The race was really run: some writes were refused because their tag moved on.
  expect(ra.stats.raced + rb.stats.raced).toBeGreaterThan(0);
});

test('CACHE_MAX_ENTRIES=0 computes every time and stores nothing', async () => {
  const off = await startServices({ REDIS_URL: own.url, KEY_PREFIX: prefix, CACHE_MAX_ENTRIES: '0' });
  try {
    const f = field();
    let computed = 0;
    for (let i = 0; i < 3; i++) await off.app.services.results.get(f, {}, opts(['t6']), async () => ++computed);
    expect(computed).toBe(3);
    expect(await r.exists(off.app.services.results.keyOf(f, {}))).toBe(0);
  } finally {
    await off.app.close();
  }
});

test('canonical JSON: keys sorted at every depth, undefined left out, arrays kept in order', () => {
  expect(canonicalJson({ b: 1, a: { d: [2, { z: 1, y: undefined }], c: null } })).toBe('{"a":{"c":null,"d":[2,{"z":1}]},"b":1}');
  expect(canonicalJson(Object.assign(Object.create(null) as object, { x: '\u0000' }))).toBe('{"x":"\\u0000"}');
});
