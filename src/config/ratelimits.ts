/** Rate limits: the default policy, its extras, the per-address ceiling and sign-in throttling. */
import { isIP } from 'node:net';
import { boundedDuration, ConfigError, duration, int, parseRatePolicy, str, type Env, type RatePolicySpec } from './parse';

/** Failed sign-ins counted before the password is checked (docs/sessions.md "Sign-in throttling"). Off with RATE_LIMIT_DEFAULT=off. */
export interface SignInThrottleSettings {
  /** LOGIN_FAILURES_PER_PAIR: failures per (email, client address); a success resets it. Default 10/1h. */
  readonly perPair: RatePolicySpec;
  /** LOGIN_FAILURES_PER_IP: failures per client address over every email. Default 100/1h. */
  readonly perIp: RatePolicySpec;
  /** LOGIN_FAILURES_PER_EMAIL: failures per email from addresses it never signed in from; null when `off`. Default 100/1d. */
  readonly perEmail: RatePolicySpec | null;
  /** LOGIN_KNOWN_ADDRESSES: addresses remembered per email (the most recent successes). Default 10. */
  readonly knownAddresses: number;
  /** LOGIN_KNOWN_ADDRESS_TTL: how long an address stays known after its last success. Default 30d. */
  readonly knownAddressTtlMs: number;
}

export interface RateLimitConfig {
  /** RATE_LIMIT_DEFAULT: the default policy per client; null when `off` (every limit of the instance off). Default 600/1m. */
  readonly default: RatePolicySpec | null;
  /** RATE_LIMIT_DEFAULT_BURST: points the default policy admits at once. Default: its points (exactly N from a fresh start). */
  readonly defaultBurst: number | null;
  /** RATE_LIMIT_REDIS_DOWN: the default policy while Redis is unreachable. Default `open` (per-instance memory limiter). */
  readonly defaultOnRedisDown: 'open' | 'closed';
  /** RATE_LIMIT_ALLOW: `user:<id>` / `key:<id>` / `ip:<addr>` identities never limited. Default none. */
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
  readonly perAddress: RatePolicySpec | null;
  /** Sign-in throttling; see {@link SignInThrottleSettings}. */
  readonly signIn: SignInThrottleSettings;
  /**
   * RATE_LIMIT_API_KEY: the budget of each API key (`key:<id>`), charged instead of the default policy for a request
   * signed with a key; the per-address ceiling does not apply to it (keys are few and made by admins). Default 6000/1m;
   * null when RATE_LIMIT_DEFAULT is off.
   */
  readonly apiKey: RatePolicySpec | null;
  /**
   * RATE_LIMIT_POLICY_RESYNC: how often each instance reloads the admins' policy overrides besides
   * following their changes over pub/sub, which heals a missed message. Default 5s (100ms to 1h).
   */
  readonly policyResyncMs: number;
  /**
   * Leases of busy keys (docs/rate-limits.md "Leases"): RATE_LIMIT_LEASE, the most points one
   * instance takes ahead for one key (default 1024; 0: every charge exact), and RATE_LIMIT_LEASE_TTL,
   * how long before unspent points go back (default 250ms, 50ms to 1s).
   */
  readonly lease: { readonly maxPoints: number; readonly ttlMs: number };
}

function identities(env: Env, name: string): string[] {
  const items = (env[name] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const item of items) {
    const m = /^(user|key|ip):(.+)$/.exec(item);
    if (!m || (m[1] === 'ip' && !isIP(m[2])) || (m[1] !== 'ip' && !/^[A-Za-z0-9_-]{1,64}$/.test(m[2]))) {
      throw new ConfigError(name, 'comma-separated user:<id>, key:<id> or ip:<address>', item);
    }
  }
  return items;
}

/** Default per-address budget: this many times the default policy's points, over the same window. */
const PER_ADDRESS_FACTOR = 4;

function perAddress(env: Env, def: RatePolicySpec | null): RatePolicySpec | null {
  const raw = str(env, 'RATE_LIMIT_PER_ADDRESS');
  const spec = raw === undefined ? def && { points: def.points * PER_ADDRESS_FACTOR, windowMs: def.windowMs } : parseRatePolicy('RATE_LIMIT_PER_ADDRESS', raw);
  return def ? spec : null;
}

/** `<points>/<window>`; `off` only where `canBeOff` (the per-email ceiling: pair and address counts are the contract). */
function failureBudget(env: Env, name: string, def: string, canBeOff: boolean): RatePolicySpec | null {
  const raw = str(env, name) ?? def;
  if (raw === 'off' && !canBeOff) throw new ConfigError(name, '<points>/<window> such as 10/1h', raw);
  return parseRatePolicy(name, raw);
}

function signIn(env: Env): SignInThrottleSettings {
  return {
    perPair: failureBudget(env, 'LOGIN_FAILURES_PER_PAIR', '10/1h', false)!,
    perIp: failureBudget(env, 'LOGIN_FAILURES_PER_IP', '100/1h', false)!,
    perEmail: failureBudget(env, 'LOGIN_FAILURES_PER_EMAIL', '100/1d', true),
    knownAddresses: int(env, 'LOGIN_KNOWN_ADDRESSES', 10, 1, 1000),
    knownAddressTtlMs: duration(env, 'LOGIN_KNOWN_ADDRESS_TTL', '30d'),
  };
}

/** RATE_LIMIT_API_KEY, checked even while every limit is off, so that a typo is not found only when they are turned on. */
function apiKeyBudget(env: Env, def: RatePolicySpec | null): RatePolicySpec | null {
  const spec = failureBudget(env, 'RATE_LIMIT_API_KEY', '6000/1m', false);
  return def ? spec : null;
}

/** 100ms to 1h: faster reloads cost a command each, slower ones leave a missed change out longer. */
const policyResync = (env: Env): number => boundedDuration(env, 'RATE_LIMIT_POLICY_RESYNC', '5s', '1h', '100ms');

/** 50ms to a second: a block must reach a lease within it even when its message is missed. */
const leaseTtl = (env: Env): number => boundedDuration(env, 'RATE_LIMIT_LEASE_TTL', '250ms', '1s', '50ms');

export function readRateLimits(env: Env): RateLimitConfig {
  const def = parseRatePolicy('RATE_LIMIT_DEFAULT', str(env, 'RATE_LIMIT_DEFAULT') ?? '600/1m');
  const down = str(env, 'RATE_LIMIT_REDIS_DOWN') ?? 'open';
  if (down !== 'open' && down !== 'closed') throw new ConfigError('RATE_LIMIT_REDIS_DOWN', 'open or closed', down);
  return {
    default: def,
    defaultBurst: str(env, 'RATE_LIMIT_DEFAULT_BURST') === undefined ? null : int(env, 'RATE_LIMIT_DEFAULT_BURST', 1, 1, 1_000_000_000),
    defaultOnRedisDown: down,
    allow: identities(env, 'RATE_LIMIT_ALLOW'),
    block: identities(env, 'RATE_LIMIT_BLOCK'),
    wsSubscriptions: int(env, 'RATE_LIMIT_WS_SUBSCRIPTIONS', 20, 1, 10_000),
    perAddress: perAddress(env, def),
    signIn: signIn(env),
    apiKey: apiKeyBudget(env, def),
    policyResyncMs: policyResync(env),
    lease: { maxPoints: int(env, 'RATE_LIMIT_LEASE', 1024, 0, 100_000), ttlMs: leaseTtl(env) },
  };
}
