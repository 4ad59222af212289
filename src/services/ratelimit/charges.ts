/**
 * Turns one request into the charges it must pay: the default policy (the
 * operation's cost, by identity), the per-address policy (the same cost, by
 * client address, whatever the identity), each per-operation policy of each
 * root field occurrence (one point each, one per item for a batch field taking
 * `inputs`, by its partition), and for each
 * sign-in field occurrence one point of each sign-in failure budget. Charges
 * of the same policy and partition are summed into one key.
 */
import { createHash } from 'node:crypto';
import type { Keys } from '../../redis/keys';
import { normalizeEmail } from '../sessions/user.service';
import { argAt, itemsCharged, type RootField } from './root-field';
import { capacityOf, intervalOf, type RatePolicy, type SignInPolicies } from './policy';
import type { StoreCharge } from './store';

/** Who is asking: `user:<id>` when signed in, `key:<id>` with an API key, else `ip:<addr>`. */
export interface Subject {
  identity: string;
  ip: string;
  /** The signed-in caller's own address, when a root field is a sign-in of it (`@SignInAttempt({ viewer: true })`). */
  ownEmail?: string | null;
  /** `<identity> <ip>`, when made once for the subject (the limiter's key for its kept charges). */
  id?: string;
}

export interface Charge extends StoreCharge {
  policy: RatePolicy;
  partition: string;
}

/** The service-wide policies besides the default one; null members are off. */
export interface ExtraPolicies {
  address: RatePolicy | null;
  signIn: SignInPolicies | null;
  /** Charged instead of the default and per-address policies for a request signed with an API key (not by buildCharges). */
  apiKey?: RatePolicy | null;
}

export const digest = (s: string): string => createHash('sha256').update(s).digest('hex').slice(0, 24);

/** Longest email shown in partition labels (operator views, events): the longest valid address. */
const LABEL_MAX = 254;
// eslint-disable-next-line no-control-regex -- control characters are exactly what a label must not carry
const CONTROL = /[\u0000-\u001f\u007f]/g;
const emailLabel = (email: string): string => `email:${email.slice(0, LABEL_MAX).replace(CONTROL, '?')}`;

export interface Part {
  partition: string;
  tag: string;
  /** Appended to the key after the policy name (the pair's address digest). */
  suffix?: string;
}

/** Partition label and hash tag for a policy, or null when its argument is absent. */
function partitionOf(policy: RatePolicy, subject: Subject, field: RootField | null): Part | null {
  const by = policy.by;
  if (by === 'identity') return { partition: subject.identity, tag: subject.identity };
  if (by === 'ip') return { partition: `ip:${subject.ip}`, tag: `ip:${subject.ip}` };
  const raw = argAt(field?.args ?? null, by.arg);
  if (typeof raw !== 'string' || raw === '') return null;
  const value = by.kind === 'email' ? normalizeEmail(raw) : raw;
  // Keys hold a digest: user-supplied text never shapes a key or its hash tag.
  return { partition: `${by.kind === 'email' ? 'email' : 'arg'}:${value}`, tag: `${by.kind === 'email' ? 'e' : 'a'}:${digest(value)}` };
}

/**
 * The email a sign-in field names, normalised as accounts are looked up; '' when absent or not a
 * string, which is charged like any other email, so that no shape of input is an unthrottled guess.
 * For a field of the caller's own address, `ownEmail`; null (not charged) without a signed-in caller.
 */
export function signInEmail(field: RootField, ownEmail?: string | null): string | null {
  const s = field.signIn;
  if (s && 'viewer' in s) return ownEmail ? normalizeEmail(ownEmail) : null;
  const raw = s ? argAt(field.args, s.email) : undefined;
  return normalizeEmail(typeof raw === 'string' ? raw : '');
}

/** Where the sign-in keys of (email, address) live: the email's tag holds the pair, the per-email key and the known addresses. */
export function signInParts(email: string, ip: string): { pair: Part; ip: Part; email: Part; member: string } {
  const tag = `e:${digest(email)}`;
  const member = digest(ip);
  return {
    pair: { partition: `${emailLabel(email)} ip:${ip}`, tag, suffix: member },
    ip: { partition: `ip:${ip}`, tag: `ip:${ip}` },
    email: { partition: emailLabel(email), tag },
    member,
  };
}

/** The key of a policy's partition. */
export const keyOf = (keys: Keys, policy: RatePolicy, p: Part): string => keys.rateLimit(p.tag, p.suffix ? `${policy.name}:${p.suffix}` : policy.name);

/** Puts admins' overrides in force (see overrides.ts); the configured policy when there is none. */
export interface PolicyResolver {
  apply(policy: RatePolicy): RatePolicy;
}

const AS_CONFIGURED: PolicyResolver = { apply: (p) => p };

export function buildCharges(
  keys: Keys,
  subject: Subject,
  defaultPolicy: RatePolicy,
  cost: number,
  roots: readonly RootField[],
  extra: ExtraPolicies,
  overrides: PolicyResolver = AS_CONFIGURED,
): Charge[] {
  const byKey = new Map<string, Charge>();
  const add = (configured: RatePolicy, p: Part, points: number, waiver?: StoreCharge['waiver']): void => {
    // Keys are named by the policy's name, which an override keeps: a budget carries over a change of values.
    const policy = overrides.apply(configured);
    const key = keyOf(keys, policy, p);
    const prev = byKey.get(key);
    if (prev) prev.cost += points;
    else
      byKey.set(key, {
        key,
        tag: p.tag,
        policy,
        partition: p.partition,
        cost: points,
        interval: intervalOf(policy),
        capacity: capacityOf(policy),
        oversize: policy.oversize,
        waiver,
      });
  };
  // Every root field exempt (e.g. rateLimitStatus alone): the default budget is only read.
  const exempt = roots.length > 0 && roots.every((r) => r.policies.length > 0 && r.policies.every((p) => !p.chargeDefault));
  add(defaultPolicy, partitionOf(defaultPolicy, subject, null)!, exempt ? 0 : cost);
  if (extra.address) add(extra.address, partitionOf(extra.address, subject, null)!, exempt ? 0 : cost);
  for (const field of roots) {
    for (const policy of field.policies) {
      const p = partitionOf(policy, subject, field);
      if (p) add(policy, p, itemsCharged(field));
    }
    const email = field.signIn && extra.signIn ? signInEmail(field, subject.ownEmail) : null;
    if (email !== null) addSignIn(keys, add, extra.signIn!, email, subject.ip);
  }
  return [...byKey.values()];
}

/** One sign-in attempt: a point of the pair, of the address and, unless the address is known for the email, of the email. */
function addSignIn(
  keys: Keys,
  add: (policy: RatePolicy, p: Part, points: number, waiver?: StoreCharge['waiver']) => void,
  s: SignInPolicies,
  email: string,
  ip: string,
): void {
  const parts = signInParts(email, ip);
  add(s.pair, parts.pair, 1);
  add(s.ip, parts.ip, 1);
  if (s.email) add(s.email, parts.email, 1, { set: keys.signInKnownAddresses(parts.email.tag), member: parts.member });
}
