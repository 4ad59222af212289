/**
 * Rate limits through real gateways on real Redis: exactness under concurrency
 * on one and two instances, window roll-over, burst then steady rate, cost and
 * alias charging, and the per-operation login/register policies.
 */
import { registerUser, startTestApp, type GqlResult, type TestApp } from '../helpers/app';
import { twoInstances } from '../helpers/instances';
import { uniquePrefix, testRedisMode } from '../helpers/redis';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** Requests arrive through a trusted proxy so each test can speak from its own client address. */
const from = (ip: string): { headers: Record<string, string> } => ({ headers: { 'x-forwarded-for': ip } });
const PROXY = { TRUSTED_PROXIES: '127.0.0.1' };
let ipSeq = 1;
const freshIp = (): string => `198.51.100.${ipSeq++}`;

const statuses = (rs: GqlResult[]): Record<number, number> => rs.reduce<Record<number, number>>((m, r) => ((m[r.status] = (m[r.status] ?? 0) + 1), m), {});

describe('default policy, one instance', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ RATE_LIMIT_DEFAULT: '20/1m', ...PROXY });
  });
  afterAll(() => t.close());

  test('50 concurrent requests under a limit of 20 let exactly 20 through, and the refused ones run nothing', async () => {
    const ip = freshIp();
    const rs = await Promise.all(Array.from({ length: 50 }, () => t.gql('{ __typename }', {}, from(ip))));
    expect(statuses(rs)).toEqual({ 200: 20, 429: 30 });
    for (const r of rs.filter((x) => x.status === 429)) {
      expect(r.data).toBeUndefined();
      expect(r.errors?.[0].extensions?.code).toBe('RATE_LIMITED');
      expect(r.errors?.[0].extensions?.retryAfter).toBeGreaterThanOrEqual(1);
    }
  });

  test('an operation is charged its cost, every alias counted', async () => {
    const ip = freshIp();
    // `me` returns an object: each root occurrence costs 1, so five aliases cost 5.
    const r = await t.gql('{ a: me { id } b: me { id } c: me { id } d: me { id } e: me { id } }', {}, from(ip));
    expect(r.status).toBe(200);
    // The per-address ceiling (4 x 20 by default) is charged the same cost.
    expect(r.headers.get('ratelimit')).toMatch(/^"default";r=15;t=\d+, "address";r=75;t=\d+$/);
    const many = `{ ${Array.from({ length: 16 }, (_, i) => `m${i}: me { id }`).join(' ')} }`;
    const refused = await t.gql(many, {}, from(ip));
    expect(refused.status).toBe(429);
    // All or nothing: the refused 16 were not taken from the 15 left.
    const after = await t.gql('{ rateLimitStatus { remaining limit } }', {}, from(ip));
    expect(after.data?.rateLimitStatus).toEqual({ remaining: 15, limit: 20 });
  });

  test('requests that fail parsing, validation or the cost ceiling are not free: one point each', async () => {
    const ip = freshIp();
    const parse = await t.gql('{', {}, from(ip));
    expect(parse.errors?.[0].extensions?.code).toBe('GRAPHQL_PARSE_FAILED');
    expect(parse.headers.get('ratelimit')).toMatch(/^"default";r=19;/);
    expect((await t.gql('{ noSuchField }', {}, from(ip))).errors?.[0].extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    const status = await t.gql('{ rateLimitStatus { remaining } }', {}, from(ip));
    expect(status.data?.rateLimitStatus.remaining).toBe(18);
  });

  test('rateLimitStatus reads the budget without spending it', async () => {
    const ip = freshIp();
    const q = '{ rateLimitStatus { limit remaining resetAt windowSeconds unlimited } }';
    const a = await t.gql(q, {}, from(ip));
    const b = await t.gql(q, {}, from(ip));
    expect(a.data?.rateLimitStatus).toMatchObject({ limit: 20, remaining: 20, windowSeconds: 60, unlimited: false });
    expect(b.data?.rateLimitStatus.remaining).toBe(20);
    await t.gql('{ __typename }', {}, from(ip));
    const c = await t.gql(q, {}, from(ip));
    expect(c.data?.rateLimitStatus.remaining).toBe(19);
    expect(Date.parse(c.data?.rateLimitStatus.resetAt)).toBeGreaterThan(Date.now());
  });
});

describe('default policy, two instances sharing Redis', () => {
  const two = twoInstances({ RATE_LIMIT_DEFAULT: '20/1m', KEY_PREFIX: uniquePrefix('rl2'), ...PROXY });

  test('50 concurrent requests split across two instances let exactly 20 through', async () => {
    const ip = freshIp();
    const rs = await Promise.all(Array.from({ length: 50 }, (_, i) => (i % 2 ? two.b : two.a).gql('{ __typename }', {}, from(ip))));
    expect(statuses(rs)).toEqual({ 200: 20, 429: 30 });
  });
});

describe('windows and bursts', () => {
  let roll: TestApp;
  let burst: TestApp;
  beforeAll(async () => {
    roll = await startTestApp({ RATE_LIMIT_DEFAULT: '3/1s', ...PROXY });
    burst = await startTestApp({ RATE_LIMIT_DEFAULT: '10/1s', RATE_LIMIT_DEFAULT_BURST: '5', ...PROXY });
  });
  afterAll(async () => {
    await roll.close();
    await burst.close();
  });

  test('a short window rolls over: N pass, the next is refused, and after the window N pass again', async () => {
    const ip = freshIp();
    const round = async (): Promise<Record<number, number>> =>
      statuses(await Promise.all(Array.from({ length: 5 }, () => roll.gql('{ __typename }', {}, from(ip)))));
    expect(await round()).toEqual({ 200: 3, 429: 2 });
    await sleep(1050);
    expect(await round()).toEqual({ 200: 3, 429: 2 });
  });

  test('a burst above the steady rate passes at once, then only the steady rate', async () => {
    const ip = freshIp();
    const first = await Promise.all(Array.from({ length: 8 }, () => burst.gql('{ __typename }', {}, from(ip))));
    expect(statuses(first)).toEqual({ 200: 5, 429: 3 });
    expect(first.find((r) => r.status === 200)?.headers.get('ratelimit-policy')).toBe('"default";q=10;w=1;burst=5, "address";q=40;w=1');
    // Steady rate 10/s: 500 ms later the bucket holds the 5 points of its burst again, never more,
    // plus whatever refills while the batch itself is in flight.
    await sleep(500);
    const started = Date.now();
    const batch = await Promise.all(Array.from({ length: 12 }, () => burst.gql('{ __typename }', {}, from(ip))));
    const took = Date.now() - started;
    const passed = batch.filter((r) => r.status === 200).length;
    expect(passed).toBeGreaterThanOrEqual(5);
    expect(passed).toBeLessThanOrEqual(5 + Math.floor(took / 100));
  });
});

describe('per-operation policies', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ RATE_LIMIT_DEFAULT: '600/1m', ...PROXY });
  });
  afterAll(() => t.close());
  const LOGIN = 'mutation L($input: LoginInput!) { login(input: $input) { token } }';

  test("login failures are limited per (email, address): 10 by default, and the owner's own address is not refused", async () => {
    const home = freshIp();
    const u = await registerUser({ gql: (q, v, o) => t.gql(q, v, { ...o, ...from(home) }) });
    const ip = freshIp();
    const attempts = [];
    for (let i = 0; i < 11; i++) attempts.push(await t.gql(LOGIN, { input: { email: u.email.toUpperCase(), password: 'wrong-password-1' } }, from(ip)));
    expect(attempts.slice(0, 10).map((r) => r.errors?.[0].extensions?.code)).toEqual(Array(10).fill('UNAUTHENTICATED'));
    expect(attempts[10].status).toBe(429);
    expect(attempts[10].errors?.[0].extensions).toMatchObject({ code: 'RATE_LIMITED', policy: 'login-failures-pair' });
    // The right password from the guessing address is refused too (before it is checked); from the owner's address it passes.
    expect((await t.gql(LOGIN, { input: { email: u.email, password: u.password } }, from(ip))).status).toBe(429);
    const right = await t.gql(LOGIN, { input: { email: u.email, password: u.password } }, from(home));
    expect(right.data?.login.token).toBeTruthy();
  });

  test('login is limited per IP whichever emails are tried', async () => {
    const ip = freshIp();
    const rs = [];
    for (let i = 0; i < 21; i++) rs.push(await t.gql(LOGIN, { input: { email: `nobody${i}-${ip}@example.com`, password: 'x' } }, from(ip)));
    expect(rs.slice(0, 20).every((r) => r.status === 200 && r.errors?.[0].extensions?.code === 'UNAUTHENTICATED')).toBe(true);
    expect(rs[20].errors?.[0].extensions).toMatchObject({ code: 'RATE_LIMITED', policy: 'login-ip' });
    expect(rs[20].headers.get('ratelimit')).toContain('"login-ip";r=0');
  });

  test('aliases count: eleven aliased logins of one email are refused whole, and none of them ran', async () => {
    const u = await registerUser({ gql: (q, v, o) => t.gql(q, v, { ...o, ...from(freshIp()) }) });
    const eleven = `mutation { ${Array.from({ length: 11 }, (_, i) => `l${i}: login(input: { email: "${u.email}", password: "${u.password}" }) { token }`).join(' ')} }`;
    const refused = await t.gql(eleven, {}, from(freshIp()));
    expect(refused.status).toBe(429);
    expect(refused.data).toBeUndefined();
    // Each occurrence is an attempt of the same (email, address): 11 > the pair's 10.
    expect(refused.errors?.[0].extensions?.policy).toBe('login-failures-pair');
    // Nothing was charged or run: a single login still passes and this user has only its register session.
    const one = await t.gql(LOGIN, { input: { email: u.email, password: u.password } }, from(freshIp()));
    expect(one.data?.login.token).toBeTruthy();
    const sessions = await t.gql('{ mySessions { id } }', {}, { token: one.data?.login.token, ...from(freshIp()) });
    expect(sessions.data?.mySessions).toHaveLength(2);
  });

  test('register is limited per IP', async () => {
    const ip = freshIp();
    const rs = [];
    for (let i = 0; i < 6; i++) {
      rs.push(
        await t.gql(
          'mutation R($input: RegisterInput!) { register(input: $input) { token } }',
          { input: { email: `reg${i}-${ip}@example.com`, password: 'correct-horse-42', name: 'R' } },
          from(ip),
        ),
      );
    }
    expect(rs.slice(0, 5).every((r) => Boolean(r.data?.register?.token))).toBe(true);
    expect(rs[5].errors?.[0].extensions).toMatchObject({ code: 'RATE_LIMITED', policy: 'register-ip' });
  });
});

// The login keys of one request live under two hash tags (the address and the email): on a Cluster
// they are charged in two parallel scripts and refunded when either refuses. Forced here on any Redis.
describe('keys under several hash tags', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ RATE_LIMIT_DEFAULT: '600/1m', ...PROXY });
    // Reaching into the service to force the Cluster path on a single Redis.
    const svc = t.app.services.rateLimits as any;
    if (testRedisMode() !== 'cluster') svc.store = new svc.store.constructor(t.app.redis, true);
  });
  afterAll(() => t.close());

  test('a refusal under one tag refunds the charge taken under the other', async () => {
    const ip = freshIp();
    const email = `split-${ip}@example.com`;
    const login = (n: number): string =>
      `mutation { ${Array.from({ length: n }, (_, i) => `l${i}: login(input: { email: "${email}", password: "x" }) { token }`).join(' ')} }`;
    // 11 > the pair's 10: refused by login-failures-pair; the address's keys (same request, other tag) must get their 11 points back.
    expect((await t.gql(login(11), {}, from(ip))).errors?.[0].extensions?.policy).toBe('login-failures-pair');
    const other = await t.gql('mutation { login(input: { email: "someone-else@example.com", password: "x" }) { token } }', {}, from(ip));
    expect(other.headers.get('ratelimit')).toContain('"login-ip";r=19');
    expect(other.headers.get('ratelimit')).toContain('"login-failures-ip";r=99');
  });
});
