/**
 * Runs `rateLimit-n.lua` for one request. On a single Redis (or Sentinel) every
 * key goes into one script call: one round trip. On a Cluster a script may only
 * touch one slot, so keys are grouped by hash tag and the groups run in
 * parallel; when one group refuses, the groups that charged are refunded (a
 * second round trip, only on that refusal). Two tags happen for `login` (its
 * per-email keys cannot share a slot with the caller's address keys without
 * letting one of the two limits be dodged) and for every signed-in request
 * (the user's default key and the address's per-address key).
 *
 * A charge may carry a waiver: it is neither charged nor refunded when the
 * named sorted set (in the charge's own slot) holds the member with an expiry
 * still ahead. The per-email sign-in ceiling uses it to spare the addresses an
 * account signed in from.
 */
import { Cluster } from 'ioredis';
import type { RedisClient } from '../../redis/connection';
import { runScript } from '../../redis/scripts';

export interface StoreCharge {
  key: string;
  /** The `{...}` hash tag inside `key`. */
  tag: string;
  cost: number;
  interval: number;
  capacity: number;
  oversize: boolean;
  /** Waived when `set` (a key of this charge's slot) holds `member` with an expiry ahead. */
  waiver?: { set: string; member: string };
}

export interface StoreResult {
  allowed: boolean;
  /** Per charge, in order. */
  states: Array<{ remaining: number; resetMs: number; retryMs: number }>;
}

/** KEYS and ARGV of `rateLimit-n.lua`: the charged keys, then the sets their waivers name. */
function scriptInput(mode: 'charge' | 'refund', cs: readonly StoreCharge[]): { keys: string[]; args: Array<string | number> } {
  const keys = cs.map((c) => c.key);
  const args: Array<string | number> = [mode];
  for (const c of cs) {
    // Lua's 1-based index of the waiver's set among KEYS, each set listed once after the charged keys.
    let set = 0;
    if (c.waiver) {
      const at = keys.indexOf(c.waiver.set, cs.length);
      set = at >= 0 ? at + 1 : keys.push(c.waiver.set);
    }
    args.push(c.cost, c.interval, c.capacity, c.oversize ? '1' : '0', set, c.waiver?.member ?? '');
  }
  return { keys, args };
}

/** One key of a successful sign-in's booking (see `signInSucceeded-n.lua`). */
export interface SignInBooking {
  key: string;
  tag: string;
  action: 'remember' | 'reset' | 'refund' | 'refund-if-unknown';
  /** ms per point, for refunds. */
  interval: number;
}

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
    const states = new Array<StoreResult['states'][number]>(charges.length);
    parts.forEach((idx, g) => idx.forEach((i, j) => (states[i] = results[g].states[j])));
    const allowed = results.every((r) => r.allowed);
    if (!allowed) {
      const refunds = parts.filter((_, g) => results[g].allowed).map((idx) => idx.map((i) => charges[i]).filter((c) => c.cost > 0));
      await Promise.all(refunds.filter((cs) => cs.length).map((cs) => this.refund(cs)));
    }
    return { allowed, states };
  }

  /**
   * Books a successful sign-in: one script call on a single Redis, one per slot (in parallel) on a
   * Cluster. `member` is the address digest remembered in the `remember` key for `ttlMs`, at most
   * `max` per email.
   */
  async bookSignIn(ops: readonly SignInBooking[], member: string, ttlMs: number, max: number): Promise<void> {
    const groups = new Map<string, SignInBooking[]>();
    for (const op of ops) {
      const tag = this.cluster ? op.tag : '';
      groups.set(tag, [...(groups.get(tag) ?? []), op]);
    }
    await Promise.all(
      [...groups.values()].map((g) =>
        runScript(
          this.redis,
          'signInSucceeded',
          g.map((o) => o.key),
          [member, ttlMs, max, ...g.flatMap((o) => [o.action, o.interval])],
        ),
      ),
    );
  }

  /** Gives back charges taken earlier (all of one slot on a Cluster); waived ones were not taken and are skipped. */
  async refund(charges: readonly StoreCharge[]): Promise<void> {
    const { keys, args } = scriptInput('refund', charges);
    await runScript(this.redis, 'rateLimit', keys, args);
  }

  private async run(charges: readonly StoreCharge[]): Promise<StoreResult> {
    const { keys, args } = scriptInput('charge', charges);
    const out = await runScript<number[]>(this.redis, 'rateLimit', keys, args);
    const states = charges.map((_, i) => ({ remaining: out[1 + i * 3], resetMs: out[2 + i * 3], retryMs: out[3 + i * 3] }));
    return { allowed: out[0] === 1, states };
  }
}
