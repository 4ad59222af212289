/**
 * Rate-limit policies: a steady rate (`points` per `window`) and a burst (how
 * many points a full bucket holds), enforced with GCRA. A fresh client may
 * spend `burst` points at once; the budget then refills continuously at
 * points/window, so bursts never raise the long-run rate.
 */
import type { Config } from '../../config';

/**
 * How a policy splits clients: by the caller's identity, by IP, by an argument (e.g. the login
 * email), or by an argument and the IP together (`withIp`: the sign-in pair).
 */
export type PartitionBy = 'identity' | 'ip' | { arg: string; kind: 'email' | 'string'; withIp?: boolean };

export interface RatePolicy {
  /** Shown in headers, metrics and the operator views; also the key suffix. */
  name: string;
  points: number;
  windowMs: number;
  burst: number;
  by: PartitionBy;
  /** `open`: a per-instance memory limiter stands in while Redis is down; `closed`: SERVICE_UNAVAILABLE. */
  onRedisDown: 'open' | 'closed';
  /** false: a root field of this policy does not spend the default budget (when every root field says so). */
  chargeDefault: boolean;
  /** true (default policy only): one operation costing more than the burst passes on a full bucket and leaves a debt. */
  oversize: boolean;
}

export const DEFAULT_POLICY = 'default';
/** The per-address ceiling over every identity (RATE_LIMIT_PER_ADDRESS). */
export const ADDRESS_POLICY = 'address';
/** Each API key's budget (RATE_LIMIT_API_KEY), instead of the default policy. */
export const API_KEY_POLICY = 'api-key';
/** Sign-in failure budgets (LOGIN_FAILURES_PER_*). */
export const SIGN_IN_PAIR_POLICY = 'login-failures-pair';
export const SIGN_IN_IP_POLICY = 'login-failures-ip';
export const SIGN_IN_EMAIL_POLICY = 'login-failures-email';

/** ms per point. */
export const intervalOf = (p: RatePolicy): number => p.windowMs / p.points;
/** The bucket size in ms. */
export const capacityOf = (p: RatePolicy): number => p.burst * intervalOf(p);

/** The default policy from RATE_LIMIT_DEFAULT (null when `off`). */
export function defaultPolicy(config: Config): RatePolicy | null {
  const spec = config.rateLimits.default;
  if (!spec) return null;
  return {
    name: DEFAULT_POLICY,
    points: spec.points,
    windowMs: spec.windowMs,
    burst: config.rateLimits.defaultBurst ?? spec.points,
    by: 'identity',
    onRedisDown: config.rateLimits.defaultOnRedisDown,
    chargeDefault: true,
    oversize: true,
  };
}

/**
 * The API key policy (null when every limit is off): charged the operation's cost by identity (`key:<id>`),
 * instead of the default policy, for requests signed with a key. Fails like the default policy.
 */
export function apiKeyPolicy(config: Config): RatePolicy | null {
  const spec = config.rateLimits.default && config.rateLimits.apiKey;
  if (!spec) return null;
  return {
    name: API_KEY_POLICY,
    points: spec.points,
    windowMs: spec.windowMs,
    burst: spec.points,
    by: 'identity',
    onRedisDown: config.rateLimits.defaultOnRedisDown,
    chargeDefault: true,
    oversize: true,
  };
}

/** The per-address policy (null when off): charged the operation's cost, like the default one, by client address. */
export function addressPolicy(config: Config): RatePolicy | null {
  const spec = config.rateLimits.default && config.rateLimits.perAddress;
  if (!spec) return null;
  return {
    name: ADDRESS_POLICY,
    points: spec.points,
    windowMs: spec.windowMs,
    burst: spec.points,
    by: 'ip',
    onRedisDown: config.rateLimits.defaultOnRedisDown,
    chargeDefault: true,
    oversize: true,
  };
}

/**
 * The sign-in failure budgets, as policies of the login field's `input.email` argument. They are
 * charged one point per sign-in attempt before the password is checked (a reservation: at most
 * the budget's attempts are ever in flight), and the point is given back when the sign-in succeeds,
 * so only failures stay counted. Fail closed: without Redis nobody can be counted.
 */
export interface SignInPolicies {
  pair: RatePolicy;
  ip: RatePolicy;
  /** Only charged from addresses the email has not signed in from; null when off. */
  email: RatePolicy | null;
  knownAddresses: number;
  knownAddressTtlMs: number;
}

export function signInPolicies(config: Config): SignInPolicies | null {
  if (!config.rateLimits.default) return null;
  const s = config.rateLimits.signIn;
  const policy = (name: string, spec: { points: number; windowMs: number }, by: PartitionBy): RatePolicy => ({
    name,
    points: spec.points,
    windowMs: spec.windowMs,
    burst: spec.points,
    by,
    onRedisDown: 'closed',
    chargeDefault: true,
    oversize: false,
  });
  return {
    pair: policy(SIGN_IN_PAIR_POLICY, s.perPair, { arg: 'input.email', kind: 'email', withIp: true }),
    ip: policy(SIGN_IN_IP_POLICY, s.perIp, 'ip'),
    email: s.perEmail && policy(SIGN_IN_EMAIL_POLICY, s.perEmail, { arg: 'input.email', kind: 'email' }),
    knownAddresses: s.knownAddresses,
    knownAddressTtlMs: s.knownAddressTtlMs,
  };
}

/** One policy's state for one request, as the store reports it. */
export interface PolicyState {
  policy: RatePolicy;
  /** `user:<id>`, `ip:<addr>` or `email:<addr>`. */
  partition: string;
  cost: number;
  remaining: number;
  resetMs: number;
  /** 0 when this policy let the request through. */
  retryMs: number;
}

const sfString = (s: string): string => `"${s.replace(/[\\"]/g, '')}"`;

/** Each policy's header items are the same on every request: made once per policy object (an override makes a new one). */
const items = new WeakMap<RatePolicy, { policy: string; name: string }>();
function itemOf(p: RatePolicy): { policy: string; name: string } {
  let i = items.get(p);
  if (!i) {
    const name = sfString(p.name);
    const policy = `${name};q=${p.points};w=${Math.max(1, Math.ceil(p.windowMs / 1000))}${p.burst !== p.points ? `;burst=${p.burst}` : ''}`;
    items.set(p, (i = { policy, name }));
  }
  return i;
}

/** The last `RateLimit-Policy` made, by its policies: most requests of an instance charge the same ones. */
let lastPolicies: { policies: RatePolicy[]; header: string } = { policies: [], header: '' };

function samePolicies(policies: readonly RatePolicy[], states: readonly PolicyState[]): boolean {
  if (policies.length !== states.length) return false;
  for (let i = 0; i < states.length; i++) if (states[i].policy !== policies[i]) return false;
  return true;
}

/** `RateLimit-Policy` (IETF draft): `"default";q=600;w=60`, one item per policy. */
export function policyHeader(states: readonly PolicyState[]): string {
  const last = lastPolicies;
  if (samePolicies(last.policies, states)) return last.header;
  let out = '';
  for (const s of states) out += (out ? ', ' : '') + itemOf(s.policy).policy;
  lastPolicies = { policies: states.map((s) => s.policy), header: out };
  return out;
}

/** `RateLimit` (IETF draft): `"default";r=599;t=1`: points left and seconds until the bucket is full. */
export function stateHeader(states: readonly PolicyState[]): string {
  let out = '';
  for (let i = 0; i < states.length; i++) {
    const s = states[i];
    out += (i ? ', ' : '') + itemOf(s.policy).name + ';r=' + s.remaining + ';t=' + Math.ceil(s.resetMs / 1000);
  }
  return out;
}

/** Seconds for `Retry-After` / `extensions.retryAfter`: the longest wait among refusing policies, at least 1. */
export const retryAfterSeconds = (states: readonly PolicyState[]): number => Math.max(1, ...states.map((s) => Math.ceil(s.retryMs / 1000)));
