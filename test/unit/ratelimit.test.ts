/** GCRA semantics on a controlled clock (the memory limiter mirrors the Lua script), the header syntax, and what a batch is charged. */
import { MemoryLimiter } from '../../src/services/ratelimit/memory';
import { parseIdentity } from '../../src/services/ratelimit/blocks';
import { overrideProblems } from '../../src/services/ratelimit/overrides';
import { policyHeader, retryAfterSeconds, stateHeader, type PolicyState, type RatePolicy } from '../../src/services/ratelimit/policy';
import type { StoreCharge } from '../../src/services/ratelimit/store';
import { buildCharges } from '../../src/services/ratelimit/charges';
import type { RootField } from '../../src/services/ratelimit/root-field';
import { Keys } from '../../src/redis/keys';

const policy = (points: number, windowMs: number, burst = points, oversize = false): RatePolicy => ({
  name: 'p',
  points,
  windowMs,
  burst,
  by: 'identity',
  onRedisDown: 'open',
  chargeDefault: true,
  oversize,
});
const charge = (p: RatePolicy, cost = 1, key = 'k'): StoreCharge => ({
  key,
  tag: key,
  cost,
  interval: p.windowMs / p.points,
  capacity: p.burst * (p.windowMs / p.points),
  oversize: p.oversize,
});

test('a fresh client gets exactly N at once, then one point every window/N', () => {
  const m = new MemoryLimiter();
  const p = policy(3, 1000);
  const t0 = 1_000_000;
  expect([1, 2, 3, 4].map(() => m.charge([charge(p)], t0).allowed)).toEqual([true, true, true, false]);
  expect(m.charge([charge(p)], t0).states[0]).toMatchObject({ remaining: 0, resetMs: 1000, retryMs: 334 });
  expect(m.charge([charge(p)], t0 + 333).allowed).toBe(false);
  expect(m.charge([charge(p)], t0 + 334).allowed).toBe(true);
  // After a whole window idle the bucket is full again.
  expect([1, 2, 3, 4].map(() => m.charge([charge(p)], t0 + 2000).allowed)).toEqual([true, true, true, false]);
});

test('a burst above the steady rate does not raise the long-run rate', () => {
  const m = new MemoryLimiter();
  const p = policy(10, 1000, 5);
  let passed = 0;
  for (let t = 0; t <= 10_000; t += 10) if (m.charge([charge(p)], 1_000_000 + t).allowed) passed++;
  // 5 at once, then 10 per second for 10 s.
  expect(passed).toBe(5 + 100);
});

test('all or nothing: one refusing policy leaves the others uncharged', () => {
  const m = new MemoryLimiter();
  const a = policy(10, 1000);
  const b = policy(1, 1000);
  expect(m.charge([charge(a, 1, 'a'), charge(b, 1, 'b')], 0).allowed).toBe(true);
  const refused = m.charge([charge(a, 1, 'a'), charge(b, 1, 'b')], 0);
  expect(refused.allowed).toBe(false);
  expect(refused.states.map((s) => s.remaining)).toEqual([9, 0]);
  expect(m.charge([charge(a, 9, 'a')], 0).allowed).toBe(true);
});

test('a cost above the burst passes only on a full bucket when the policy allows it, leaving a debt', () => {
  const m = new MemoryLimiter();
  const strict = policy(5, 1000);
  expect(m.charge([charge(strict, 6)], 0).allowed).toBe(false);
  const lenient = policy(5, 1000, 5, true);
  expect(m.charge([charge(lenient, 8, 'l')], 0).allowed).toBe(true);
  const next = m.charge([charge(lenient, 1, 'l')], 0);
  expect(next.allowed).toBe(false);
  // 8 points at 200 ms each: the bucket is 1.6 s from full, and one point fits after 0.8 s.
  expect(next.states[0]).toMatchObject({ resetMs: 1600, retryMs: 800 });
});

test('headers follow the IETF draft syntax', () => {
  const s = (name: string, p: RatePolicy, remaining: number, resetMs: number, retryMs = 0): PolicyState => ({
    policy: { ...p, name },
    partition: 'ip:1',
    cost: 1,
    remaining,
    resetMs,
    retryMs,
  });
  const states = [s('default', policy(600, 60_000), 599, 100), s('login-ip', policy(60, 900_000, 20), 0, 45_000, 45_000)];
  expect(policyHeader(states)).toBe('"default";q=600;w=60, "login-ip";q=60;w=900;burst=20');
  expect(stateHeader(states)).toBe('"default";r=599;t=1, "login-ip";r=0;t=45');
  expect(retryAfterSeconds([states[1]])).toBe(45);
});

describe('identities an admin may block', () => {
  test('are user:, ip: or key: with a strict id, written the way the gateway writes them', () => {
    expect(parseIdentity('user:abc_DEF-123')).toBe('user:abc_DEF-123');
    expect(parseIdentity('key:k1')).toBe('key:k1');
    expect(parseIdentity('ip:203.0.113.9')).toBe('ip:203.0.113.9');
    expect(parseIdentity('ip:::ffff:203.0.113.9')).toBe('ip:203.0.113.9');
    expect(parseIdentity('ip:2001:DB8:0:0:0:0:0:1')).toBe('ip:2001:db8::1');
    expect(parseIdentity('ip:::1')).toBe('ip:::1');
    for (const bad of [
      '',
      'user:',
      'user:a:b',
      'user:{x}',
      'user:a b',
      'user:' + 'a'.repeat(65),
      'ip:1.2.3',
      'ip:fe80::1%eth0',
      'ip:{1.2.3.4}',
      'email:a@b.c',
      'USER:abc',
    ])
      expect({ bad, parsed: parseIdentity(bad) }).toEqual({ bad, parsed: null });
  });
});

describe('override values', () => {
  test('are bounded integers', () => {
    expect(overrideProblems({ points: 1, windowSeconds: 1, burst: 1 })).toBeNull();
    expect(overrideProblems({ points: 1_000_000, windowSeconds: 604_800, burst: 1_000_000 })).toBeNull();
    expect(overrideProblems({ points: 0, windowSeconds: 604_801, burst: 1.5 })).toEqual({
      points: ['must be an integer from 1 to 1000000'],
      windowSeconds: ['must be an integer from 1 to 604800'],
      burst: ['must be an integer from 1 to 1000000'],
    });
  });
});

test('a per-operation policy is charged one point per occurrence, one per item for a field taking a batch of inputs', () => {
  const pageView: RatePolicy = { ...policy(120, 60_000, 100), name: 'page-view' };
  const field = (name: string, args: Record<string, unknown> | null): RootField => ({ name, policies: [pageView], signIn: null, args });
  const subject = { identity: 'ip:203.0.113.1', ip: '203.0.113.1' };
  const charged = (roots: RootField[]) =>
    buildCharges(new Keys('gw'), subject, policy(600, 60_000), 1, roots, { address: null, signIn: null }).find((c) => c.policy === pageView)?.cost;
  expect(charged([field('trackPageView', { input: { page: '/' } })])).toBe(1);
  expect(charged([field('trackPageViews', { inputs: Array.from({ length: 100 }, () => ({ page: '/' })) })])).toBe(100);
  // Aliases: each occurrence pays; an empty batch still costs its occurrence.
  expect(
    charged([
      field('trackPageViews', { inputs: new Array(30).fill({ page: '/' }) }),
      field('trackPageView', { input: {} }),
      field('trackPageViews', { inputs: [] }),
    ]),
  ).toBe(32);
  // Arguments that could not be coerced: one point, execution refuses the operation anyway.
  expect(charged([field('trackPageViews', null)])).toBe(1);
});
