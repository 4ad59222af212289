/**
 * With the shared cache on (the default), what one instance changes holds on every other
 * instance within a second: revoked sessions, logouts and role changes, whether the change's
 * message arrives (at once) or is lost (the entries' one-second lifetime). The cache must also
 * pay: a client's repeated requests cost Redis nothing for the session or the user within it.
 */
import { ownRedis, rawRedis, type OwnRedis } from '../helpers/redis';
import { ADMIN_ENV, adminToken, registerUser, startTestApp, type TestApp } from '../helpers/app';
import { twoInstances } from '../helpers/instances';
import { execute, wsClient } from '../helpers/ws';
import { sha256 } from '../../src/util/crypto';
import type Redis from 'ioredis';
import { within } from '../helpers/eventually';

const ME = '{ me { id roles } }';
const two = twoInstances({}, { admin: true });

const meOn = async (t: TestApp, token: string): Promise<{ id: string; roles: string[] } | null> =>
  ((await t.gql(ME, {}, { token })).data?.me as { id: string; roles: string[] } | null) ?? null;

test('an admin revoking a user on one instance ends the session on the other within a second', async () => {
  const { a, b, admin } = two;
  const u = await registerUser(a);
  // b now holds the session and the user in its cache.
  for (let i = 0; i < 3; i++) expect((await meOn(b, u.token))?.id).toBe(u.userId);
  const r = await a.gql('mutation R($id: ID!) { revokeUserSessions(userId: $id) }', { id: u.userId }, { token: admin });
  expect(r.data?.revokeUserSessions).toBe(1);
  // The message normally drops it on b before the next request; across a Cluster it also crosses the cluster bus.
  expect(await within(1000, async () => (await meOn(b, u.token)) === null)).toBeLessThan(1000);
});

test('a session deleted without a message (one lost) stops working on every instance within a second', async () => {
  const { a, b, prefix } = two;
  const u = await registerUser(a);
  expect((await meOn(b, u.token))?.id).toBe(u.userId);
  expect((await meOn(a, u.token))?.id).toBe(u.userId);
  const r = rawRedis();
  try {
    // Behind the gateway's back: no instance is told.
    expect(await r.del(`${prefix}:sess:{s:${sha256(u.token)}}`)).toBe(1);
  } finally {
    r.disconnect();
  }
  const took = await within(1500, async () => (await meOn(b, u.token)) === null && (await meOn(a, u.token)) === null);
  expect(took).toBeLessThanOrEqual(1000);
});

describe.each(['http', 'ws'] as const)('role changes over %s', (transport) => {
  test('a role change on one instance is what the other acts on within a second', async () => {
    const { a, b, admin } = two;
    const u = await registerUser(a);
    const socket = transport === 'ws' ? wsClient(b.url, { token: u.token }) : null;
    try {
      /** The admin-only query on b, over this transport: the error code, or null when it answered. */
      const adminOnly = async (): Promise<string | null> => {
        const q = '{ auditLog(limit: 1) { action } }';
        const r = socket ? await execute(socket, q) : await b.gql(q, {}, { token: u.token });
        return (r.errors?.[0]?.extensions?.code as string | undefined) ?? null;
      };
      const setRoles = (r: string[]) =>
        a.gql('mutation S($id: ID!, $r: [Role!]!) { setUserRoles(userId: $id, roles: $r) { id roles } }', { id: u.userId, r }, { token: admin });
      expect((await meOn(b, u.token))?.roles).toEqual(['CUSTOMER']);
      expect(await adminOnly()).toBe('FORBIDDEN');
      expect((await setRoles(['ADMIN', 'CUSTOMER'])).data?.setUserRoles.roles).toEqual(['ADMIN', 'CUSTOMER']);
      // Normally before the next request; across a Cluster the message also crosses the cluster bus (milliseconds).
      await within(1000, async () => JSON.stringify((await meOn(b, u.token))?.roles) === '["ADMIN","CUSTOMER"]');
      await within(1000, async () => (await adminOnly()) === null);
      await setRoles(['CUSTOMER']);
      await within(1000, async () => (await adminOnly()) === 'FORBIDDEN');
    } finally {
      await socket?.dispose();
    }
  });
});

test('setUserRoles: admins only; an unknown user is NOT_FOUND; no roles is BAD_USER_INPUT', async () => {
  const { a, admin } = two;
  const u = await registerUser(a);
  const m = 'mutation S($id: ID!, $r: [Role!]!) { setUserRoles(userId: $id, roles: $r) { id } }';
  expect((await a.gql(m, { id: u.userId, r: ['ADMIN'] }, { token: u.token })).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  expect((await a.gql(m, { id: 'f'.repeat(32), r: ['ADMIN'] }, { token: admin })).errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  expect((await a.gql(m, { id: 'x:{u:1}', r: ['ADMIN'] }, { token: admin })).errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  expect((await a.gql(m, { id: u.userId, r: [] }, { token: admin })).errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  expect((await meOn(a, u.token))?.roles).toEqual(['CUSTOMER']);
  expect((await a.gql(m, { id: u.userId, r: ['CUSTOMER'] }, { token: admin })).data?.setUserRoles.id).toBe(u.userId);
  const log = await a.gql('{ auditLog(limit: 5) { action target } }', {}, { token: admin });
  expect(log.data?.auditLog).toContainEqual({ action: 'setUserRoles', target: u.userId });
});

describe('what the cache saves', () => {
  let own: OwnRedis;
  let t: TestApp;
  let r: Redis;
  beforeAll(async () => {
    own = await ownRedis();
    t = await startTestApp({ REDIS_URL: own.url, ...ADMIN_ENV });
    r = rawRedis(own.url);
  });
  afterAll(async () => {
    r?.disconnect();
    await t?.close();
    await own?.stop();
  });

  const calls = async (): Promise<Record<string, number>> => {
    const out: Record<string, number> = {};
    for (const m of (await r.info('commandstats')).matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) out[m[1]] = Number(m[2]);
    return out;
  };

  test('20 requests of one client within the second: the session script and the user read run once', async () => {
    await adminToken(t);
    const u = await registerUser(t);
    await meOn(t, u.token);
    await new Promise((res) => setTimeout(res, 1100));
    await r.config('RESETSTAT');
    for (let i = 0; i < 20; i++) expect((await meOn(t, u.token))?.id).toBe(u.userId);
    const c = await calls();
    expect((c.evalsha ?? 0) + (c.eval ?? 0)).toBeLessThanOrEqual(2);
    expect(c.hgetall ?? 0).toBeLessThanOrEqual(4);
  });

  test('CACHE_MAX_ENTRIES=0: every request asks Redis', async () => {
    const off = await startTestApp({ REDIS_URL: own.url, CACHE_MAX_ENTRIES: '0', KEY_PREFIX: t.prefix });
    try {
      const u = await registerUser(off);
      await r.config('RESETSTAT');
      for (let i = 0; i < 20; i++) expect((await meOn(off, u.token))?.id).toBe(u.userId);
      const c = await calls();
      expect((c.evalsha ?? 0) + (c.eval ?? 0)).toBeGreaterThanOrEqual(20);
    } finally {
      await off.app.close();
    }
  });
});
