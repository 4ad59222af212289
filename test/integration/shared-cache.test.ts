/**
 * The shared cache between two processes on one Redis: an entry read on one instance is dropped
 * on the other when either says it changed (by key, by tag, or by a message a script published on
 * a topic the cache listens to), a read that raced an invalidation is not kept and a read after
 * one never joins a load from before it, the bound on entries holds, and CACHE_MAX_ENTRIES=0
 * keeps nothing.
 */
import { startServices, type ServicesHandle } from '../helpers/services';
import { rawRedis, subscriberCount, uniquePrefix } from '../helpers/redis';
import { SharedCache } from '../../src/services/cache/shared-cache';
import { within } from '../helpers/eventually';

let a: ServicesHandle;
let b: ServicesHandle;
let ca: SharedCache;
let cb: SharedCache;
beforeAll(async () => {
  // Two processes of one deployment (one key prefix).
  const prefix = uniquePrefix('cache');
  [a, b] = await Promise.all([startServices({ KEY_PREFIX: prefix }), startServices({ KEY_PREFIX: prefix })]);
  ca = a.app.services.cache;
  cb = b.app.services.cache;
});
afterAll(async () => {
  await b?.app.close();
  await a?.close();
});

let n = 0;
const fresh = (): string => `space-${++n}`;

test('a hit does not call the loader again; invalidation on one instance drops the entry on the other', async () => {
  const name = fresh();
  const sa = ca.space<string>(name, { ttlMs: 60_000 });
  const sb = cb.space<string>(name, { ttlMs: 60_000 });
  let loads = 0;
  const load = async (): Promise<string> => `v${++loads}`;
  expect(await sb.get('k', load)).toBe('v1');
  expect(await sb.get('k', load)).toBe('v1');
  expect(loads).toBe(1);
  await sa.invalidate(['k']);
  await within(1000, () => sb.peek('k') === undefined);
  expect(await sb.get('k', load)).toBe('v2');
});

test('a tag drops every entry holding it, in every space, on every instance', async () => {
  const s1 = cb.space<number>(fresh(), { ttlMs: 60_000 });
  const s2 = cb.space<number>(fresh(), { ttlMs: 60_000 });
  await s1.get('a', async () => 1, { tags: ['product:7'] });
  await s2.get('b', async () => 2, { tags: ['product:7', 'catalog'] });
  await s2.get('c', async () => 3, { tags: ['catalog'] });
  await ca.invalidateTags(['product:7']);
  await within(1000, () => s1.peek('a') === undefined && s2.peek('b') === undefined);
  expect(s2.peek('c')).toBe(3);
});

test('a load that was running when an invalidation came is returned but not kept', async () => {
  const s = cb.space<string>(fresh(), { ttlMs: 60_000 });
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const pending = s.get('k', async () => {
    await gate;
    return 'read-before-the-change';
  });
  await s.invalidate(['k']);
  release();
  expect(await pending).toBe('read-before-the-change');
  expect(s.peek('k')).toBeUndefined();
});

test('concurrent misses of one key on one instance share one load', async () => {
  const s = cb.space<number>(fresh(), { ttlMs: 60_000 });
  let loads = 0;
  const values = await Promise.all(Array.from({ length: 20 }, () => s.get('k', async () => ++loads)));
  expect(loads).toBe(1);
  expect(new Set(values)).toEqual(new Set([1]));
});

test('an entry lives no longer than its space allows', async () => {
  const s = cb.space<number>(fresh(), { ttlMs: 50 });
  await s.get('k', async () => 1, { ttlMs: 10_000 });
  expect(s.peek('k')).toBe(1);
  await new Promise((r) => setTimeout(r, 80));
  expect(s.peek('k')).toBeUndefined();
});

test('malformed invalidation messages are ignored, not thrown', async () => {
  const s = cb.space<number>(fresh(), { ttlMs: 60_000 });
  await s.get('k', async () => 1);
  const before = cb.stats.invalidations;
  for (const bad of [null, 'x', { tags: 'catalog' }, { space: 7, keys: ['k'] }, { tags: [{}] }]) {
    await a.app.services.pubsub.publishAsync('cache.invalidate', bad);
  }
  await ca.invalidate('elsewhere', ['k']);
  await within(1000, () => cb.stats.invalidations >= before + 6);
  expect(s.peek('k')).toBe(1);
});

test('a read that starts after an invalidation does not join a load that started before it', async () => {
  const s = cb.space<string>(fresh(), { ttlMs: 60_000 });
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const before = s.get('k', async () => {
    await gate;
    return 'old';
  });
  await s.invalidate(['k']);
  // Without the rule, this read would share the pending load and answer what was read before the change.
  const after = s.get('k', async () => 'new');
  release();
  expect(await before).toBe('old');
  expect(await after).toBe('new');
  expect(s.peek('k')).toBe('new');
});

test('tags and lifetime may be worked out from the loaded value; a lifetime of 0 keeps nothing', async () => {
  const s = cb.space<number[]>(fresh(), { ttlMs: 60_000 });
  await s.get('page', async () => [1, 2], { tags: (v) => v.map((id) => `item:${id}`) });
  await s.get('empty', async () => [], { ttlMs: (v) => (v.length ? 60_000 : 0) });
  expect(s.peek('page')).toEqual([1, 2]);
  expect(s.peek('empty')).toBeUndefined();
  cb.invalidateTagsHere(['item:2']);
  expect(s.peek('page')).toBeUndefined();
});

test('invalidateTagsHere drops tags on this instance only', async () => {
  const name = fresh();
  const sa = ca.space<number>(name, { ttlMs: 60_000 });
  const sb = cb.space<number>(name, { ttlMs: 60_000 });
  await sa.get('k', async () => 1, { tags: ['here'] });
  await sb.get('k', async () => 2, { tags: ['here'] });
  ca.invalidateTagsHere(['here']);
  expect(sa.peek('k')).toBeUndefined();
  await new Promise((r) => setTimeout(r, 50));
  expect(sb.peek('k')).toBe(2);
});

describe('invalidateOn: a message a script publishes drops tags on every instance', () => {
  const TOPIC = 'test.changed';
  let stops: Array<() => void> = [];
  afterAll(() => stops.forEach((stop) => stop()));

  test('every instance drops what the message names; one subscription per topic and process; malformed messages are ignored', async () => {
    const heard: unknown[] = [];
    const tagsOf = (m: { ids?: unknown }): string[] | null => (Array.isArray(m?.ids) ? m.ids.map((id) => `thing:${String(id)}`) : null);
    stops = await Promise.all([
      ca.invalidateOn(TOPIC, tagsOf),
      cb.invalidateOn(TOPIC, tagsOf, { after: (m) => heard.push(m) }),
      cb.invalidateOn(TOPIC, () => ['also-this']),
    ]);
    const r = rawRedis();
    try {
      const channel = a.app.services.keys.channel(TOPIC);
      expect(await subscriberCount(r, channel)).toBe(2);
      const name = fresh();
      const sa = ca.space<number>(name, { ttlMs: 60_000 });
      const sb = cb.space<number>(name, { ttlMs: 60_000 });
      const other = cb.space<number>(fresh(), { ttlMs: 60_000 });
      await Promise.all([sa.get('1', async () => 1, { tags: ['thing:1'] }), sb.get('1', async () => 1, { tags: ['thing:1'] })]);
      await sb.get('2', async () => 2, { tags: ['thing:2'] });
      await other.get('x', async () => 3, { tags: ['also-this'] });
      // Malformed: not JSON, the wrong shape, a handler that throws on it. Nothing named, nothing dropped.
      for (const bad of ['not json {', '"a string"', 'null', '{"ids":"1"}']) await r.publish(channel, bad);
      // As a script would publish it (raw JSON on the prefixed channel), not through the gateway.
      await r.publish(channel, JSON.stringify({ ids: [1] }));
      await within(1000, () => sa.peek('1') === undefined && sb.peek('1') === undefined);
      expect(sb.peek('2')).toBe(2);
      // The second handler of b names a tag for any message.
      expect(other.peek('x')).toBeUndefined();
      expect(heard).toContainEqual({ ids: [1] });
    } finally {
      r.disconnect();
    }
  });

  test("the cache's own channel cannot be used as a topic", async () => {
    await expect(ca.invalidateOn('cache.invalidate', () => [])).rejects.toThrow(/own channel/);
  });
});

describe('bounds', () => {
  test('no more entries than CACHE_MAX_ENTRIES; 0 keeps nothing', async () => {
    const small = new SharedCache(null, { maxEntries: 3 });
    const s = small.space<number>('s', { ttlMs: 60_000 });
    for (let i = 0; i < 10; i++) await s.get(String(i), async () => i, { tags: ['t'] });
    expect([...Array(10).keys()].filter((i) => s.peek(String(i)) !== undefined)).toEqual([7, 8, 9]);
    const off = new SharedCache(null, { maxEntries: 0 });
    const o = off.space<number>('s', { ttlMs: 60_000 });
    let loads = 0;
    await o.get('k', async () => ++loads);
    await o.get('k', async () => ++loads);
    expect(loads).toBe(2);
    expect(off.enabled).toBe(false);
  });
});
