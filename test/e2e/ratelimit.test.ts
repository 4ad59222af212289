/**
 * What clients and operators see of rate limits: headers on allowed and refused
 * HTTP requests, allow and block lists, WebSocket subscribe limits, and the
 * admin views (rateLimitOverview, rateLimitRejected, /metrics).
 */
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { adminToken, registerUser, startTestApp, ADMIN_ENV, type TestApp } from '../helpers/app';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const from = (ip: string): { headers: Record<string, string> } => ({ headers: { 'x-forwarded-for': ip } });
const PROXY = { TRUSTED_PROXIES: '127.0.0.1' };
const LOGIN = 'mutation L($input: LoginInput!) { login(input: $input) { token } }';

/** Same user-agent family as the HTTP requests, or the session would be revoked as replayed. */
function ws(url: string, token: string): Client {
  class Socket extends WebSocket {
    constructor(address: string, protocols?: string | string[]) {
      super(address, protocols, { headers: { 'user-agent': 'node-test' } });
    }
  }
  return createClient({
    url: `${url.replace(/^http/, 'ws')}/graphql`,
    webSocketImpl: Socket,
    connectionParams: { authorization: `Bearer ${token}` },
    retryAttempts: 0,
    lazy: true,
  });
}

interface Sub {
  events: Array<Record<string, any>>;
  errors: Array<{ message: string; extensions?: Record<string, any> }>;
  /** Resolves on the first error (refused at subscribe, or in a result), or with null after `ms` (accepted and still open). */
  refused(ms?: number): Promise<{ message: string; extensions?: Record<string, any> } | null>;
  stop(): void;
}

function subscribe(client: Client, query: string): Sub {
  const sub: Sub = { events: [], errors: [], refused: async () => null, stop: () => {} };
  let onError: (e: Sub['errors'][number]) => void = () => {};
  const firstError = new Promise<Sub['errors'][number]>((r) => (onError = r));
  sub.stop = client.subscribe<Record<string, any>>(
    { query },
    {
      next: (v) => {
        if (v.data) sub.events.push(v.data);
        if (v.errors?.length) {
          sub.errors.push(...(v.errors as Sub['errors']));
          onError(v.errors[0]);
        }
      },
      error: (e) => {
        const list = (Array.isArray(e) ? e : [e]) as Sub['errors'];
        sub.errors.push(...list);
        onError(list[0]);
      },
      complete: () => {},
    },
  );
  sub.refused = (ms = 400) => Promise.race([firstError, sleep(ms).then(() => null)]);
  return sub;
}

describe('headers', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ RATE_LIMIT_DEFAULT: '2/1m' });
  });
  afterAll(() => t.close());

  test('allowed requests show what is left; the refused one gets 429, Retry-After and RATE_LIMITED', async () => {
    // Beside the caller's own policy, the per-address ceiling (4 x 2 per minute by default) over every identity of the address.
    const a = await t.gql('{ __typename }');
    expect(a.status).toBe(200);
    expect(a.headers.get('ratelimit-policy')).toBe('"default";q=2;w=60, "address";q=8;w=60');
    expect(a.headers.get('ratelimit')).toBe('"default";r=1;t=30, "address";r=7;t=8');
    expect(a.headers.get('retry-after')).toBeNull();
    const b = await t.gql('{ __typename }');
    expect(b.headers.get('ratelimit')).toBe('"default";r=0;t=60, "address";r=6;t=15');
    const c = await t.gql('{ __typename }');
    expect(c.status).toBe(429);
    expect(c.data).toBeUndefined();
    expect(c.headers.get('retry-after')).toBe('30');
    expect(c.headers.get('ratelimit-policy')).toBe('"default";q=2;w=60, "address";q=8;w=60');
    expect(c.headers.get('ratelimit')).toBe('"default";r=0;t=60, "address";r=6;t=15');
    expect(c.errors?.[0].extensions).toMatchObject({ code: 'RATE_LIMITED', retryAfter: 30 });
  });
});

describe('operators', () => {
  let t: TestApp;
  let admin: string;
  beforeAll(async () => {
    t = await startTestApp({ RATE_LIMIT_DEFAULT: '600/1m', RATE_LIMIT_BLOCK: 'ip:203.0.113.9', RATE_LIMIT_ALLOW: 'ip:203.0.113.7', ...PROXY, ...ADMIN_ENV });
    admin = await adminToken({ gql: (q, v, o) => t.gql(q, v, { ...o, ...from('192.0.2.1') }) });
  });
  afterAll(() => t.close());

  test('a block-listed address is always refused; an allow-listed one is never limited', async () => {
    const blocked = await t.gql('{ __typename }', {}, from('203.0.113.9'));
    expect(blocked.status).toBe(429);
    expect(blocked.headers.get('retry-after')).toBe('3600');
    expect(blocked.errors?.[0].extensions).toMatchObject({ code: 'RATE_LIMITED', policy: 'blocklist', retryAfter: 3600 });
    const rs = [];
    for (let i = 0; i < 25; i++) rs.push(await t.gql(LOGIN, { input: { email: `allowed${i}@example.com`, password: 'x' } }, from('203.0.113.7')));
    expect(rs.every((r) => r.status === 200 && r.errors?.[0].extensions?.code === 'UNAUTHENTICATED')).toBe(true);
    expect(rs[0].headers.get('ratelimit')).toBeNull();
    const status = await t.gql('{ rateLimitStatus { unlimited } }', {}, from('203.0.113.7'));
    expect(status.data?.rateLimitStatus.unlimited).toBe(true);
  });

  test('each refusal reaches rateLimitRejected subscribers, the overview and /metrics', async () => {
    const client = ws(t.url, admin);
    const sub = subscribe(client, 'subscription { rateLimitRejected { policy identity partition operation transport cost retryAfter at } }');
    expect(await sub.refused(300)).toBeNull();
    const ip = '192.0.2.50';
    for (let i = 0; i < 21; i++) await t.gql(LOGIN, { input: { email: `guess${i}@example.com`, password: 'x' } }, from(ip));
    for (let i = 0; i < 50 && !sub.events.length; i++) await sleep(20);
    expect(sub.events).toHaveLength(1);
    const ev = sub.events[0].rateLimitRejected;
    expect(ev).toMatchObject({ policy: 'login-ip', identity: `ip:${ip}`, partition: `ip:${ip}`, operation: 'L', transport: 'http', cost: 1 });
    expect(ev.retryAfter).toBeGreaterThan(0);
    expect(Date.parse(ev.at)).toBeLessThanOrEqual(Date.now());
    sub.stop();
    await client.dispose();

    const res = await t.gql(
      `{ rateLimitOverview(minutes: 5) { enabled topConsumers { identity points } topRejected { identity points }
          rejections { policy total perMinute { at count } } blocked { policy identity until }
          policies { name points windowSeconds burst partition onRedisDown fields } } }`,
      {},
      { token: admin, ...from('192.0.2.1') },
    );
    expect(res.errors).toBeUndefined();
    const o = res.data!.rateLimitOverview;
    expect(o.enabled).toBe(true);
    // 20 logins of cost 1 passed from that address; one was refused.
    expect(o.topConsumers).toContainEqual({ identity: `ip:${ip}`, points: 20 });
    expect(o.topRejected).toContainEqual({ identity: `ip:${ip}`, points: 1 });
    const loginIp = o.rejections.find((r: { policy: string }) => r.policy === 'login-ip');
    expect(loginIp.total).toBe(1);
    expect(loginIp.perMinute).toHaveLength(5);
    expect(loginIp.perMinute[4].count + loginIp.perMinute[3].count).toBe(1);
    expect(o.rejections.find((r: { policy: string }) => r.policy === 'blocklist')?.total).toBeGreaterThanOrEqual(1);
    expect(o.blocked).toContainEqual({ policy: 'blocklist', identity: 'ip:203.0.113.9', until: null });
    const blockedLogin = o.blocked.find((b: { policy: string; identity: string }) => b.policy === 'login-ip' && b.identity === `ip:${ip}`);
    expect(Date.parse(blockedLogin.until)).toBeGreaterThan(Date.now());
    expect(o.policies.map((p: { name: string }) => p.name)).toEqual(
      expect.arrayContaining([
        'default',
        'address',
        'login-failures-pair',
        'login-failures-ip',
        'login-failures-email',
        'login-ip',
        'register-ip',
        'api-key',
        'password-reset-email',
        'password-reset-ip',
        'rate-limit-status',
      ]),
    );
    expect(o.policies.find((p: { name: string }) => p.name === 'login-failures-pair')).toMatchObject({
      partition: 'arg:input.email+ip',
      onRedisDown: 'closed',
      burst: 10,
      // changePassword checks the caller's own password: a sign-in attempt of the caller's email.
      fields: 'Mutation.changePassword,Mutation.login',
    });
    expect(o.policies.find((p: { name: string }) => p.name === 'api-key')).toMatchObject({ partition: 'identity', points: 6000, windowSeconds: 60 });
    expect(o.policies.find((p: { name: string }) => p.name === 'address')).toMatchObject({ partition: 'ip', points: 2400, windowSeconds: 60 });

    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    expect(metrics).toContain('rate_limit_decisions_total{policy="login-ip",outcome="refused"} 1');
    expect(metrics).toMatch(/rate_limit_points_total\{policy="default"\} \d+/);
  });

  test('the operator views are for admins only', async () => {
    const user = await registerUser({ gql: (q, v, o) => t.gql(q, v, { ...o, ...from('192.0.2.77') }) });
    const forbidden = await t.gql('{ rateLimitOverview { enabled } }', {}, { token: user.token, ...from('192.0.2.77') });
    expect(forbidden.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    const anonymous = await t.gql('{ rateLimitOverview { enabled } }', {}, from('192.0.2.78'));
    expect(anonymous.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
    const client = ws(t.url, user.token);
    const sub = subscribe(client, 'subscription { rateLimitRejected { policy } }');
    expect((await sub.refused(2000))?.extensions?.code).toBe('FORBIDDEN');
    await client.dispose();
  });
});

describe('WebSocket subscribe limits', () => {
  let t: TestApp;
  let admin: string;
  beforeAll(async () => {
    t = await startTestApp({ RATE_LIMIT_DEFAULT: '4/1m', RATE_LIMIT_WS_SUBSCRIPTIONS: '2', ...PROXY, ...ADMIN_ENV });
    admin = await adminToken({ gql: (q, v, o) => t.gql(q, v, { ...o, ...from('192.0.2.2') }) });
  });
  afterAll(() => t.close());

  test('a connection may hold only so many subscriptions, and every subscribe spends the same budget as HTTP', async () => {
    const q = 'subscription { rateLimitRejected { policy } }';
    const one = ws(t.url, admin);
    const a = subscribe(one, q);
    const b = subscribe(one, q);
    expect(await a.refused()).toBeNull();
    expect(await b.refused()).toBeNull();
    const c = subscribe(one, q);
    const capped = await c.refused();
    expect(capped?.extensions).toMatchObject({ code: 'RATE_LIMITED', policy: 'ws-subscriptions' });
    expect(capped?.extensions?.http).toBeUndefined();
    // Closing one frees its place on the connection.
    a.stop();
    await sleep(100);
    const d = subscribe(one, q);
    expect(await d.refused()).toBeNull();
    // Three subscribes spent 3 of the admin's 4 points: HTTP sees it, and spends the last one.
    const http = await t.gql('{ __typename }', {}, { token: admin, ...from('192.0.2.2') });
    expect(http.headers.get('ratelimit')).toMatch(/^"default";r=0;/);
    const two = ws(t.url, admin);
    const e = subscribe(two, q);
    expect((await e.refused())?.extensions).toMatchObject({ code: 'RATE_LIMITED', policy: 'default' });
    await one.dispose();
    await two.dispose();
  });
});

describe('per-operation policies on subscription fields', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ RATE_LIMIT_DEFAULT: '1000/1m', RATE_LIMIT_WS_SUBSCRIPTIONS: '20' });
  });
  afterAll(() => t.close());

  test('jobUpdated spends its own job-watch budget (burst 30), as an HTTP field spends its policy', async () => {
    const u = await registerUser(t);
    const enq = await t.gql(
      `mutation { enqueueJob(input: { type: "email.send", data: { to: "${u.email}", subject: "s", body: "b" } }) { id } }`,
      {},
      { token: u.token },
    );
    const id = enq.data?.enqueueJob.id as string;
    const q = `subscription { jobUpdated(id: "${id}") { state } }`;
    const clients = [ws(t.url, u.token), ws(t.url, u.token)];
    const subs: Sub[] = [];
    for (let i = 0; i < 30; i++) subs.push(subscribe(clients[i % 2], q));
    // Each accepted subscription first gets the job as it is now.
    const deadline = Date.now() + 10_000;
    while (subs.some((s) => !s.events.length && !s.errors.length) && Date.now() < deadline) await sleep(50);
    expect(subs.filter((s) => s.events.length === 1 && !s.errors.length)).toHaveLength(30);
    const third = ws(t.url, u.token);
    const refused = await subscribe(third, q).refused(2000);
    expect(refused?.extensions).toMatchObject({ code: 'RATE_LIMITED', policy: 'job-watch' });
    expect(refused?.extensions?.retryAfter).toBeGreaterThan(0);
    // Another user has a budget of their own.
    const v = await registerUser(t);
    const other = ws(t.url, v.token);
    const own = subscribe(other, 'subscription { jobUpdated(id: "no-such-job") { state } }');
    expect((await own.refused(2000))?.extensions?.code).toBe('NOT_FOUND');
    for (const c of [...clients, third, other]) await c.dispose();
  });
});
