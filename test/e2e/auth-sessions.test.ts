/** Multi-device sessions over HTTP: listing, revoking, the per-user cap, lifetimes, hijack defence and races. */
import { startApp, type App } from '../../src/app/app';
import { loadConfig } from '../../src/config';
import { startTestApp, registerUser, gqlRequest, testEnv, type TestApp, type RequestOptions } from '../helpers/app';
import { captureLogger } from '../helpers/logs';
import { flushPrefix } from '../helpers/redis';
import { request as httpRequest } from 'node:http';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const LOGIN = 'mutation L($input: LoginInput!) { login(input: $input) { token session { id } } }';
const SESSIONS = '{ mySessions { id createdAt lastSeenAt expiresAt userAgent ip current } }';
const ME = '{ me { id } }';
const ME_STRICT = '{ mySessions { id } }';
const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0';
const FIREFOX_NEXT = 'Mozilla/5.0 (X11; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0';
const CHROME = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Gql = TestApp['gql'];
const login = async (gql: Gql, u: { email: string; password: string }, opts: RequestOptions = {}) => {
  const res = await gql<{ login: { token: string; session: { id: string } } }>(LOGIN, { input: { email: u.email, password: u.password } }, opts);
  if (!res.data?.login) throw new Error(JSON.stringify(res.errors));
  return res.data.login;
};
const meId = async (gql: Gql, token: string, ua?: string) => (await gql(ME, {}, { token, headers: ua ? { 'user-agent': ua } : {} })).data?.me?.id ?? null;

describe('listing and revoking', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ TRUSTED_PROXIES: '127.0.0.1', SESSIONS_PER_USER: '3' });
  });
  afterAll(() => t.close());

  test('mySessions lists device, ip, created, last seen and which one is current', async () => {
    const u = await registerUser(t);
    const phone = await login(t.gql, u, { headers: { 'user-agent': FIREFOX, 'x-forwarded-for': '203.0.113.7' } });
    await sleep(5);
    const res = await t.gql(SESSIONS, {}, { token: u.token });
    const list = res.data!.mySessions as Array<Record<string, any>>;
    expect(list.map((s) => s.id)).toEqual([phone.session.id, u.sessionId]);
    expect(list[0]).toMatchObject({ userAgent: FIREFOX, ip: '203.0.113.7', current: false });
    expect(list[1]).toMatchObject({ userAgent: 'node-test', ip: '127.0.0.1', current: true });
    for (const s of list) {
      expect(Date.parse(s.lastSeenAt)).toBeGreaterThanOrEqual(Date.parse(s.createdAt));
      expect(Date.parse(s.expiresAt)).toBeGreaterThan(Date.parse(s.lastSeenAt));
      expect(s.id).not.toBe(u.token);
    }
    // Using the phone session does not move its last-seen time before the refresh step (1m at 30m idle).
    const before = Date.parse(list[0].lastSeenAt);
    await sleep(10);
    expect(await meId(t.gql, phone.token, FIREFOX)).toBe(u.userId);
    const again = (await t.gql(SESSIONS, {}, { token: u.token })).data!.mySessions as Array<Record<string, any>>;
    expect(Date.parse(again[0].lastSeenAt)).toBe(before);
  });

  test('last seen and the idle deadline move once they lag by the refresh step (a tenth of the idle lifetime), and a used session outlives it', async () => {
    // Idle 1s: the step is 100 ms.
    const short = await startTestApp({ SESSION_IDLE_TTL: '1s' });
    try {
      const u = await registerUser(short);
      const seen = async (): Promise<number> =>
        Date.parse(((await short.gql(SESSIONS, {}, { token: u.token })).data!.mySessions as Array<Record<string, any>>)[0].lastSeenAt);
      const first = await seen();
      expect(await seen()).toBe(first);
      await sleep(250);
      const moved = await seen();
      expect(moved).toBeGreaterThanOrEqual(first + 250);
      // Used every 300 ms for 2.4 s (more than twice the idle lifetime): still signed in.
      for (let i = 0; i < 8; i++) {
        await sleep(300);
        expect(await meId(short.gql, u.token)).toBe(u.userId);
      }
      // Left alone past the idle lifetime: gone.
      await sleep(1100);
      expect(await meId(short.gql, u.token)).toBeNull();
    } finally {
      await short.close();
    }
  });

  test('an X-Forwarded-For hop that is not an IP address is not believed: the peer counts instead', async () => {
    const u = await registerUser(t);
    for (const hop of ['}{x:1', 'evil.example', '127.0.0.1:80', '999.1.1.1', '']) {
      const s = await login(t.gql, u, { headers: { 'x-forwarded-for': hop } });
      const list = (await t.gql(SESSIONS, {}, { token: s.token })).data!.mySessions as Array<{ id: string; ip: string }>;
      expect({ hop, ip: list.find((x) => x.id === s.session.id)?.ip }).toEqual({ hop, ip: '127.0.0.1' });
    }
    // A real address behind the proxy is still taken, also after a junk hop further left.
    const s = await login(t.gql, u, { headers: { 'x-forwarded-for': 'junk, 203.0.113.9' } });
    const list = (await t.gql(SESSIONS, {}, { token: s.token })).data!.mySessions as Array<{ id: string; ip: string }>;
    expect(list.find((x) => x.id === s.session.id)?.ip).toBe('203.0.113.9');
  });

  test('mySessions and the revoke operations need a signed-in user', async () => {
    for (const q of [SESSIONS, 'mutation { revokeSession(id: "x") }', 'mutation { revokeOtherSessions }']) {
      const res = await t.gql(q);
      expect(res.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
    }
  });

  test('revokeSession ends one session; revokeOtherSessions ends the rest and returns the count', async () => {
    const u = await registerUser(t);
    const b = await login(t.gql, u);
    const c = await login(t.gql, u);
    const revoked = await t.gql('mutation R($id: ID!) { revokeSession(id: $id) }', { id: b.session.id }, { token: u.token });
    expect(revoked.data?.revokeSession).toBe(true);
    expect(await meId(t.gql, b.token)).toBeNull();
    expect((await t.gql('mutation R($id: ID!) { revokeSession(id: $id) }', { id: b.session.id }, { token: u.token })).data?.revokeSession).toBe(false);
    const d = await login(t.gql, u);
    const others = await t.gql('mutation { revokeOtherSessions }', {}, { token: c.token });
    expect(others.data?.revokeOtherSessions).toBe(2);
    expect(await meId(t.gql, u.token)).toBeNull();
    expect(await meId(t.gql, d.token)).toBeNull();
    expect(await meId(t.gql, c.token)).toBe(u.userId);
    expect(((await t.gql(SESSIONS, {}, { token: c.token })).data!.mySessions as unknown[]).length).toBe(1);
    expect((await t.gql('mutation { revokeOtherSessions }', {}, { token: c.token })).data?.revokeOtherSessions).toBe(0);
  });

  test("a user can neither see nor revoke another user's sessions", async () => {
    const alice = await registerUser(t);
    const bob = await registerUser(t);
    const bob2 = await login(t.gql, bob);
    const aliceSees = (await t.gql(SESSIONS, {}, { token: alice.token })).data!.mySessions as Array<{ id: string }>;
    expect(aliceSees.map((s) => s.id)).toEqual([alice.sessionId]);
    for (const id of [bob.sessionId, bob2.session.id]) {
      const res = await t.gql('mutation R($id: ID!) { revokeSession(id: $id) }', { id }, { token: alice.token });
      expect(res.data?.revokeSession).toBe(false);
    }
    expect((await t.gql('mutation { revokeOtherSessions }', {}, { token: alice.token })).data?.revokeOtherSessions).toBe(0);
    expect(await meId(t.gql, bob.token)).toBe(bob.userId);
    expect(await meId(t.gql, bob2.token)).toBe(bob.userId);
  });

  test('past SESSIONS_PER_USER the oldest session is evicted', async () => {
    const u = await registerUser(t);
    const later = [];
    for (let i = 0; i < 3; i++) {
      await sleep(3);
      later.push(await login(t.gql, u));
    }
    expect(await meId(t.gql, u.token)).toBeNull();
    for (const s of later) expect(await meId(t.gql, s.token)).toBe(u.userId);
    const list = (await t.gql(SESSIONS, {}, { token: later[2].token })).data!.mySessions as Array<{ id: string; current: boolean }>;
    expect(list.map((s) => s.id)).toEqual(later.map((s) => s.session.id).reverse());
    expect(list.filter((s) => s.current).map((s) => s.id)).toEqual([later[2].session.id]);
  });

  test('logins racing past the cap: every token is distinct and exactly the cap survive', async () => {
    const u = await registerUser(t);
    const all = await Promise.all(Array.from({ length: 6 }, () => login(t.gql, u)));
    expect(new Set(all.map((s) => s.token)).size).toBe(6);
    const working = (await Promise.all([u.token, ...all.map((s) => s.token)].map((tok) => meId(t.gql, tok)))).filter(Boolean);
    expect(working).toHaveLength(3);
  });

  test('after revokeSession resolves, no request with that token succeeds', async () => {
    const u = await registerUser(t);
    const victim = await login(t.gql, u);
    let revokedAt = Infinity;
    let stop = false;
    const outcomes: Array<{ sent: number; ok: boolean }> = [];
    const hammer = async () => {
      while (!stop) {
        const sent = performance.now();
        outcomes.push({ sent, ok: (await meId(t.gql, victim.token)) !== null });
      }
    };
    const loops = Array.from({ length: 6 }, hammer);
    await sleep(30);
    const res = await t.gql('mutation R($id: ID!) { revokeSession(id: $id) }', { id: victim.session.id }, { token: u.token });
    revokedAt = performance.now();
    expect(res.data?.revokeSession).toBe(true);
    // Enough attempts sent after the revoke, however slow the machine is today.
    for (let waited = 0; outcomes.filter((o) => o.sent > revokedAt).length < 20 && waited < 5000; waited += 10) await sleep(10);
    stop = true;
    await Promise.all(loops);
    expect(outcomes.filter((o) => o.sent < revokedAt && o.ok).length).toBeGreaterThan(0);
    const after = outcomes.filter((o) => o.sent > revokedAt);
    expect(after.length).toBeGreaterThan(0);
    expect(after.filter((o) => o.ok)).toEqual([]);
  });
});

describe('lifetimes from config', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ SESSION_IDLE_TTL: '800ms', SESSION_MAX_AGE: '2s' });
  });
  afterAll(() => t.close());

  test('an unused session ends after the idle TTL', async () => {
    const u = await registerUser(t);
    const s = (await t.gql(SESSIONS, {}, { token: u.token })).data!.mySessions[0];
    expect(Date.parse(s.expiresAt) - Date.parse(s.lastSeenAt)).toBe(800);
    await sleep(950);
    expect(await meId(t.gql, u.token)).toBeNull();
  });

  test('use slides the idle TTL, but never past the absolute max age', async () => {
    const u = await registerUser(t);
    const start = Date.now();
    while (Date.now() - start < 1700) {
      expect(await meId(t.gql, u.token)).toBe(u.userId);
      await sleep(300);
    }
    // Well past one idle TTL since sign-in, yet alive; now let the absolute limit pass.
    await sleep(Math.max(0, start + 2100 - Date.now()));
    expect(await meId(t.gql, u.token)).toBeNull();
  });
});

describe('hijack defence', () => {
  const { log, lines: logged } = captureLogger('warn');
  let app: App;
  let gql: Gql;
  beforeAll(async () => {
    app = await startApp(loadConfig(testEnv()), { log });
    gql = (q, v, o) => gqlRequest(`http://127.0.0.1:${app.port}`, q, v, o);
  });
  afterAll(async () => {
    await app.close();
    await flushPrefix(app.config.redis.keyPrefix);
  });

  test('a session used from another user-agent family is refused, revoked and logged', async () => {
    const u = await registerUser({ gql });
    const ff = await login(gql, u, { headers: { 'user-agent': FIREFOX } });
    expect(await meId(gql, ff.token, FIREFOX_NEXT)).toBe(u.userId);
    expect(await meId(gql, ff.token, CHROME)).toBeNull();
    // Revoked, not just refused: the rightful browser is out too, and the list no longer shows it.
    expect(await meId(gql, ff.token, FIREFOX)).toBeNull();
    const list = (await gql(SESSIONS, {}, { token: u.token })).data!.mySessions as Array<{ id: string }>;
    expect(list.map((s) => s.id)).toEqual([u.sessionId]);
    const events = logged.filter((l) => l.event === 'session.hijack_suspected');
    expect(events).toEqual([expect.objectContaining({ sessionId: ff.session.id, userId: u.userId, uaFamily: 'chrome' })]);
    expect(JSON.stringify(logged)).not.toContain(ff.token);
  });
});

describe('hijack defence without false positives', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  /** A request with no User-Agent header at all (fetch always sends one, so node:http is used). */
  const meWithoutUserAgent = (token: string): Promise<{ status: number; body: { data?: { me: { id: string } | null } } }> =>
    new Promise((resolve, reject) => {
      const body = JSON.stringify({ query: ME });
      const req = httpRequest(
        `${t.url}/graphql`,
        { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` } },
        (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });

  test('a client that sends no User-Agent on some requests (Node fetch + ws, SSR, React Native) keeps its session', async () => {
    const u = await registerUser(t, {});
    const node = await login(t.gql, u, { headers: { 'user-agent': 'node' } });
    // The ws library sends no User-Agent: the WebSocket of the same client.
    const ws = createClient({
      url: t.url.replace(/^http/, 'ws') + '/graphql',
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      lazy: true,
      connectionParams: { authorization: `Bearer ${node.token}` },
    });
    const viaWs = await new Promise<{ data?: { me: { id: string } | null }; errors?: unknown }>((resolve) => {
      let result = {};
      ws.subscribe({ query: ME }, { next: (v) => (result = v), error: (e) => resolve({ errors: e }), complete: () => resolve(result) });
    });
    await ws.dispose();
    expect(viaWs.data?.me?.id).toBe(u.userId);
    const plain = await meWithoutUserAgent(node.token);
    expect(plain.body.data?.me?.id).toBe(u.userId);
    expect(await meId(t.gql, node.token, 'node')).toBe(u.userId);
  });

  test('a session begun without a User-Agent is bound to the first family it is used from', async () => {
    const u = await registerUser(t, {});
    const res = await new Promise<{ token: string }>((resolve, reject) => {
      const body = JSON.stringify({
        query: 'mutation L($input: LoginInput!) { login(input: $input) { token } }',
        variables: { input: { email: u.email, password: u.password } },
      });
      const req = httpRequest(`${t.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' } }, (r) => {
        let text = '';
        r.on('data', (d: Buffer) => (text += d.toString()));
        r.on('end', () => resolve(JSON.parse(text).data.login));
      });
      req.on('error', reject);
      req.end(body);
    });
    expect(await meId(t.gql, res.token, FIREFOX)).toBe(u.userId);
    expect((await meWithoutUserAgent(res.token)).body.data?.me?.id).toBe(u.userId);
    expect(await meId(t.gql, res.token, CHROME)).toBeNull();
  });

  test('a real change of browser family ends the session, and the error says why', async () => {
    const u = await registerUser(t, {});
    const ff = await login(t.gql, u, { headers: { 'user-agent': FIREFOX } });
    const res = await t.gql(ME_STRICT, {}, { token: ff.token, headers: { 'user-agent': CHROME } });
    expect(res.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
    expect(res.errors?.[0].extensions?.reason).toBe('SESSION_CLIENT_CHANGED');
    expect(res.errors?.[0].message).toMatch(/ended because it was used from a different browser or app/);
    // Later requests with the dead token get the plain answer: nothing is remembered per token.
    const again = await t.gql(ME_STRICT, {}, { token: ff.token, headers: { 'user-agent': FIREFOX } });
    expect(again.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
  });

  test('over WebSocket, a session used from another family closes with a reason', async () => {
    const u = await registerUser(t, {});
    const ff = await login(t.gql, u, { headers: { 'user-agent': FIREFOX } });
    const closed = await new Promise<{ code: number; reason: string }>((resolve) => {
      const sock = new WebSocket(t.url.replace(/^http/, 'ws') + '/graphql', 'graphql-transport-ws', { headers: { 'user-agent': CHROME } });
      sock.on('open', () => sock.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${ff.token}` } })));
      sock.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
    });
    expect(closed.code).toBe(4403);
    expect(closed.reason).toMatch(/different browser or app/);
  });
});

describe('SESSION_UA_CHECK=0', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ SESSION_UA_CHECK: '0' });
  });
  afterAll(() => t.close());

  test('turns the user-agent family check off', async () => {
    const u = await registerUser(t);
    const ff = await login(t.gql, u, { headers: { 'user-agent': FIREFOX } });
    expect(await meId(t.gql, ff.token, CHROME)).toBe(u.userId);
    expect(await meId(t.gql, ff.token, FIREFOX)).toBe(u.userId);
  });
});
