/** Sign-up, sign-in, guests, logout, and how a token travels (Bearer, cookie, never the URL), over real HTTP. */
import { startTestApp, registerUser, gqlRequest, type TestApp } from '../helpers/app';
import { rawRedis } from '../helpers/redis';
import { sha256 } from '../../src/util/crypto';

const REGISTER =
  'mutation R($input: RegisterInput!) { register(input: $input) { token user { id email name roles createdAt } session { id current userAgent ip } } }';
const LOGIN = 'mutation L($input: LoginInput!) { login(input: $input) { token user { id email } session { id current } } }';
const GUEST = 'mutation { startGuestSession { token user { id } session { id current } } }';
const ME = '{ me { id email } }';
const SESSIONS_Q = '{ mySessions { id } }';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t.close());

let seq = 0;
const email = (tag = 'u') => `${tag}-${process.pid}-${seq++}@example.com`;
const cookiesOf = (res: { headers: Headers }) => res.headers.getSetCookie();
const sessionKeyExists = async (token: string) => {
  const r = rawRedis();
  try {
    return (await r.exists(t.app.services.keys.session(sha256(token)))) === 1;
  } finally {
    r.disconnect();
  }
};

describe('register', () => {
  test('creates a CUSTOMER, signs in with a fresh 256-bit token and sets an HttpOnly SameSite=Lax cookie', async () => {
    const res = await t.gql(REGISTER, { input: { email: email(), password: 'correct-horse-42', name: ' Ann ' } });
    expect(res.errors).toBeUndefined();
    const p = res.data!.register;
    expect(p.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(p.user).toMatchObject({ name: 'Ann', roles: ['CUSTOMER'] });
    expect(p.session).toMatchObject({ current: true, userAgent: 'node-test', ip: '127.0.0.1' });
    const [cookie, ...more] = cookiesOf(res);
    expect(more).toEqual([]);
    expect(cookie).toMatch(new RegExp(`^gw_session=${p.token}; `));
    expect(cookie).toContain('; HttpOnly');
    expect(cookie).toContain('; SameSite=Lax');
    expect(cookie).toContain('; Path=/');
    expect(cookie).not.toContain('Secure');
    expect(Number(/Max-Age=(\d+)/.exec(cookie)![1])).toBeGreaterThan(0);
    expect((await t.gql(ME, {}, { token: p.token })).data?.me).toEqual({ id: p.user.id, email: p.user.email });
  });

  test('normalises the email (case, surrounding space) and refuses a duplicate with BAD_USER_INPUT', async () => {
    const base = email('Norm');
    const first = await t.gql(REGISTER, { input: { email: `  ${base.toUpperCase()} `, password: 'correct-horse-42', name: 'N' } });
    expect(first.errors).toBeUndefined();
    expect(first.data!.register.user.email).toBe(base.toLowerCase());
    const dup = await t.gql(REGISTER, { input: { email: base.toLowerCase(), password: 'another-pass-77', name: 'M' } });
    expect(dup.data).toBeNull();
    expect(dup.errors).toHaveLength(1);
    expect(dup.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', fields: { email: ['is already registered'] } });
    const login = await t.gql(LOGIN, { input: { email: ` ${base.toLowerCase().replace('norm', 'NORM')}`, password: 'correct-horse-42' } });
    expect(login.data?.login.user.id).toBe(first.data!.register.user.id);
  });

  test('two concurrent registrations of one email: exactly one succeeds', async () => {
    const e = email('race');
    const results = await Promise.all(
      [0, 1, 2, 3].map((i) => t.gql(REGISTER, { input: { email: i % 2 ? e : e.toUpperCase(), password: 'correct-horse-42', name: `R${i}` } })),
    );
    expect(results.filter((r) => r.data?.register)).toHaveLength(1);
    for (const r of results.filter((x) => !x.data?.register)) expect(r.errors![0].extensions?.code).toBe('BAD_USER_INPUT');
  });

  test('weak or malformed input is refused with a message per field', async () => {
    const res = await t.gql(REGISTER, { input: { email: 'not-an-email', password: 'short', name: '   ' } });
    expect(res.data).toBeNull();
    expect(res.errors).toHaveLength(1);
    const { code, fields } = res.errors![0].extensions!;
    expect(code).toBe('BAD_USER_INPUT');
    expect(Object.keys(fields).sort()).toEqual(['email', 'name', 'password']);
    expect(fields.email).toEqual(['must be a valid email address']);
    expect(fields.password).toEqual(expect.arrayContaining(['must be at least 10 characters long', 'must contain a digit']));
    expect(fields.name).toEqual(['must not be empty']);
    // The message names every field too, for clients that show only the message.
    for (const [field, messages] of Object.entries(fields as Record<string, string[]>)) {
      expect(res.errors![0].message).toContain(`${field} ${messages.join(', ')}`);
    }

    const noLetter = await t.gql(REGISTER, { input: { email: email(), password: '1234567890123', name: 'X' } });
    expect(noLetter.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', fields: { password: ['must contain a letter'] } });
    const tooLong = await t.gql(REGISTER, { input: { email: email(), password: `a1${'x'.repeat(127)}`, name: 'X' } });
    expect(tooLong.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', fields: { password: ['must be at most 128 characters long'] } });
    const twoAt = await t.gql(REGISTER, { input: { email: 'a@b@example.com', password: 'correct-horse-42', name: 'X' } });
    expect(twoAt.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', fields: { email: ['must be a valid email address'] } });
  });
});

describe('login', () => {
  test('wrong email and wrong password give the same UNAUTHENTICATED error', async () => {
    const u = await registerUser(t);
    const wrongPw = await t.gql(LOGIN, { input: { email: u.email, password: 'not-the-password-1' } });
    const wrongEmail = await t.gql(LOGIN, { input: { email: `nobody-${u.email}`, password: u.password } });
    for (const res of [wrongPw, wrongEmail]) {
      expect(res.data).toBeNull();
      expect(res.errors).toHaveLength(1);
      expect(cookiesOf(res)).toEqual([]);
    }
    const strip = (e: NonNullable<typeof wrongPw.errors>[number]) => ({ message: e.message, code: e.extensions?.code, path: e.path });
    expect(strip(wrongPw.errors![0])).toEqual(strip(wrongEmail.errors![0]));
    expect(wrongPw.errors![0].extensions?.code).toBe('UNAUTHENTICATED');
  });

  test('every login issues a new token and a new session; earlier ones keep working', async () => {
    const u = await registerUser(t);
    const a = await t.gql(LOGIN, { input: { email: u.email, password: u.password } });
    const b = await t.gql(LOGIN, { input: { email: u.email, password: u.password } });
    const tokens = [u.token, a.data!.login.token, b.data!.login.token];
    expect(new Set(tokens).size).toBe(3);
    expect(new Set([u.sessionId, a.data!.login.session.id, b.data!.login.session.id]).size).toBe(3);
    for (const token of tokens) expect((await t.gql(ME, {}, { token })).data?.me?.id).toBe(u.userId);
  });

  test('two logins at once both get distinct working tokens', async () => {
    const u = await registerUser(t);
    const [a, b] = await Promise.all([0, 1].map(() => t.gql(LOGIN, { input: { email: u.email, password: u.password } })));
    expect(a.data!.login.token).not.toBe(b.data!.login.token);
    for (const res of [a, b]) expect((await t.gql(ME, {}, { token: res.data!.login.token })).data?.me?.id).toBe(u.userId);
  });
});

describe('how the token travels', () => {
  test('Bearer header and session cookie both authenticate; garbage authenticates nobody', async () => {
    const u = await registerUser(t);
    expect((await t.gql(ME, {}, { token: u.token })).data?.me?.id).toBe(u.userId);
    expect((await t.gql(ME, {}, { cookie: `other=1; gw_session=${u.token}; x=y` })).data?.me?.id).toBe(u.userId);
    expect((await t.gql(ME, {}, { token: 'A'.repeat(43) })).data?.me).toBeNull();
    expect((await t.gql(ME, {}, { cookie: 'gw_session=nope' })).data?.me).toBeNull();
    expect((await t.gql(ME, {}, { headers: { authorization: `Basic ${u.token}` } })).data?.me).toBeNull();
  });

  test('a malformed cookie value is treated as no session, not as a server error', async () => {
    const res = await t.gql(ME, {}, { cookie: 'gw_session=%E0%A4%A' });
    expect(res.status).toBe(200);
    expect(res.data?.me).toBeNull();
  });

  test('a token in the URL is never accepted', async () => {
    const u = await registerUser(t);
    const q = encodeURIComponent(ME);
    for (const param of ['token', 'access_token', 'authorization', 'session']) {
      const get = await fetch(`${t.url}/graphql?query=${q}&${param}=${u.token}`, { headers: { 'apollo-require-preflight': '1', 'user-agent': 'node-test' } });
      expect(get.status).toBe(200);
      expect(((await get.json()) as { data: { me: unknown } }).data.me).toBeNull();
      const post = await fetch(`${t.url}/graphql?${param}=${u.token}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'node-test' },
        body: JSON.stringify({ query: ME }),
      });
      expect(((await post.json()) as { data: { me: unknown } }).data.me).toBeNull();
    }
    // The same GET with the header does authenticate, so the URL was the only difference.
    const ok = await fetch(`${t.url}/graphql?query=${q}`, {
      headers: { 'apollo-require-preflight': '1', 'user-agent': 'node-test', authorization: `Bearer ${u.token}` },
    });
    expect(((await ok.json()) as { data: { me: { id: string } } }).data.me.id).toBe(u.userId);
  });
});

describe('logout', () => {
  test('ends the session, clears the cookie, and is false without a session', async () => {
    const u = await registerUser(t);
    const out = await t.gql<{ logout: boolean }>('mutation { logout }', {}, { token: u.token });
    expect(out.data?.logout).toBe(true);
    expect(cookiesOf(out)).toEqual([expect.stringMatching(/^gw_session=; .*Max-Age=0/)]);
    expect((await t.gql(ME, {}, { token: u.token })).data?.me).toBeNull();
    expect(await sessionKeyExists(u.token)).toBe(false);
    expect((await t.gql('mutation { logout }', {}, { token: u.token })).data?.logout).toBe(false);
    expect((await t.gql('mutation { logout }')).data?.logout).toBe(false);
  });

  test('a stale cookie is cleared even when its session is gone', async () => {
    const res = await t.gql('mutation { logout }', {}, { cookie: `gw_session=${'Z'.repeat(43)}` });
    expect(res.data?.logout).toBe(false);
    expect(cookiesOf(res)).toEqual([expect.stringMatching(/^gw_session=; .*Max-Age=0/)]);
  });
});

describe('guest sessions', () => {
  test('startGuestSession gives a session without a user; user-only operations refuse it', async () => {
    const res = await t.gql(GUEST);
    const g = res.data!.startGuestSession;
    expect(g.user).toBeNull();
    expect(g.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(g.session.current).toBe(true);
    expect(cookiesOf(res)[0]).toMatch(new RegExp(`^gw_session=${g.token}; `));
    expect((await t.gql(ME, {}, { token: g.token })).data?.me).toBeNull();
    const mine = await t.gql('{ mySessions { id } }', {}, { token: g.token });
    expect(mine.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
    expect(await sessionKeyExists(g.token)).toBe(true);
  });

  test('login carrying a guest token ends the guest session, hands it off, and returns a new token', async () => {
    const u = await registerUser(t);
    const handoffs: Array<[string, string]> = [];
    t.app.services.auth.onGuestHandoff(async (guestId, userId) => {
      handoffs.push([guestId, userId]);
    });
    const g = (await t.gql(GUEST)).data!.startGuestSession;
    const res = await t.gql(LOGIN, { input: { email: u.email, password: u.password } }, { token: g.token });
    const login = res.data!.login;
    expect(login.token).not.toBe(g.token);
    expect(login.session.id).not.toBe(g.session.id);
    expect(handoffs).toContainEqual([g.session.id, u.userId]);
    expect(await sessionKeyExists(g.token)).toBe(false);
    expect((await t.gql('mutation { logout }', {}, { token: g.token })).data?.logout).toBe(false);
    expect((await t.gql(ME, {}, { token: login.token })).data?.me?.id).toBe(u.userId);
  });

  test('register carrying a guest cookie ends the guest session', async () => {
    const g = (await t.gql(GUEST)).data!.startGuestSession;
    const res = await t.gql(REGISTER, { input: { email: email('g'), password: 'correct-horse-42', name: 'G' } }, { cookie: `gw_session=${g.token}` });
    expect(res.data!.register.token).not.toBe(g.token);
    expect(await sessionKeyExists(g.token)).toBe(false);
  });

  test('a failed login leaves the guest session alone', async () => {
    const g = (await t.gql(GUEST)).data!.startGuestSession;
    const res = await t.gql(LOGIN, { input: { email: email('none'), password: 'whatever-123' } }, { token: g.token });
    expect(res.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
    expect(await sessionKeyExists(g.token)).toBe(true);
  });
});

describe('what Redis holds after the whole flow', () => {
  test('no token and no password appears in any key or value', async () => {
    const password = 'Unique-pass-31337';
    const g = (await t.gql(GUEST)).data!.startGuestSession.token as string;
    const reg = (await t.gql(REGISTER, { input: { email: email('scan'), password, name: 'Scan' } }, { token: g })).data!.register;
    const again = (await t.gql(LOGIN, { input: { email: reg.user.email, password } })).data!.login.token as string;
    await t.gql(ME, {}, { token: again });
    await t.gql(SESSIONS_Q, {}, { token: again });
    await t.gql('mutation { logout }', {}, { token: reg.token });
    const secrets = [g, reg.token, again, password];
    const r = rawRedis();
    try {
      let cursor = '0';
      let seen = 0;
      do {
        const [next, keys] = await r.scan(cursor, 'MATCH', `${t.prefix}:*`, 'COUNT', 1000);
        cursor = next;
        for (const key of keys) {
          // Read per type: DUMP would not do, its LZF compression can hide a string.
          const type = await r.type(key);
          const content =
            type === 'string'
              ? await r.get(key)
              : type === 'hash'
                ? await r.hgetall(key)
                : type === 'zset'
                  ? await r.zrange(key, '0', '-1', 'WITHSCORES')
                  : type === 'set'
                    ? await r.smembers(key)
                    : type === 'list'
                      ? await r.lrange(key, 0, -1)
                      : type === 'stream'
                        ? await r.xrange(key, '-', '+')
                        : `unreadable ${type}`;
          const body = JSON.stringify(content);
          expect(body).not.toMatch(/^"unreadable/);
          for (const secret of secrets) {
            expect(key).not.toContain(secret);
            expect(body).not.toContain(secret);
          }
          seen++;
        }
      } while (cursor !== '0');
      expect(seen).toBeGreaterThan(3);
    } finally {
      r.disconnect();
    }
  });
});

describe('behind an HTTPS proxy', () => {
  let p: TestApp;
  beforeAll(async () => {
    p = await startTestApp({ TRUSTED_PROXIES: '127.0.0.1' });
  });
  afterAll(() => p.close());

  test('the cookie is Secure with the __Host- prefix when a trusted proxy says https, and authenticates', async () => {
    const res = await p.gql(REGISTER, { input: { email: email('s'), password: 'correct-horse-42', name: 'S' } }, { headers: { 'x-forwarded-proto': 'https' } });
    const token = res.data!.register.token;
    const [cookie] = cookiesOf(res);
    expect(cookie).toMatch(new RegExp(`^__Host-gw_session=${token}; Path=/; HttpOnly; SameSite=Lax; Max-Age=\\d+; Secure$`));
    const me = await p.gql(ME, {}, { cookie: `__Host-gw_session=${token}`, headers: { 'x-forwarded-proto': 'https' } });
    expect(me.data?.me?.id).toBe(res.data!.register.user.id);
    const out = await p.gql('mutation { logout }', {}, { cookie: `__Host-gw_session=${token}`, headers: { 'x-forwarded-proto': 'https' } });
    expect(cookiesOf(out)).toEqual([expect.stringMatching(/^__Host-gw_session=; .*Max-Age=0; Secure$/)]);
  });

  test('plain HTTP through the proxy gets the plain cookie', async () => {
    const res = await p.gql(GUEST, {}, { headers: { 'x-forwarded-proto': 'http' } });
    expect(cookiesOf(res)[0]).toMatch(/^gw_session=/);
    expect(cookiesOf(res)[0]).not.toContain('Secure');
  });

  test('X-Forwarded-Proto from an untrusted peer is ignored', async () => {
    const res = await gqlRequest(t.url, GUEST, {}, { headers: { 'x-forwarded-proto': 'https' } });
    expect(cookiesOf(res)[0]).toMatch(/^gw_session=/);
    expect(cookiesOf(res)[0]).not.toContain('Secure');
  });
});

describe('timing', () => {
  let h: TestApp;
  beforeAll(async () => {
    // A real-world scrypt cost, so that hashing dominates the request time.
    h = await startTestApp({ SCRYPT_N: '16384' });
  });
  afterAll(() => h.close());

  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const timed = async (fn: () => Promise<unknown>) => {
    const start = performance.now();
    await fn();
    return performance.now() - start;
  };

  test('wrong email and wrong password take about the same time', async () => {
    const u = await registerUser(h);
    const wrongPw: number[] = [];
    const wrongEmail: number[] = [];
    const trivial: number[] = [];
    for (let i = 0; i < 7; i++) {
      wrongPw.push(await timed(() => h.gql(LOGIN, { input: { email: u.email, password: `wrong-password-${i}` } })));
      wrongEmail.push(await timed(() => h.gql(LOGIN, { input: { email: `absent-${i}-${u.email}`, password: u.password } })));
      trivial.push(await timed(() => h.gql('{ __typename }')));
    }
    const ratio = median(wrongEmail) / median(wrongPw);
    // Hashing dominates both: otherwise this comparison would say nothing.
    expect(median(wrongPw)).toBeGreaterThan(5 * median(trivial));
    expect(median(wrongEmail)).toBeGreaterThan(5 * median(trivial));
    expect(ratio).toBeGreaterThan(0.5);
    expect(ratio).toBeLessThan(2);
  });
});
