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
 * Before charging, the script checks the caller's block keys (an admin's `blockClient`, under
 * each blocked identity's own tag): a blocked caller is refused and charged nothing.
 *
 * A charge may carry a waiver: it is neither charged nor refunded when the
 * named sorted set (in the charge's own slot) holds the member with an expiry
 * still ahead. The per-email sign-in ceiling uses it to spare the addresses an
 * account signed in from.
 *
 * Requests that reach the limiter in the same turn of the event loop share one script call
 * (`rateLimitBatch-n.lua`, at most {@link BATCH_MAX}; on a Cluster, only those of one slot):
 * each is still charged all or nothing, in order, as separate calls would, so limits stay exact
 * across instances, while the client-side cost of a command (building it, the socket write,
 * parsing the reply) and Redis's per-call cost are paid once per batch instead of once per
 * request. A lone request waits for nothing: it goes at the end of the turn it arrived in.
 *
 * A busy key may be leased (leases.ts): the script charges some points ahead for this instance
 * with a request's own, and the key's next requests are charged from them in memory, without a
 * round trip, until they run out or the lease lapses and gives the rest back.
 */
import { Cluster } from 'ioredis';
import type { RedisClient } from '../../redis/connection';
import { runScript } from '../../redis/scripts';
import { LocalLeases, type Decision, type LeaseSettings, type Refund } from './leases';

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
  /** Points to lease ahead for this instance on top of `cost`, as many as fit (set by the store). */
  lease?: number;
}

/** What the store decided: allowed, blocked, and each charge's state. */
export type StoreResult = Decision;

/** A block key the script checks before charging (see `RateLimitBlocks`), in the slot of `tag`. */
export interface BlockCheck {
  key: string;
  tag: string;
}

/** A script's answer for one request: its result, and the points leased with each charge. */
interface Reply extends StoreResult {
  leased: number[];
}

/** KEYS and ARGV of `rateLimit-n.lua`: the charged keys, the block keys, then the sets their waivers name. */
function scriptInput(
  mode: 'charge' | 'refund',
  cs: readonly (Refund & Partial<StoreCharge>)[],
  blocks: readonly BlockCheck[] = [],
): { keys: string[]; args: Array<string | number> } {
  const keys = [...cs.map((c) => c.key), ...blocks.map((b) => b.key)];
  const fixed = keys.length;
  const args: Array<string | number> = [mode, blocks.length];
  for (const c of cs) {
    // Lua's 1-based index of the waiver's set among KEYS, each set listed once after the charged and block keys.
    let set = 0;
    if (c.waiver) {
      const at = keys.indexOf(c.waiver.set, fixed);
      set = at >= 0 ? at + 1 : keys.push(c.waiver.set);
    }
    // A refund reads only the cost and interval.
    args.push(c.cost, c.interval, c.capacity ?? 0, c.oversize ? '1' : '0', set, c.waiver?.member ?? '', c.lease ?? 0);
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

/** Most requests in one batched script call (its Redis time stays well under a millisecond). */
export const BATCH_MAX = 64;

/** Most keys given back in one refund call. */
const REFUND_MAX = 128;

interface Pending {
  charges: readonly StoreCharge[];
  blocks: readonly BlockCheck[];
  resolve(r: Reply): void;
  reject(err: unknown): void;
}

export class RedisLimiterStore {
  private readonly cluster: boolean;
  /** Charges waiting for the end of this turn of the event loop, by slot tag ('' on a single Redis). */
  private readonly pending = new Map<string, Pending[]>();
  private flushing = false;
  /** Script calls made and requests they carried (for the benchmark and tests). */
  readonly batches = { calls: 0, requests: 0 };
  /** Points of busy keys held by this instance (off unless `leases` is given with points). */
  readonly leases: LocalLeases;

  constructor(
    private readonly redis: RedisClient,
    /** Forces per-tag grouping on a single Redis (tests of the Cluster path). */
    splitByTag?: boolean,
    leases: LeaseSettings = { maxPoints: 0, ttlMs: 250 },
    /** Told of what failed in the background: a lease given back or refilled. */
    private readonly onError: (err: unknown) => void = () => undefined,
  ) {
    this.cluster = splitByTag ?? redis instanceof Cluster;
    this.leases = new LocalLeases(leases, (refunds) => this.giveBack(refunds), onError);
  }

  /**
   * Charges every key, all or nothing, unless one of `blocks` exists (an admin's block of the
   * caller): then nothing is charged and `blockedMs` says how long the block lasts. A request
   * whose every key holds enough leased points is charged from them, in memory.
   */
  async charge(charges: readonly StoreCharge[], blocks: readonly BlockCheck[] = []): Promise<StoreResult> {
    let local = this.leases.take(charges);
    if (local) return this.spent(local, charges, blocks);
    const arriving = this.leases.arriving(charges);
    if (arriving) {
      this.leases.counts.waited++;
      await arriving;
      if ((local = this.leases.take(charges))) return this.spent(local, charges, blocks);
    }
    const wanted = this.leases.wanted(charges);
    if (!wanted.some((w) => w > 0)) return strip(await this.exact(charges, blocks));
    let reply: Reply;
    try {
      reply = await this.exact(
        charges.map((c, i) => (wanted[i] ? { ...c, lease: wanted[i] } : c)),
        blocks,
      );
    } catch (err) {
      this.leases.granted(charges, wanted, null, []);
      throw err;
    }
    const held = this.leases.granted(charges, wanted, reply, reply.leased);
    const result = strip(reply);
    // A refill: the points the old lease still holds are the client's to spend, though Redis counts them as spent.
    held.forEach((points, i) => {
      if (points <= 0) return;
      const s = result.states[i];
      result.states[i] = { ...s, remaining: s.remaining + points, resetMs: Math.max(0, s.resetMs - points * charges[i].interval) };
    });
    return result;
  }

  /** A request charged from leases: a lease that ran low is refilled behind it. */
  private spent(local: StoreResult & { refill: boolean }, charges: readonly StoreCharge[], blocks: readonly BlockCheck[]): StoreResult {
    if (local.refill) this.refill(charges, blocks);
    return { allowed: local.allowed, blockedMs: local.blockedMs, states: local.states };
  }

  /**
   * Tops up the leases of `charges` that ran low ({@link LocalLeases.refills}), with no request
   * waiting: their points are charged in Redis (a cost of 0 with a lease, checking the caller's
   * block keys, in this turn's batch) before they are added. Nothing is added when the bucket has
   * no room, the caller is blocked or Redis fails; the lease then runs dry and requests go to Redis.
   */
  refill(charges: readonly StoreCharge[], blocks: readonly BlockCheck[]): void {
    const wanted = this.leases.refills(charges);
    if (!wanted) return;
    const keys: StoreCharge[] = [];
    const want: number[] = [];
    charges.forEach((c, i) => {
      if (wanted[i] <= 0) return;
      keys.push({ ...c, cost: 0, lease: wanted[i] });
      want.push(wanted[i]);
    });
    this.exact(keys, blocks).then(
      (reply) => void this.leases.granted(keys, want, reply, reply.leased),
      (err: unknown) => {
        this.leases.granted(keys, want, null, []);
        this.onError(err);
      },
    );
  }

  /** Charges in Redis: one script call on a single Redis, one per slot on a Cluster. */
  private async exact(charges: readonly StoreCharge[], blocks: readonly BlockCheck[]): Promise<Reply> {
    if (!this.cluster) return this.run(charges, blocks);
    const groups = new Map<string, { charges: number[]; blocks: BlockCheck[] }>();
    const group = (tag: string): { charges: number[]; blocks: BlockCheck[] } => {
      let g = groups.get(tag);
      if (!g) groups.set(tag, (g = { charges: [], blocks: [] }));
      return g;
    };
    charges.forEach((c, i) => group(c.tag).charges.push(i));
    // A block in a slot no charge uses (an address block of a signed-in caller with RATE_LIMIT_PER_ADDRESS=off) gets a call of its own.
    for (const b of blocks) group(b.tag).blocks.push(b);
    if (groups.size === 1) return this.run(charges, blocks);
    const parts = [...groups.values()];
    const results = await Promise.all(
      parts.map((p) =>
        this.run(
          p.charges.map((i) => charges[i]),
          p.blocks,
        ),
      ),
    );
    const states = new Array<StoreResult['states'][number]>(charges.length);
    const leased = new Array<number>(charges.length).fill(0);
    parts.forEach((p, g) =>
      p.charges.forEach((i, j) => {
        states[i] = results[g].states[j];
        leased[i] = results[g].leased[j];
      }),
    );
    const allowed = results.every((r) => r.allowed);
    if (!allowed) {
      // The slots that charged give back what they took, leased points included.
      const refunds = parts
        .filter((_, g) => results[g].allowed)
        .map((p) => p.charges.map((i) => ({ ...charges[i], cost: charges[i].cost + leased[i] })).filter((c) => c.cost > 0));
      await Promise.all(refunds.filter((cs) => cs.length).map((cs) => this.refund(cs)));
      leased.fill(0);
    }
    return { allowed, blockedMs: Math.max(0, ...results.map((r) => r.blockedMs)), states, leased };
  }

  /**
   * Books a successful sign-in: one script call on a single Redis, one per slot (in parallel) on a
   * Cluster. `member` is the address digest remembered in the `remember` key for `ttlMs`, at most
   * `max` per email.
   */
  async bookSignIn(ops: readonly SignInBooking[], member: string, ttlMs: number, max: number): Promise<void> {
    await Promise.all(
      this.bySlot(ops).map((g) =>
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
  async refund(charges: readonly Refund[]): Promise<void> {
    const { keys, args } = scriptInput('refund', charges);
    await runScript(this.redis, 'rateLimit', keys, args);
  }

  /** Gives back unspent leased points: calls of at most {@link REFUND_MAX} keys, one slot each on a Cluster. */
  private async giveBack(refunds: readonly Refund[]): Promise<void> {
    const calls: Refund[][] = [];
    for (const g of this.bySlot(refunds)) for (let i = 0; i < g.length; i += REFUND_MAX) calls.push(g.slice(i, i + REFUND_MAX));
    await Promise.all(calls.map((c) => this.refund(c)));
  }

  /** Items grouped by their slot's hash tag for one script call each: on a single Redis, all in one group. */
  private bySlot<T extends { tag: string }>(items: readonly T[]): T[][] {
    if (!this.cluster) return items.length ? [[...items]] : [];
    const groups = new Map<string, T[]>();
    for (const item of items) {
      let g = groups.get(item.tag);
      if (!g) groups.set(item.tag, (g = []));
      g.push(item);
    }
    return [...groups.values()];
  }

  /** Queues one request's charges (all in one slot) for this turn's batch. */
  private run(charges: readonly StoreCharge[], blocks: readonly BlockCheck[]): Promise<Reply> {
    const tag = this.cluster ? (charges[0]?.tag ?? blocks[0]?.tag ?? '') : '';
    return new Promise<Reply>((resolve, reject) => {
      let queue = this.pending.get(tag);
      if (!queue) this.pending.set(tag, (queue = []));
      queue.push({ charges, blocks, resolve, reject });
      if (!this.flushing) {
        this.flushing = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.flushing = false;
    const queues = [...this.pending.values()];
    this.pending.clear();
    for (const queue of queues) {
      for (let i = 0; i < queue.length; i += BATCH_MAX) {
        const batch = queue.slice(i, i + BATCH_MAX);
        (batch.length === 1 ? this.runOne(batch[0]) : this.runBatch(batch)).catch((err: unknown) => {
          for (const p of batch) p.reject(err);
        });
      }
    }
  }

  private async runOne(p: Pending): Promise<void> {
    const { keys, args } = scriptInput('charge', p.charges, p.blocks);
    this.batches.calls++;
    this.batches.requests++;
    const out = await runScript<number[]>(this.redis, 'rateLimit', keys, args);
    p.resolve(toResult(p.charges, out, 0));
  }

  private async runBatch(batch: Pending[]): Promise<void> {
    const keys: string[] = [];
    const args: Array<string | number> = [batch.length];
    for (const p of batch) {
      const one = scriptInput('charge', p.charges, p.blocks);
      // scriptInput's args are [mode, b, 7 per charge]: the batch wants [n, b, k, 7 per charge].
      args.push(p.charges.length, p.blocks.length, one.keys.length, ...one.args.slice(2));
      keys.push(...one.keys);
    }
    this.batches.calls++;
    this.batches.requests += batch.length;
    const out = await runScript<number[]>(this.redis, 'rateLimitBatch', keys, args);
    let at = 0;
    for (const p of batch) {
      const len = out[at];
      p.resolve(toResult(p.charges, out, at + 1));
      at += 1 + len;
    }
  }
}

/** One request's result from a script reply whose `chargeRequest` part starts at `at` (4 values per charge). */
function toResult(charges: readonly StoreCharge[], out: number[], at: number): Reply {
  const blockedMs = out[at + 1] ?? 0;
  // A blocked caller's reply carries no states: nothing was read or charged.
  const states = charges.map((_, i) =>
    blockedMs > 0
      ? { remaining: 0, resetMs: 0, retryMs: blockedMs }
      : { remaining: out[at + 2 + i * 4], resetMs: out[at + 3 + i * 4], retryMs: out[at + 4 + i * 4] },
  );
  const leased = charges.map((_, i) => (blockedMs > 0 ? 0 : out[at + 5 + i * 4]));
  return { allowed: out[at] === 1, blockedMs, states, leased };
}

/** The result without the leased points, which only the store keeps. */
const strip = ({ allowed, blockedMs, states }: Reply): StoreResult => ({ allowed, blockedMs, states });
