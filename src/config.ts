/**
 * The one place that reads `process.env`. Every variable of the contract is read
 * and checked once at start; a bad value throws a {@link ConfigError} naming it.
 */
import { isIP } from 'node:net';

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    accepts: string,
    got: string,
  ) {
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
  /** Rate-limit extras; see {@link RateLimitSettings}. */
  readonly rateLimit: RateLimitSettings;
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
  /** Background jobs: retries, locks, retention, transports (README.md). */
  readonly jobs: JobsConfig;
  readonly production: boolean;
  readonly logLevel: string;
  readonly trustedProxies: readonly string[];
  /** Exact browser origins allowed to call /graphql with credentials and to open the WebSocket (CORS_ORIGINS). Default none. */
  readonly corsOrigins: readonly string[];
  /** Default 1 MiB. */
  readonly bodyLimitBytes: number;
  readonly introspection: boolean;
  /** QUERY_MAX_*: depth 12, aliases 100, directives 20, tokens 1000, cost 1000. */
  readonly queryLimits: { depth: number; aliases: number; directives: number; tokens: number; cost: number };
  /** WebSocket connections one client address may hold open on this instance. Default 100 (WS_MAX_CONNECTIONS_PER_IP). */
  readonly wsMaxConnectionsPerIp: number;
  /** scrypt cost parameter N (power of two). Default 2^15 with r=8, p=1: 32 MiB per hash. */
  readonly scryptN: number;
  readonly cartIdleTtlMs: number;
  readonly requireNoEviction: boolean;
  /** Refuse to start when Redis keeps no persistence (appendonly no and no save points). Default off: warn only. */
  readonly requirePersistence: boolean;
  /** Service registry: heartbeat every 5s (REGISTRY_HEARTBEAT), entry lives 15s without one (REGISTRY_TTL). */
  readonly registry: { readonly heartbeatMs: number; readonly ttlMs: number };
  /** Approximate length each domain event stream is trimmed to. Default 100000 (EVENT_STREAM_MAXLEN). */
  readonly eventStreamMaxLen: number;
  /** How long per-minute analytics buckets and visitor journeys live. Default 24h; bounds pageViewSeries' window. */
  readonly analyticsRetentionMs: number;
  /** Distinct pages tracked one by one; later new pages count under "(other)". Default 10000. */
  readonly analyticsMaxPages: number;
  /** New visitor keys (journeys, experiment exposure records) one caller may create per UTC day; admins are exempt. Default 1000. */
  readonly analyticsVisitorKeysPerDay: number;
  /** How long a visitor's experiment exposures are kept after its last assignment or conversion. Default 30d. */
  readonly experimentVisitorTtlMs: number;
  /** How long a guest's cart may outlive its guest session. Default 10m. */
  readonly guestCartGraceMs: number;
  /** Who may read GET /metrics; see {@link MetricsAccess}. Default: anyone who can reach the port. */
  readonly metrics: MetricsAccess;
}

export interface MetricsAccess {
  /** METRICS_TOKEN: when set, /metrics answers only `Authorization: Bearer <token>`. Default unset. */
  readonly token: string | null;
  /** METRICS_PORT: when set, /metrics is served on its own listener (on HOST) and not on PORT. Default unset. */
  readonly port: number | null;
}

export interface JobsConfig {
  /** Delay before the second attempt; doubles per attempt up to 1 h, less up to 20% jitter. Default 1s (JOB_BACKOFF). */
  readonly backoffMs: number;
  /** Attempts when enqueueJob names none. Default 3 (JOB_MAX_ATTEMPTS). */
  readonly defaultMaxAttempts: number;
  /** Lock on a running job: a worker that dies loses its jobs to another after this. Default 30s (JOB_LOCK_DURATION). */
  readonly lockMs: number;
  /** How long SIGTERM waits for running jobs before handing them back. Default 5s (WORKER_SHUTDOWN_GRACE). */
  readonly shutdownGraceMs: number;
  /** Completed jobs kept: at most `count`, none older than `ageMs`. Default 1000 / 24h (JOB_KEEP_COMPLETED, JOB_KEEP_COMPLETED_AGE). */
  readonly keepCompleted: { readonly count: number; readonly ageMs: number };
  /** Dead-lettered jobs kept. Default 10000 / 7d (JOB_KEEP_FAILED, JOB_KEEP_FAILED_AGE). */
  readonly keepFailed: { readonly count: number; readonly ageMs: number };
  /** How often each worker runs the handlers' recovery sweeps. Default 30s (JOB_RECOVER_INTERVAL). */
  readonly recoverIntervalMs: number;
  /** An order PENDING for longer than this is handed to the queue again by the sweep. Default 1m (ORDER_REQUEUE_AFTER). */
  readonly orderRequeueAfterMs: number;
  /** Largest job data, as JSON. Default 64 KiB (JOB_MAX_DATA_BYTES). */
  readonly maxDataBytes: number;
  /** Per-attempt timeout of webhook.deliver. Default 10s (WEBHOOK_TIMEOUT). */
  readonly webhookTimeoutMs: number;
  /** email.send goes through this SMTP server when set (smtp:// or smtps://); else to the Redis outbox. Default unset (SMTP_URL). */
  readonly smtpUrl: string | null;
  /** Sender of email.send. Default gateway@localhost (MAIL_FROM). */
  readonly mailFrom: string;
  /** Messages the Redis outbox keeps, newest first. Default 10000 (OUTBOX_MAX). */
  readonly outboxMax: number;
  /** Jobs one owner may hold WAITING or DELAYED. Default 200 (JOB_MAX_PENDING_PER_USER). */
  readonly maxPendingPerUser: number;
  /** Bytes of job data (as stored, JSON) those jobs may hold together. Default 4 MiB (JOB_MAX_PENDING_BYTES_PER_USER). */
  readonly maxPendingBytesPerUser: number;
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

/** A variable's value; empty counts as unset so that `VAR=` in an env file means "use the default". */
function str(env: Env, name: string): string | undefined {
  const raw = env[name];
  return raw === undefined || raw.trim() === '' ? undefined : raw.trim();
}

function int(env: Env, name: string, def: number, min: number, max: number): number {
  const raw = str(env, name);
  if (raw === undefined) return def;
  // Plain decimal digits only: Number() would also take 0x10, 1e3 or 12.0.
  const n = /^\d{1,16}$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(name, `an integer from ${min} to ${max}`, raw);
  return n;
}

function bool(env: Env, name: string, def: boolean): boolean {
  const raw = str(env, name);
  if (raw === undefined) return def;
  if (raw === '1' || raw === 'true') return true;
  if (raw === '0' || raw === 'false') return false;
  throw new ConfigError(name, '1, 0, true or false', raw);
}

function duration(env: Env, name: string, def: string): number {
  return parseDuration(name, str(env, name) ?? def);
}

function hostPorts(name: string, raw: string): Array<{ host: string; port: number }> {
  return raw.split(',').map((s) => s.trim()).filter(Boolean).map((item) => {
    const m = /^(.+):(\d{1,5})$/.exec(item);
    if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) throw new ConfigError(name, 'comma-separated host:port pairs', raw);
    return { host: m[1], port: Number(m[2]) };
  });
}

export interface RateLimitSettings {
  /** RATE_LIMIT_DEFAULT_BURST: points the default policy admits at once. Default: its points (exactly N from a fresh start). */
  readonly defaultBurst: number | null;
  /** RATE_LIMIT_REDIS_DOWN: the default policy while Redis is unreachable. Default `open` (per-instance memory limiter). */
  readonly defaultOnRedisDown: 'open' | 'closed';
  /** RATE_LIMIT_ALLOW: `user:<id>` / `ip:<addr>` identities never limited. Default none. */
  readonly allow: readonly string[];
  /** RATE_LIMIT_BLOCK: identities always refused. Default none. */
  readonly block: readonly string[];
  /** RATE_LIMIT_WS_SUBSCRIPTIONS: concurrent subscriptions per WebSocket connection. Default 20. */
  readonly wsSubscriptions: number;
  /**
   * RATE_LIMIT_PER_ADDRESS: one budget per client address over every identity it uses (anonymous,
   * any number of accounts), charged alongside the default policy. Default 4 x RATE_LIMIT_DEFAULT's
   * points over its window, so that an office behind one NAT is not squeezed; null when `off` or
   * when RATE_LIMIT_DEFAULT is off.
   */
  readonly perAddress: RateLimitPolicySpec | null;
  /** Sign-in throttling; see {@link SignInThrottleSettings}. */
  readonly signIn: SignInThrottleSettings;
}

/** Failed sign-ins counted before the password is checked (README "Sign-in throttling"). Off with RATE_LIMIT_DEFAULT=off. */
export interface SignInThrottleSettings {
  /** LOGIN_FAILURES_PER_PAIR: failures per (email, client address); a success resets it. Default 10/1h. */
  readonly perPair: RateLimitPolicySpec;
  /** LOGIN_FAILURES_PER_IP: failures per client address over every email. Default 100/1h. */
  readonly perIp: RateLimitPolicySpec;
  /** LOGIN_FAILURES_PER_EMAIL: failures per email from addresses it never signed in from; null when `off`. Default 100/1d. */
  readonly perEmail: RateLimitPolicySpec | null;
  /** LOGIN_KNOWN_ADDRESSES: addresses remembered per email (the most recent successes). Default 10. */
  readonly knownAddresses: number;
  /** LOGIN_KNOWN_ADDRESS_TTL: how long an address stays known after its last success. Default 30d. */
  readonly knownAddressTtlMs: number;
}

function rateLimitIdentities(env: Env, name: string): string[] {
  const items = (env[name] ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  for (const item of items) {
    const m = /^(user|ip):(.+)$/.exec(item);
    if (!m || (m[1] === 'ip' && !isIP(m[2])) || (m[1] === 'user' && !/^[A-Za-z0-9_-]{1,64}$/.test(m[2]))) {
      throw new ConfigError(name, 'comma-separated user:<id> or ip:<address>', item);
    }
  }
  return items;
}

/** Default per-address budget: this many times the default policy's points, over the same window. */
const PER_ADDRESS_FACTOR = 4;

function perAddress(env: Env, def: RateLimitPolicySpec | null): RateLimitPolicySpec | null {
  const raw = str(env, 'RATE_LIMIT_PER_ADDRESS');
  const spec = raw === undefined ? (def && { points: def.points * PER_ADDRESS_FACTOR, windowMs: def.windowMs }) : parseRatePolicy('RATE_LIMIT_PER_ADDRESS', raw);
  return def ? spec : null;
}

/** `<points>/<window>`; `off` only where `canBeOff` (the per-email ceiling: pair and address counts are the contract). */
function failureBudget(env: Env, name: string, def: string, canBeOff: boolean): RateLimitPolicySpec | null {
  const raw = str(env, name) ?? def;
  if (raw === 'off' && !canBeOff) throw new ConfigError(name, '<points>/<window> such as 10/1h', raw);
  return parseRatePolicy(name, raw);
}

function signInSettings(env: Env): SignInThrottleSettings {
  return {
    perPair: failureBudget(env, 'LOGIN_FAILURES_PER_PAIR', '10/1h', false)!,
    perIp: failureBudget(env, 'LOGIN_FAILURES_PER_IP', '100/1h', false)!,
    perEmail: failureBudget(env, 'LOGIN_FAILURES_PER_EMAIL', '100/1d', true),
    knownAddresses: int(env, 'LOGIN_KNOWN_ADDRESSES', 10, 1, 1000),
    knownAddressTtlMs: duration(env, 'LOGIN_KNOWN_ADDRESS_TTL', '30d'),
  };
}

function rateLimitSettings(env: Env, def: RateLimitPolicySpec | null): RateLimitSettings {
  const down = str(env, 'RATE_LIMIT_REDIS_DOWN') ?? 'open';
  if (down !== 'open' && down !== 'closed') throw new ConfigError('RATE_LIMIT_REDIS_DOWN', 'open or closed', down);
  return {
    defaultBurst: str(env, 'RATE_LIMIT_DEFAULT_BURST') === undefined ? null : int(env, 'RATE_LIMIT_DEFAULT_BURST', 1, 1, 1_000_000_000),
    defaultOnRedisDown: down,
    allow: rateLimitIdentities(env, 'RATE_LIMIT_ALLOW'),
    block: rateLimitIdentities(env, 'RATE_LIMIT_BLOCK'),
    wsSubscriptions: int(env, 'RATE_LIMIT_WS_SUBSCRIPTIONS', 20, 1, 10_000),
    perAddress: perAddress(env, def),
    signIn: signInSettings(env),
  };
}

/** `<points>/<window>` such as `600/1m`, or `off`. */
export function parseRatePolicy(name: string, raw: string): RateLimitPolicySpec | null {
  if (raw === 'off') return null;
  const m = /^(\d+)\/(.+)$/.exec(raw.trim());
  if (!m || Number(m[1]) < 1) throw new ConfigError(name, '<points>/<window> such as 600/1m, or off', raw);
  return { points: Number(m[1]), windowMs: parseDuration(name, m[2]) };
}

function redisUrl(env: Env): string | undefined {
  const raw = str(env, 'REDIS_URL');
  if (raw === undefined) return undefined;
  let ok = false;
  try {
    const u = new URL(raw);
    ok = (u.protocol === 'redis:' || u.protocol === 'rediss:') && u.hostname !== '' && (u.pathname === '' || /^\/\d{0,2}$/.test(u.pathname));
  } catch {
    ok = false;
  }
  // The URL may carry a password: never echo it.
  if (!ok) throw new ConfigError('REDIS_URL', 'a redis://[user:password@]host[:port][/db] or rediss:// URL', raw.replace(/\/\/[^@/]*@/, '//***@'));
  return raw;
}

function redisTarget(env: Env): RedisTarget {
  const url = redisUrl(env);
  const clusterNodes = str(env, 'REDIS_CLUSTER_NODES');
  const sentinelList = str(env, 'REDIS_SENTINELS');
  const masterName = str(env, 'REDIS_SENTINEL_MASTER');
  if (masterName !== undefined && sentinelList === undefined) {
    throw new ConfigError('REDIS_SENTINELS', 'comma-separated host:port pairs whenever REDIS_SENTINEL_MASTER is set', '');
  }
  if (clusterNodes !== undefined) {
    const nodes = hostPorts('REDIS_CLUSTER_NODES', clusterNodes);
    if (!nodes.length) throw new ConfigError('REDIS_CLUSTER_NODES', 'comma-separated host:port pairs', clusterNodes);
    return { kind: 'cluster', nodes };
  }
  if (sentinelList !== undefined) {
    const sentinels = hostPorts('REDIS_SENTINELS', sentinelList);
    if (!sentinels.length) throw new ConfigError('REDIS_SENTINELS', 'comma-separated host:port pairs', sentinelList);
    if (!masterName) throw new ConfigError('REDIS_SENTINEL_MASTER', 'the name of the master the Sentinels watch', '');
    return { kind: 'sentinel', sentinels, masterName, url };
  }
  if (url !== undefined) return { kind: 'standalone', url };
  return { kind: 'auto' };
}

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

function bindHost(env: Env): string {
  const raw = str(env, 'HOST');
  // The container image sets HOST=0.0.0.0; elsewhere only loopback is bound unless asked.
  if (raw === undefined) return '127.0.0.1';
  if (isIP(raw) || HOSTNAME.test(raw)) return raw;
  throw new ConfigError('HOST', 'an IPv4 or IPv6 address or a host name to bind, such as 0.0.0.0 or 127.0.0.1', raw);
}

function list(env: Env, name: string): string[] {
  return (env[name] ?? '').split(',').map((s) => s.trim()).filter(Boolean);
}

/** Proxies are matched by exact address against the socket peer, so only plain IPs make sense. */
function ipList(env: Env, name: string): string[] {
  const ips = list(env, name);
  for (const ip of ips) if (!isIP(ip)) throw new ConfigError(name, 'comma-separated IP addresses', ip);
  return ips;
}

/**
 * Exact origins as a browser serializes them in `Origin`: http(s), lower case, no default port,
 * no path. Anything else could never match a request, or (a wildcard) would match too much.
 */
function originList(env: Env, name: string): string[] {
  const origins = list(env, name);
  for (const item of origins) {
    const u = URL.canParse(item) ? new URL(item) : null;
    const host = u?.hostname.replace(/^\[(.*)\]$/, '$1') ?? '';
    const ok = u !== null && (u.protocol === 'http:' || u.protocol === 'https:') && u.origin === item && (HOSTNAME.test(host) || isIP(host) !== 0);
    if (!ok) {
      throw new ConfigError(name, 'comma-separated exact origins such as https://shop.example.com or http://localhost:5173 (http or https, lower case, a port only when not the default, no path, no wildcard)', item);
    }
  }
  return origins;
}

/** Whole minutes from 1m to 31d: series buckets are per minute. */
function analyticsRetention(env: Env): number {
  const ms = duration(env, 'ANALYTICS_RETENTION', '24h');
  if (ms < 60_000 || ms > 31 * 86_400_000 || ms % 60_000 !== 0) {
    throw new ConfigError('ANALYTICS_RETENTION', 'whole minutes from 1m to 31d, such as 90m, 24h or 7d', str(env, 'ANALYTICS_RETENTION') ?? '');
  }
  return ms;
}

/** A duration of at most `max` (given as text for the message). */
function boundedDuration(env: Env, name: string, def: string, max: string): number {
  const ms = duration(env, name, def);
  if (ms > parseDuration(name, max)) throw new ConfigError(name, `a positive duration of at most ${max}, such as ${def}`, str(env, name) ?? '');
  return ms;
}

function jobsConfig(env: Env): JobsConfig {
  const smtpUrl = str(env, 'SMTP_URL') ?? null;
  if (smtpUrl !== null && !/^smtps?:\/\/\S+$/.test(smtpUrl)) {
    throw new ConfigError('SMTP_URL', 'an smtp:// or smtps:// URL', smtpUrl.replace(/\/\/[^@/]*@/, '//***@'));
  }
  const mailFrom = str(env, 'MAIL_FROM') ?? 'gateway@localhost';
  if (!/^[^\s@<>]+@[^\s@<>]+$/.test(mailFrom)) throw new ConfigError('MAIL_FROM', 'an email address', mailFrom);
  // Locks are renewed at half their duration; much shorter and a busy event loop loses them.
  const lockMs = duration(env, 'JOB_LOCK_DURATION', '30s');
  if (lockMs < 1000) throw new ConfigError('JOB_LOCK_DURATION', 'a duration of at least 1s', str(env, 'JOB_LOCK_DURATION') ?? '');
  return {
    backoffMs: duration(env, 'JOB_BACKOFF', '1s'),
    defaultMaxAttempts: int(env, 'JOB_MAX_ATTEMPTS', 3, 1, 25),
    lockMs,
    shutdownGraceMs: duration(env, 'WORKER_SHUTDOWN_GRACE', '5s'),
    keepCompleted: { count: int(env, 'JOB_KEEP_COMPLETED', 1000, 0, 10_000_000), ageMs: duration(env, 'JOB_KEEP_COMPLETED_AGE', '24h') },
    keepFailed: { count: int(env, 'JOB_KEEP_FAILED', 10_000, 0, 10_000_000), ageMs: duration(env, 'JOB_KEEP_FAILED_AGE', '7d') },
    recoverIntervalMs: duration(env, 'JOB_RECOVER_INTERVAL', '30s'),
    orderRequeueAfterMs: duration(env, 'ORDER_REQUEUE_AFTER', '1m'),
    maxDataBytes: int(env, 'JOB_MAX_DATA_BYTES', 64 * 1024, 256, 16 * 1024 * 1024),
    webhookTimeoutMs: duration(env, 'WEBHOOK_TIMEOUT', '10s'),
    smtpUrl,
    mailFrom,
    outboxMax: int(env, 'OUTBOX_MAX', 10_000, 1, 10_000_000),
    maxPendingPerUser: int(env, 'JOB_MAX_PENDING_PER_USER', 200, 1, 1_000_000),
    // At most GraphQL's Int, which myJobQuota reports it in.
    maxPendingBytesPerUser: int(env, 'JOB_MAX_PENDING_BYTES_PER_USER', 4 * 1024 * 1024, 1024, 2_147_483_647),
  };
}

/** The registry TTL must outlive a heartbeat, or live instances would blink out between beats. */
function registrySettings(env: Env): { heartbeatMs: number; ttlMs: number } {
  const heartbeatMs = duration(env, 'REGISTRY_HEARTBEAT', '5s');
  const ttlMs = duration(env, 'REGISTRY_TTL', '15s');
  if (ttlMs <= heartbeatMs) throw new ConfigError('REGISTRY_TTL', `a duration longer than REGISTRY_HEARTBEAT (${heartbeatMs} ms)`, env.REGISTRY_TTL ?? '15s');
  return { heartbeatMs, ttlMs };
}

function metricsAccess(env: Env): MetricsAccess {
  // Taken verbatim, like passwords; long enough that guessing it is not a plan.
  const token = env.METRICS_TOKEN ?? '';
  if (token && !/^[\x21-\x7e]{16,256}$/.test(token)) throw new ConfigError('METRICS_TOKEN', '16 to 256 printable ASCII characters without spaces', '(hidden)');
  const port = str(env, 'METRICS_PORT') === undefined ? null : int(env, 'METRICS_PORT', 0, 0, 65535);
  return { token: token || null, port };
}

/** Reads and validates the environment. Throws {@link ConfigError} on the first bad value. */
export function loadConfig(env: Env = process.env): Config {
  const nodeEnv = str(env, 'NODE_ENV');
  // A typo such as "prod" must not silently run with development conveniences on.
  if (nodeEnv !== undefined && !['production', 'development', 'test'].includes(nodeEnv)) {
    throw new ConfigError('NODE_ENV', 'production, development or test (or unset)', nodeEnv);
  }
  const production = nodeEnv === 'production';
  const keyPrefix = str(env, 'KEY_PREFIX') ?? 'gw';
  if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(keyPrefix)) throw new ConfigError('KEY_PREFIX', '1 to 64 letters, digits or _ . : -', keyPrefix);
  const adminEmail = str(env, 'ADMIN_EMAIL') ?? '';
  // Passwords are taken verbatim: surrounding spaces may be part of them.
  const adminPassword = env.ADMIN_PASSWORD ?? '';
  if (Boolean(adminEmail) !== Boolean(adminPassword)) {
    throw new ConfigError(adminEmail ? 'ADMIN_PASSWORD' : 'ADMIN_EMAIL', 'a value whenever the other of ADMIN_EMAIL/ADMIN_PASSWORD is set', '');
  }
  if (adminEmail && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(adminEmail)) throw new ConfigError('ADMIN_EMAIL', 'an email address', adminEmail);
  if (adminPassword && adminPassword.length < 10) throw new ConfigError('ADMIN_PASSWORD', 'at least 10 characters', '(hidden)');
  const logLevel = str(env, 'LOG_LEVEL') ?? 'info';
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel)) {
    throw new ConfigError('LOG_LEVEL', 'fatal, error, warn, info, debug, trace or silent', logLevel);
  }
  const worker = str(env, 'WORKER') ?? '1';
  if (worker !== '0' && worker !== '1') throw new ConfigError('WORKER', '1 or 0', worker);
  const webhookAllowedHosts = list(env, 'WEBHOOK_ALLOWED_HOSTS');
  for (const h of webhookAllowedHosts) {
    if (!/^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9a-fA-F:]+\](:\d{1,5})?$/.test(h)) throw new ConfigError('WEBHOOK_ALLOWED_HOSTS', 'comma-separated host[:port]', h);
  }
  const scryptN = int(env, 'SCRYPT_N', 1 << 15, 1 << 10, 1 << 20);
  if ((scryptN & (scryptN - 1)) !== 0) throw new ConfigError('SCRYPT_N', 'a power of two from 1024 to 1048576', String(scryptN));
  const sessionIdleTtlMs = duration(env, 'SESSION_IDLE_TTL', '30m');
  const sessionMaxAgeMs = duration(env, 'SESSION_MAX_AGE', '7d');
  const rateLimitDefault = parseRatePolicy('RATE_LIMIT_DEFAULT', str(env, 'RATE_LIMIT_DEFAULT') ?? '600/1m');
  const config: Config = {
    port: int(env, 'PORT', 4000, 0, 65535),
    host: bindHost(env),
    redis: redisTarget(env),
    keyPrefix,
    admin: adminEmail ? { email: adminEmail, password: adminPassword } : null,
    rateLimitDefault,
    rateLimit: rateLimitSettings(env, rateLimitDefault),
    sessionIdleTtlMs,
    sessionMaxAgeMs,
    sessionsPerUser: int(env, 'SESSIONS_PER_USER', 10, 1, 1000),
    sessionUaCheck: bool(env, 'SESSION_UA_CHECK', true),
    webhookAllowedHosts,
    worker: worker === '1',
    workerConcurrency: int(env, 'WORKER_CONCURRENCY', 8, 1, 1000),
    jobs: jobsConfig(env),
    production,
    logLevel,
    trustedProxies: ipList(env, 'TRUSTED_PROXIES'),
    corsOrigins: originList(env, 'CORS_ORIGINS'),
    bodyLimitBytes: int(env, 'BODY_LIMIT_BYTES', 1024 * 1024, 1024, 64 * 1024 * 1024),
    introspection: bool(env, 'INTROSPECTION', !production),
    queryLimits: {
      depth: int(env, 'QUERY_MAX_DEPTH', 12, 2, 100),
      aliases: int(env, 'QUERY_MAX_ALIASES', 100, 1, 10_000),
      directives: int(env, 'QUERY_MAX_DIRECTIVES', 20, 1, 1000),
      // GraphiQL's introspection query is the largest document real clients send: 183 tokens (README.md).
      tokens: int(env, 'QUERY_MAX_TOKENS', 1000, 100, 1_000_000),
      cost: int(env, 'QUERY_MAX_COST', 1000, 1, 1_000_000),
    },
    wsMaxConnectionsPerIp: int(env, 'WS_MAX_CONNECTIONS_PER_IP', 100, 1, 1_000_000),
    scryptN,
    cartIdleTtlMs: duration(env, 'CART_IDLE_TTL', '30d'),
    requireNoEviction: bool(env, 'REDIS_REQUIRE_NOEVICTION', false),
    requirePersistence: bool(env, 'REDIS_REQUIRE_PERSISTENCE', false),
    registry: registrySettings(env),
    eventStreamMaxLen: int(env, 'EVENT_STREAM_MAXLEN', 100_000, 100, 1_000_000_000),
    analyticsRetentionMs: analyticsRetention(env),
    analyticsMaxPages: int(env, 'ANALYTICS_MAX_PAGES', 10_000, 10, 1_000_000),
    metrics: metricsAccess(env),
    analyticsVisitorKeysPerDay: int(env, 'ANALYTICS_VISITOR_KEYS_PER_DAY', 1000, 0, 1_000_000_000),
    experimentVisitorTtlMs: boundedDuration(env, 'EXPERIMENT_VISITOR_TTL', '30d', '366d'),
    guestCartGraceMs: boundedDuration(env, 'GUEST_CART_GRACE', '10m', '1d'),
  };
  if (config.metrics.port !== null && config.metrics.port !== 0 && config.metrics.port === config.port) {
    throw new ConfigError('METRICS_PORT', `a port other than PORT (${config.port})`, String(config.metrics.port));
  }
  return Object.freeze(config);
}
