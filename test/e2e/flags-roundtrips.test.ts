/**
 * `flags` is answered from the shared cache: no Redis command at all for a caller without a token,
 * and only the session check (which any request carrying a token pays) for one with a token; after a
 * change, one MULTI refills the cache, then nothing again. Counted by the app's client and by Redis
 * itself, on a private redis-server.
 */
import { buildRequestContext } from '../../src/services/context';
import { ADMIN_ENV, adminToken, registerUser } from '../helpers/app';
import { ok } from '../helpers/analytics';
import { countingSetup } from '../helpers/roundtrips';
import { execute, wsClient } from '../helpers/ws';

// No periodic re-read or heartbeat inside the counted windows.
const s = countingSetup({ ...ADMIN_ENV, FLAGS_RESYNC: '1h', REGISTRY_HEARTBEAT: '1h', REGISTRY_TTL: '2h' });
const FLAGS = 'query F($v: String) { flags(visitorId: $v) { key enabled rolloutPercent } }';
const N = 20;
const repeat = async (fn: (i: number) => Promise<unknown>) => {
  for (let i = 0; i < N; i++) await fn(i);
};

beforeAll(async () => {
  const admin = await adminToken(s.t);
  for (let i = 0; i < 25; i++)
    ok(
      await s.t.gql(
        'mutation S($i: FlagInput!) { setFlag(input: $i) { key } }',
        { i: { key: `rt-${i}`, enabled: true, rolloutPercent: 4 * i } },
        { token: admin },
      ),
    );
});

test('an anonymous caller: zero Redis commands, with or without a visitor id, over HTTP and WebSocket', async () => {
  const answer = ok(await s.t.gql(FLAGS, {})).flags;
  expect(answer).toHaveLength(25);
  const http = await s.cost(() => repeat((i) => s.t.gql(FLAGS, i % 2 ? { v: `visitor-${i}` } : {}).then(ok)));
  expect(http).toEqual({ sent: {}, redis: {} });
  const ws = wsClient(s.t.url);
  try {
    ok(await execute(ws, FLAGS, {}));
    const overWs = await s.cost(() => repeat((i) => execute(ws, FLAGS, { v: `visitor-${i}` }).then(ok)));
    expect(overWs).toEqual({ sent: {}, redis: {} });
  } finally {
    await ws.dispose();
  }
});

test('a signed-in caller: the session check only, the same as any request with a token', async () => {
  // One user per request, so that every request checks its session in Redis (an instance keeps a
  // checked session for 800 ms, SESSION_CACHE_MS): what each costs beyond that check is the flags'.
  const users = await Promise.all(Array.from({ length: 2 * N }, () => registerUser(s.t)));
  const signedIn = await s.cost(() => repeat((i) => s.t.gql(FLAGS, {}, { token: users[i].token }).then(ok)));
  expect(signedIn.sent).toEqual({ evalsha: N });
  // Exactly what checking the session costs on its own (its script's HGETALL, HSET and PEXPIREAT): nothing for the flags.
  const check = (i: number) =>
    buildRequestContext(s.t.app.services, s.t.app.log, { ip: '127.0.0.1', userAgent: 'node-test', secure: false, token: users[N + i].token }).session();
  const sessionOnly = await s.cost(() => repeat(check));
  expect(signedIn).toEqual(sessionOnly);
  // One user's requests within the session's 800 ms: at most one session script for all 20.
  const oneUser = await s.cost(() => repeat(() => s.t.gql(FLAGS, {}, { token: users[0].token }).then(ok)));
  expect(oneUser.sent.evalsha ?? 0).toBeLessThanOrEqual(1);
  expect(Object.keys(oneUser.sent).filter((c) => c !== 'evalsha')).toEqual([]);
});

test('after a change, one MULTI (every flag and the version) refills the cache; then nothing again', async () => {
  const admin = await adminToken(s.t);
  ok(await s.t.gql('mutation S($i: FlagInput!) { setFlag(input: $i) { key } }', { i: { key: 'rt-0', enabled: false } }, { token: admin }));
  // The change message reaches this instance too (it drops the entry once more): let it arrive.
  await new Promise((r) => setTimeout(r, 100));
  const refill = await s.cost(() => repeat(() => s.t.gql(FLAGS, {}).then(ok)));
  // Before the shared cache: nothing here, and a MULTI per FLAGS_RESYNC (default 30 s) whatever the traffic.
  expect(refill.sent).toEqual({ multi: 1, hvals: 1, get: 1, exec: 1 });
  const after = await s.cost(() => repeat(() => s.t.gql(FLAGS, {}).then(ok)));
  expect(after).toEqual({ sent: {}, redis: {} });
});
