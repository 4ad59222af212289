/**
 * Leases: points of a busy rate-limit key that one instance takes from Redis ahead of its
 * requests, so that the next requests of that key are charged in memory, without a round trip
 * (docs/rate-limits.md, "Leases").
 *
 * - Nothing is admitted that Redis did not charge: a lease's points are charged in Redis (on top
 *   of a request's own charge, by the same script, all or nothing; or by a refill, which charges
 *   no request) before any of them is spent, so no client passes its limit, however many
 *   instances serve it.
 * - A lease below half of what it was granted with is refilled behind the request that took it
 *   there (store.ts's `refill`): no request waits for a refill unless the lease runs dry first.
 * - What is relaxed is the other side: points one instance holds are missing to the others until
 *   they are spent or given back. A lease holds at most `maxPoints` and 1/16 of the policy's burst,
 *   and lives `ttlMs` (at most a second): then its unspent points go back to Redis.
 * - Only busy keys lease: {@link HOT} charges of the key on this instance within one lease
 *   lifetime (16 a second with the default 250 ms). A client below that is charged exactly,
 *   request by request, as without leases. Charges with a waiver (the sign-in budgets) and
 *   policies of fewer than 32 burst points are never leased.
 * - An admin's block drops (and gives back) every lease on every instance over pub/sub; the
 *   lease lifetime bounds a missed message.
 */

/** What a lease reads of a charge (store.ts's StoreCharge). */
export interface LeaseCharge {
  readonly key: string;
  /** The `{...}` hash tag inside `key`. */
  readonly tag: string;
  readonly cost: number;
  readonly interval: number;
  readonly capacity: number;
  readonly waiver?: object;
}

/** A charge's state after a decision: points left, ms until full, ms until it would pass. */
export interface ChargeState {
  remaining: number;
  resetMs: number;
  retryMs: number;
}

/** A decision as the store answers it. */
export interface Decision {
  allowed: boolean;
  /** > 0: a block key of the caller holds this many more ms; then nothing was charged. */
  blockedMs: number;
  /** Per charge, in order. */
  states: ChargeState[];
}

/** Charges of one key on this instance within one lease lifetime before it leases. */
export const HOT = 4;
/** A lease holds at most this fraction of a policy's burst. */
export const LEASE_SHARE = 16;
/** A lease down to 1/REFILL_AT of the points it had when granted is refilled, one round trip ahead of running out, with no request waiting. */
const REFILL_AT = 2;
/** The script's tolerance for TATs rounded to 1 µs (includes/chargeRequest.lua). */
const EPS = 0.01;
/** Keys followed at once (busy counts, leases): past it, new keys are charged exactly. */
const MAX_KEYS = 10_000;

export interface LeaseSettings {
  /** RATE_LIMIT_LEASE: most points one lease holds; 0 turns leases off (every charge exact). */
  maxPoints: number;
  /** RATE_LIMIT_LEASE_TTL: how long a lease lives before its unspent points go back (ms). */
  ttlMs: number;
}

interface Lease {
  tag: string;
  /** Unspent points. */
  points: number;
  interval: number;
  capacity: number;
  /** Ms until the client's bucket is full (leased points count as not spent), as of `at`, plus what was spent here since. */
  resetMs: number;
  at: number;
  expires: number;
  /** Charges spent from it since the last sweep (busy counts for the next lease's size). */
  hits: number;
  /** Below this many points, a refill is asked for in the background while requests spend the rest. */
  low: number;
}

/** A lease that may be spent for `c` at `now`: not lapsed, and taken under the policy values `c` is charged with. */
const inForce = (l: Lease, c: LeaseCharge, now: number): boolean => l.expires > now && l.interval === c.interval && l.capacity === c.capacity;

/** Points to lease for a key charged `seen` times since the last sweep: that many twice over, within the cap, counting what is `held`. */
const leaseSize = (cap: number, held: number, seen: number): number => Math.min(cap - held, 2 * seen);

const plainState = (_c: LeaseCharge, remaining: number, resetMs: number): ChargeState => ({ remaining, resetMs, retryMs: 0 });

/** What a refund needs of a key: its name, slot tag, the points and their interval. */
export type Refund = Pick<LeaseCharge, 'key' | 'tag' | 'cost' | 'interval'>;

export class LocalLeases {
  private readonly leases = new Map<string, Lease>();
  /** Charges sent to Redis per key since the last sweep. */
  private readonly busy = new Map<string, number>();
  /** Keys with a lease asked for and not yet answered (one at a time per key), and when the answer is in. */
  private readonly asking = new Map<string, { answered: Promise<void>; answer(): void; epoch: number }>();
  /** Goes up with each {@link dropAll}: a lease asked for before it is given back on arrival, not kept. */
  private epoch = 0;
  private timer: NodeJS.Timeout | null = null;
  /** Requests answered from leases, leases granted, points given back, requests that waited for a lease on its way (tests, the benchmark, metrics). */
  readonly counts = { local: 0, granted: 0, returned: 0, waited: 0 };

  constructor(
    private readonly settings: LeaseSettings,
    /** Gives unspent points back to Redis (grouped by slot by the caller). */
    private readonly giveBack: (refunds: Refund[]) => Promise<void>,
    private readonly onError: (err: unknown) => void = () => undefined,
  ) {}

  get enabled(): boolean {
    return this.settings.maxPoints > 0;
  }

  /**
   * Charges a request from this instance's leases when every key it charges holds enough leased
   * points (and no charge carries a waiver); null when any does not, and nothing is spent.
   * `refill` is true when a lease it spent from ran low with no refill asked for yet: the caller
   * asks for one ({@link refills}) without making the request wait.
   */
  take(charges: readonly LeaseCharge[], now?: number): (Decision & { refill: boolean }) | null;
  /** The same, each state made by `state` (a caller's own shape, made once rather than copied). */
  take<C extends LeaseCharge, S>(
    charges: readonly C[],
    now: number,
    state: (c: C, remaining: number, resetMs: number) => S,
  ): { allowed: true; blockedMs: 0; states: S[]; refill: boolean } | null;
  take<C extends LeaseCharge, S>(
    charges: readonly C[],
    now = Date.now(),
    state: (c: C, remaining: number, resetMs: number) => S | ChargeState = plainState,
  ): { allowed: true; blockedMs: 0; states: Array<S | ChargeState>; refill: boolean } | null {
    if (this.leases.size === 0) return null;
    for (const c of charges) {
      const l = this.leases.get(c.key);
      if (!l || !inForce(l, c, now) || c.waiver || l.points < c.cost) return null;
    }
    let refill = false;
    const states = new Array<S | ChargeState>(charges.length);
    for (let i = 0; i < charges.length; i++) {
      const c = charges[i];
      const l = this.leases.get(c.key)!;
      // Spent here, counted as busy all the same: the next lease is sized by the whole demand.
      l.hits++;
      l.points -= c.cost;
      l.resetMs += c.cost * c.interval;
      // As the script would report it now: the bucket refills while the lease is spent.
      const reset = Math.max(0, l.resetMs - (now - l.at));
      states[i] = state(c, Math.max(0, Math.floor((c.capacity - reset) / c.interval + EPS)), Math.ceil(reset - EPS));
      if (l.points < l.low && !this.asking.has(c.key)) refill = true;
    }
    this.counts.local++;
    return { allowed: true, blockedMs: 0, states, refill };
  }

  /**
   * Points to top up each lease of `charges` that ran low (below half of what it was granted with)
   * with no refill asked for yet (0: none; null: none at all); each one asked for is noted, so the
   * requests that run a lease dry meanwhile wait for it ({@link arriving}) and no second is asked.
   * The caller charges them in Redis with a cost of 0 and gives the answer to {@link granted}.
   */
  refills(charges: readonly LeaseCharge[], now = Date.now()): number[] | null {
    let out: number[] | null = null;
    for (let i = 0; i < charges.length; i++) {
      const c = charges[i];
      const l = this.leases.get(c.key);
      if (!l || l.points >= l.low || this.asking.has(c.key) || !inForce(l, c, now)) continue;
      const want = leaseSize(this.capOf(c), l.points, (this.busy.get(c.key) ?? 0) + l.hits);
      if (want <= 0) continue;
      this.ask(c.key);
      (out ??= new Array<number>(charges.length).fill(0))[i] = want;
    }
    return out;
  }

  /** The most points one lease of `c`'s key may hold. */
  private capOf(c: LeaseCharge): number {
    return Math.min(this.settings.maxPoints, Math.floor(Math.round(c.capacity / c.interval) / LEASE_SHARE));
  }

  /** Notes a lease asked for `key`, answered (for the requests waiting on it) by {@link granted}. */
  private ask(key: string): void {
    let answer!: () => void;
    const answered = new Promise<void>((resolve) => (answer = resolve));
    this.asking.set(key, { answered, answer, epoch: this.epoch });
  }

  /**
   * When a lease is on its way for one of the keys of a request that {@link take} could not charge:
   * the request waits for it (it would wait as long for its own round trip) and tries again, so a
   * wave of requests shares one lease rather than each going to Redis. Null when none is.
   */
  arriving(charges: readonly LeaseCharge[]): Promise<void> | null {
    if (this.asking.size === 0) return null;
    for (const c of charges) {
      const a = this.asking.get(c.key);
      if (a) return a.answered;
    }
    return null;
  }

  /**
   * Points to lease with each charge of a request that goes to Redis (0: none): a busy key with no
   * lease of enough points and none asked for yet, of a policy large enough.
   */
  wanted(charges: readonly LeaseCharge[]): number[] {
    if (!this.enabled) return charges.map(() => 0);
    return charges.map((c) => {
      if (c.cost <= 0 || c.waiver) return 0;
      const sent = (this.busy.get(c.key) ?? 0) + 1;
      if (sent > 1 || this.busy.size < MAX_KEYS) this.busy.set(c.key, sent);
      const l = this.leases.get(c.key);
      const seen = sent + (l?.hits ?? 0);
      if (seen < HOT || this.asking.has(c.key)) return 0;
      const cap = this.capOf(c);
      if (cap < 2) return 0;
      // A lease still in force is topped up to the cap at most: what it holds now counts (granted carries it over).
      const live = l !== undefined && inForce(l, c, Date.now());
      const held = live ? l.points : 0;
      if (live && held - c.cost >= l.low) return 0;
      if (!l && this.leases.size >= MAX_KEYS) return 0;
      const want = leaseSize(cap, held, seen);
      if (want <= 0) return 0;
      this.ask(c.key);
      return want;
    });
  }

  /**
   * Keeps what Redis leased with a request (`leased[i]` points for charge i); forgets the askings
   * either way. Returns, per charge, the points of a lease still in force that the new one carries
   * over (a refill): Redis counts them as spent, the client can still spend them.
   */
  granted(charges: readonly LeaseCharge[], wanted: readonly number[], result: Decision | null, leased: readonly number[], now = Date.now()): number[] {
    const held = new Array<number>(charges.length).fill(0);
    charges.forEach((c, i) => {
      if (!wanted[i]) return;
      const a = this.asking.get(c.key);
      this.asking.delete(c.key);
      // Waiters try again once the lease is kept (below, in this same turn).
      a?.answer();
      const points = result?.allowed ? (leased[i] ?? 0) : 0;
      if (points <= 0) return;
      if (a?.epoch !== this.epoch) {
        // Asked for before a block dropped every lease: its script may have run before the block was written.
        void this.returnPoints([{ key: c.key, tag: c.tag, cost: points, interval: c.interval }]);
        return;
      }
      const state = result!.states[i];
      const old = this.leases.get(c.key);
      let carried = 0;
      if (old && inForce(old, c, now)) carried = old.points;
      else if (old) void this.returnPoints([{ key: c.key, tag: old.tag, cost: old.points, interval: old.interval }]);
      this.leases.set(c.key, {
        tag: c.tag,
        points: points + carried,
        low: Math.ceil((points + carried) / REFILL_AT),
        interval: c.interval,
        capacity: c.capacity,
        // The script counts the new points as not yet spent, and the carried ones as spent: count both as not yet spent.
        resetMs: state.resetMs - carried * c.interval,
        at: now,
        expires: now + this.settings.ttlMs,
        hits: old ? old.hits : 0,
      });
      this.counts.granted++;
      held[i] = carried;
    });
    return held;
  }

  /** Starts the sweep that gives back expired leases' points and forgets which keys were busy. */
  start(): void {
    if (!this.enabled || this.timer) return;
    this.timer = setInterval(() => this.sweep(), this.settings.ttlMs);
    this.timer.unref();
  }

  /** Gives back every lease (shutting down). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.dropAll();
  }

  /**
   * Gives back every lease (an admin blocked someone: a lease is charged without reading block keys,
   * and a user's request may be leased under its address's key or not at all, so all go).
   */
  async dropAll(): Promise<void> {
    this.epoch++;
    await this.drop(() => true);
  }

  /** Gives back expired leases and starts a new count of busy keys. */
  sweep(now = Date.now()): void {
    this.busy.clear();
    for (const l of this.leases.values()) l.hits = 0;
    void this.drop((l) => l.expires <= now);
  }

  private async drop(which: (l: Lease) => boolean): Promise<void> {
    const refunds: Refund[] = [];
    for (const [key, l] of this.leases) {
      if (!which(l)) continue;
      this.leases.delete(key);
      if (l.points > 0) refunds.push({ key, tag: l.tag, cost: l.points, interval: l.interval });
    }
    await this.returnPoints(refunds);
  }

  private async returnPoints(refunds: Refund[]): Promise<void> {
    if (refunds.length === 0) return;
    try {
      await this.giveBack(refunds);
      for (const r of refunds) this.counts.returned += r.cost;
    } catch (err) {
      // Unspent points that cannot go back refill on their own within the policy's window.
      this.onError(err);
    }
  }
}
