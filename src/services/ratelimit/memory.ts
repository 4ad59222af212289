/**
 * The same GCRA as `rateLimit-n.lua`, in process memory: the stand-in for
 * fail-open policies while Redis is unreachable. Each instance counts on its
 * own then, so N instances admit up to N times a limit. Bounded: expired
 * entries are swept, and past {@link MAX_ENTRIES} the oldest are dropped.
 */
import type { StoreCharge, StoreResult } from './store';

const MAX_ENTRIES = 100_000;
const EPS = 0.01;
/** Whole ms up, ignoring float dust (3 x 333.33… is 1000, not 1001). */
const ceilMs = (ms: number): number => Math.ceil(ms - EPS);

export class MemoryLimiter {
  private readonly tats = new Map<string, number>();

  /** All or nothing, like the script. */
  charge(charges: readonly StoreCharge[], now = Date.now()): StoreResult {
    let allowed = true;
    const states = charges.map((c) => {
      const tat = Math.max(this.tats.get(c.key) ?? 0, now);
      const newTat = tat + c.cost * c.interval;
      const oversize = c.cost * c.interval > c.capacity + EPS;
      const fits = newTat - now <= c.capacity + EPS || (oversize && c.oversize && tat - now <= EPS);
      const pass = c.cost === 0 || fits;
      if (!pass) allowed = false;
      const retryMs = pass ? 0 : Math.max(1, ceilMs(oversize ? tat - now : newTat - c.capacity - now));
      return { c, tat, newTat, retryMs };
    });
    if (allowed) for (const s of states) if (s.c.cost > 0) this.set(s.c.key, s.newTat);
    return {
      allowed,
      // Blocks live in Redis only: while it is unreachable they are not seen (docs/rate-limits.md).
      blockedMs: 0,
      states: states.map(({ c, tat, newTat, retryMs }) => {
        const used = allowed && c.cost > 0 ? newTat : tat;
        return { remaining: Math.max(0, Math.floor((c.capacity - (used - now)) / c.interval + EPS)), resetMs: ceilMs(used - now), retryMs };
      }),
    };
  }

  get size(): number {
    return this.tats.size;
  }

  private set(key: string, tat: number): void {
    this.tats.delete(key);
    this.tats.set(key, tat);
    if (this.tats.size <= MAX_ENTRIES) return;
    const now = Date.now();
    for (const [k, v] of this.tats) if (v <= now) this.tats.delete(k);
    // Map iteration is insertion order: the first entries are the least recently charged.
    for (const k of this.tats.keys()) {
      if (this.tats.size <= MAX_ENTRIES * 0.9) break;
      this.tats.delete(k);
    }
  }
}
