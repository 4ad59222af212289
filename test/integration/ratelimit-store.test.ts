/**
 * The limiter store on real Redis: waivers (a charge skipped when a sorted set of its slot holds
 * a member with an expiry ahead), for charges and refunds, on one call and split by hash tag.
 */
import type Redis from 'ioredis';
import { RedisLimiterStore, type StoreCharge } from '../../src/services/ratelimit/store';
import { Keys } from '../../src/redis/keys';
import { flushPrefix, rawRedis, testRedisMode, uniquePrefix } from '../helpers/redis';

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

describe.each(
  testRedisMode() === 'cluster'
    ? [['one call per slot', undefined]]
    : [
        ['one call', false],
        ['one call per slot', true],
      ],
)('%s', (_label, split) => {
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
