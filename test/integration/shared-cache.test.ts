/**
 * The shared cache between two processes on one Redis: an entry read on one instance is dropped
 * on the other when either says it changed (by key or by tag), a read that raced an invalidation
 * is not kept, the bound on entries holds, and CACHE_MAX_ENTRIES=0 keeps nothing.
 */
import { startInstances, type Instances } from '../helpers/instances';
import { SharedCache } from '../../src/services/cache/shared-cache';

let two: Instances;
let ca: SharedCache;
let cb: SharedCache;
beforeAll(async () => {
  two = await startInstances();
  ca = two.a.app.services.cache;
  cb = two.b.app.services.cache;
});
afterAll(() => two.close());

/** Resolves once `check` holds, or fails after `ms`; returns how long it took. */
async function within(ms: number, check: () => boolean | Promise<boolean>): Promise<number> {
  const t0 = Date.now();
  while (!(await check())) {
    if (Date.now() - t0 > ms) throw new Error(`not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 2));
  }
  return Date.now() - t0;
}

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
    await two.a.app.services.pubsub.publishAsync('cache.invalidate', bad);
  }
  await ca.invalidate('elsewhere', ['k']);
  await within(1000, () => cb.stats.invalidations >= before + 6);
  expect(s.peek('k')).toBe(1);
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
