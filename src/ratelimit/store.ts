/**
 * Runs `rate-limit-n.lua` for one request. On a single Redis (or Sentinel) every
 * key goes into one script call: one round trip. On a Cluster a script may only
 * touch one slot, so keys are grouped by hash tag and the groups run in
 * parallel; when one group refuses, the groups that charged are refunded (a
 * second round trip, only on that refusal). In practice only `login` has two
 * tags: its per-email key cannot share a slot with the caller's IP keys
 * without letting one of the two limits be dodged.
 */
import { Cluster } from 'ioredis';
import type { RedisClient } from '../redis/connection';
import { runScript } from '../redis/scripts';

export interface StoreCharge {
  key: string;
  /** The `{...}` hash tag inside `key`. */
  tag: string;
  cost: number;
  interval: number;
  capacity: number;
  oversize: boolean;
}

export interface StoreResult {
  allowed: boolean;
  /** Per charge, in order. */
  states: Array<{ remaining: number; resetMs: number; retryMs: number }>;
}

const argsOf = (cs: readonly StoreCharge[]): Array<string | number> =>
  cs.flatMap((c) => [c.cost, c.interval, c.capacity, c.oversize ? '1' : '0']);

export class RedisLimiterStore {
  private readonly cluster: boolean;

  constructor(
    private readonly redis: RedisClient,
    /** Forces per-tag grouping on a single Redis (tests of the Cluster path). */
    splitByTag?: boolean,
  ) {
    this.cluster = splitByTag ?? redis instanceof Cluster;
  }

  async charge(charges: readonly StoreCharge[]): Promise<StoreResult> {
    if (!this.cluster) return this.run(charges);
    const groups = new Map<string, number[]>();
    charges.forEach((c, i) => {
      const g = groups.get(c.tag);
      if (g) g.push(i);
      else groups.set(c.tag, [i]);
    });
    if (groups.size === 1) return this.run(charges);
    const parts = [...groups.values()];
    const results = await Promise.all(parts.map((idx) => this.run(idx.map((i) => charges[i]))));
    const states: StoreResult['states'] = new Array(charges.length);
    parts.forEach((idx, g) => idx.forEach((i, j) => (states[i] = results[g].states[j])));
    const allowed = results.every((r) => r.allowed);
    if (!allowed) {
      const refunds = parts.filter((_, g) => results[g].allowed).map((idx) => idx.map((i) => charges[i]).filter((c) => c.cost > 0));
      await Promise.all(refunds.filter((cs) => cs.length).map((cs) => runScript(this.redis, 'rateLimit', cs.map((c) => c.key), ['refund', ...argsOf(cs)])));
    }
    return { allowed, states };
  }

  private async run(charges: readonly StoreCharge[]): Promise<StoreResult> {
    const out = await runScript<number[]>(this.redis, 'rateLimit', charges.map((c) => c.key), ['charge', ...argsOf(charges)]);
    const states = charges.map((_, i) => ({ remaining: out[1 + i * 3], resetMs: out[2 + i * 3], retryMs: out[3 + i * 3] }));
    return { allowed: out[0] === 1, states };
  }
}
