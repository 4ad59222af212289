/**
 * SessionService and UserService against a real Redis: what Redis holds, the
 * TTLs it enforces, the per-user index and cap, and races.
 */
import type Redis from 'ioredis';
import { rawRedis } from '../helpers/redis';
import { startServices, type ServicesHandle } from '../helpers/services';
import { runScript } from '../../src/redis/scripts';
import { sha256 } from '../../src/util/crypto';
import type { ClientInfo } from '../../src/services/sessions/session.service';

const client: ClientInfo = { userAgent: 'node-test', uaFamily: 'node', ip: '127.0.0.1' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let t: ServicesHandle;
let r: Redis;
beforeAll(async () => {
  t = await startServices({ SESSION_IDLE_TTL: '800ms', SESSION_MAX_AGE: '2s', SESSIONS_PER_USER: '3' });
  r = rawRedis();
});
afterAll(async () => {
  r.disconnect();
  await t.close();
});

const svc = () => t.app.services;
let uid = 0;
const newUserId = () => `u-${process.pid}-${uid++}`;

/** Every key under the prefix with its whole content rendered as text. */
async function dumpPrefix(prefix: string): Promise<Array<{ key: string; content: string }>> {
  const out: Array<{ key: string; content: string }> = [];
  let cursor = '0';
  do {
    const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      const type = await r.type(key);
      let content: unknown;
      if (type === 'string') content = await r.get(key);
      else if (type === 'hash') content = await r.hgetall(key);
      else if (type === 'zset') content = await r.zrange(key, '0', '-1', 'WITHSCORES');
      else if (type === 'set') content = await r.smembers(key);
      else if (type === 'list') content = await r.lrange(key, 0, -1);
      else content = await r.dump(key);
      out.push({ key, content: JSON.stringify(content) });
    }
  } while (cursor !== '0');
  return out;
}

describe('tokens', () => {
  test('are 256-bit base64url, fresh every time, and Redis holds only their SHA-256', async () => {
    const userId = newUserId();
    const made = [await svc().sessions.create(userId, client), await svc().sessions.create(userId, client), await svc().sessions.create(null, client)];
    const tokens = made.map((m) => m.token);
    for (const token of tokens) expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(new Set(tokens).size).toBe(3);
    for (const m of made) expect(await r.exists(svc().keys.session(sha256(m.token)))).toBe(1);

    const dump = await dumpPrefix(t.prefix);
    expect(dump.length).toBeGreaterThanOrEqual(5); // 3 sessions + the user's two index keys
    for (const token of tokens) {
      for (const { key, content } of dump) {
        expect(key).not.toContain(token);
        expect(content).not.toContain(token);
      }
    }
    // The public session id is not derived from the token.
    for (const m of made) expect(m.session.id).not.toBe(sha256(m.token));
  });

  test('an empty or oversized token is refused', async () => {
    expect(await svc().sessions.touch('', client)).toBeNull();
    expect(await svc().sessions.touch('x'.repeat(129), client)).toBeNull();
  });
});

describe('lifetimes enforced by Redis TTLs', () => {
  test('the idle TTL slides on every touch and the key vanishes by TTL when unused', async () => {
    const { token } = await svc().sessions.create(null, client);
    const key = svc().keys.session(sha256(token));
    const first = await r.pttl(key);
    expect(first).toBeGreaterThan(0);
    expect(first).toBeLessThanOrEqual(800);
    await sleep(450);
    expect(await r.pttl(key)).toBeLessThan(400);
    const touched = await svc().sessions.touch(token, client);
    expect(touched).not.toBeNull();
    expect(await r.pttl(key)).toBeGreaterThan(500);
    expect(touched!.lastSeenAt).toBeGreaterThan(touched!.createdAt);
    await sleep(950);
    // Redis itself removed it: no script ran in between.
    expect(await r.exists(key)).toBe(0);
    expect(await svc().sessions.touch(token, client)).toBeNull();
  });

  test('the absolute max age ends a session that is used all the time', async () => {
    const { token, session } = await svc().sessions.create(newUserId(), client);
    const key = svc().keys.session(sha256(token));
    expect(session.expiresAt - session.createdAt).toBe(2000);
    let lastTtl = Infinity;
    while (Date.now() < session.expiresAt - 350) {
      expect(await svc().sessions.touch(token, client)).not.toBeNull();
      // Read before asking, so the reply's latency cannot inflate the sum.
      const asked = Date.now();
      lastTtl = await r.pttl(key);
      // Never beyond the absolute end.
      expect(asked + lastTtl).toBeLessThanOrEqual(session.expiresAt + 5);
      await sleep(250);
    }
    expect(lastTtl).toBeLessThan(800);
    await sleep(session.expiresAt - Date.now() + 30);
    expect(await svc().sessions.touch(token, client)).toBeNull();
    expect(await r.exists(key)).toBe(0);
  });
});

describe('per-user index and cap', () => {
  test('past the cap the oldest session is evicted and its token stops working', async () => {
    const userId = newUserId();
    const made = [];
    for (let i = 0; i < 4; i++) {
      made.push(await svc().sessions.create(userId, client));
      await sleep(3);
    }
    expect(await svc().sessions.touch(made[0].token, client)).toBeNull();
    for (const m of made.slice(1)) expect(await svc().sessions.touch(m.token, client)).not.toBeNull();
    const listed = await svc().sessions.list(userId);
    expect(listed.map((s) => s.id)).toEqual(
      made
        .slice(1)
        .map((m) => m.session.id)
        .reverse(),
    );
  });

  test('sessions that already ended do not count toward the cap', async () => {
    const userId = newUserId();
    const a = await svc().sessions.create(userId, client);
    await sleep(3);
    const b = await svc().sessions.create(userId, client);
    await sleep(3);
    const c = await svc().sessions.create(userId, client);
    // b and c end by their TTL (as if idle); a stays in use.
    await r.pexpire(svc().keys.session(sha256(b.token)), 1);
    await r.pexpire(svc().keys.session(sha256(c.token)), 1);
    await sleep(20);
    const d = await svc().sessions.create(userId, client);
    expect(await svc().sessions.touch(a.token, client)).not.toBeNull();
    expect(await svc().sessions.touch(d.token, client)).not.toBeNull();
    expect((await svc().sessions.list(userId)).map((s) => s.id).sort()).toEqual([a.session.id, d.session.id].sort());
  });

  test('the index script never evicts the session it is adding', async () => {
    const userId = newUserId();
    const keys = [svc().keys.userSessions(userId), svc().keys.userSessionIds(userId)];
    // A session with a later creation time got into the index first (two logins racing).
    await runScript(t.app.redis, 'sessionIndexAdd', keys, ['later', 'th-later', 2000, 1, 60_000]);
    const evicted = await runScript<string[]>(t.app.redis, 'sessionIndexAdd', keys, ['earlier', 'th-earlier', 1000, 1, 60_000]);
    expect(evicted).toEqual(['later', 'th-later']);
    expect(await r.zrange(keys[0], '0', '-1')).toEqual(['earlier']);
    expect(await r.hgetall(keys[1])).toEqual({ earlier: 'th-earlier' });
  });

  test('concurrent logins respect the cap and every surviving token works', async () => {
    const userId = newUserId();
    const made = await Promise.all(Array.from({ length: 12 }, () => svc().sessions.create(userId, client)));
    expect(new Set(made.map((m) => m.token)).size).toBe(12);
    const alive = (await Promise.all(made.map((m) => svc().sessions.touch(m.token, client)))).filter(Boolean);
    expect(alive).toHaveLength(3);
    expect(await r.zcard(svc().keys.userSessions(userId))).toBe(3);
    expect((await svc().sessions.list(userId)).map((s) => s.id).sort()).toEqual(alive.map((s) => s!.id).sort());
  });

  test("revoke of another user's session id is refused and leaves it working", async () => {
    const alice = newUserId();
    const bob = newUserId();
    const a = await svc().sessions.create(alice, client);
    const b = await svc().sessions.create(bob, client);
    expect(await svc().sessions.revoke(alice, b.session.id)).toBe(false);
    expect(await svc().sessions.revokeOthers(alice, a.session.id)).toBe(0);
    expect(await svc().sessions.touch(b.token, client)).not.toBeNull();
    expect((await svc().sessions.list(alice)).map((s) => s.id)).toEqual([a.session.id]);
  });

  test('revoking a session that already expired reports false', async () => {
    const userId = newUserId();
    const a = await svc().sessions.create(userId, client);
    await r.pexpire(svc().keys.session(sha256(a.token)), 1);
    await sleep(20);
    expect(await svc().sessions.revoke(userId, a.session.id)).toBe(false);
  });
});

describe('races', () => {
  test('no validation that completes after revoke resolves succeeds', async () => {
    const userId = newUserId();
    const { token, session } = await svc().sessions.create(userId, client);
    let revokedAt = 0;
    const results: Array<{ done: number; ok: boolean }> = [];
    let stop = false;
    const hammer = async () => {
      while (!stop) {
        const s = await svc().sessions.touch(token, client);
        results.push({ done: performance.now(), ok: s !== null });
      }
    };
    const workers = Array.from({ length: 8 }, hammer);
    await sleep(20);
    expect(await svc().sessions.revoke(userId, session.id)).toBe(true);
    revokedAt = performance.now();
    for (let waited = 0; results.filter((x) => x.done > revokedAt).length < 50 && waited < 5000; waited += 10) await sleep(10);
    stop = true;
    await Promise.all(workers);
    const before = results.filter((x) => x.done < revokedAt);
    const after = results.filter((x) => x.done > revokedAt);
    expect(before.some((x) => x.ok)).toBe(true);
    expect(after.length).toBeGreaterThan(0);
    expect(after.filter((x) => x.ok)).toEqual([]);
  });
});

describe('users', () => {
  test('the password is stored as an scrypt hash, never in clear', async () => {
    const password = 'Sup3r-secret-pass';
    const user = await svc().users.create({ email: ' Mixed.Case@Example.COM ', password, name: ' Ann ' });
    expect(user.email).toBe('mixed.case@example.com');
    expect(user.name).toBe('Ann');
    const h = await r.hgetall(svc().keys.user(user.id));
    expect(h.pw).toMatch(/^scrypt\$1024\$8\$1\$[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=$/);
    for (const { content } of await dumpPrefix(t.prefix)) expect(content).not.toContain(password);
    expect(await r.get(svc().keys.userEmail('mixed.case@example.com'))).toBe(user.id);
    expect((await svc().users.verifyCredentials('MIXED.case@example.com  ', password))?.id).toBe(user.id);
    expect(await svc().users.verifyCredentials('mixed.case@example.com', 'Sup3r-secret-pasS')).toBeNull();
  });

  test('two concurrent registrations of one email: exactly one wins and no orphan remains', async () => {
    const before = (await dumpPrefix(t.prefix)).filter((k) => /:user:\{u:[^}]+\}$/.test(k.key)).length;
    const results = await Promise.allSettled(
      Array.from({ length: 6 }, (_, i) =>
        svc().users.create({ email: i % 2 ? 'race@example.com' : 'RACE@example.com', password: 'password-123', name: `n${i}` }),
      ),
    );
    const won = results.filter((x) => x.status === 'fulfilled');
    const lost = results.filter((x): x is PromiseRejectedResult => x.status === 'rejected');
    expect(won).toHaveLength(1);
    for (const l of lost) expect(l.reason.extensions).toMatchObject({ code: 'BAD_USER_INPUT', fields: { email: ['is already registered'] } });
    const after = (await dumpPrefix(t.prefix)).filter((k) => /:user:\{u:[^}]+\}$/.test(k.key)).length;
    expect(after - before).toBe(1);
  });

  test('ensureAdmin is idempotent when called concurrently', async () => {
    const created = await Promise.all(Array.from({ length: 4 }, () => svc().users.ensureAdmin('Root@Example.com', 'admin-password-1')));
    expect(created.filter(Boolean)).toHaveLength(1);
    const admin = await svc().users.findByEmail('root@example.com');
    expect(admin?.roles).toContain('ADMIN');
    expect(await svc().users.ensureAdmin('root@example.com', 'admin-password-1')).toBe(false);
  });
});
