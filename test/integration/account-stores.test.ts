/**
 * The stores behind password resets and API keys against a real Redis, under concurrency: the cap of
 * live reset tokens per user, single use, and the ending of every token of a user; the cap of API keys,
 * no record left behind by a refused creation, one winner of two revocations, and what Redis holds.
 */
import type Redis from 'ioredis';
import { rawRedis } from '../helpers/redis';
import { startServices, type ServicesHandle } from '../helpers/services';
import { ResetTokens } from '../../src/services/sessions/reset-tokens';
import { newToken, sha256 } from '../../src/util/crypto';

let t: ServicesHandle;
let r: Redis;
beforeAll(async () => {
  t = await startServices({ API_KEYS_MAX: '5' });
  r = rawRedis();
});
afterAll(async () => {
  r.disconnect();
  await t.close();
});

const keysMatching = async (pattern: string): Promise<string[]> => {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await r.scan(cursor, 'MATCH', `${t.prefix}:${pattern}`, 'COUNT', 1000);
    cursor = next;
    out.push(...keys);
  } while (cursor !== '0');
  return out;
};

describe('reset tokens', () => {
  const resets = () => new ResetTokens(t.app.redis, t.app.services.keys, { ttlMs: 60_000, perUser: 3, url: null });

  test('ten issued at once for one user: three stay live, indexed, each with the lifetime; the rest are gone', async () => {
    const userId = 'a'.repeat(32);
    const hashes = Array.from({ length: 10 }, () => sha256(newToken()));
    await Promise.all(hashes.map((h, i) => resets().issue(userId, h, Date.now() + 60_000 + i)));
    const live = (await Promise.all(hashes.map((h) => r.get(t.app.services.keys.passwordReset(h))))).filter(Boolean);
    expect(live).toEqual([userId, userId, userId]);
    const indexed = await r.zrange(t.app.services.keys.userPasswordResets(userId), '0', '-1');
    expect(indexed).toHaveLength(3);
    for (const h of indexed) {
      const ttl = await r.pttl(t.app.services.keys.passwordReset(h));
      expect(ttl).toBeGreaterThan(50_000);
      expect(ttl).toBeLessThanOrEqual(60_100);
    }
    expect(await r.pttl(t.app.services.keys.userPasswordResets(userId))).toBeGreaterThan(50_000);
  });

  test('a token is consumed once, however many ask at once; endAll ends the others and the index', async () => {
    const userId = 'b'.repeat(32);
    const [one, two] = [sha256(newToken()), sha256(newToken())];
    await resets().issue(userId, one, Date.now() + 60_000);
    await resets().issue(userId, two, Date.now() + 60_000);
    const got = await Promise.all(Array.from({ length: 20 }, () => resets().consume(one)));
    expect(got.filter((x) => x === userId)).toHaveLength(1);
    await resets().endAll(userId);
    expect(await resets().consume(two)).toBeNull();
    expect(await r.exists(t.app.services.keys.userPasswordResets(userId))).toBe(0);
  });
});

describe('API keys', () => {
  test('twenty made at once against a limit of five: five, each listed, and no hash left by a refused one', async () => {
    const keys = t.app.services.apiKeys;
    const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => keys.create(`svc-${i}`, ['CUSTOMER'])));
    const made = results.filter((x) => x.status === 'fulfilled').map((x) => x.value);
    expect(made).toHaveLength(5);
    expect(results.filter((x) => x.status === 'rejected')).toHaveLength(15);
    expect(await keysMatching('apikey:*')).toHaveLength(5);
    expect(Object.keys(await r.hgetall(t.app.services.keys.apiKeyIndex())).sort()).toEqual(made.map((m) => m.record.id).sort());
    // What Redis holds for a key: its hash names it, its fields never hold it.
    for (const m of made) {
      expect(await r.hgetall(t.app.services.keys.apiKey(sha256(m.key)))).toEqual({
        id: m.record.id,
        name: m.record.name,
        roles: 'CUSTOMER',
        created: String(m.record.createdAt),
      });
    }

    const first = made[0];
    const revoked = await Promise.all([keys.revoke(first.record.id), keys.revoke(first.record.id)]);
    expect(revoked.filter(Boolean)).toHaveLength(1);
    expect(await keys.check(first.key)).toBeNull();
    expect((await keys.list()).map((k) => k.id)).not.toContain(first.record.id);
    // A revocation stopped between its two deletions leaves a listing entry without a key: the list drops it.
    const second = made[1];
    await r.del(t.app.services.keys.apiKey(second.record.keyHash));
    expect((await keys.list()).map((k) => k.id)).not.toContain(second.record.id);
    expect(await r.hexists(t.app.services.keys.apiKeyIndex(), second.record.id)).toBe(0);
  });

  test('check records the last use once a minute, and refuses anything that is not a key', async () => {
    const keys = t.app.services.apiKeys;
    for (const k of await keys.list()) await keys.revoke(k.id);
    const { key, record } = await keys.create('touch', ['ADMIN']);
    const first = await keys.check(key);
    expect(first?.lastUsedAt).toEqual(expect.any(Number));
    const again = await keys.check(key);
    expect(again?.lastUsedAt).toBe(first?.lastUsedAt);
    expect(await r.hget(t.app.services.keys.apiKey(record.keyHash), 'used')).toBe(String(first?.lastUsedAt));
    for (const bad of ['', 'gwk_', key.slice(0, -1), `${key}A`, key.replace('gwk_', 'gwx_'), `gwk_${'{'.repeat(43)}`]) expect(await keys.check(bad)).toBeNull();
  });
});
