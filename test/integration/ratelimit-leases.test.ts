/**
 * Leases of busy rate-limit keys on real Redis: a busy key is charged from points leased ahead
 * (far fewer script calls, the same answers); two instances never admit more than the limit
 * between them, and what one holds comes back when its lease lapses; quiet clients, small
 * policies and waived charges stay exact; a lease is not spent under other policy values.
 */
import type Redis from 'ioredis';
import { RedisLimiterStore, type StoreCharge } from '../../src/services/ratelimit/store';
import { HOT } from '../../src/services/ratelimit/leases';
import { Keys } from '../../src/redis/keys';
import { flushPrefix, limiterStoreModes, rawRedis, uniquePrefix } from '../helpers/redis';

const prefix = uniquePrefix('rllease');
const keys = new Keys(prefix);
const conns: Redis[] = [];
const stores: RedisLimiterStore[] = [];
let n = 0;

/** A store on its own connection, as another instance would be. */
function instance(maxPoints = 256, ttlMs = 250, split?: boolean): RedisLimiterStore {
  const r = rawRedis();
  conns.push(r);
  const s = new RedisLimiterStore(r, split, { maxPoints, ttlMs });
  stores.push(s);
  return s;
}

afterAll(async () => {
  for (const s of stores) await s.leases.stop();
  await flushPrefix(prefix);
  for (const r of conns) r.disconnect();
});

/** `points` per minute, burst `burst` (default: the points). */
function charge(tag: string, points: number, burst = points, cost = 1, name = 'default'): StoreCharge {
  const interval = 60_000 / points;
  return { key: keys.rateLimit(tag, name), tag, cost, interval, capacity: burst * interval, oversize: false };
}

/** What the client can still spend, read by an exact store (charges of cost 0 only read). */
async function remaining(c: StoreCharge): Promise<number> {
  const judge = stores.find((s) => !s.leases.enabled) ?? instance(0);
  return (await judge.charge([{ ...c, cost: 0 }])).states[0].remaining;
}

test('a busy key is charged from a lease: a fraction of the script calls, and its headers count down one by one', async () => {
  const s = instance();
  const c = charge(`ip:busy-${n++}`, 600);
  const seen: number[] = [];
  const t0 = Date.now();
  for (let i = 0; i < 200; i++) {
    const r = await s.charge([c]);
    expect(r.allowed).toBe(true);
    seen.push(r.states[0].remaining);
  }
  // 600/1m refills a point every 100 ms.
  const refill = Math.ceil((Date.now() - t0) / 100) + 1;
  // 600/1m: a lease holds at most 600 / 16 = 37 points.
  expect(s.batches.calls).toBeLessThan(200 / 10);
  expect(s.leases.counts.local).toBeGreaterThan(150);
  // Remaining as the client sees it: 599, 598, … whether the answer came from Redis or a lease,
  // give or take what came back meanwhile.
  for (let i = 1; i < seen.length; i++) {
    expect(seen[i] - seen[i - 1]).toBeLessThanOrEqual(refill);
    expect(seen[i] - seen[i - 1]).toBeGreaterThanOrEqual(-1);
  }
  expect(seen[0]).toBe(599);
  expect(seen[199]).toBeGreaterThanOrEqual(400);
  expect(seen[199]).toBeLessThanOrEqual(400 + refill);
});

describe.each(limiterStoreModes())('%s', (_label, split) => {
  test('two instances never admit more than the limit between them, and what one holds comes back', async () => {
    const [a, b] = [instance(256, 250, split), instance(256, 250, split)];
    const tag = `ip:two-${n++}`;
    // A user's request: its own budget and its address's, under two tags (two slots on a Cluster).
    const cs = [charge(tag, 600), charge(`ip:addr-${n++}`, 2400)];
    const started = Date.now();
    let admitted = 0;
    for (let wave = 0; wave < 24; wave++) {
      const rs = await Promise.all(Array.from({ length: 50 }, (_, j) => (j % 2 ? a : b).charge(cs)));
      admitted += rs.filter((r) => r.allowed).length;
    }
    // 600/1m refills a point every 100 ms while the test runs.
    const refill = Math.ceil((Date.now() - started) / 100) + 1;
    expect(admitted).toBeLessThanOrEqual(600 + refill);
    expect(a.leases.counts.granted + b.leases.counts.granted).toBeGreaterThan(0);
    expect(a.leases.counts.local + b.leases.counts.local).toBeGreaterThan(0);
    // Both give back what they hold: what the client spent plus what it may still spend is the budget.
    await Promise.all([a.leases.stop(), b.leases.stop()]);
    const left = await remaining(cs[0]);
    const total = admitted + left;
    expect(total).toBeGreaterThanOrEqual(600);
    expect(total).toBeLessThanOrEqual(600 + refill + Math.ceil((Date.now() - started) / 100));
  });
});

test('a lease running low is refilled one round trip ahead, behind the requests: none of them waits or goes to Redis, and it never holds more than its cap', async () => {
  const s = instance();
  const c = charge(`ip:refill-${n++}`, 600);
  // 600/1m: a lease holds at most 600 / 16 = 37 points; it is refilled at half of that.
  const cap = 37;
  const t0 = Date.now();
  let admitted = 0;
  for (let i = 0; i < HOT + 1; i++) admitted += (await s.charge([c])).allowed ? 1 : 0;
  expect(s.leases.counts.granted).toBe(1);
  // The first lease is sized by the few requests before it (fewer points than a wave): the first
  // wave may wait for the refill it starts, which is sized by the wave.
  admitted += (await Promise.all(Array.from({ length: 8 }, () => s.charge([c])))).filter((r) => r.allowed).length;
  await s.leases.arriving([c]);
  const { local, waited } = s.leases.counts;
  // Then waves of 8 requests arriving together, one round trip apart, as a busy instance sees them:
  // the request that finds the lease low is answered from it like the others, and the refill it
  // asks for is in before the lease runs dry.
  for (let wave = 0; wave < 40; wave++) {
    const rs = await Promise.all(Array.from({ length: 8 }, () => s.charge([c])));
    admitted += rs.filter((r) => r.allowed).length;
    await s.leases.arriving([c]);
    // What Redis counts as spent, less what was admitted: the points this instance holds.
    const refill = Math.ceil((Date.now() - t0) / 100) + 1;
    const held = 600 - (await remaining(c)) - admitted;
    expect(held).toBeLessThanOrEqual(cap + refill);
  }
  expect(admitted).toBe(HOT + 1 + 8 + 320);
  expect(s.leases.counts.local - local).toBe(320);
  expect(s.leases.counts.granted).toBeGreaterThan(8);
  expect(s.leases.counts.waited - waited).toBe(0);
});

test('the request that finds its lease low is answered before the refill it asks for comes back', async () => {
  const s = instance();
  const c = charge(`ip:behind-${n++}`, 600);
  for (let i = 0; i < HOT + 1; i++) await s.charge([c]);
  expect(s.leases.counts.granted).toBe(1);
  const calls = s.batches.calls;
  // Spend until a refill is asked for: the answer that asked for it is already here, the refill not yet.
  let asked = false;
  for (let i = 0; i < 40 && !asked; i++) {
    const r = await s.charge([c]);
    expect(r.allowed).toBe(true);
    asked = s.leases.arriving([c]) !== null;
  }
  expect(asked).toBe(true);
  expect(s.batches.calls).toBe(calls);
  await s.leases.arriving([c]);
  expect(s.batches.calls).toBe(calls + 1);
  expect(s.leases.counts.granted).toBe(2);
  expect(s.leases.counts.waited).toBe(0);
});

test('a refill takes only the points the bucket still has, and none for a blocked caller', async () => {
  const judge = instance(0);
  // Runs a lease of `c` low on `s` (charging with `blocks`) and waits for the refill it asks for.
  const runLow = async (s: RedisLimiterStore, c: StoreCharge, blocks: Array<{ key: string; tag: string }> = []): Promise<void> => {
    for (let i = 0; i < 40 && !s.leases.arriving([c]); i++) expect((await s.charge([c], blocks)).allowed).toBe(true);
    await s.leases.arriving([c]);
  };
  const s = instance();
  const c = charge(`ip:room-${n++}`, 600);
  for (let i = 0; i < HOT + 1; i++) await s.charge([c]);
  expect(s.leases.counts.granted).toBe(1);
  // Another instance spends all but 3 points of the bucket (600/1m gives one back every 100 ms).
  const left = await remaining(c);
  expect((await judge.charge([{ ...c, cost: left - 3 }])).allowed).toBe(true);
  await runLow(s, c);
  expect(s.leases.counts.granted).toBe(2);
  expect(await remaining(c)).toBeLessThanOrEqual(1);

  // A blocked caller's refill charges nothing and adds nothing.
  const b = instance();
  const d = charge(`ip:blocked-${n++}`, 600);
  for (let i = 0; i < HOT + 1; i++) await b.charge([d]);
  const block = { key: keys.rateLimitBlock(d.tag), tag: d.tag };
  const r = rawRedis();
  conns.push(r);
  await r.set(block.key, '1', 'PX', 60_000);
  const before = await remaining(d);
  await runLow(b, d, [block]);
  expect(b.leases.counts.granted).toBe(1);
  expect(await remaining(d)).toBeGreaterThanOrEqual(before);
});

test('a lapsed lease gives its unspent points back within its lifetime', async () => {
  const s = instance(256, 100);
  s.leases.start();
  const c = charge(`ip:lapse-${n++}`, 6000);
  for (let i = 0; i < 40; i++) expect((await s.charge([c])).allowed).toBe(true);
  expect(s.leases.counts.granted).toBeGreaterThan(0);
  // Points were taken ahead: Redis counts more than the 40 spent.
  expect(await remaining(c)).toBeLessThan(6000 - 40);
  await new Promise((r) => setTimeout(r, 350));
  expect(s.leases.counts.returned).toBeGreaterThan(0);
  // 6000/1m refills 100 a second: at least the 40 spent stay spent, minus what came back by time.
  const left = await remaining(c);
  expect(left).toBeGreaterThanOrEqual(6000 - 40);
});

test('a quiet client, a small policy and a waived charge are charged exactly', async () => {
  const s = instance();
  // Fewer than HOT charges per lease lifetime: never leased.
  const quiet = charge(`ip:quiet-${n++}`, 600);
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < HOT - 1; j++) await s.charge([quiet]);
    s.leases.sweep();
  }
  expect(s.leases.counts.granted).toBe(0);

  // Burst 20: a lease would hold 20 / 16 < 2 points: exact, over two instances too.
  const other = instance();
  const small = charge(`ip:small-${n++}`, 20);
  const rs = await Promise.all(Array.from({ length: 60 }, (_, j) => (j % 2 ? s : other).charge([small])));
  expect(rs.filter((r) => r.allowed)).toHaveLength(20);

  // A waived charge (the sign-in budgets) is never leased.
  const tag = `e:waived-${n++}`;
  const set = keys.rateLimit(tag, 'known');
  await conns[0].zadd(set, Date.now() + 60_000, 'home');
  const waived = { ...charge(tag, 6000, 6000, 1, 'email'), waiver: { set, member: 'elsewhere' } };
  const t0 = Date.now();
  for (let i = 0; i < 50; i++) await s.charge([waived]);
  expect(s.leases.counts.granted).toBe(0);
  // Exactly the 50 spent, nothing taken ahead (6000/1m refills one point every 10 ms meanwhile).
  const left = await remaining(waived);
  expect(left).toBeGreaterThanOrEqual(6000 - 50);
  expect(left).toBeLessThanOrEqual(6000 - 50 + Math.ceil((Date.now() - t0) / 10) + 1);
});

test('a lease is not spent under other policy values (an override): the charge goes to Redis', async () => {
  const s = instance();
  const c = charge(`ip:override-${n++}`, 600);
  for (let i = 0; i < 20; i++) await s.charge([c]);
  expect(s.leases.counts.local).toBeGreaterThan(0);
  const calls = s.batches.calls;
  const local = s.leases.counts.local;
  // The admins halve the window: same key, another interval.
  const changed = { ...c, interval: c.interval / 2, capacity: c.capacity / 2 };
  const r = await s.charge([changed]);
  expect(r.allowed).toBe(true);
  expect(s.batches.calls).toBe(calls + 1);
  expect(s.leases.counts.local).toBe(local);
});

test('dropAll gives every lease back at once (an admin blocked someone)', async () => {
  const s = instance();
  const c = charge(`ip:drop-${n++}`, 6000);
  for (let i = 0; i < 30; i++) await s.charge([c]);
  const held = 6000 - 30 - (await remaining(c));
  expect(held).toBeGreaterThan(0);
  await s.leases.dropAll();
  expect(6000 - 30 - (await remaining(c))).toBeLessThanOrEqual(0);
  // The next charge goes to Redis (where the block keys are read).
  const calls = s.batches.calls;
  await s.charge([c]);
  expect(s.batches.calls).toBe(calls + 1);
});

test('a lease asked for before a block is given back when it arrives, not kept', async () => {
  const s = instance();
  const c = charge(`ip:race-${n++}`, 6000);
  for (let i = 0; i < HOT - 1; i++) await s.charge([c]);
  // This charge asks for a lease; the block's drop comes while its script call is on its way.
  const asked = s.charge([c]);
  await s.leases.dropAll();
  expect((await asked).allowed).toBe(true);
  await new Promise((r) => setTimeout(r, 20));
  expect(s.leases.counts.granted).toBe(0);
  expect(s.leases.counts.returned).toBeGreaterThan(0);
  expect(await remaining(c)).toBeGreaterThanOrEqual(6000 - HOT);
  const calls = s.batches.calls;
  await s.charge([c]);
  expect(s.batches.calls).toBe(calls + 1);
});

test('hostile keys and tags are leased like any other, never mixed up', async () => {
  const s = instance();
  const tags = ['ip:a}b{c', 'ip:x:y:z', 'user:"; redis.call("FLUSHALL") --', 'ip:\u0000\n'];
  for (const t of tags) for (let i = 0; i < 30; i++) expect((await s.charge([charge(t + n, 600)])).allowed).toBe(true);
  for (const t of tags) expect(await remaining(charge(t + n, 600))).toBeLessThanOrEqual(600 - 30);
  n++;
  expect(await conns[0].dbsize()).toBeGreaterThan(0);
});
