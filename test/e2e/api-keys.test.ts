/**
 * API keys for services, over HTTP and WebSocket on two gateways sharing one Redis: made, listed and
 * revoked by admins (audited, bounded, names validated); a key acts with its roles, with no user-agent
 * check and no cookie; it is rate-limited as `key:<id>` under RATE_LIMIT_API_KEY; its last use is
 * recorded inside the check's one round trip; it works for subscriptions (connectionParams); a
 * revocation on one instance refuses it on the other at once and closes its sockets there; email.send
 * by an ADMIN key goes anywhere, by a CUSTOMER key nowhere; Redis never holds a raw key.
 */
import type { Client } from 'graphql-ws';
import { ADMIN_ENV, adminToken, registerUser, startTestApp, type GqlResult, type TestApp } from '../helpers/app';
import { startInstances, twoInstances } from '../helpers/instances';
import { BROWSER } from '../helpers/analytics';
import { waitFor } from '../helpers/jobs';
import { readPrefix } from '../helpers/redis';
import { countingSetup } from '../helpers/roundtrips';
import { collect, execute, wsClient, wsConnect, type WsConnection } from '../helpers/ws';

const CREATE = 'mutation C($n: String!, $r: [Role!]!) { createApiKey(name: $n, roles: $r) { key apiKey { id name roles createdAt lastUsedAt } } }';
const LIST = '{ apiKeys { id name roles createdAt lastUsedAt } }';
const REVOKE = 'mutation V($id: ID!) { revokeApiKey(id: $id) }';
const AUDIT = '{ auditLog(limit: 1) { action } }';
const ENQUEUE = 'mutation E($i: EnqueueJobInput!) { enqueueJob(input: $i) { id state } }';

interface Made {
  key: string;
  apiKey: { id: string; name: string; roles: string[]; createdAt: string; lastUsedAt: string | null };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const within = <T>(p: Promise<T>, ms: number): Promise<T | 'timeout'> => Promise.race([p, sleep(ms).then(() => 'timeout' as const)]);
const code = (r: { errors?: GqlResult['errors'] }) => r.errors?.[0]?.extensions?.code;
/** Every raw key made in this file, to look for in Redis at the end. */
const made = new Set<string>();

async function createKey(t: TestApp, admin: string, name: string, roles: string[]): Promise<Made> {
  const res = await t.gql<{ createApiKey: Made }>(CREATE, { n: name, r: roles }, { token: admin });
  if (!res.data?.createApiKey) throw new Error(`createApiKey failed: ${JSON.stringify(res.errors)}`);
  made.add(res.data.createApiKey.key);
  return res.data.createApiKey;
}

const open: Client[] = [];
const track = (c: WsConnection): WsConnection => {
  open.push(c.client);
  return c;
};
afterEach(async () => {
  await Promise.all(open.splice(0).map(async (c) => c.dispose()));
});

const pair = twoInstances({ API_KEYS_MAX: '30' }, { admin: true, a: { WORKER: '1' } });

describe('managing keys', () => {
  test('createApiKey shows the key once; apiKeys lists it without the key; the three are audited', async () => {
    const { a, b, admin } = pair;
    const before = Date.now();
    const k = await createKey(a, admin, 'billing-service', ['ADMIN']);
    expect(k.key).toMatch(/^gwk_[A-Za-z0-9_-]{43}$/);
    expect(k.apiKey).toMatchObject({ id: expect.stringMatching(/^[0-9a-f]{32}$/), name: 'billing-service', roles: ['ADMIN'], lastUsedAt: null });
    expect(Date.parse(k.apiKey.createdAt)).toBeGreaterThanOrEqual(before - 1000);

    const listed = await b.gql<{ apiKeys: Made['apiKey'][] }>(LIST, {}, { token: admin });
    expect(listed.data?.apiKeys).toContainEqual(k.apiKey);
    expect(JSON.stringify(listed)).not.toContain(k.key);

    expect((await b.gql(REVOKE, { id: k.apiKey.id }, { token: admin })).data?.revokeApiKey).toBe(true);
    expect((await a.gql(REVOKE, { id: k.apiKey.id }, { token: admin })).data?.revokeApiKey).toBe(false);
    expect((await a.gql<{ apiKeys: Made['apiKey'][] }>(LIST, {}, { token: admin })).data?.apiKeys.map((x) => x.id)).not.toContain(k.apiKey.id);

    const adminId = (await a.gql('{ me { id } }', {}, { token: admin })).data?.me?.id;
    const log = (await a.gql('{ auditLog(limit: 10) { actor action target } }', {}, { token: admin })).data?.auditLog;
    const actor = `user:${adminId}`;
    expect(log).toContainEqual({ actor, action: 'createApiKey', target: `${k.apiKey.id} (billing-service)` });
    expect(log).toContainEqual({ actor, action: 'apiKeys', target: '*' });
    expect(log).toContainEqual({ actor, action: 'revokeApiKey', target: k.apiKey.id });
  });

  test('only admins: a customer is FORBIDDEN, an anonymous caller UNAUTHENTICATED, a CUSTOMER key FORBIDDEN', async () => {
    const { a, admin } = pair;
    const u = await registerUser(a);
    const customerKey = await createKey(a, admin, 'storefront', ['CUSTOMER']);
    const target = await createKey(a, admin, 'target', ['ADMIN']);
    for (const token of [u.token, customerKey.key, undefined]) {
      const want = token ? 'FORBIDDEN' : 'UNAUTHENTICATED';
      expect(code(await a.gql(CREATE, { n: 'x', r: ['ADMIN'] }, { token }))).toBe(want);
      expect(code(await a.gql(LIST, {}, { token }))).toBe(want);
      expect(code(await a.gql(REVOKE, { id: target.apiKey.id }, { token }))).toBe(want);
    }
    expect((await a.gql(AUDIT, {}, { token: target.key })).data?.auditLog).toHaveLength(1);
    // The same over WebSocket.
    const adminWs = track(wsConnect(pair.b.url, { params: { authorization: `Bearer ${admin}` } }));
    const userWs = track(wsConnect(pair.b.url, { params: { authorization: `Bearer ${u.token}` } }));
    await Promise.all([adminWs.connected, userWs.connected]);
    const overWs = await execute<{ createApiKey: Made }>(adminWs.client, CREATE, { n: 'made-over-ws', r: ['CUSTOMER'] });
    made.add(overWs.data!.createApiKey.key);
    expect(overWs.data?.createApiKey.key).toMatch(/^gwk_/);
    expect((await execute(adminWs.client, REVOKE, { id: overWs.data!.createApiKey.apiKey.id })).data?.revokeApiKey).toBe(true);
    expect(code(await execute(userWs.client, CREATE, { n: 'x', r: ['ADMIN'] }))).toBe('FORBIDDEN');
    expect(code(await execute(userWs.client, LIST))).toBe('FORBIDDEN');
  });

  test('names and roles are validated; nothing is stored for a refused one', async () => {
    const { a, admin } = pair;
    const count = async () => (await a.gql<{ apiKeys: unknown[] }>(LIST, {}, { token: admin })).data!.apiKeys.length;
    const before = await count();
    for (const n of [
      '',
      ' ',
      ' padded',
      'padded ',
      'x'.repeat(65),
      'line\nbreak',
      'tab\there',
      'a{b}c',
      'key:with:colons',
      '<script>',
      'semi;colon',
      '\u200bzero',
      'emoji🙂',
    ]) {
      const res = await a.gql(CREATE, { n, r: ['ADMIN'] }, { token: admin });
      expect({ n, code: code(res) }).toEqual({ n, code: 'BAD_USER_INPUT' });
      expect(res.errors?.[0].extensions?.fields?.name).toHaveLength(1);
    }
    const noRoles = await a.gql(CREATE, { n: 'no roles', r: [] }, { token: admin });
    expect(noRoles.errors?.[0].extensions?.fields?.roles).toEqual(['must name at least one role']);
    expect(code(await a.gql(CREATE, { n: 'bad role', r: ['ROOT'] }, { token: admin }))).toBe('BAD_USER_INPUT');
    expect(await count()).toBe(before);
    for (const n of ['nightly export 2.1', 'Dienst Zürich', '服务_a', 'x'.repeat(64)])
      expect((await createKey(a, admin, n, ['CUSTOMER', 'CUSTOMER'])).apiKey).toMatchObject({ name: n, roles: ['CUSTOMER'] });
  });

  test('at most API_KEYS_MAX keys, however many are asked for at once on two instances', async () => {
    const small = await startInstances({ API_KEYS_MAX: '3' }, { admin: true });
    try {
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          (i % 2 ? small.a : small.b).gql<{ createApiKey: Made }>(CREATE, { n: `svc-${i}`, r: ['CUSTOMER'] }, { token: small.admin }),
        ),
      );
      results.forEach((r) => r.data?.createApiKey && made.add(r.data.createApiKey.key));
      expect(results.filter((r) => r.data?.createApiKey)).toHaveLength(3);
      const refused = results.filter((r) => r.errors);
      expect(refused).toHaveLength(7);
      for (const r of refused) expect(r.errors?.[0].extensions).toMatchObject({ code: 'QUOTA_EXCEEDED', quota: 'apiKeys', limit: 3 });
      const listed = (await small.a.gql<{ apiKeys: Made['apiKey'][] }>(LIST, {}, { token: small.admin })).data!.apiKeys;
      expect(listed).toHaveLength(3);
      expect((await small.b.gql(REVOKE, { id: listed[0].id }, { token: small.admin })).data?.revokeApiKey).toBe(true);
      expect((await createKey(small.a, small.admin, 'after-revoke', ['CUSTOMER'])).apiKey.name).toBe('after-revoke');
    } finally {
      await small.close();
    }
  });
});

describe('signing with a key', () => {
  test('it acts with its roles, and is no user: no me, no sessions, no cart', async () => {
    const { a, b, admin } = pair;
    const adminKey = await createKey(a, admin, 'ops', ['ADMIN']);
    const customerKey = await createKey(a, admin, 'shop', ['CUSTOMER']);
    expect((await b.gql(AUDIT, {}, { token: adminKey.key })).data?.auditLog).toHaveLength(1);
    expect(code(await b.gql(AUDIT, {}, { token: customerKey.key }))).toBe('FORBIDDEN');
    // An admin action taken with an ADMIN key is recorded as the key.
    const made2 = await createKey(b, adminKey.key, 'made-by-a-key', ['CUSTOMER']);
    expect((await a.gql(REVOKE, { id: made2.apiKey.id }, { token: adminKey.key })).data?.revokeApiKey).toBe(true);
    const log = (await a.gql('{ auditLog(limit: 5) { actor action target } }', {}, { token: admin })).data?.auditLog;
    expect(log).toContainEqual({ actor: `key:${adminKey.apiKey.id}`, action: 'createApiKey', target: `${made2.apiKey.id} (made-by-a-key)` });
    expect(log).toContainEqual({ actor: `key:${adminKey.apiKey.id}`, action: 'revokeApiKey', target: made2.apiKey.id });
    for (const k of [adminKey, customerKey]) {
      expect((await b.gql('{ me { id } }', {}, { token: k.key })).data?.me).toBeNull();
      expect(code(await b.gql('{ mySessions { id } }', {}, { token: k.key }))).toBe('UNAUTHENTICATED');
      expect(code(await b.gql('{ cart { itemCount } }', {}, { token: k.key }))).toBe('UNAUTHENTICATED');
      expect(code(await b.gql('mutation { changePassword(currentPassword: "x", newPassword: "abcdefghij1") }', {}, { token: k.key }))).toBe('UNAUTHENTICATED');
    }
  });

  test('no user-agent check, and no cookie on any answer', async () => {
    const { a, b, admin } = pair;
    const k = await createKey(a, admin, 'crawler', ['ADMIN']);
    const agents = [
      'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36',
      'Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0',
      'curl/8.5.0',
      'python-requests/2.31',
    ];
    for (const ua of agents) {
      const res = await (agents.indexOf(ua) % 2 ? a : b).gql(AUDIT, {}, { token: k.key, headers: { 'user-agent': ua } });
      expect(res.data?.auditLog).toHaveLength(1);
      expect(res.headers.get('set-cookie')).toBeNull();
    }
    for (const doc of ['mutation { logout }', 'mutation { startGuestSession { token } }', LIST]) {
      const res = await a.gql(doc, {}, { token: k.key });
      expect(res.errors).toBeUndefined();
      expect(res.headers.get('set-cookie')).toBeNull();
    }
  });

  test('a key counts only in the Authorization header: in the cookie it is ignored; an unknown key is refused', async () => {
    const { a, admin } = pair;
    const k = await createKey(a, admin, 'cookie-test', ['ADMIN']);
    expect(code(await a.gql(AUDIT, {}, { cookie: `gw_session=${k.key}` }))).toBe('UNAUTHENTICATED');
    for (const bad of [`gwk_${'A'.repeat(43)}`, `gwk_${k.key.slice(4, -1)}`, `${k.key}x`, k.key.toUpperCase()]) {
      expect(code(await a.gql(AUDIT, {}, { token: bad }))).toBe('UNAUTHENTICATED');
    }
    const refused = track(wsConnect(a.url, { params: { authorization: `Bearer gwk_${'B'.repeat(43)}` } }));
    expect(await within(refused.closed, 3000)).toBe(4403);
    const cookieOnly = track(wsConnect(a.url, { cookie: `gw_session=${k.key}` }));
    await cookieOnly.connected;
    expect(code(await execute(cookieOnly.client, AUDIT))).toBe('UNAUTHENTICATED');
  });

  test('its last use is recorded (to the minute)', async () => {
    const { a, b, admin } = pair;
    const k = await createKey(a, admin, 'last-used', ['ADMIN']);
    const before = Date.now();
    await b.gql(AUDIT, {}, { token: k.key });
    const after = Date.now();
    const row = (await a.gql<{ apiKeys: Made['apiKey'][] }>(LIST, {}, { token: admin })).data!.apiKeys.find((x) => x.id === k.apiKey.id)!;
    // Redis's clock, written by the check itself.
    expect(Date.parse(row.lastUsedAt!)).toBeGreaterThanOrEqual(before - 1000);
    expect(Date.parse(row.lastUsedAt!)).toBeLessThanOrEqual(after + 1000);
  });

  test('email.send: an ADMIN key may mail anyone, a CUSTOMER key no one', async () => {
    const { a, b, admin } = pair;
    const adminKey = await createKey(a, admin, 'mailer', ['ADMIN']);
    const customerKey = await createKey(a, admin, 'not-a-mailer', ['CUSTOMER']);
    const data = { to: 'someone-else@example.net', subject: 'Your invoice', body: 'Attached.' };
    const ok = await b.gql(ENQUEUE, { i: { type: 'email.send', data } }, { token: adminKey.key });
    expect(ok.data?.enqueueJob.id).toBeTruthy();
    const refused = await b.gql(ENQUEUE, { i: { type: 'email.send', data } }, { token: customerKey.key });
    expect(refused.errors?.[0].extensions).toMatchObject({ code: 'FORBIDDEN' });
    // The key's job is its own: it reads it; a customer does not.
    const u = await registerUser(a);
    expect((await a.gql('query J($id: ID!) { job(id: $id) { id } }', { id: ok.data!.enqueueJob.id }, { token: adminKey.key })).data?.job?.id).toBe(
      ok.data!.enqueueJob.id,
    );
    expect((await a.gql('query J($id: ID!) { job(id: $id) { id } }', { id: ok.data!.enqueueJob.id }, { token: u.token })).data?.job).toBeNull();
  });
});

describe('WebSocket and revocation on two instances', () => {
  test('a key in connectionParams follows its job; revoked on one instance, it is refused on the other at once and its socket closes', async () => {
    const { a, b, admin } = pair;
    const k = await createKey(a, admin, 'watcher', ['ADMIN']);
    const socket = track(wsConnect(b.url, { params: { authorization: `Bearer ${k.key}` } }));
    await socket.connected;
    // Admin-only reads over the socket see the key's roles.
    expect((await execute(socket.client, '{ queueStats { waiting } }')).data?.queueStats).toBeDefined();

    const job = await a.gql(
      ENQUEUE,
      { i: { type: 'email.send', data: { to: 'ops@example.org', subject: 'Report', body: 'Done.' }, delayMs: 300 } },
      { token: k.key },
    );
    const id = job.data!.enqueueJob.id as string;
    const watch = collect<{ jobUpdated: { state: string } }>(socket.client, 'subscription W($id: ID!) { jobUpdated(id: $id) { state } }', { id }, 10, 10_000);
    await waitFor('the job to complete on the socket', async () => watch.events.some((e) => e.jobUpdated.state === 'COMPLETED'));
    expect(watch.errors).toEqual([]);
    expect(watch.events[0].jobUpdated.state).toMatch(/DELAYED|WAITING/);
    watch.stop();

    // The domain of subscriptions is generic: any subscription sees the key's roles (an admin-only one here).
    const other = wsClient(b.url, { token: k.key });
    open.push(other);
    const stats = collect<{ queueStatsUpdated: { waiting: number } }>(other, 'subscription { queueStatsUpdated { waiting } }', {}, 1, 5000);
    expect((await stats.done).length).toBe(1);
    expect(stats.errors).toEqual([]);

    const started = performance.now();
    expect((await a.gql(REVOKE, { id: k.apiKey.id }, { token: admin })).data?.revokeApiKey).toBe(true);
    const answered = performance.now();
    expect(code(await b.gql(AUDIT, {}, { token: k.key }))).toBe('UNAUTHENTICATED');
    expect(await within(socket.closed, 1000)).toBe(4401);
    const closedAfter = performance.now() - answered;
    expect(socket.closeReason()).toBe('API key revoked');
    console.log(
      `revokeApiKey: answered in ${(answered - started).toFixed(1)} ms; the other instance's socket closed ${closedAfter.toFixed(1)} ms after the answer`,
    );

    const again = track(wsConnect(b.url, { params: { authorization: `Bearer ${k.key}` } }));
    expect(await within(again.closed, 3000)).toBe(4403);
  });
});

describe('rate limits', () => {
  let t: TestApp;
  let admin: string;
  beforeAll(async () => {
    t = await startTestApp({ ...ADMIN_ENV, RATE_LIMIT_DEFAULT: '600/1m', RATE_LIMIT_API_KEY: '5/1m' });
    admin = await adminToken(t);
  });
  afterAll(() => t.close());

  test('a key is limited as key:<id> under RATE_LIMIT_API_KEY, over HTTP and WebSocket, apart from its address and other keys', async () => {
    const k = await createKey(t, admin, 'limited', ['ADMIN']);
    const other = await createKey(t, admin, 'other', ['ADMIN']);
    for (let i = 0; i < 4; i++) {
      const res = await t.gql(AUDIT, {}, { token: k.key });
      expect(res.data?.auditLog).toHaveLength(1);
      expect(res.headers.get('ratelimit-policy')).toBe('"api-key";q=5;w=60');
      expect(res.headers.get('ratelimit')).toBe(`"api-key";r=${4 - i};t=${(i + 1) * 12}`);
    }
    const socket = track(wsConnect(t.url, { params: { authorization: `Bearer ${k.key}` } }));
    await socket.connected;
    expect((await execute(socket.client, AUDIT)).data?.auditLog).toHaveLength(1);
    const refused = await t.gql(AUDIT, {}, { token: k.key });
    expect(refused.status).toBe(429);
    expect(refused.errors?.[0].extensions).toMatchObject({ code: 'RATE_LIMITED', policy: 'api-key' });
    expect((await execute(socket.client, AUDIT)).errors?.[0].extensions).toMatchObject({ code: 'RATE_LIMITED', policy: 'api-key' });
    // The admin on the same address, and another key, keep their own budgets.
    expect((await t.gql(AUDIT, {}, { token: admin })).data?.auditLog).toHaveLength(1);
    expect((await t.gql(AUDIT, {}, { token: other.key })).data?.auditLog).toHaveLength(1);
  });

  test('RATE_LIMIT_ALLOW takes key:<id>', async () => {
    const k = await createKey(t, admin, 'allowed', ['ADMIN']);
    const allowed = await startTestApp({
      KEY_PREFIX: t.prefix,
      RATE_LIMIT_DEFAULT: '600/1m',
      RATE_LIMIT_API_KEY: '1/1m',
      RATE_LIMIT_ALLOW: `key:${k.apiKey.id}`,
    });
    try {
      for (let i = 0; i < 5; i++) expect((await allowed.gql(AUDIT, {}, { token: k.key })).data?.auditLog).toHaveLength(1);
    } finally {
      await allowed.app.close();
    }
  });
});

describe('analytics: a key is budgeted as itself, an ADMIN key is exempt like an admin', () => {
  let t: TestApp;
  let admin: string;
  beforeAll(async () => {
    t = await startTestApp({ ...ADMIN_ENV, ANALYTICS_VISITOR_KEYS_PER_DAY: '2' });
    admin = await adminToken(t);
  });
  afterAll(() => t.close());
  const journeys = async () => (await readPrefix(t.prefix)).filter((k) => k.key.startsWith(`${t.prefix}:an:{an}:journey:`)).length;
  const track = (token: string, visitorId: string) =>
    // A browser's User-Agent: views from HTTP libraries count as bots and store nothing per visitor.
    t.gql('mutation T($i: PageViewInput!) { trackPageView(input: $i) }', { i: { page: '/from-a-service', visitorId } }, { token, headers: BROWSER });

  test('four new visitors from each: a CUSTOMER key stores 2 journeys, an ADMIN key all 4', async () => {
    const customerKey = await createKey(t, admin, 'tracker', ['CUSTOMER']);
    const adminKey = await createKey(t, admin, 'reporter', ['ADMIN']);
    const before = await journeys();
    for (let i = 0; i < 4; i++) expect((await track(customerKey.key, `c-visitor-${i}`)).data?.trackPageView).toBe(true);
    expect(await journeys()).toBe(before + 2);
    for (let i = 0; i < 4; i++) expect((await track(adminKey.key, `a-visitor-${i}`)).data?.trackPageView).toBe(true);
    expect(await journeys()).toBe(before + 6);
  });
});

describe('round trips', () => {
  const s = countingSetup({ ...ADMIN_ENV });
  const N = 20;

  test('a request with a key checks it and records its use in one EVALSHA; lastUsedAt is written once a minute', async () => {
    const admin = await adminToken(s.t);
    // Redis learns the script once (EVAL after NOSCRIPT): not what a request costs.
    const warm = await createKey(s.t, admin, 'warm-up', ['ADMIN']);
    await s.t.gql(AUDIT, {}, { token: warm.key });
    const k = await createKey(s.t, admin, 'counted', ['ADMIN']);
    const { sent, redis } = await s.cost(async () => {
      for (let i = 0; i < N; i++) expect((await s.t.gql(AUDIT, {}, { token: k.key })).data?.auditLog).toHaveLength(1);
    });
    expect(sent).toEqual({ evalsha: N, xrevrange: N });
    expect(redis).toEqual({ evalsha: N, hgetall: N, hset: 1, time: N, xrevrange: N });
  });
});

describe('what Redis holds afterwards', () => {
  test('no raw key appears in any key or value under the two instances’ prefix', async () => {
    expect(made.size).toBeGreaterThan(10);
    const all = await readPrefix(pair.prefix);
    expect(all.some((k) => k.key.includes(':apikey:'))).toBe(true);
    for (const { key, body } of all) {
      for (const secret of made) {
        expect(key).not.toContain(secret);
        expect(body).not.toContain(secret);
        // Nor its random part on its own.
        expect(body).not.toContain(secret.slice(4));
      }
    }
  });
});
