/**
 * Start-up checks: a Redis that may evict keys or keeps no persistence gets a loud
 * warning, or a refusal with REDIS_REQUIRE_NOEVICTION / REDIS_REQUIRE_PERSISTENCE.
 */
import { loadConfig } from '../../src/config';
import { startApp } from '../../src/app/app';
import { testEnv } from '../helpers/app';
import { captureLogger, WARN } from '../helpers/logs';
import { ownRedis, type OwnRedis } from '../helpers/redis';

const servers: OwnRedis[] = [];
afterAll(() => Promise.all(servers.map((s) => s.destroy())));

async function server(args: string[]): Promise<OwnRedis> {
  const s = await ownRedis(args);
  servers.push(s);
  return s;
}

/** Starts (and closes) a gateway on `url`; returns its warnings, or the start-up error. */
async function boot(url: string, env: Record<string, string> = {}): Promise<{ warnings: string[]; error?: Error }> {
  const logs = captureLogger('info');
  try {
    const app = await startApp(loadConfig(testEnv({ REDIS_URL: url, ...env })), { log: logs.log });
    await app.close();
    return { warnings: logs.lines.filter((l) => l.level === WARN).map((l) => l.msg ?? '') };
  } catch (error) {
    return { warnings: logs.lines.filter((l) => l.level === WARN).map((l) => l.msg ?? ''), error: error as Error };
  }
}

test('a well-set Redis (noeviction, AOF) starts quietly', async () => {
  const s = await server([]);
  const r = await boot(s.url, { REDIS_REQUIRE_NOEVICTION: '1', REDIS_REQUIRE_PERSISTENCE: '1' });
  expect(r.error).toBeUndefined();
  expect(r.warnings.filter((w) => /Redis/.test(w))).toEqual([]);
});

test('an evicting Redis is warned about, or refused when noeviction is required', async () => {
  const s = await server(['--maxmemory-policy', 'allkeys-lru']);
  const warned = await boot(s.url);
  expect(warned.error).toBeUndefined();
  expect(warned.warnings).toEqual([expect.stringMatching(/DATA AT RISK.*maxmemory-policy allkeys-lru.*noeviction/)]);

  const refused = await boot(s.url, { REDIS_REQUIRE_NOEVICTION: '1' });
  expect(refused.error?.message).toMatch(/Refusing to start: .*maxmemory-policy allkeys-lru/);
  // Persistence is fine here, so requiring it alone does not refuse.
  expect((await boot(s.url, { REDIS_REQUIRE_PERSISTENCE: '1' })).error).toBeUndefined();
});

test('a Redis without AOF or save points is warned about, or refused when persistence is required', async () => {
  const s = await server(['--appendonly', 'no', '--save', '']);
  const warned = await boot(s.url);
  expect(warned.error).toBeUndefined();
  expect(warned.warnings).toEqual([expect.stringMatching(/DATA AT RISK.*no persistence.*appendonly yes/)]);

  const refused = await boot(s.url, { REDIS_REQUIRE_PERSISTENCE: '1' });
  expect(refused.error?.message).toMatch(/Refusing to start: .*keeps no persistence/);
  expect((await boot(s.url, { REDIS_REQUIRE_NOEVICTION: '1' })).error).toBeUndefined();
});

test('RDB save points alone count as persistence', async () => {
  const s = await server(['--appendonly', 'no', '--save', '900 1']);
  const r = await boot(s.url, { REDIS_REQUIRE_PERSISTENCE: '1' });
  expect(r.error).toBeUndefined();
  expect(r.warnings).toEqual([]);
});

test('with CONFIG disabled (managed Redis) the eviction policy is still read from INFO', async () => {
  const s = await server(['--maxmemory-policy', 'volatile-lru', '--rename-command', 'CONFIG', '']);
  const refused = await boot(s.url, { REDIS_REQUIRE_NOEVICTION: '1' });
  expect(refused.error?.message).toMatch(/maxmemory-policy volatile-lru/);
  // AOF is on (INFO says so), so persistence passes even though the save points are unreadable.
  expect((await boot(s.url, { REDIS_REQUIRE_PERSISTENCE: '1' })).error).toBeUndefined();
});

test('the config flags are validated', () => {
  expect(() => loadConfig(testEnv({ REDIS_REQUIRE_PERSISTENCE: 'maybe' }))).toThrow(/REDIS_REQUIRE_PERSISTENCE/);
  expect(loadConfig(testEnv({})).redis.requirePersistence).toBe(false);
});
