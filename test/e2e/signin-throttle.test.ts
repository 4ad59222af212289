/**
 * Sign-in throttling (contract: "sign-in throttling"): failed sign-ins are counted per
 * (email, client address) and per client address, a success resets the pair, and someone
 * else's wrong passwords from other addresses never stop the owner's correct password from
 * their own address. Requests come through a trusted proxy so that each test can speak from
 * as many client addresses as it needs.
 */
import { adminToken, ADMIN, loginAs, registerUser, startTestApp, ADMIN_ENV, type GqlResult, type TestApp } from '../helpers/app';
import { twoInstances } from '../helpers/instances';
import { rawRedis, uniquePrefix } from '../helpers/redis';
import { digest } from '../../src/services/ratelimit/charges';
import { Keys } from '../../src/redis/keys';
import { execute, wsClient } from '../helpers/ws';

const LOGIN = 'mutation L($input: LoginInput!) { login(input: $input) { token } }';
const PROXY = { TRUSTED_PROXIES: '127.0.0.1' };
/** Small budgets, so that a test reaches them in a few requests. */
const BUDGETS = { LOGIN_FAILURES_PER_PAIR: '5/1h', LOGIN_FAILURES_PER_IP: '12/1h', LOGIN_FAILURES_PER_EMAIL: '15/1h' };

let ipSeq = 1;
const freshIp = (): string => `198.18.${Math.floor(ipSeq / 250)}.${(ipSeq++ % 250) + 1}`;
const from = (ip: string): { headers: Record<string, string> } => ({ headers: { 'x-forwarded-for': ip } });
/** A client of `t` that always speaks from `ip`. */
const via = (t: TestApp, ip: string): { gql: TestApp['gql'] } => ({ gql: (q, v, o) => t.gql(q, v, { ...o, ...from(ip) }) });

const code = (r: GqlResult): string | undefined => r.errors?.[0]?.extensions?.code;
const policy = (r: GqlResult): string | undefined => r.errors?.[0]?.extensions?.policy;
/** Points left under `name` in the RateLimit header. */
function left(r: GqlResult, name: string): number | undefined {
  const m = new RegExp(`"${name}";r=(\\d+)`).exec(r.headers.get('ratelimit') ?? '');
  return m ? Number(m[1]) : undefined;
}

async function attempts(t: TestApp, n: number, email: string, password: string, ip: string): Promise<GqlResult[]> {
  const out: GqlResult[] = [];
  for (let i = 0; i < n; i++) out.push(await t.gql(LOGIN, { input: { email, password } }, from(ip)));
  return out;
}

const fill = <T>(n: number, v: T): T[] => Array(n).fill(v);

describe('failures are counted per (email, address) and per address', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ RATE_LIMIT_DEFAULT: '600/1m', ...PROXY, ...ADMIN_ENV, ...BUDGETS });
  });
  afterAll(() => t.close());

  test("many wrong passwords from one address never stop alice's and the admin's correct password from their own addresses", async () => {
    const A = freshIp();
    const aliceHome = freshIp();
    const adminHome = freshIp();
    const alice = await registerUser(via(t, aliceHome));
    await adminToken(via(t, adminHome));

    const forAlice = await attempts(t, 8, alice.email, 'wrong-password-1', A);
    expect(forAlice.map(code)).toEqual([...fill(5, 'UNAUTHENTICATED'), ...fill(3, 'RATE_LIMITED')]);
    const refused = forAlice[5];
    expect(refused.status).toBe(429);
    expect(policy(refused)).toBe('login-failures-pair');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(refused.errors?.[0].extensions?.retryAfter).toBe(Number(refused.headers.get('retry-after')));
    expect(refused.headers.get('ratelimit-policy')).toContain('"login-failures-pair";q=5;w=3600');
    expect(left(refused, 'login-failures-pair')).toBe(0);

    const forAdmin = await attempts(t, 8, ADMIN.email, 'wrong-password-1', A);
    expect(forAdmin.map(code)).toEqual([...fill(5, 'UNAUTHENTICATED'), ...fill(3, 'RATE_LIMITED')]);
    expect(policy(forAdmin[5])).toBe('login-failures-pair');

    // The address's own budget is separate from its pairs: 12 failures in all, 10 spent above.
    const others = [];
    for (let i = 0; i < 3; i++) others.push(...(await attempts(t, 1, `other-${i}-${A}@example.com`, 'wrong-password-1', A)));
    expect(others.map(code)).toEqual(['UNAUTHENTICATED', 'UNAUTHENTICATED', 'RATE_LIMITED']);
    expect(policy(others[2])).toBe('login-failures-ip');

    // The owners, each from their own address, at once.
    const aliceIn = await t.gql(LOGIN, { input: { email: alice.email, password: alice.password } }, from(aliceHome));
    expect(aliceIn.status).toBe(200);
    expect(aliceIn.data?.login.token).toBeTruthy();
    await expect(adminToken(via(t, adminHome))).resolves.toBeTruthy();
    // The attacker's address stays refused, even with the right password: the refusal comes before the password is looked at.
    const withRightPassword = await t.gql(LOGIN, { input: { email: alice.email, password: alice.password } }, from(A));
    expect(withRightPassword.status).toBe(429);
  });

  test('guesses from many addresses meet a per-email ceiling, which spares the addresses the owner signed in from', async () => {
    const home = freshIp();
    const bob = await registerUser(via(t, home));
    const rs: GqlResult[] = [];
    // 8 addresses x 2 guesses: each address stays within its pair budget of 5, the account's 15 run out.
    for (let i = 0; i < 8; i++) rs.push(...(await attempts(t, 2, bob.email, 'wrong-password-1', freshIp())));
    expect(rs.map(code)).toEqual([...fill(15, 'UNAUTHENTICATED'), 'RATE_LIMITED']);
    expect(policy(rs[15])).toBe('login-failures-email');
    // A new address is refused even with the right password (its way in is the owner's known addresses, or
    // later the password reset); bob's own address is not.
    const elsewhere = await t.gql(LOGIN, { input: { email: bob.email, password: bob.password } }, from(freshIp()));
    expect(policy(elsewhere)).toBe('login-failures-email');
    const own = await t.gql(LOGIN, { input: { email: bob.email, password: bob.password } }, from(home));
    expect(own.data?.login.token).toBeTruthy();
  });

  test('one address can no longer keep six accounts locked: each owner signs in from their own address', async () => {
    const X = freshIp();
    const owners = [];
    for (let i = 0; i < 6; i++) {
      const home = freshIp();
      owners.push({ home, user: await registerUser(via(t, home)) });
    }
    // Five wrong passwords per account, account after account: all that one address may send is spent on them.
    for (const o of owners) await attempts(t, 5, o.user.email, 'wrong-password-1', X);
    for (const o of owners) {
      const r = await t.gql(LOGIN, { input: { email: o.user.email, password: o.user.password } }, from(o.home));
      expect(r.data?.login.token).toBeTruthy();
    }
  });

  test("a success resets the pair's count but not the address's", async () => {
    const C = freshIp();
    const dave = await registerUser(via(t, C));
    const wrong = await attempts(t, 4, dave.email, 'wrong-password-1', C);
    expect(wrong.map(code)).toEqual(fill(4, 'UNAUTHENTICATED'));
    expect(left(wrong[3], 'login-failures-pair')).toBe(1);
    expect(left(wrong[3], 'login-failures-ip')).toBe(8);
    expect((await t.gql(LOGIN, { input: { email: dave.email, password: dave.password } }, from(C))).data?.login.token).toBeTruthy();
    const next = await t.gql(LOGIN, { input: { email: dave.email, password: 'wrong-password-2' } }, from(C));
    expect(code(next)).toBe('UNAUTHENTICATED');
    // The pair starts again (one failure spent of 5); the address keeps its 4 earlier failures (and the success cost nothing).
    expect(left(next, 'login-failures-pair')).toBe(4);
    expect(left(next, 'login-failures-ip')).toBe(7);
  });

  test('an unknown email and a wrong password are throttled alike', async () => {
    const erin = await registerUser(via(t, freshIp()));
    const known = await attempts(t, 7, erin.email, 'wrong-password-1', freshIp());
    const unknown = await attempts(t, 7, `nobody-${Date.now()}@example.com`, 'wrong-password-1', freshIp());
    const shape = (r: GqlResult) => ({
      status: r.status,
      code: code(r),
      policy: policy(r),
      message: r.errors?.[0]?.message,
      policies: r.headers.get('ratelimit-policy'),
      pair: left(r, 'login-failures-pair'),
      ip: left(r, 'login-failures-ip'),
    });
    expect(unknown.map(shape)).toEqual(known.map(shape));
    expect(known.map(code)).toEqual([...fill(5, 'UNAUTHENTICATED'), 'RATE_LIMITED', 'RATE_LIMITED']);
  });

  test('hostile emails are throttled like any other and never shape a key', async () => {
    const X = freshIp();
    const hostile = ['a}{b:c@example.com', '{ip:1.2.3.4}', `${'x'.repeat(5000)}@example.com`, ':::', '', '   ', 'É\u0000\n*?[]@example.com'];
    for (const email of hostile) {
      const rs = await attempts(t, 1, email, 'wrong-password-1', X);
      expect(rs[0].status).not.toBe(500);
    }
    // 7 failures in all from X, whatever the email text.
    const probe = await t.gql(LOGIN, { input: { email: 'probe@example.com', password: 'x' } }, from(X));
    expect(left(probe, 'login-failures-ip')).toBe(12 - hostile.length - 1);
    const r = rawRedis();
    try {
      const keys: string[] = [];
      let cursor = '0';
      do {
        const [next, batch] = await r.scan(cursor, 'MATCH', `${t.prefix}:*`, 'COUNT', 1000);
        keys.push(...batch);
        cursor = next;
      } while (cursor !== '0');
      for (const k of keys) for (const text of ['a}{b', 'xxxxxxxxxx', ':::', '*?[]', 'probe@', '{ip:1.2.3.4}']) expect(k).not.toContain(text);
    } finally {
      r.disconnect();
    }
  });

  test('an account remembers at most 10 addresses, hashed, each for 30 days after its last success', async () => {
    const homes = Array.from({ length: 12 }, freshIp);
    const gina = await registerUser(via(t, homes[0]));
    for (const home of homes.slice(1)) await loginAs(via(t, home), gina.email, gina.password);
    const key = new Keys(t.prefix).signInKnownAddresses(`e:${digest(gina.email)}`);
    const r = rawRedis();
    try {
      const members = await r.zrange(key, '0', '-1');
      expect(members.sort()).toEqual(homes.slice(2).map(digest).sort());
      const ttl = await r.pttl(key);
      expect(ttl).toBeGreaterThan(30 * 86_400_000 - 60_000);
      expect(ttl).toBeLessThanOrEqual(30 * 86_400_000);
    } finally {
      r.disconnect();
    }
  });

  test('over WebSocket the same budgets hold, shared with HTTP', async () => {
    const A = freshIp();
    const home = freshIp();
    const frank = await registerUser(via(t, home));
    const attacker = wsClient(t.url, { headers: { 'x-forwarded-for': A } });
    const owner = wsClient(t.url, { headers: { 'x-forwarded-for': home } });
    try {
      const wrong = { input: { email: frank.email, password: 'wrong-password-1' } };
      const ws1 = [];
      for (let i = 0; i < 3; i++) ws1.push(await execute(attacker, LOGIN, wrong));
      expect(ws1.map((r) => r.errors?.[0]?.extensions?.code)).toEqual(fill(3, 'UNAUTHENTICATED'));
      expect((await attempts(t, 2, frank.email, 'wrong-password-1', A)).map(code)).toEqual(fill(2, 'UNAUTHENTICATED'));
      const refused = await execute(attacker, LOGIN, wrong);
      expect(refused.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED', policy: 'login-failures-pair' });
      expect(refused.errors?.[0]?.extensions?.retryAfter).toBeGreaterThan(0);
      expect(refused.errors?.[0]?.extensions?.http).toBeUndefined();
      expect(code(await t.gql(LOGIN, wrong, from(A)))).toBe('RATE_LIMITED');
      const ok = await execute<{ login: { token: string } }>(owner, LOGIN, { input: { email: frank.email, password: frank.password } });
      expect(ok.errors).toBeUndefined();
      expect(ok.data?.login.token).toBeTruthy();
    } finally {
      await attacker.dispose();
      await owner.dispose();
    }
  });
});

describe('concurrency, across two instances', () => {
  const two = twoInstances({
    RATE_LIMIT_DEFAULT: '100000/1m',
    KEY_PREFIX: uniquePrefix('signin'),
    ...PROXY,
    LOGIN_FAILURES_PER_PAIR: '10/1h',
    LOGIN_FAILURES_PER_IP: '1000/1h',
    LOGIN_FAILURES_PER_EMAIL: '1000/1h',
  });

  /** Password checks (scrypt runs) counted by every instance. */
  async function checks(outcome: string): Promise<number> {
    let n = 0;
    for (const t of [two.a, two.b]) {
      const text = await t.app.metrics.registry.metrics();
      const m = new RegExp(`^login_password_checks_total\\{outcome="${outcome}"\\} (\\d+)`, 'm').exec(text);
      n += m ? Number(m[1]) : 0;
    }
    return n;
  }

  test.each([
    ['a wrong password', true],
    ['an unknown email', false],
  ])('100 parallel attempts with %s from one pair: exactly the 10 budgeted are checked, the rest refused before any hash', async (_label, existing) => {
    const ip = freshIp();
    const email = existing ? (await registerUser(via(two.a, freshIp()))).email : `nobody-${ip}@example.com`;
    const before = await checks('mismatch');
    const rs = await Promise.all(
      Array.from({ length: 100 }, (_, i) => (i % 2 ? two.b : two.a).gql(LOGIN, { input: { email, password: `wrong-${i}-pass` } }, from(ip))),
    );
    const byStatus = rs.reduce<Record<string, number>>((m, r) => ((m[`${r.status} ${code(r)}`] = (m[`${r.status} ${code(r)}`] ?? 0) + 1), m), {});
    expect(byStatus).toEqual({ '200 UNAUTHENTICATED': 10, '429 RATE_LIMITED': 90 });
    expect((await checks('mismatch')) - before).toBe(10);
  });
});

describe('a per-address ceiling over every identity', () => {
  let t: TestApp;
  beforeAll(async () => {
    // Exact charging: the test counts every admitted request against the header's figure, and a
    // lease (the address key gets busy) holds points that a request can spend only when all of its
    // keys are leased (docs/rate-limits.md, "Leases of busy keys").
    t = await startTestApp({ RATE_LIMIT_DEFAULT: '20/1h', RATE_LIMIT_PER_ADDRESS: '40/1h', RATE_LIMIT_LEASE: '0', ...PROXY });
  });
  afterAll(() => t.close());

  test('one address with five accounts gets the per-address budget in total, not five default budgets; WebSocket spends it too', async () => {
    const Z = freshIp();
    const users = [];
    for (let i = 0; i < 5; i++) {
      users.push(await registerUser(via(t, Z)));
    }
    const last = await t.gql('{ __typename }', {}, from(Z));
    const remaining = left(last, 'address');
    expect(remaining).toBeGreaterThan(0);
    const rs = await Promise.all(users.flatMap((u) => Array.from({ length: 20 }, () => t.gql('{ me { id } }', {}, { token: u.token, ...from(Z) }))));
    expect(rs.filter((r) => r.status === 200)).toHaveLength(remaining!);
    const refused = rs.find((r) => r.status === 429)!;
    expect(policy(refused)).toBe('address');
    // Over WebSocket, from that address, even anonymously with default budget left: refused too.
    const socket = wsClient(t.url, { headers: { 'x-forwarded-for': Z } });
    try {
      const r = await execute(socket, '{ __typename }');
      expect(r.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED', policy: 'address' });
    } finally {
      await socket.dispose();
    }
    // Another address is untouched.
    expect((await t.gql('{ __typename }', {}, from(freshIp()))).status).toBe(200);
  });
});
