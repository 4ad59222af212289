/**
 * The one place that reads `process.env`. Every variable of the contract is read
 * and checked once at start; a bad value throws a {@link ConfigError} naming it.
 */
export class ConfigError extends Error {
  constructor(variable: string, accepts: string, got: string) {
    super(`${variable}=${JSON.stringify(got)} is invalid: ${variable} accepts ${accepts}`);
    this.name = 'ConfigError';
  }
}

export type RedisTarget =
  | { kind: 'standalone'; url: string }
  | { kind: 'cluster'; nodes: Array<{ host: string; port: number }> }
  | { kind: 'sentinel'; sentinels: Array<{ host: string; port: number }>; masterName: string; url?: string }
  | { kind: 'auto' };

export interface RateLimitPolicySpec {
  points: number;
  windowMs: number;
}

export interface Config {
  readonly port: number;
  readonly host: string;
  readonly redis: RedisTarget;
  readonly keyPrefix: string;
  readonly admin: { email: string; password: string } | null;
  /** null when `RATE_LIMIT_DEFAULT=off`. Default 600/1m. */
  readonly rateLimitDefault: RateLimitPolicySpec | null;
  /** Default 30m sliding idle lifetime. */
  readonly sessionIdleTtlMs: number;
  /** Default 7d absolute lifetime. */
  readonly sessionMaxAgeMs: number;
  /** Default 10 sessions per user; the oldest is evicted past it. */
  readonly sessionsPerUser: number;
  /** Default on: a session used from another user-agent family is revoked. */
  readonly sessionUaCheck: boolean;
  readonly webhookAllowedHosts: readonly string[];
  readonly worker: boolean;
  readonly workerConcurrency: number;
  readonly production: boolean;
  readonly logLevel: string;
  readonly trustedProxies: readonly string[];
  /** Default 1 MiB. */
  readonly bodyLimitBytes: number;
  readonly introspection: boolean;
  readonly queryLimits: { depth: number; aliases: number; directives: number; tokens: number; cost: number };
  /** scrypt cost parameter N (power of two). Default 2^15 with r=8, p=1: 32 MiB per hash. */
  readonly scryptN: number;
  readonly cartIdleTtlMs: number;
  readonly requireNoEviction: boolean;
}

type Env = Record<string, string | undefined>;

const DURATION = /^(\d+)(ms|s|m|h|d)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses `500ms`, `30s`, `30m`, `12h`, `7d`. */
export function parseDuration(name: string, raw: string): number {
  const m = DURATION.exec(raw.trim());
  if (!m || Number(m[1]) <= 0) throw new ConfigError(name, 'a positive duration such as 500ms, 30s, 30m, 12h or 7d', raw);
  return Number(m[1]) * UNIT_MS[m[2]];
}

function int(env: Env, name: string, def: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(name, `an integer from ${min} to ${max}`, raw);
  return n;
}

function bool(env: Env, name: string, def: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  if (raw === '1' || raw === 'true') return true;
  if (raw === '0' || raw === 'false') return false;
  throw new ConfigError(name, '1, 0, true or false', raw);
}

function duration(env: Env, name: string, def: string): number {
  return parseDuration(name, env[name] || def);
}

function hostPorts(name: string, raw: string): Array<{ host: string; port: number }> {
  return raw.split(',').map((s) => s.trim()).filter(Boolean).map((item) => {
    const m = /^(.+):(\d{1,5})$/.exec(item);
    if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) throw new ConfigError(name, 'comma-separated host:port pairs', raw);
    return { host: m[1], port: Number(m[2]) };
  });
}

/** `<points>/<window>` such as `600/1m`, or `off`. */
export function parseRatePolicy(name: string, raw: string): RateLimitPolicySpec | null {
  if (raw === 'off') return null;
  const m = /^(\d+)\/(.+)$/.exec(raw.trim());
  if (!m || Number(m[1]) < 1) throw new ConfigError(name, '<points>/<window> such as 600/1m, or off', raw);
  return { points: Number(m[1]), windowMs: parseDuration(name, m[2]) };
}

function redisTarget(env: Env): RedisTarget {
  if (env.REDIS_CLUSTER_NODES) {
    const nodes = hostPorts('REDIS_CLUSTER_NODES', env.REDIS_CLUSTER_NODES);
    if (!nodes.length) throw new ConfigError('REDIS_CLUSTER_NODES', 'comma-separated host:port pairs', env.REDIS_CLUSTER_NODES);
    return { kind: 'cluster', nodes };
  }
  if (env.REDIS_SENTINELS) {
    const sentinels = hostPorts('REDIS_SENTINELS', env.REDIS_SENTINELS);
    const masterName = env.REDIS_SENTINEL_MASTER ?? '';
    if (!masterName) throw new ConfigError('REDIS_SENTINEL_MASTER', 'the name of the master the Sentinels watch', '');
    return { kind: 'sentinel', sentinels, masterName, url: env.REDIS_URL };
  }
  if (env.REDIS_URL) {
    if (!/^rediss?:\/\/[^\s]+$/.test(env.REDIS_URL)) throw new ConfigError('REDIS_URL', 'a redis:// or rediss:// URL', env.REDIS_URL);
    return { kind: 'standalone', url: env.REDIS_URL };
  }
  return { kind: 'auto' };
}

function list(env: Env, name: string): string[] {
  return (env[name] ?? '').split(',').map((s) => s.trim()).filter(Boolean);
}

/** Reads and validates the environment. Throws {@link ConfigError} on the first bad value. */
export function loadConfig(env: Env = process.env): Config {
  const production = env.NODE_ENV === 'production';
  const keyPrefix = env.KEY_PREFIX ?? 'gw';
  if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(keyPrefix)) throw new ConfigError('KEY_PREFIX', '1 to 64 letters, digits or _ . : -', keyPrefix);
  const adminEmail = env.ADMIN_EMAIL ?? '';
  const adminPassword = env.ADMIN_PASSWORD ?? '';
  if (Boolean(adminEmail) !== Boolean(adminPassword)) {
    throw new ConfigError(adminEmail ? 'ADMIN_PASSWORD' : 'ADMIN_EMAIL', 'a value whenever the other of ADMIN_EMAIL/ADMIN_PASSWORD is set', '');
  }
  if (adminPassword && adminPassword.length < 10) throw new ConfigError('ADMIN_PASSWORD', 'at least 10 characters', '(hidden)');
  const logLevel = env.LOG_LEVEL ?? 'info';
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel)) {
    throw new ConfigError('LOG_LEVEL', 'fatal, error, warn, info, debug, trace or silent', logLevel);
  }
  const worker = env.WORKER ?? '1';
  if (worker !== '0' && worker !== '1') throw new ConfigError('WORKER', '1 or 0', worker);
  const webhookAllowedHosts = list(env, 'WEBHOOK_ALLOWED_HOSTS');
  for (const h of webhookAllowedHosts) {
    if (!/^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9a-fA-F:]+\](:\d{1,5})?$/.test(h)) throw new ConfigError('WEBHOOK_ALLOWED_HOSTS', 'comma-separated host[:port]', h);
  }
  const scryptN = int(env, 'SCRYPT_N', 1 << 15, 1 << 10, 1 << 20);
  if ((scryptN & (scryptN - 1)) !== 0) throw new ConfigError('SCRYPT_N', 'a power of two from 1024 to 1048576', String(scryptN));
  const sessionIdleTtlMs = duration(env, 'SESSION_IDLE_TTL', '30m');
  const sessionMaxAgeMs = duration(env, 'SESSION_MAX_AGE', '7d');
  const config: Config = {
    port: int(env, 'PORT', 4000, 0, 65535),
    // The container image sets HOST=0.0.0.0; elsewhere only loopback is bound unless asked.
    host: env.HOST || '127.0.0.1',
    redis: redisTarget(env),
    keyPrefix,
    admin: adminEmail ? { email: adminEmail, password: adminPassword } : null,
    rateLimitDefault: parseRatePolicy('RATE_LIMIT_DEFAULT', env.RATE_LIMIT_DEFAULT ?? '600/1m'),
    sessionIdleTtlMs,
    sessionMaxAgeMs: Math.max(sessionMaxAgeMs, 1),
    sessionsPerUser: int(env, 'SESSIONS_PER_USER', 10, 1, 1000),
    sessionUaCheck: bool(env, 'SESSION_UA_CHECK', true),
    webhookAllowedHosts,
    worker: worker === '1',
    workerConcurrency: int(env, 'WORKER_CONCURRENCY', 8, 1, 1000),
    production,
    logLevel,
    trustedProxies: list(env, 'TRUSTED_PROXIES'),
    bodyLimitBytes: int(env, 'BODY_LIMIT_BYTES', 1024 * 1024, 1024, 64 * 1024 * 1024),
    introspection: bool(env, 'INTROSPECTION', !production),
    queryLimits: {
      depth: int(env, 'QUERY_MAX_DEPTH', 12, 2, 100),
      aliases: int(env, 'QUERY_MAX_ALIASES', 100, 1, 10_000),
      directives: int(env, 'QUERY_MAX_DIRECTIVES', 20, 1, 1000),
      tokens: int(env, 'QUERY_MAX_TOKENS', 5000, 100, 1_000_000),
      cost: int(env, 'QUERY_MAX_COST', 1000, 1, 1_000_000),
    },
    scryptN,
    cartIdleTtlMs: duration(env, 'CART_IDLE_TTL', '30d'),
    requireNoEviction: bool(env, 'REDIS_REQUIRE_NOEVICTION', false),
  };
  return Object.freeze(config);
}
