/**
 * loadConfig: every variable of the contract's Environment table is read and
 * checked; a bad value throws a ConfigError that names the variable. The
 * process-level check (the built entry exits non-zero naming the variable) is
 * in test/e2e/start.test.ts.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig, parseDuration, readEnvironment } from '../../src/config';

const root = path.join(__dirname, '..', '..');
const contractReadme = path.join(root, '..', 'shared', 'api', 'README.md');

/** Variable names listed in the contract's "## Environment" table. */
function contractVariables(): string[] {
  const text = readFileSync(contractReadme, 'utf8');
  const section = text.slice(text.indexOf('## Environment'));
  const names = new Set<string>();
  for (const line of section.split('\n').slice(1)) {
    if (line.startsWith('## ')) break;
    const first = line.split('|')[1] ?? '';
    for (const m of first.matchAll(/`([A-Z][A-Z0-9_]*)`/g)) names.add(m[1]);
  }
  return [...names];
}

function rejects(env: Record<string, string>, variable: string): ConfigError {
  let caught: unknown;
  try {
    loadConfig(env);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(ConfigError);
  const e = caught as ConfigError;
  expect(e.variable).toBe(variable);
  expect(e.message.startsWith(`${variable}=`)).toBe(true);
  expect(e.message).toContain('accepts');
  return e;
}

/** For each variable: a bad value (with what else must be set for it to be read). */
const BAD: Record<string, Array<Record<string, string>>> = {
  PORT: [{ PORT: 'http' }, { PORT: '70000' }, { PORT: '-1' }, { PORT: '0x10' }, { PORT: '4000.5' }],
  HOST: [{ HOST: 'not a host' }, { HOST: 'http://example.com' }],
  REDIS_URL: [{ REDIS_URL: 'localhost:6379' }, { REDIS_URL: 'http://127.0.0.1:6379' }, { REDIS_URL: 'redis://' }],
  REDIS_CLUSTER_NODES: [{ REDIS_CLUSTER_NODES: '127.0.0.1' }, { REDIS_CLUSTER_NODES: 'a:1,b:99999' }, { REDIS_CLUSTER_NODES: ',' }],
  REDIS_SENTINELS: [{ REDIS_SENTINELS: 'host-without-port', REDIS_SENTINEL_MASTER: 'mymaster' }, { REDIS_SENTINEL_MASTER: 'mymaster' }],
  REDIS_SENTINEL_MASTER: [{ REDIS_SENTINELS: '127.0.0.1:26379' }],
  KEY_PREFIX: [{ KEY_PREFIX: 'has space' }, { KEY_PREFIX: 'x'.repeat(65) }, { KEY_PREFIX: 'brace{tag}' }],
  ADMIN_EMAIL: [{ ADMIN_PASSWORD: 'long-enough-password' }, { ADMIN_EMAIL: 'not-an-email', ADMIN_PASSWORD: 'long-enough-password' }],
  ADMIN_PASSWORD: [{ ADMIN_EMAIL: 'admin@example.com' }, { ADMIN_EMAIL: 'admin@example.com', ADMIN_PASSWORD: 'short' }],
  RATE_LIMIT_DEFAULT: [{ RATE_LIMIT_DEFAULT: '600' }, { RATE_LIMIT_DEFAULT: '0/1m' }, { RATE_LIMIT_DEFAULT: '10/forever' }, { RATE_LIMIT_DEFAULT: 'OFF' }],
  SESSION_IDLE_TTL: [{ SESSION_IDLE_TTL: '30' }, { SESSION_IDLE_TTL: '0m' }, { SESSION_IDLE_TTL: '1w' }],
  SESSION_MAX_AGE: [{ SESSION_MAX_AGE: 'forever' }, { SESSION_MAX_AGE: '-1d' }],
  WEBHOOK_ALLOWED_HOSTS: [{ WEBHOOK_ALLOWED_HOSTS: 'https://hooks.example.com' }, { WEBHOOK_ALLOWED_HOSTS: 'ok.example.com,bad/path' }],
  WORKER: [{ WORKER: 'yes' }, { WORKER: '2' }],
  NODE_ENV: [{ NODE_ENV: 'prod' }, { NODE_ENV: 'Production' }],
  LOG_LEVEL: [{ LOG_LEVEL: 'verbose' }, { LOG_LEVEL: 'INFO' }],
  CORS_ORIGINS: [
    { CORS_ORIGINS: '*' },
    { CORS_ORIGINS: 'https://*.example.com' },
    { CORS_ORIGINS: 'null' },
    { CORS_ORIGINS: 'shop.example.com' },
    { CORS_ORIGINS: 'https://shop.example.com/' },
    { CORS_ORIGINS: 'https://shop.example.com/app' },
    { CORS_ORIGINS: 'https://Shop.example.com' },
    { CORS_ORIGINS: 'https://shop.example.com:443' },
    { CORS_ORIGINS: 'http://localhost:80' },
    { CORS_ORIGINS: 'https://user@shop.example.com' },
    { CORS_ORIGINS: 'https://shop.example.com?x=1' },
    { CORS_ORIGINS: 'ftp://files.example.com' },
    { CORS_ORIGINS: 'file:///tmp/page.html' },
    { CORS_ORIGINS: 'https://shop.example.com https://admin.example.com' },
    { CORS_ORIGINS: 'https://ok.example.com,https://bad_host{x}.example.com' },
  ],
  JOB_MAX_PENDING_PER_USER: [
    { JOB_MAX_PENDING_PER_USER: '0' },
    { JOB_MAX_PENDING_PER_USER: 'many' },
    { JOB_MAX_PENDING_PER_USER: '2e2' },
    { JOB_MAX_PENDING_PER_USER: '1000001' },
  ],
  JOB_MAX_PENDING_BYTES_PER_USER: [
    { JOB_MAX_PENDING_BYTES_PER_USER: '4MiB' },
    { JOB_MAX_PENDING_BYTES_PER_USER: '1023' },
    { JOB_MAX_PENDING_BYTES_PER_USER: '2147483648' },
    { JOB_MAX_PENDING_BYTES_PER_USER: '-1' },
  ],
  // Not in the contract table: the gateway's own tuning knobs.
  BODY_LIMIT_BYTES: [{ BODY_LIMIT_BYTES: '1mb' }, { BODY_LIMIT_BYTES: '10' }],
  INTROSPECTION: [{ INTROSPECTION: 'on' }],
  QUERY_MAX_DEPTH: [{ QUERY_MAX_DEPTH: '1' }],
  QUERY_MAX_ALIASES: [{ QUERY_MAX_ALIASES: '0' }],
  QUERY_MAX_DIRECTIVES: [{ QUERY_MAX_DIRECTIVES: 'many' }],
  QUERY_MAX_TOKENS: [{ QUERY_MAX_TOKENS: '5' }],
  QUERY_MAX_COST: [{ QUERY_MAX_COST: '0' }],
  WS_MAX_CONNECTIONS_PER_IP: [{ WS_MAX_CONNECTIONS_PER_IP: '0' }, { WS_MAX_CONNECTIONS_PER_IP: 'many' }, { WS_MAX_CONNECTIONS_PER_IP: '1e3' }],
  SESSIONS_PER_USER: [{ SESSIONS_PER_USER: '0' }],
  SESSION_UA_CHECK: [{ SESSION_UA_CHECK: 'maybe' }],
  WORKER_CONCURRENCY: [{ WORKER_CONCURRENCY: '0' }],
  TRUSTED_PROXIES: [{ TRUSTED_PROXIES: '10.0.0.0/8' }, { TRUSTED_PROXIES: 'proxy.local' }],
  SCRYPT_N: [{ SCRYPT_N: '1000' }, { SCRYPT_N: '512' }],
  CART_IDLE_TTL: [{ CART_IDLE_TTL: '30 days' }],
  REDIS_REQUIRE_NOEVICTION: [{ REDIS_REQUIRE_NOEVICTION: 'y' }],
  AUDIT_LOG_MAXLEN: [{ AUDIT_LOG_MAXLEN: '99' }, { AUDIT_LOG_MAXLEN: 'lots' }],
  METRICS_TOKEN: [{ METRICS_TOKEN: 'short' }, { METRICS_TOKEN: 'has a space in it here' }],
  METRICS_PORT: [{ METRICS_PORT: 'x' }, { METRICS_PORT: '4000' }, { METRICS_PORT: '70000' }],
  ANALYTICS_VISITOR_KEYS_PER_DAY: [
    { ANALYTICS_VISITOR_KEYS_PER_DAY: '-1' },
    { ANALYTICS_VISITOR_KEYS_PER_DAY: '1e3' },
    { ANALYTICS_VISITOR_KEYS_PER_DAY: 'unlimited' },
  ],
  ANALYTICS_HISTORY: [{ ANALYTICS_HISTORY: '90' }, { ANALYTICS_HISTORY: '12h' }, { ANALYTICS_HISTORY: '36h' }, { ANALYTICS_HISTORY: '367d' }],
  ANALYTICS_MAX_VALUES_PER_DAY: [{ ANALYTICS_MAX_VALUES_PER_DAY: '9' }, { ANALYTICS_MAX_VALUES_PER_DAY: '100001' }, { ANALYTICS_MAX_VALUES_PER_DAY: 'all' }],
  EXPERIMENT_VISITOR_TTL: [{ EXPERIMENT_VISITOR_TTL: '30' }, { EXPERIMENT_VISITOR_TTL: '0d' }, { EXPERIMENT_VISITOR_TTL: '400d' }],
  SAMPLE_CATALOG: [{ SAMPLE_CATALOG: 'yes' }, { SAMPLE_CATALOG: 'off' }],
  FLAGS_MAX: [{ FLAGS_MAX: '0' }, { FLAGS_MAX: '10001' }, { FLAGS_MAX: '1e3' }, { FLAGS_MAX: 'many' }],
  FLAGS_RESYNC: [{ FLAGS_RESYNC: '30' }, { FLAGS_RESYNC: '500ms' }, { FLAGS_RESYNC: '2h' }, { FLAGS_RESYNC: '0s' }],
  CACHE_MAX_ENTRIES: [{ CACHE_MAX_ENTRIES: '-1' }, { CACHE_MAX_ENTRIES: '1000001' }, { CACHE_MAX_ENTRIES: '1e4' }, { CACHE_MAX_ENTRIES: 'off' }],
  GUEST_CART_GRACE: [{ GUEST_CART_GRACE: '10 minutes' }, { GUEST_CART_GRACE: '0s' }, { GUEST_CART_GRACE: '2d' }],
  RATE_LIMIT_PER_ADDRESS: [
    { RATE_LIMIT_PER_ADDRESS: '2400' },
    { RATE_LIMIT_PER_ADDRESS: '0/1m' },
    { RATE_LIMIT_PER_ADDRESS: 'OFF' },
    { RATE_LIMIT_PER_ADDRESS: '10/ever', RATE_LIMIT_DEFAULT: 'off' },
  ],
  // Pair and address counts are the contract: they cannot be turned off on their own.
  LOGIN_FAILURES_PER_PAIR: [{ LOGIN_FAILURES_PER_PAIR: '10' }, { LOGIN_FAILURES_PER_PAIR: 'off' }, { LOGIN_FAILURES_PER_PAIR: '0/1h' }],
  LOGIN_FAILURES_PER_IP: [{ LOGIN_FAILURES_PER_IP: 'x/1h' }, { LOGIN_FAILURES_PER_IP: 'off' }, { LOGIN_FAILURES_PER_IP: '100/1w' }],
  LOGIN_FAILURES_PER_EMAIL: [{ LOGIN_FAILURES_PER_EMAIL: '100/forever' }, { LOGIN_FAILURES_PER_EMAIL: 'OFF' }, { LOGIN_FAILURES_PER_EMAIL: '-1/1d' }],
  LOGIN_KNOWN_ADDRESSES: [{ LOGIN_KNOWN_ADDRESSES: '0' }, { LOGIN_KNOWN_ADDRESSES: '1001' }, { LOGIN_KNOWN_ADDRESSES: 'ten' }],
  LOGIN_KNOWN_ADDRESS_TTL: [{ LOGIN_KNOWN_ADDRESS_TTL: '30' }, { LOGIN_KNOWN_ADDRESS_TTL: '0d' }],
  PASSWORD_RESET_TTL: [{ PASSWORD_RESET_TTL: '30' }, { PASSWORD_RESET_TTL: '0m' }, { PASSWORD_RESET_TTL: '25h' }],
  PASSWORD_RESET_PER_USER: [{ PASSWORD_RESET_PER_USER: '0' }, { PASSWORD_RESET_PER_USER: '21' }, { PASSWORD_RESET_PER_USER: 'a few' }],
  PASSWORD_RESET_URL: [
    { PASSWORD_RESET_URL: 'https://shop.example.com/reset' },
    { PASSWORD_RESET_URL: 'ftp://shop.example.com/reset?token={token}' },
    { PASSWORD_RESET_URL: 'javascript:alert(1)//{token}' },
    { PASSWORD_RESET_URL: 'https://shop.example.com/{token}?again={token}' },
    { PASSWORD_RESET_URL: 'shop.example.com/reset?token={token}' },
    { PASSWORD_RESET_URL: 'https://shop.example.com/re set?token={token}' },
  ],
  API_KEYS_MAX: [{ API_KEYS_MAX: '0' }, { API_KEYS_MAX: '10001' }, { API_KEYS_MAX: 'lots' }],
  // A key's budget cannot be turned off on its own (RATE_LIMIT_DEFAULT=off turns every limit off).
  RATE_LIMIT_API_KEY: [
    { RATE_LIMIT_API_KEY: '6000' },
    { RATE_LIMIT_API_KEY: 'off' },
    { RATE_LIMIT_API_KEY: '0/1m' },
    { RATE_LIMIT_API_KEY: '5/ever', RATE_LIMIT_DEFAULT: 'off' },
  ],
  RATE_LIMIT_ALLOW: [{ RATE_LIMIT_ALLOW: 'key:a{b}' }, { RATE_LIMIT_ALLOW: 'token:abc' }, { RATE_LIMIT_ALLOW: 'ip:not-an-address' }],
  RATE_LIMIT_POLICY_RESYNC: [{ RATE_LIMIT_POLICY_RESYNC: '5' }, { RATE_LIMIT_POLICY_RESYNC: '50ms' }, { RATE_LIMIT_POLICY_RESYNC: '2h' }],
};

describe('every contract variable', () => {
  const vars = contractVariables();

  test('the contract table is found and lists the known variables', () => {
    expect(vars).toEqual(expect.arrayContaining(['PORT', 'HOST', 'REDIS_URL', 'KEY_PREFIX', 'NODE_ENV', 'LOG_LEVEL']));
    expect(vars.length).toBeGreaterThanOrEqual(16);
  });

  test('each one has bad values that are refused naming it', () => {
    const missing = vars.filter((v) => !BAD[v]);
    expect(missing).toEqual([]);
  });

  test.each(Object.entries(BAD))('%s: bad values stop start-up naming the variable', (variable, cases) => {
    for (const env of cases) rejects(env, variable);
  });
});

describe('defaults (nothing set)', () => {
  const c = loadConfig({});
  test.each([
    ['http.port', 4000],
    ['http.host', '127.0.0.1'],
    ['http.trustedProxies', []],
    ['http.corsOrigins', []],
    ['http.bodyLimitBytes', 1024 * 1024],
    ['http.wsMaxConnectionsPerIp', 100],
    ['redis.keyPrefix', 'gw'],
    ['redis.target', { kind: 'auto' }],
    ['sessions.admin', null],
    ['sessions.idleTtlMs', 30 * 60_000],
    ['sessions.maxAgeMs', 7 * 86_400_000],
    ['rateLimits.default', { points: 600, windowMs: 60_000 }],
    ['rateLimits.policyResyncMs', 5000],
    ['jobs.webhookAllowedHosts', []],
    ['jobs.runInProcess', true],
    ['production', false],
    ['logLevel', 'info'],
    ['graphql.introspection', true],
    ['graphql.limits', { depth: 12, aliases: 100, directives: 20, tokens: 1000, cost: 1000 }],
    ['metrics', { token: null, port: null }],
    ['audit.maxLen', 10_000],
    ['analytics.visitorKeysPerDay', 1000],
    ['analytics.experimentVisitorTtlMs', 30 * 86_400_000],
    ['flags', { max: 200, resyncMs: 30_000 }],
    ['analytics.historyDays', 90],
    ['analytics.maxValuesPerDay', 1000],
    ['commerce.guestCartGraceMs', 10 * 60_000],
    ['jobs', expect.objectContaining({ maxPendingPerUser: 200, maxPendingBytesPerUser: 4 * 1024 * 1024 })],
    ['sessions.passwordReset', { ttlMs: 30 * 60_000, perUser: 3, url: null }],
    ['sessions.apiKeysMax', 100],
    ['rateLimits.apiKey', { points: 6000, windowMs: 60_000 }],
    [
      'rateLimits',
      expect.objectContaining({
        perAddress: { points: 2400, windowMs: 60_000 },
        signIn: {
          perPair: { points: 10, windowMs: 3_600_000 },
          perIp: { points: 100, windowMs: 3_600_000 },
          perEmail: { points: 100, windowMs: 86_400_000 },
          knownAddresses: 10,
          knownAddressTtlMs: 30 * 86_400_000,
        },
      }),
    ],
  ])('%s', (key, value) => {
    const at = key.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], c);
    expect(at).toEqual(value);
  });

  test('the result is frozen, every section too: read once, never changed afterwards', () => {
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.sessions)).toBe(true);
    expect(Object.isFrozen(c.rateLimits.signIn)).toBe(true);
  });

  test('an empty value counts as unset', () => {
    const e = loadConfig({ PORT: '', HOST: ' ', KEY_PREFIX: '', LOG_LEVEL: '', WORKER: '', RATE_LIMIT_DEFAULT: '', REDIS_URL: '', NODE_ENV: '' });
    expect([e.http.port, e.http.host, e.redis.keyPrefix, e.logLevel, e.jobs.runInProcess, e.redis.target.kind]).toEqual([
      4000,
      '127.0.0.1',
      'gw',
      'info',
      true,
      'auto',
    ]);
  });
});

describe('good values are taken', () => {
  test('analytics history and values per day', () => {
    const c = loadConfig({ ANALYTICS_HISTORY: '30d', ANALYTICS_MAX_VALUES_PER_DAY: '50' });
    expect([c.analytics.historyDays, c.analytics.maxValuesPerDay]).toEqual([30, 50]);
    expect(loadConfig({ ANALYTICS_HISTORY: '24h' }).analytics.historyDays).toBe(1);
    expect(loadConfig({ ANALYTICS_HISTORY: '366d' }).analytics.historyDays).toBe(366);
  });

  test('HTTP, prefix, admin, logging', () => {
    const c = loadConfig({
      PORT: '8080',
      HOST: '0.0.0.0',
      KEY_PREFIX: 'shop:eu',
      ADMIN_EMAIL: 'root@example.com',
      ADMIN_PASSWORD: 'a-long-password',
      LOG_LEVEL: 'debug',
      WORKER: '0',
    });
    expect(c).toMatchObject({
      http: { port: 8080, host: '0.0.0.0' },
      redis: { keyPrefix: 'shop:eu' },
      sessions: { admin: { email: 'root@example.com', password: 'a-long-password' } },
      logLevel: 'debug',
      jobs: { runInProcess: false },
    });
    expect(loadConfig({ HOST: '::' }).http.host).toBe('::');
    expect(loadConfig({ HOST: 'gateway.internal' }).http.host).toBe('gateway.internal');
  });

  test('Redis targets: cluster wins over sentinel wins over URL', () => {
    expect(loadConfig({ REDIS_URL: 'redis://:pw@10.0.0.5:6380/2' }).redis.target).toEqual({ kind: 'standalone', url: 'redis://:pw@10.0.0.5:6380/2' });
    expect(loadConfig({ REDIS_URL: 'rediss://cache.example.com' }).redis.target.kind).toBe('standalone');
    expect(loadConfig({ REDIS_CLUSTER_NODES: 'a:7000, b:7001', REDIS_URL: 'redis://x' }).redis.target).toEqual({
      kind: 'cluster',
      nodes: [
        { host: 'a', port: 7000 },
        { host: 'b', port: 7001 },
      ],
    });
    expect(loadConfig({ REDIS_SENTINELS: 's1:26379,s2:26379', REDIS_SENTINEL_MASTER: 'mymaster', REDIS_URL: 'redis://:pw@ignored' }).redis.target).toEqual({
      kind: 'sentinel',
      sentinels: [
        { host: 's1', port: 26379 },
        { host: 's2', port: 26379 },
      ],
      masterName: 'mymaster',
      url: 'redis://:pw@ignored',
    });
  });

  test('rate limit policy and off', () => {
    expect(loadConfig({ RATE_LIMIT_DEFAULT: '100/10s' }).rateLimits.default).toEqual({ points: 100, windowMs: 10_000 });
    expect(loadConfig({ RATE_LIMIT_DEFAULT: 'off' }).rateLimits.default).toBeNull();
  });

  test('per-address ceiling: 4 x the default unless set; off with it or alone', () => {
    expect(loadConfig({ RATE_LIMIT_DEFAULT: '100/10s' }).rateLimits.perAddress).toEqual({ points: 400, windowMs: 10_000 });
    expect(loadConfig({ RATE_LIMIT_PER_ADDRESS: '5000/2m' }).rateLimits.perAddress).toEqual({ points: 5000, windowMs: 120_000 });
    expect(loadConfig({ RATE_LIMIT_PER_ADDRESS: 'off' }).rateLimits.perAddress).toBeNull();
    expect(loadConfig({ RATE_LIMIT_DEFAULT: 'off', RATE_LIMIT_PER_ADDRESS: '5000/2m' }).rateLimits.perAddress).toBeNull();
  });

  test('password resets, API keys and their budget', () => {
    const c = loadConfig({
      PASSWORD_RESET_TTL: '15m',
      PASSWORD_RESET_PER_USER: '1',
      PASSWORD_RESET_URL: 'https://shop.example.com/account/reset#token={token}',
      API_KEYS_MAX: '10000',
      RATE_LIMIT_API_KEY: '100/10s',
      RATE_LIMIT_ALLOW: 'key:0123abcd, user:u1, ip:10.0.0.1',
    });
    expect(c.sessions.passwordReset).toEqual({ ttlMs: 15 * 60_000, perUser: 1, url: 'https://shop.example.com/account/reset#token={token}' });
    expect(c.sessions.apiKeysMax).toBe(10_000);
    expect(c.rateLimits.apiKey).toEqual({ points: 100, windowMs: 10_000 });
    expect(c.rateLimits.allow).toEqual(['key:0123abcd', 'user:u1', 'ip:10.0.0.1']);
    expect(loadConfig({ RATE_LIMIT_DEFAULT: 'off', RATE_LIMIT_API_KEY: '100/10s' }).rateLimits.apiKey).toBeNull();
  });

  test('sign-in failure budgets', () => {
    const c = loadConfig({
      LOGIN_FAILURES_PER_PAIR: '3/10m',
      LOGIN_FAILURES_PER_IP: '50/30m',
      LOGIN_FAILURES_PER_EMAIL: 'off',
      LOGIN_KNOWN_ADDRESSES: '3',
      LOGIN_KNOWN_ADDRESS_TTL: '7d',
    });
    expect(c.rateLimits.signIn).toEqual({
      perPair: { points: 3, windowMs: 600_000 },
      perIp: { points: 50, windowMs: 1_800_000 },
      perEmail: null,
      knownAddresses: 3,
      knownAddressTtlMs: 7 * 86_400_000,
    });
  });

  test('session lifetimes, webhook hosts, query limits, proxies', () => {
    const c = loadConfig({
      SESSION_IDLE_TTL: '90s',
      SESSION_MAX_AGE: '12h',
      WEBHOOK_ALLOWED_HOSTS: 'hooks.example.com, 127.0.0.1:9000,[::1]:8080',
      QUERY_MAX_DEPTH: '5',
      QUERY_MAX_COST: '50',
      TRUSTED_PROXIES: '10.0.0.1, ::1',
      BODY_LIMIT_BYTES: '2048',
    });
    expect(c.sessions.idleTtlMs).toBe(90_000);
    expect(c.sessions.maxAgeMs).toBe(12 * 3_600_000);
    expect(c.jobs.webhookAllowedHosts).toEqual(['hooks.example.com', '127.0.0.1:9000', '[::1]:8080']);
    expect(c.graphql.limits).toMatchObject({ depth: 5, cost: 50 });
    expect(c.http.trustedProxies).toEqual(['10.0.0.1', '::1']);
    expect(c.http.bodyLimitBytes).toBe(2048);
  });

  test('CORS origins: exact, as browsers write them in Origin', () => {
    expect(
      loadConfig({ CORS_ORIGINS: 'https://shop.example.com, http://localhost:5173,http://127.0.0.1:8080,http://[::1]:3000,https://xn--bcher-kva.example' }).http
        .corsOrigins,
    ).toEqual(['https://shop.example.com', 'http://localhost:5173', 'http://127.0.0.1:8080', 'http://[::1]:3000', 'https://xn--bcher-kva.example']);
  });

  test('job quotas', () => {
    expect(loadConfig({ JOB_MAX_PENDING_PER_USER: '1', JOB_MAX_PENDING_BYTES_PER_USER: '1024' }).jobs).toMatchObject({
      maxPendingPerUser: 1,
      maxPendingBytesPerUser: 1024,
    });
    expect(loadConfig({ JOB_MAX_PENDING_PER_USER: '1000000', JOB_MAX_PENDING_BYTES_PER_USER: '2147483647' }).jobs).toMatchObject({
      maxPendingPerUser: 1_000_000,
      maxPendingBytesPerUser: 2_147_483_647,
    });
  });

  test('the sample catalog: on in development, off under NODE_ENV=test, never in production', () => {
    expect(loadConfig({}).commerce.sampleCatalog).toBe(true);
    expect(loadConfig({ NODE_ENV: 'development' }).commerce.sampleCatalog).toBe(true);
    expect(loadConfig({ SAMPLE_CATALOG: '0' }).commerce.sampleCatalog).toBe(false);
    expect(loadConfig({ NODE_ENV: 'test' }).commerce.sampleCatalog).toBe(false);
    expect(loadConfig({ NODE_ENV: 'test', SAMPLE_CATALOG: '1' }).commerce.sampleCatalog).toBe(true);
    expect(loadConfig({ NODE_ENV: 'production' }).commerce.sampleCatalog).toBe(false);
    expect(loadConfig({ NODE_ENV: 'production', SAMPLE_CATALOG: '1' }).commerce.sampleCatalog).toBe(false);
  });

  test('the shared cache: entries per process, 0 for none; the session refresh step follows the idle lifetime', () => {
    expect(loadConfig({}).cache).toEqual({ maxEntries: 10_000 });
    expect(loadConfig({ CACHE_MAX_ENTRIES: '0' }).cache).toEqual({ maxEntries: 0 });
    expect(loadConfig({}).sessions.refreshStepMs).toBe(60_000);
    expect(loadConfig({ SESSION_IDLE_TTL: '1s' }).sessions.refreshStepMs).toBe(100);
  });

  test('feature flags: bound and re-read period', () => {
    expect(loadConfig({ FLAGS_MAX: '1', FLAGS_RESYNC: '1s' }).flags).toEqual({ max: 1, resyncMs: 1000 });
    expect(loadConfig({ FLAGS_MAX: '10000', FLAGS_RESYNC: '1h' }).flags).toEqual({ max: 10_000, resyncMs: 3_600_000 });
  });

  test('NODE_ENV=production: introspection off unless INTROSPECTION=1', () => {
    expect(loadConfig({ NODE_ENV: 'production' })).toMatchObject({ production: true, graphql: { introspection: false } });
    expect(loadConfig({ NODE_ENV: 'production', INTROSPECTION: '1' }).graphql.introspection).toBe(true);
    expect(loadConfig({ NODE_ENV: 'development' })).toMatchObject({ production: false, graphql: { introspection: true } });
    expect(loadConfig({ INTROSPECTION: '0' }).graphql.introspection).toBe(false);
  });
});

test('parseDuration units', () => {
  expect(['500ms', '2s', '3m', '4h', '5d'].map((d) => parseDuration('X', d))).toEqual([500, 2000, 180_000, 4 * 3_600_000, 5 * 86_400_000]);
});

test('the admin password and a Redis password never appear in an error message', () => {
  expect(rejects({ ADMIN_EMAIL: 'a@example.com', ADMIN_PASSWORD: 'secret' }, 'ADMIN_PASSWORD').message).not.toContain('secret');
  expect(rejects({ REDIS_URL: 'redis://user:hunter2@host:6379/db' }, 'REDIS_URL').message).not.toContain('hunter2');
});

test('only src/config/ reads process.env', () => {
  const offenders: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const file = path.join(dir, name);
      if (statSync(file).isDirectory()) walk(file);
      else if (file.endsWith('.ts') && !file.startsWith(path.join(root, 'src', 'config') + path.sep) && /process\.env\b/.test(readFileSync(file, 'utf8')))
        offenders.push(path.relative(root, file));
    }
  };
  walk(path.join(root, 'src'));
  expect(offenders).toEqual([]);
});

describe('.env', () => {
  test('is read when present in the working directory; the process environment wins over it', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'gw-env-'));
    try {
      expect(readEnvironment(dir)).toBe(process.env);
      writeFileSync(path.join(dir, '.env'), '# a comment\nPORT=4100\nKEY_PREFIX=from-file\nPATH=not-this\nADMIN_PASSWORD="spaces kept "\n');
      const env = readEnvironment(dir);
      expect(env.PORT).toBe(process.env.PORT ?? '4100');
      expect(env.KEY_PREFIX).toBe(process.env.KEY_PREFIX ?? 'from-file');
      expect(env.PATH).toBe(process.env.PATH);
      expect(loadConfig({ ...env, ADMIN_EMAIL: 'a@example.com' }).sessions.admin?.password).toBe(process.env.ADMIN_PASSWORD ?? 'spaces kept ');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
