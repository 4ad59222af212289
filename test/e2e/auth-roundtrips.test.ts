/**
 * Redis commands per request, counted by Redis itself (INFO commandstats) on a
 * private redis-server so that no other test's traffic is counted.
 */
import { startTestApp, registerUser, type TestApp } from '../helpers/app';
import { countingSetup, redisCost } from '../helpers/roundtrips';

const s = countingSetup();
const cost = s.cost;

const N = 20;
const repeat = async (fn: () => Promise<unknown>) => {
  for (let i = 0; i < N; i++) await fn();
};

/** A gateway on the same private Redis with the shared cache off: every request asks Redis. */
async function withoutCache<T>(fn: (t: TestApp) => Promise<T>): Promise<T> {
  // The same keys as s.t, so its users and sessions are this one's too.
  const t = await startTestApp({ REDIS_URL: s.own.url, CACHE_MAX_ENTRIES: '0', KEY_PREFIX: s.t.prefix });
  try {
    return await fn(t);
  } finally {
    await t.app.close();
  }
}

test('validating a session is one round trip (one EVALSHA), and none while this instance holds it', async () => {
  const u = await registerUser(s.t);
  const client = { userAgent: 'node-test', uaFamily: 'node', ip: '127.0.0.1' };
  await s.t.app.services.sessions.touch(u.token, client);
  // Held for SESSION_CACHE_MS (800 ms): the 20 checks take a few ms, one may cross it.
  const held = await cost(() => repeat(() => s.t.app.services.sessions.touch(u.token, client)));
  expect(held.sent.evalsha ?? 0).toBeLessThanOrEqual(1);
  await withoutCache(async (t) => {
    expect(await t.app.services.sessions.touch(u.token, client)).toMatchObject({ userId: u.userId }); // loads the script
    const { sent, redis } = await redisCost(t.app, s.r, () => repeat(async () => expect(await t.app.services.sessions.touch(u.token, client)).not.toBeNull()));
    expect(sent).toEqual({ evalsha: N });
    // Inside the script: the read alone; the deadline moves only once it lags by the refresh step (1m here).
    expect(redis).toEqual({ evalsha: N, hgetall: N });
  });
});

test('{ me { id } } is two round trips (the session EVALSHA, the user HGETALL) without the cache, none within its lifetime', async () => {
  const u = await registerUser(s.t);
  await s.t.gql('{ me { id } }', {}, { token: u.token });
  const held = await cost(() => repeat(async () => expect((await s.t.gql('{ me { id } }', {}, { token: u.token })).data?.me?.id).toBe(u.userId)));
  expect(held.sent.evalsha ?? 0).toBeLessThanOrEqual(1);
  expect(held.sent.hgetall ?? 0).toBeLessThanOrEqual(1);
  await withoutCache(async (t) => {
    await t.gql('{ me { id } }', {}, { token: u.token });
    const { sent, redis } = await redisCost(t.app, s.r, () =>
      repeat(async () => expect((await t.gql('{ me { id } }', {}, { token: u.token })).data?.me?.id).toBe(u.userId)),
    );
    expect(sent).toEqual({ evalsha: N, hgetall: N });
    expect(redis).toEqual({ evalsha: N, hgetall: 2 * N });
  });
});

test('the session is looked at only when a resolver asks who is calling', async () => {
  const u = await registerUser(s.t);
  expect((await cost(() => repeat(() => s.t.gql('{ __typename }', {}, { token: u.token })))).sent).toEqual({});
  expect((await cost(() => repeat(() => s.t.gql('{ me { id } }')))).sent).toEqual({});
});

test("with rate limits on and charged exactly, { me { id } } is one round trip: the limiter's script (the session and the user are held)", async () => {
  const limited = await startTestApp({ REDIS_URL: s.own.url, RATE_LIMIT_DEFAULT: '100000/1m', RATE_LIMIT_LEASE: '0' });
  try {
    const u = await registerUser(limited);
    await limited.gql('{ me { id } }', {}, { token: u.token });
    await new Promise((done) => setTimeout(done, 200));
    await limited.gql('{ me { id } }', {}, { token: u.token });
    const { sent } = await redisCost(limited.app, s.r, () =>
      repeat(async () => expect((await limited.gql('{ me { id } }', {}, { token: u.token })).data?.me?.id).toBe(u.userId)),
    );
    // The once-a-second statistics flush (one MULTI of ZINCRBY/EXPIRE/ZREMRANGEBYSCORE) is not per
    // request; it lands in the window when the requests cross a second. So may one new session check.
    const { multi = 0, exec = 0, zincrby = 0, expire = 0, zremrangebyscore = 0, hgetall = 0, evalsha = 0, ...commands } = sent;
    expect(commands).toEqual({});
    expect(evalsha).toBeGreaterThanOrEqual(N);
    expect(evalsha).toBeLessThanOrEqual(N + 1);
    expect(hgetall).toBeLessThanOrEqual(1);
    expect({ multi, exec }).toEqual({ multi: exec, exec: multi });
    expect(multi).toBeLessThanOrEqual(2);
    expect(zincrby + expire + zremrangebyscore <= 10 * multi).toBe(true);
    // Socket reads Redis processed (reset by RESETSTAT): one per batch that arrived, so one per round trip.
    await s.r.config('RESETSTAT');
    await repeat(async () => expect((await limited.gql('{ me { id } }', {}, { token: u.token })).data?.me?.id).toBe(u.userId));
    const reads = Number(/total_reads_processed:(\d+)/.exec(await s.r.info('stats'))?.[1]);
    // The INFO command itself is one read; the rest is the requests'.
    const perRequest = (reads - 1) / N;
    expect(perRequest).toBeGreaterThanOrEqual(0.95);
    expect(perRequest).toBeLessThan(1.5);
  } finally {
    await limited.close();
  }
});

test('with leases (the default), a busy signed-in client is charged in memory: a round trip for the lease, then none', async () => {
  const limited = await startTestApp({ REDIS_URL: s.own.url, RATE_LIMIT_DEFAULT: '100000/1m' });
  try {
    const u = await registerUser(limited);
    await limited.gql('{ me { id } }', {}, { token: u.token });
    const { sent } = await redisCost(limited.app, s.r, () =>
      repeat(async () => expect((await limited.gql('{ me { id } }', {}, { token: u.token })).data?.me?.id).toBe(u.userId)),
    );
    // Until the key is busy (4 charges) each request is charged in Redis; the 4th brings a lease
    // for the user's and the address's keys, and the rest are charged from it.
    expect(sent.evalsha ?? 0).toBeGreaterThanOrEqual(3);
    expect(sent.evalsha ?? 0).toBeLessThanOrEqual(6);
  } finally {
    await limited.close();
  }
});

test('with rate limits on and the cache off, { me { id } } is two round trips: the session, then the user read and the limiter in one write', async () => {
  const limited = await startTestApp({ REDIS_URL: s.own.url, RATE_LIMIT_DEFAULT: '100000/1m', CACHE_MAX_ENTRIES: '0' });
  try {
    const u = await registerUser(limited);
    await limited.gql('{ me { id } }', {}, { token: u.token });
    await new Promise((done) => setTimeout(done, 200));
    await s.r.config('RESETSTAT');
    await repeat(async () => expect((await limited.gql('{ me { id } }', {}, { token: u.token })).data?.me?.id).toBe(u.userId));
    const reads = Number(/total_reads_processed:(\d+)/.exec(await s.r.info('stats'))?.[1]);
    const perRequest = (reads - 1) / N;
    expect(perRequest).toBeGreaterThanOrEqual(1.9);
    expect(perRequest).toBeLessThan(2.5);
  } finally {
    await limited.close();
  }
});

describe('login with rate limits on', () => {
  const LOGIN = 'mutation L($input: LoginInput!) { login(input: $input) { token } }';
  /** Socket reads Redis made per call of `fn` (one per batch that arrived), the INFO command's own excluded. */
  const readsPer = async (n: number, fn: () => Promise<unknown>): Promise<number> => {
    await s.r.config('RESETSTAT');
    await fn();
    return (Number(/total_reads_processed:(\d+)/.exec(await s.r.info('stats'))?.[1]) - 1) / n;
  };

  test('a failure costs what it did before the sign-in budgets (one limiter script, the email GET, the user HGETALL); a success adds one EVALSHA', async () => {
    // No registry heartbeat during the count: it is an EVALSHA too.
    const limited = await startTestApp({
      REDIS_URL: s.own.url,
      RATE_LIMIT_DEFAULT: '100000/1m',
      TRUSTED_PROXIES: '127.0.0.1',
      REGISTRY_HEARTBEAT: '1h',
      REGISTRY_TTL: '2h',
    });
    try {
      const users: Array<{ email: string; password: string }> = [];
      for (let i = 0; i < 2 * N + 1; i++)
        users.push(await registerUser({ gql: (q, v, o) => limited.gql(q, v, { ...o, headers: { 'x-forwarded-for': `10.77.0.${i}` } }) }));
      let k = 0;
      const login = (right: boolean) => async () => {
        const u = users[k++ % users.length];
        const res = await limited.gql(
          LOGIN,
          { input: { email: u.email, password: right ? u.password : 'wrong-password-1' } },
          { headers: { 'x-forwarded-for': `10.78.0.${k}` } },
        );
        expect(Boolean(res.data?.login?.token)).toBe(right);
      };
      await login(false)();
      const failed = await redisCost(limited.app, s.r, () => repeat(login(false)));
      expect(failed.sent).toMatchObject({ evalsha: N, get: N, hgetall: N });
      const failedReads = await readsPer(N, () => repeat(login(false)));
      expect(failedReads).toBeGreaterThanOrEqual(2.9);
      expect(failedReads).toBeLessThan(3.5);
      // Success: the limiter, the session's MULTI and index script, and the sign-in booking
      // (sent beside the session's write, not after it).
      const succeeded = await redisCost(limited.app, s.r, () => repeat(login(true)));
      expect(succeeded.sent).toMatchObject({ evalsha: 3 * N, get: N });
      // 7 before the sign-in budgets; the booking's EVALSHA and the session's MULTI are written
      // separately but together, so Redis reads them in one or two reads (measured 7.35 to 7.6).
      expect(await readsPer(N, () => repeat(login(true)))).toBeLessThanOrEqual(8.1);
    } finally {
      await limited.close();
    }
  });
});
