/**
 * The limiter store on real Redis: waivers (a charge skipped when a sorted set of its slot holds
 * a member with an expiry ahead), for charges and refunds, on one call and split by hash tag;
 * requests of one turn of the event loop batched into one script call, still exact.
 */
import type Redis from 'ioredis';
import { RedisLimiterStore, type StoreCharge } from '../../src/services/ratelimit/store';
import { Keys } from '../../src/redis/keys';
import { flushPrefix, limiterStoreModes, rawRedis, testRedisMode, uniquePrefix } from '../helpers/redis';

const prefix = uniquePrefix('rlstore');
const keys = new Keys(prefix);
let r: Redis;
/** Fresh tags for every test, across the describe blocks. */
let n = 0;

beforeAll(() => {
  r = rawRedis();
});
afterAll(async () => {
  await flushPrefix(prefix);
  r.disconnect();
});

/** 5 points per minute, burst 5: 12 s per point. */
const charge = (tag: string, name: string, cost: number, waiver?: StoreCharge['waiver']): StoreCharge => ({
  key: keys.rateLimit(tag, name),
  tag,
  cost,
  interval: 12_000,
  capacity: 60_000,
  oversize: false,
  waiver,
});

describe.each(limiterStoreModes())('%s', (_label, split) => {
  let store: RedisLimiterStore;
  beforeAll(() => {
    store = new RedisLimiterStore(r, split);
  });

  test('a waived charge is neither charged nor refused; an expired or absent member is not waived', async () => {
    const tag = `e:t${n++}`;
    const set = keys.rateLimit(tag, 'known');
    await r.zadd(set, Date.now() + 60_000, 'home', Date.now() - 1000, 'stale');
    const at = (member: string): StoreCharge[] => [charge(tag, 'email', 5, { set, member }), charge(`ip:${member}-${tag}`, 'ip', 1)];
    // The email budget holds 5: spend it all from an unknown address.
    expect((await store.charge(at('elsewhere'))).allowed).toBe(true);
    expect((await store.charge(at('elsewhere'))).allowed).toBe(false);
    expect((await store.charge(at('stale'))).allowed).toBe(false);
    // The known address passes, and takes nothing from the email budget (still 0 left, not less).
    const home = await store.charge(at('home'));
    expect(home.allowed).toBe(true);
    expect(home.states[0]).toMatchObject({ remaining: 0, retryMs: 0 });
    expect(Number(await r.get(keys.rateLimit(tag, 'email')))).toBeLessThanOrEqual(Date.now() + 60_100);
  });

  test('a refund skips a waived charge and gives back the others', async () => {
    const tag = `e:t${n++}`;
    const set = keys.rateLimit(tag, 'known');
    await r.zadd(set, Date.now() + 60_000, 'home');
    const cs = [charge(tag, 'pair', 2), charge(tag, 'email', 3, { set, member: 'home' })];
    await store.charge([charge(tag, 'email', 3)]);
    const before = await r.get(keys.rateLimit(tag, 'email'));
    expect((await store.charge(cs)).allowed).toBe(true);
    await store.refund(cs);
    // The email key kept the 3 points charged without a waiver; the pair got its 2 back.
    expect(await r.get(keys.rateLimit(tag, 'email'))).toBe(before);
    expect(await r.get(keys.rateLimit(tag, 'pair'))).toBeNull();
  });
});

describe('requests of one turn share one script call, and stay exact', () => {
  test('300 concurrent requests on two stores (two instances) against 5 points: exactly 5 pass, in far fewer calls', async () => {
    const a = new RedisLimiterStore(r);
    const b = new RedisLimiterStore(rawRedis());
    try {
      const tag = `b:t${n++}`;
      const other = `b:t${n++}`;
      // Each request charges the shared key and a key of its own store, all or nothing.
      const results = await Promise.all(
        Array.from({ length: 300 }, (_, i) => (i % 2 ? a : b).charge([charge(tag, 'shared', 1), charge(i % 2 ? other : `${other}x`, 'own', 1)])),
      );
      expect(results.filter((x) => x.allowed)).toHaveLength(5);
      // The refused ones report nothing left and when to retry; nothing of theirs was written.
      for (const x of results.filter((y) => !y.allowed)) expect(x.states[0]).toMatchObject({ remaining: 0, retryMs: expect.any(Number) });
      const own = Number(await r.get(keys.rateLimit(other, 'own'))) + Number(await r.get(keys.rateLimit(`${other}x`, 'own')));
      expect(own).toBeGreaterThan(0);
      // 5 charges of 12 s each were written in all across the two own keys: 60 s of TAT beyond now, no more.
      const ttls = (await Promise.all([r.pttl(keys.rateLimit(other, 'own')), r.pttl(keys.rateLimit(`${other}x`, 'own'))])).map((t) => Math.max(0, t));
      expect(ttls[0] + ttls[1]).toBeGreaterThan(55_000);
      expect(ttls[0] + ttls[1]).toBeLessThanOrEqual(60_000);
      // On a Cluster each request is one call per slot (its two keys have two tags): twice as many.
      expect(a.batches.requests + b.batches.requests).toBe(testRedisMode() === 'cluster' ? 600 : 300);
      expect(a.batches.calls + b.batches.calls).toBeLessThan(50);
    } finally {
      (b as unknown as { redis: Redis }).redis.disconnect();
    }
  });

  test('a blocked request in a batch is refused alone; the others are charged', async () => {
    const store = new RedisLimiterStore(r);
    const tag = `b:t${n++}`;
    const block = { key: keys.rateLimit(tag, 'block:until'), tag };
    await r.set(block.key, '1', 'PX', 5000);
    const free = `b:t${n++}`;
    const [blocked, ok] = await Promise.all([
      store.charge([charge(tag, 'x', 1)], [block]),
      store.charge([charge(free, 'x', 1)], [{ key: keys.rateLimit(free, 'block:until'), tag: free }]),
    ]);
    expect(blocked.allowed).toBe(false);
    expect(blocked.blockedMs).toBeGreaterThan(4000);
    expect(await r.get(keys.rateLimit(tag, 'x'))).toBeNull();
    expect(ok).toMatchObject({ allowed: true, blockedMs: 0, states: [{ remaining: 4, retryMs: 0 }] });
  });
});
