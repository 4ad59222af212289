/**
 * Turns one request into the charges it must pay: the default policy (the
 * operation's cost, by identity) and each per-operation policy of each root
 * field occurrence (one point each, by its partition). Charges of the same
 * policy and partition are summed into one key.
 */
import { createHash } from 'node:crypto';
import type { Keys } from '../redis/keys';
import { normalizeEmail } from '../services/user.service';
import { argAt, type RootField } from './operation';
import { capacityOf, intervalOf, type RatePolicy } from './policy';
import type { StoreCharge } from './store';

/** Who is asking: `user:<id>` when signed in, else `ip:<addr>`. */
export interface Subject {
  identity: string;
  ip: string;
}

export interface Charge extends StoreCharge {
  policy: RatePolicy;
  partition: string;
}

const digest = (s: string): string => createHash('sha256').update(s).digest('hex').slice(0, 24);

/** Partition label and hash tag for a policy, or null when its argument is absent. */
function partitionOf(policy: RatePolicy, subject: Subject, field: RootField | null): { partition: string; tag: string } | null {
  const by = policy.by;
  if (by === 'identity') return { partition: subject.identity, tag: subject.identity };
  if (by === 'ip') return { partition: `ip:${subject.ip}`, tag: `ip:${subject.ip}` };
  const raw = argAt(field?.args ?? null, by.arg);
  if (typeof raw !== 'string' || raw === '') return null;
  const value = by.kind === 'email' ? normalizeEmail(raw) : raw;
  // Keys hold a digest: user-supplied text never shapes a key or its hash tag.
  return { partition: `${by.kind === 'email' ? 'email' : 'arg'}:${value}`, tag: `${by.kind === 'email' ? 'e' : 'a'}:${digest(value)}` };
}

export function buildCharges(keys: Keys, subject: Subject, defaultPolicy: RatePolicy, cost: number, roots: readonly RootField[]): Charge[] {
  const byKey = new Map<string, Charge>();
  const add = (policy: RatePolicy, p: { partition: string; tag: string }, points: number): void => {
    const key = keys.rateLimit(p.tag, policy.name);
    const prev = byKey.get(key);
    if (prev) prev.cost += points;
    else byKey.set(key, { key, tag: p.tag, policy, partition: p.partition, cost: points, interval: intervalOf(policy), capacity: capacityOf(policy), oversize: policy.oversize });
  };
  // Every root field exempt (e.g. rateLimitStatus alone): the default budget is only read.
  const exempt = roots.length > 0 && roots.every((r) => r.policies.length > 0 && r.policies.every((p) => !p.chargeDefault));
  add(defaultPolicy, partitionOf(defaultPolicy, subject, null)!, exempt ? 0 : cost);
  for (const field of roots) {
    for (const policy of field.policies) {
      const p = partitionOf(policy, subject, field);
      if (p) add(policy, p, 1);
    }
  }
  return [...byKey.values()];
}
