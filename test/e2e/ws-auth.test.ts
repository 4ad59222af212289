/**
 * WebSocket authentication with the real graphql-ws client: connectionParams,
 * the upgrade's cookie, refusal (4403), and revocation closing sockets (4401)
 * on every instance.
 */
import type { Client } from 'graphql-ws';
import { startTestApp, registerUser, type TestApp } from '../helpers/app';
import { wsConnect as connect, type WsConnection as Conn } from '../helpers/ws';
import { twoInstances } from '../helpers/instances';
import { rawRedis, uniquePrefix } from '../helpers/redis';
import { sha256 } from '../../src/util/crypto';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs one query over the socket. */
function query<T = Record<string, any>>(client: Client, q: string): Promise<{ data?: T; errors?: unknown[] }> {
  return new Promise((resolve, reject) => {
    let result: { data?: T; errors?: unknown[] } = {};
    client.subscribe<T>({ query: q }, { next: (v) => (result = v as typeof result), error: reject, complete: () => resolve(result) });
  });
}

const within = <T>(p: Promise<T>, ms: number): Promise<T | 'timeout'> => Promise.race([p, sleep(ms).then(() => 'timeout' as const)]);

const open: Client[] = [];
const track = (c: Conn): Conn => {
  open.push(c.client);
  return c;
};
afterEach(async () => {
  await Promise.all(open.splice(0).map(async (c) => c.dispose()));
});

let a: TestApp;
let b: TestApp;
const two = twoInstances({ KEY_PREFIX: uniquePrefix('ws') });
beforeAll(() => ({ a, b } = two));

describe('connection_init', () => {
  test('a good token in connectionParams.authorization authenticates the connection', async () => {
    const u = await registerUser(a);
    const c = track(connect(a.url, { params: { authorization: `Bearer ${u.token}` } }));
    await c.connected;
    expect((await query(c.client, '{ me { id } }')).data?.me?.id).toBe(u.userId);
  });

  test('the session cookie on the upgrade request authenticates the connection', async () => {
    const u = await registerUser(a);
    const c = track(connect(a.url, { cookie: `theme=dark; gw_session=${u.token}` }));
    await c.connected;
    expect((await query(c.client, '{ me { id } }')).data?.me?.id).toBe(u.userId);
  });

  test.each([
    ['an unknown token', { params: { authorization: `Bearer ${'Q'.repeat(43)}` } }],
    ['a malformed authorization', { params: { authorization: 'Basic abc' } }],
    ['an unknown cookie', { cookie: `gw_session=${'Q'.repeat(43)}` }],
  ])('%s is refused with 4403', async (_name, opts) => {
    const c = track(connect(a.url, opts));
    expect(await within(c.closed, 3000)).toBe(4403);
  });

  test('no credentials: an anonymous connection', async () => {
    const c = track(connect(a.url));
    await c.connected;
    expect((await query(c.client, '{ me { id } }')).data?.me).toBeNull();
  });

  test('a token in the WebSocket URL is never accepted', async () => {
    const u = await registerUser(a);
    const c = track(connect(a.url, { query: `?token=${u.token}&access_token=${u.token}` }));
    await c.connected;
    expect((await query(c.client, '{ me { id } }')).data?.me).toBeNull();
  });
});

describe('revocation closes sockets on every instance', () => {
  test('revokeSession on one instance closes that session’s sockets on both with 4401, and only those', async () => {
    const u = await registerUser(a);
    const other = await registerUser(b, { email: `ws-other-${Date.now()}@example.com` });
    const victim = await a.gql<{ login: { token: string; session: { id: string } } }>(
      'mutation L($i: LoginInput!) { login(input: $i) { token session { id } } }',
      { i: { email: u.email, password: u.password } },
    );
    const { token, session } = victim.data!.login;
    const onA = track(connect(a.url, { params: { authorization: `Bearer ${token}` } }));
    const onB = track(connect(b.url, { cookie: `gw_session=${token}` }));
    const bystander = track(connect(b.url, { params: { authorization: `Bearer ${u.token}` } }));
    const stranger = track(connect(a.url, { params: { authorization: `Bearer ${other.token}` } }));
    await Promise.all([onA.connected, onB.connected, bystander.connected, stranger.connected]);

    const res = await b.gql('mutation R($id: ID!) { revokeSession(id: $id) }', { id: session.id }, { token: u.token });
    expect(res.data?.revokeSession).toBe(true);
    expect(await within(Promise.all([onA.closed, onB.closed]), 2000)).toEqual([4401, 4401]);
    await sleep(100);
    expect(bystander.isClosed()).toBe(false);
    expect(stranger.isClosed()).toBe(false);
    expect((await query(bystander.client, '{ me { id } }')).data?.me?.id).toBe(u.userId);
  });

  test('logout over HTTP on one instance closes the sockets on the other', async () => {
    const u = await registerUser(a);
    const onB = track(connect(b.url, { params: { authorization: `Bearer ${u.token}` } }));
    await onB.connected;
    expect((await a.gql('mutation { logout }', {}, { token: u.token })).data?.logout).toBe(true);
    expect(await within(onB.closed, 2000)).toBe(4401);
  });

  test('revokeOtherSessions closes every other session’s sockets but keeps the caller’s', async () => {
    const u = await registerUser(a);
    const second = await a.gql<{ login: { token: string } }>('mutation L($i: LoginInput!) { login(input: $i) { token } }', {
      i: { email: u.email, password: u.password },
    });
    const mine = track(connect(a.url, { params: { authorization: `Bearer ${u.token}` } }));
    const theirs = track(connect(b.url, { params: { authorization: `Bearer ${second.data!.login.token}` } }));
    await Promise.all([mine.connected, theirs.connected]);
    expect((await a.gql('mutation { revokeOtherSessions }', {}, { token: u.token })).data?.revokeOtherSessions).toBe(1);
    expect(await within(theirs.closed, 2000)).toBe(4401);
    expect(mine.isClosed()).toBe(false);
  });

  test('a revocation announced while the connection is being authenticated refuses it', async () => {
    const u = await registerUser(a);
    const second = await a.gql<{ login: { token: string; session: { id: string } } }>(
      'mutation L($i: LoginInput!) { login(input: $i) { token session { id } } }',
      { i: { email: u.email, password: u.password } },
    );
    const { token, session } = second.data!.login;
    const sessions = b.app.services.sessions;
    const check = sessions.check.bind(sessions);
    // Widen the window between validating the session and tracking its socket:
    // the revocation is announced (and delivered to b) inside it.
    sessions.check = async (tok, client) => {
      const s = await check(tok, client);
      if (tok === token) {
        await a.gql('mutation R($id: ID!) { revokeSession(id: $id) }', { id: session.id }, { token: u.token });
        await sleep(100);
      }
      return s;
    };
    try {
      const c = track(connect(b.url, { params: { authorization: `Bearer ${token}` } }));
      expect(await within(c.closed, 2000)).toBe(4403);
    } finally {
      sessions.check = check;
    }
  });
});

describe('session lifetime of an open socket', () => {
  let s: TestApp;
  beforeAll(async () => {
    s = await startTestApp({ SESSION_IDLE_TTL: '800ms', SESSION_MAX_AGE: '2s' });
  });
  afterAll(() => s.close());

  test('an open socket keeps its session in use, and is closed with 4401 at the absolute max age', async () => {
    const u = await registerUser(s);
    const startedAt = Date.now();
    const c = track(connect(s.url, { params: { authorization: `Bearer ${u.token}` } }));
    await c.connected;
    // Longer than the idle TTL with no HTTP request: the socket counts as use.
    await sleep(1300);
    expect(c.isClosed()).toBe(false);
    expect((await s.gql('{ me { id } }', {}, { token: u.token })).data?.me?.id).toBe(u.userId);
    expect(await within(c.closed, 2000)).toBe(4401);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(1500);
    expect((await s.gql('{ me { id } }', {}, { token: u.token })).data?.me).toBeNull();
  });

  test('a session that ends without an announcement still closes its sockets', async () => {
    const u = await registerUser(s);
    const c = track(connect(s.url, { params: { authorization: `Bearer ${u.token}` } }));
    await c.connected;
    // As if the revocation's pub/sub message were lost: the session is just gone.
    const r = rawRedis();
    try {
      await r.del(s.app.services.keys.session(sha256(u.token)));
    } finally {
      r.disconnect();
    }
    expect(await within(c.closed, 1500)).toBe(4401);
  });
});
