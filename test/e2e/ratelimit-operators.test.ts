/**
 * Operators changing rate limits at run time, through two gateways on one Redis: an override set
 * on one instance limits requests on the other within a second (HTTP and WebSocket), a reset
 * brings the configured values back, a block refuses a client everywhere at once and an unblock
 * lets it through again; a missed change message heals at the next resync; input is validated,
 * only admins may act, and every change is in the audit log.
 */
import type { Client } from 'graphql-ws';
import { registerUser, type GqlResult, type TestApp } from '../helpers/app';
import { twoInstances } from '../helpers/instances';
import { rawRedis } from '../helpers/redis';
import { execute, wsClient } from '../helpers/ws';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** Requests arrive through a trusted proxy so each test can speak from its own client address. */
const from = (ip: string): { headers: Record<string, string> } => ({ headers: { 'x-forwarded-for': ip } });
let ipSeq = 1;
const freshIp = (): string => `203.0.113.${ipSeq++}`;
const statuses = (rs: GqlResult[]): Record<number, number> => rs.reduce<Record<number, number>>((m, r) => ((m[r.status] = (m[r.status] ?? 0) + 1), m), {});
const codeOf = (r: { errors?: Array<{ extensions?: Record<string, any> }> }): unknown => r.errors?.[0]?.extensions?.code;

const ALLOWED_IP = '192.0.2.250';
const two = twoInstances(
  { RATE_LIMIT_DEFAULT: '1000/1m', TRUSTED_PROXIES: '127.0.0.1', RATE_LIMIT_POLICY_RESYNC: '300ms', RATE_LIMIT_ALLOW: `ip:${ALLOWED_IP}` },
  { admin: true },
);

const POLICIES = '{ rateLimitPolicies { name points windowSeconds burst overridden configured { points windowSeconds burst } } }';
const SET = 'mutation S($input: RateLimitPolicyInput!) { setRateLimitPolicy(input: $input) { name points windowSeconds burst overridden } }';
const RESET = 'mutation R($name: String!) { resetRateLimitPolicy(name: $name) { name points windowSeconds burst overridden } }';
const BLOCK = 'mutation B($identity: String!, $seconds: Int!) { blockClient(identity: $identity, seconds: $seconds) }';
const UNBLOCK = 'mutation U($identity: String!) { unblockClient(identity: $identity) }';
const AUDIT = '{ auditLog(limit: 20) { actor action target } }';

const admin = (t: TestApp, query: string, variables?: Record<string, unknown>): Promise<GqlResult> => t.gql(query, variables, { token: two.admin });
type Policy = { name: string; points: number; windowSeconds: number; burst: number; overridden: boolean; configured: Record<string, number> };
const policies = async (t: TestApp): Promise<Policy[]> => (await admin(t, POLICIES)).data!.rateLimitPolicies;

/** How long until `probe` holds, polling every 5 ms (at most 3 s). */
async function timeUntil(probe: () => Promise<boolean>): Promise<number> {
  const started = Date.now();
  while (!(await probe())) {
    if (Date.now() - started > 3000) throw new Error('not seen within 3 s');
    await sleep(5);
  }
  return Date.now() - started;
}

const sockets: Client[] = [];
const socketFrom = (t: TestApp, ip: string, token?: string): Client => {
  const c = wsClient(t.url, { headers: { 'x-forwarded-for': ip }, token });
  sockets.push(c);
  return c;
};
afterAll(async () => {
  for (const c of sockets) await c.dispose();
});

describe('policies', () => {
  afterEach(async () => {
    for (const name of ['default', 'rate-limit-status']) await admin(two.a, RESET, { name });
  });

  test('rateLimitPolicies lists every policy with its configured values, admins only', async () => {
    const list = await policies(two.b);
    const byName = Object.fromEntries(list.map((p) => [p.name, p]));
    expect(Object.keys(byName)).toEqual(
      expect.arrayContaining([
        'default',
        'address',
        'login-failures-pair',
        'login-failures-ip',
        'login-ip',
        'register-ip',
        'checkout',
        'rate-limit-status',
        'job-watch',
      ]),
    );
    expect(byName.default).toEqual({
      name: 'default',
      points: 1000,
      windowSeconds: 60,
      burst: 1000,
      overridden: false,
      configured: { points: 1000, windowSeconds: 60, burst: 1000 },
    });
    expect(byName['login-ip']).toMatchObject({ points: 60, windowSeconds: 900, burst: 20, overridden: false });
    const u = await registerUser(two.a);
    expect(codeOf(await two.a.gql(POLICIES, {}, { token: u.token }))).toBe('FORBIDDEN');
    expect(codeOf(await two.a.gql(POLICIES))).toBe('UNAUTHENTICATED');
    expect(codeOf(await two.a.gql(SET, { input: { name: 'default', points: 1, windowSeconds: 60 } }, { token: u.token }))).toBe('FORBIDDEN');
    expect(codeOf(await two.a.gql(BLOCK, { identity: `user:${u.userId}`, seconds: 60 }, { token: u.token }))).toBe('FORBIDDEN');
    expect((await policies(two.a)).find((p) => p.name === 'default')?.overridden).toBe(false);
  });

  test('an override set on A limits requests on B within a second, over HTTP and WebSocket; a reset on B restores A', async () => {
    const set = await admin(two.a, SET, { input: { name: 'default', points: 20, windowSeconds: 60 } });
    expect(set.data?.setRateLimitPolicy).toEqual({ name: 'default', points: 20, windowSeconds: 60, burst: 20, overridden: true });
    const probeIp = freshIp();
    const took = await timeUntil(
      async () => (await two.b.gql('{ __typename }', {}, from(probeIp))).headers.get('ratelimit-policy')?.startsWith('"default";q=20;w=60,') ?? false,
    );
    expect(took).toBeLessThan(1000);
    console.log(`override in force on instance B ${took} ms after setRateLimitPolicy answered on A`);

    // HTTP on B: a fresh client gets exactly the new 20.
    const ip = freshIp();
    expect(statuses(await Promise.all(Array.from({ length: 30 }, () => two.b.gql('{ __typename }', {}, from(ip)))))).toEqual({ 200: 20, 429: 10 });
    // WebSocket on B: the same.
    const ws = socketFrom(two.b, freshIp());
    const results = [];
    for (let i = 0; i < 22; i++) results.push(await execute(ws, '{ __typename }'));
    expect(results.slice(0, 20).every((r) => r.data?.__typename === 'Query')).toBe(true);
    expect(results.slice(20).map((r) => [codeOf(r), r.errors?.[0]?.extensions?.policy])).toEqual([
      ['RATE_LIMITED', 'default'],
      ['RATE_LIMITED', 'default'],
    ]);

    const reset = await admin(two.b, RESET, { name: 'default' });
    expect(reset.data?.resetRateLimitPolicy).toEqual({ name: 'default', points: 1000, windowSeconds: 60, burst: 1000, overridden: false });
    const back = await timeUntil(
      async () => (await two.a.gql('{ __typename }', {}, from(probeIp))).headers.get('ratelimit-policy')?.startsWith('"default";q=1000;w=60,') ?? false,
    );
    expect(back).toBeLessThan(1000);
    const again = freshIp();
    expect(statuses(await Promise.all(Array.from({ length: 30 }, () => two.a.gql('{ __typename }', {}, from(again)))))).toEqual({ 200: 30 });
  });

  test("a per-operation policy's override holds on the other instance, over HTTP and WebSocket", async () => {
    const q = '{ rateLimitStatus { remaining } }';
    expect(codeOf(await admin(two.b, SET, { input: { name: 'rate-limit-status', points: 2, windowSeconds: 60, burst: 2 } }))).toBeUndefined();
    // Listed as overridden on the other instance within a second (across a Cluster the change also
    // crosses the cluster bus), with the configured values beside.
    const listed = await timeUntil(async () => (await policies(two.a)).find((p) => p.name === 'rate-limit-status')?.overridden === true);
    expect(listed).toBeLessThan(1000);
    expect((await policies(two.a)).find((p) => p.name === 'rate-limit-status')).toEqual({
      name: 'rate-limit-status',
      points: 2,
      windowSeconds: 60,
      burst: 2,
      overridden: true,
      configured: { points: 60, windowSeconds: 60, burst: 60 },
    });
    const ip = freshIp();
    await timeUntil(async () => (await two.a.gql(q, {}, from(freshIp()))).headers.get('ratelimit-policy')?.includes('"rate-limit-status";q=2;w=60') ?? false);
    const http = [];
    for (let i = 0; i < 3; i++) http.push(await two.a.gql(q, {}, from(ip)));
    expect(http.map((r) => r.status)).toEqual([200, 200, 429]);
    expect(http[2].errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED', policy: 'rate-limit-status' });
    const ws = socketFrom(two.a, freshIp());
    const over = [];
    for (let i = 0; i < 3; i++) over.push(await execute(ws, q));
    expect(over.map((r) => codeOf(r) ?? 'ok')).toEqual(['ok', 'ok', 'RATE_LIMITED']);
    // The overview shows the values in force too.
    const overview = await admin(two.a, '{ rateLimitOverview { policies { name points burst } } }');
    expect(overview.data?.rateLimitOverview.policies).toContainEqual({ name: 'rate-limit-status', points: 2, burst: 2 });
  });

  test('a change whose message was missed is applied at the next resync', async () => {
    const r = rawRedis();
    try {
      // Written behind the gateways' backs: no pub/sub message.
      await r.hset(`${two.prefix}:rlconf:{rl}:overrides`, 'default', JSON.stringify({ points: 33, windowSeconds: 60, burst: 33 }));
      const ip = freshIp();
      const took = await timeUntil(
        async () => (await two.b.gql('{ __typename }', {}, from(ip))).headers.get('ratelimit-policy')?.startsWith('"default";q=33;') ?? false,
      );
      expect(took).toBeLessThan(1500);
      // Unreadable entries are ignored, not applied.
      await r.hset(`${two.prefix}:rlconf:{rl}:overrides`, 'checkout', '{"points":0}', 'default', 'not json');
      await sleep(700);
      const list = await policies(two.a);
      expect(list.find((p) => p.name === 'default')?.overridden).toBe(false);
      expect(list.find((p) => p.name === 'checkout')?.overridden).toBe(false);
    } finally {
      await r.hdel(`${two.prefix}:rlconf:{rl}:overrides`, 'checkout', 'default');
      r.disconnect();
    }
  });

  test('bad input is refused with BAD_USER_INPUT naming the field, and nothing changes', async () => {
    const before = await policies(two.a);
    const bad: Array<[Record<string, unknown>, string]> = [
      [{ name: 'nope', points: 10, windowSeconds: 60 }, 'name'],
      [{ name: 'blocklist', points: 10, windowSeconds: 60 }, 'name'],
      [{ name: 'default\n{x}:*', points: 10, windowSeconds: 60 }, 'name'],
      [{ name: 'x'.repeat(5000), points: 10, windowSeconds: 60 }, 'name'],
      [{ name: 'default', points: 0, windowSeconds: 60 }, 'points'],
      [{ name: 'default', points: 1_000_001, windowSeconds: 60 }, 'points'],
      [{ name: 'default', points: 10, windowSeconds: 0 }, 'windowSeconds'],
      [{ name: 'default', points: 10, windowSeconds: 604_801 }, 'windowSeconds'],
      [{ name: 'default', points: 10, windowSeconds: 60, burst: 0 }, 'burst'],
      [{ name: 'default', points: 10, windowSeconds: 60, burst: -5 }, 'burst'],
    ];
    for (const [input, field] of bad) {
      const r = await admin(two.a, SET, { input });
      expect({ input, code: codeOf(r) }).toEqual({ input, code: 'BAD_USER_INPUT' });
      expect(r.errors?.[0]?.message).toContain(field);
    }
    expect(codeOf(await admin(two.a, RESET, { name: 'nope' }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await admin(two.a, SET, { input: { name: 'default', points: 1.5, windowSeconds: 60 } }))).toBe('BAD_USER_INPUT');
    expect(await policies(two.a)).toEqual(before);
  });
});

describe('blocks', () => {
  test('a block set on A refuses the client on B at once, over HTTP and WebSocket; an unblock on B lets it through on A', async () => {
    const ip = freshIp();
    const other = freshIp();
    const there = await registerUser({ gql: (q, v, o) => two.a.gql(q, v, { ...o, ...from(ip) }) });
    const ws = socketFrom(two.b, ip);
    expect((await execute(ws, '{ __typename }')).data?.__typename).toBe('Query');
    expect((await admin(two.a, BLOCK, { identity: `ip:${ip}`, seconds: 60 })).data?.blockClient).toBe(true);

    const refused = await two.b.gql('{ __typename }', {}, from(ip));
    expect(refused.status).toBe(429);
    expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED', policy: 'blocklist' });
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(59);
    expect(Number(refused.headers.get('retry-after'))).toBeLessThanOrEqual(60);
    const overWs = await execute(ws, '{ __typename }');
    expect(overWs.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED', policy: 'blocklist' });
    // A signed-in user at that address is refused too; other addresses are not.
    expect((await two.b.gql('{ me { id } }', {}, { token: there.token, ...from(ip) })).errors?.[0]?.extensions?.policy).toBe('blocklist');
    expect((await two.b.gql('{ me { id } }', {}, { token: there.token, ...from(other) })).data?.me.id).toBe(there.userId);
    expect((await two.b.gql('{ __typename }', {}, from(other))).status).toBe(200);
    const overview = await admin(two.b, '{ rateLimitOverview { blocked { policy identity until } } }');
    const listed = overview.data?.rateLimitOverview.blocked.find((b: { identity: string }) => b.identity === `ip:${ip}`);
    expect(listed?.policy).toBe('blocklist');
    expect(Date.parse(listed?.until) - Date.now()).toBeGreaterThan(55_000);

    expect((await admin(two.b, UNBLOCK, { identity: `ip:${ip}` })).data?.unblockClient).toBe(true);
    expect((await two.a.gql('{ __typename }', {}, from(ip))).status).toBe(200);
    expect((await execute(ws, '{ __typename }')).data?.__typename).toBe('Query');
    expect((await admin(two.a, UNBLOCK, { identity: `ip:${ip}` })).data?.unblockClient).toBe(false);
  });

  test('a blocked client is charged nothing', async () => {
    const ip = freshIp();
    const remaining = async (): Promise<number> => (await two.a.gql('{ rateLimitStatus { remaining } }', {}, from(ip))).data?.rateLimitStatus.remaining;
    await two.a.gql('{ a: me { id } b: me { id } c: me { id } }', {}, from(ip));
    const before = await remaining();
    await admin(two.a, BLOCK, { identity: `ip:${ip}`, seconds: 60 });
    // 100 refused points: charged, they would take 6 s of this budget's refill to come back.
    const refused = await Promise.all(Array.from({ length: 100 }, () => two.b.gql('{ __typename }', {}, from(ip))));
    expect(refused.every((r) => r.status === 429)).toBe(true);
    await admin(two.b, UNBLOCK, { identity: `ip:${ip}` });
    expect(await remaining()).toBeGreaterThanOrEqual(before);
  });

  test('a blocked user is refused from any address and over WebSocket; the block ends by itself', async () => {
    const u = await registerUser(two.a);
    const me = '{ me { id } }';
    const ws = socketFrom(two.a, freshIp(), u.token);
    expect((await admin(two.b, BLOCK, { identity: `user:${u.userId}`, seconds: 2 })).data?.blockClient).toBe(true);
    for (const t of [two.a, two.b]) {
      const r = await t.gql(me, {}, { token: u.token, ...from(freshIp()) });
      expect([r.status, r.errors?.[0]?.extensions?.policy]).toEqual([429, 'blocklist']);
    }
    const sub = await execute(ws, 'subscription { jobUpdated(id: "nope") { id } }');
    expect(sub.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED', policy: 'blocklist' });
    // Other users pass.
    const v = await registerUser(two.b);
    expect((await two.b.gql(me, {}, { token: v.token })).data?.me.id).toBe(v.userId);
    await sleep(2100);
    expect((await two.b.gql(me, {}, { token: u.token })).data?.me.id).toBe(u.userId);
    const overview = await admin(two.a, '{ rateLimitOverview { blocked { identity } } }');
    expect(overview.data?.rateLimitOverview.blocked.map((b: { identity: string }) => b.identity)).not.toContain(`user:${u.userId}`);
  });

  test('identities are checked and written the way the gateway writes them; seconds are bounded', async () => {
    const bad = [
      '',
      'user:',
      'user:a b',
      'user:{x}',
      'user:a:b',
      'ip:999.1.1.1',
      'ip:{1.2.3.4}',
      'ip:1.2.3.4 ',
      'key:../x',
      'nobody',
      'email:a@b.c',
      'x'.repeat(10_000),
    ];
    for (const identity of bad)
      expect({ identity, code: codeOf(await admin(two.a, BLOCK, { identity, seconds: 60 })) }).toEqual({ identity, code: 'BAD_USER_INPUT' });
    for (const seconds of [0, -1, 2_592_001]) expect(codeOf(await admin(two.a, BLOCK, { identity: 'ip:192.0.2.1', seconds }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await admin(two.a, UNBLOCK, { identity: 'ip:nope' }))).toBe('BAD_USER_INPUT');
    const allowListed = await admin(two.a, BLOCK, { identity: `ip:${ALLOWED_IP}`, seconds: 60 });
    expect([codeOf(allowListed), allowListed.errors?.[0]?.message]).toEqual(['BAD_USER_INPUT', expect.stringContaining('RATE_LIMIT_ALLOW')]);
    // An IPv4-mapped address is the plain IPv4 address the gateway sees.
    const ip = freshIp();
    expect((await admin(two.a, BLOCK, { identity: `ip:::ffff:${ip}`, seconds: 60 })).data?.blockClient).toBe(true);
    expect((await two.b.gql('{ __typename }', {}, from(ip))).status).toBe(429);
    expect((await admin(two.a, UNBLOCK, { identity: `ip:${ip}` })).data?.unblockClient).toBe(true);
    // Key ids may be blocked ahead of their use.
    expect((await admin(two.a, BLOCK, { identity: 'key:k_123-abc', seconds: 60 })).data?.blockClient).toBe(true);
    expect((await admin(two.a, UNBLOCK, { identity: 'key:k_123-abc' })).data?.unblockClient).toBe(true);
  });
});

test('every change is in the audit log, with what it changed', async () => {
  const ip = freshIp();
  await admin(two.a, SET, { input: { name: 'checkout', points: 7, windowSeconds: 30, burst: 3 } });
  await admin(two.b, RESET, { name: 'checkout' });
  await admin(two.a, BLOCK, { identity: `ip:${ip}`, seconds: 90 });
  await admin(two.b, UNBLOCK, { identity: `ip:${ip}` });
  const entries = (await admin(two.a, AUDIT)).data!.auditLog.slice(0, 4);
  expect(entries.map((e: { action: string; target: string }) => [e.action, e.target])).toEqual([
    ['unblockClient', `ip:${ip}`],
    ['blockClient', `ip:${ip} for 90s`],
    ['resetRateLimitPolicy', 'checkout'],
    ['setRateLimitPolicy', 'checkout 7/30s burst 3'],
  ]);
  expect(entries.every((e: { actor: string }) => e.actor.startsWith('user:'))).toBe(true);
});
