/**
 * The foundation flows on a real Redis Cluster (3 masters + 3 replicas), through
 * two gateway instances: every key a script or transaction touches together must
 * share a slot, so a CROSSSLOT error anywhere fails these tests.
 */
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import type { Cluster } from 'ioredis';
import { loadConfig } from '../../src/config';
import { startApp, type App } from '../../src/app/app';
import { gqlRequest, registerUser, testEnv, type GqlResult } from '../helpers/app';
import { startCluster, parseSeeds, type TestCluster } from '../helpers/cluster';
import { captureLogger } from '../helpers/logs';
import { subscriberCount, testClusterSeeds, testRedisMode } from '../helpers/redis';
import { Cluster as ClusterClient } from 'ioredis';
import { within } from '../helpers/eventually';

/** Same user-agent family as the HTTP requests, or the session would be revoked as replayed. */
class NodeWebSocket extends WebSocket {
  constructor(address: string, protocols?: string | string[]) {
    super(address, protocols, { headers: { 'user-agent': 'node-test' } });
  }
}

let own: TestCluster | undefined;
let seeds: string;
let admin: Cluster;
const logs = captureLogger('debug');
const apps: App[] = [];
const prefix = `test-cluster-${process.pid}-${Date.now().toString(36)}`;

const gql = <T = Record<string, any>>(app: App, query: string, variables?: Record<string, unknown>, token?: string): Promise<GqlResult<T>> =>
  gqlRequest<T>(`http://127.0.0.1:${app.port}`, query, variables, { token });

/** Every response of these tests must be error-free. */
async function ok<T = Record<string, any>>(p: Promise<GqlResult<T>>): Promise<T> {
  const res = await p;
  expect(res.errors).toBeUndefined();
  expect(res.status).toBe(200);
  return res.data as T;
}

beforeAll(async () => {
  if (testRedisMode() === 'cluster') seeds = testClusterSeeds();
  else seeds = (own = await startCluster()).seeds;
  for (let i = 0; i < 2; i++) {
    const config = loadConfig(testEnv({ REDIS_CLUSTER_NODES: seeds, KEY_PREFIX: prefix }));
    apps.push(await startApp(config, { log: logs.log.child({ instance: i }) }));
  }
  admin = new ClusterClient(parseSeeds(seeds));
}, 60_000);

afterAll(async () => {
  await Promise.all(apps.map((a) => a.close()));
  if (admin) {
    await Promise.all(
      admin.nodes('master').map(async (node) => {
        const keys = await node.keys(`${prefix}:*`);
        await Promise.all(keys.map((k) => node.del(k)));
      }),
    );
    admin.disconnect();
  }
  await own?.stop();
});

afterEach(() => {
  expect(logs.text()).not.toMatch(/CROSSSLOT|MOVED|ASK /);
});

test('the gateways really run on the cluster', () => {
  for (const a of apps) expect(a.redisTarget.kind).toBe('cluster');
  expect(admin.nodes('master').length).toBeGreaterThanOrEqual(3);
});

test('register, login, me and mySessions through either instance', async () => {
  const [a, b] = apps;
  const u = await registerUser({ gql: (q, v, o) => gql(a, q, v, o?.token ?? undefined) });
  const me = await ok(gql(b, '{ me { id email } }', {}, u.token));
  expect(me.me).toEqual({ id: u.userId, email: u.email });

  const login = await ok(
    gql<{ login: { token: string; session: { id: string } } }>(b, 'mutation($i: LoginInput!) { login(input: $i) { token session { id } } }', {
      i: { email: u.email, password: u.password },
    }),
  );
  const sessions = await ok(gql<{ mySessions: Array<{ id: string; current: boolean }> }>(a, '{ mySessions { id current } }', {}, login.login.token));
  expect(sessions.mySessions.map((s) => s.id).sort()).toEqual([u.sessionId, login.login.session.id].sort());
  expect(sessions.mySessions.find((s) => s.current)?.id).toBe(login.login.session.id);

  // Keys of this deployment sit on more than one master: the layout really is spread.
  const perMaster = await Promise.all(admin.nodes('master').map((n) => n.keys(`${prefix}:*`)));
  expect(perMaster.filter((k) => k.length > 0).length).toBeGreaterThan(1);
});

test('revokeSession, revokeOtherSessions and logout end sessions on every instance', async () => {
  const [a, b] = apps;
  const u = await registerUser({ gql: (q, v, o) => gql(a, q, v, o?.token ?? undefined) });
  const tokens: string[] = [];
  for (let i = 0; i < 3; i++) {
    const r = await ok(
      gql<{ login: { token: string } }>(i % 2 ? a : b, 'mutation($i: LoginInput!) { login(input: $i) { token } }', {
        i: { email: u.email, password: u.password },
      }),
    );
    tokens.push(r.login.token);
  }
  const list = await ok(gql<{ mySessions: Array<{ id: string; current: boolean }> }>(a, '{ mySessions { id current } }', {}, tokens[0]));
  expect(list.mySessions).toHaveLength(4);
  const victim = list.mySessions.find((s) => s.id === u.sessionId)!;
  // An instance may hold a checked session for 800 ms; the ending's message drops it everywhere,
  // after crossing the cluster bus (milliseconds): polled, within the contract's second.
  const gone = (t: Parameters<typeof gql>[0], token: string) => within(1000, async () => (await ok(gql(t, '{ me { id } }', {}, token))).me === null);
  expect((await ok(gql(b, 'mutation($id: ID!) { revokeSession(id: $id) }', { id: victim.id }, tokens[0]))).revokeSession).toBe(true);
  await gone(a, u.token);

  expect((await ok(gql(a, 'mutation { revokeOtherSessions }', {}, tokens[0]))).revokeOtherSessions).toBe(2);
  for (const t of tokens.slice(1)) await gone(b, t);
  expect((await ok(gql(b, '{ me { id } }', {}, tokens[0]))).me).toEqual({ id: u.userId });

  expect((await ok(gql(b, 'mutation { logout }', {}, tokens[0]))).logout).toBe(true);
  await gone(a, tokens[0]);
});

test('a guest session signs in and is ended', async () => {
  const [a, b] = apps;
  const guest = await ok(
    gql<{ startGuestSession: { token: string; user: null; session: { id: string } } }>(
      a,
      'mutation { startGuestSession { token user { id } session { id } } }',
    ),
  );
  expect(guest.startGuestSession.user).toBeNull();
  expect((await ok(gql(b, '{ me { id } }', {}, guest.startGuestSession.token))).me).toBeNull();
  const u = await registerUser({ gql: (q, v, o) => gql(b, q, v, o?.token ?? undefined) }, { token: guest.startGuestSession.token });
  expect((await ok(gql(a, '{ me { id } }', {}, u.token))).me).toEqual({ id: u.userId });
  // The guest token no longer opens a session.
  expect((await ok(gql(a, 'mutation { logout }', {}, guest.startGuestSession.token))).logout).toBe(false);
});

test('pub/sub crosses instances: a session revoked on A closes its socket on B', async () => {
  const [a, b] = apps;
  const u = await registerUser({ gql: (q, v, o) => gql(a, q, v, o?.token ?? undefined) });
  let client: ReturnType<typeof createClient> | undefined;
  const closed = new Promise<number>((resolve) => {
    client = createClient({
      url: `ws://127.0.0.1:${b.port}/graphql`,
      webSocketImpl: NodeWebSocket,
      connectionParams: { authorization: `Bearer ${u.token}` },
      lazy: false,
      onNonLazyError: () => undefined, // the 4401 close is what this test expects
      retryAttempts: 0,
      on: { closed: (e) => resolve((e as { code: number }).code) },
    });
    client.on('connected', () => void ok(gql(a, 'mutation { logout }', {}, u.token)));
  });
  expect(await closed).toBe(4401);
  await client?.dispose();

  // And a plain publish on B reaches a listener on A, whichever node A's subscriber uses.
  let heard: (v: unknown) => void = () => undefined;
  const got = new Promise<unknown>((resolve) => (heard = resolve));
  const unlisten = await a.services.pubsub.listen('cluster.test', heard);
  expect(await subscriberCount(admin, `${prefix}:ch:cluster.test`)).toBe(1);
  await b.services.pubsub.publishAsync('cluster.test', { hello: 'a' });
  expect(await got).toEqual({ hello: 'a' });
  unlisten();
});

test('the start-up check reads every master, not just one', async () => {
  const masters = admin.nodes('master');
  const victim = masters[masters.length - 1];
  await victim.config('SET', 'maxmemory-policy', 'allkeys-lru');
  try {
    const config = loadConfig(testEnv({ REDIS_CLUSTER_NODES: seeds, KEY_PREFIX: prefix, REDIS_REQUIRE_NOEVICTION: '1' }));
    await expect(startApp(config, { log: captureLogger().log })).rejects.toThrow(new RegExp(`:${victim.options.port} has maxmemory-policy allkeys-lru`));
  } finally {
    await victim.config('SET', 'maxmemory-policy', 'noeviction');
  }
});

test('registry and domain events work on the cluster', async () => {
  const ids = (await apps[0].services.instances.list()).map((i) => i.id);
  expect(ids.sort()).toEqual(apps.map((a) => a.services.instances.id).sort());
  const u = await registerUser({ gql: (q, v, o) => gql(apps[1], q, v, o?.token ?? undefined) });
  const entries = await admin.xrange(apps[0].services.domainEvents.stream('users'), '-', '+');
  expect(entries.map(([, f]) => JSON.parse(f[3]).data.userId)).toContain(u.userId);
});
