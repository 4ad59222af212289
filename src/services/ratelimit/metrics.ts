/** prom-client instruments of the rate limiter, registered on the app's registry (served at /metrics). */
import { Counter, type Registry } from 'prom-client';

export class RateLimitMetrics {
  private readonly decisions: Counter<'policy' | 'outcome'>;
  private readonly points: Counter<'policy'>;
  private readonly storeDownTotal: Counter<'fallback'>;
  private readonly dropped: Counter;
  private readonly passwordChecks: Counter<'outcome'>;

  constructor(private readonly registry: Registry) {
    const settle = (): void => this.settle();
    this.decisions = new Counter({
      name: 'rate_limit_decisions_total',
      help: 'Rate-limit decisions per policy: allowed or refused',
      labelNames: ['policy', 'outcome'] as const,
      registers: [registry],
      collect: settle,
    });
    this.points = new Counter({
      name: 'rate_limit_points_total',
      help: 'Points charged per policy on allowed requests',
      labelNames: ['policy'] as const,
      registers: [registry],
      collect: settle,
    });
    this.storeDownTotal = new Counter({
      name: 'rate_limit_store_unavailable_total',
      help: 'Decisions made while Redis was unreachable: by the memory limiter (fail open) or refused (fail closed)',
      labelNames: ['fallback'] as const,
      registers: [registry],
    });
    this.dropped = new Counter({
      name: 'rate_limit_events_dropped_total',
      help: 'Rejection events not published because of the per-instance event cap',
      registers: [registry],
    });
    this.passwordChecks = new Counter({
      name: 'login_password_checks_total',
      help: 'Passwords checked by login (each one scrypt hash), by outcome: what sign-in throttling let through',
      labelNames: ['outcome'] as const,
      registers: [registry],
    });
  }

  /**
   * Allowed decisions and points per policy since the last scrape: plain numbers on the request path
   * (a prom-client increment hashes its labels each time), added to the counters when they are read.
   */
  private readonly pending = new Map<string, { allowed: number; points: number }>();

  allowed(policy: string, points: number): void {
    let p = this.pending.get(policy);
    if (!p) this.pending.set(policy, (p = { allowed: 0, points: 0 }));
    p.allowed++;
    p.points += points;
  }

  /** Adds the pending counts to the counters (before each scrape). */
  private settle(): void {
    for (const [policy, p] of this.pending) {
      if (p.allowed) this.decisions.inc({ policy, outcome: 'allowed' }, p.allowed);
      if (p.points) this.points.inc({ policy }, p.points);
      p.allowed = p.points = 0;
    }
  }

  refused(policy: string): void {
    this.decisions.inc({ policy, outcome: 'refused' });
  }

  storeDown(fallback: 'memory' | 'closed'): void {
    this.storeDownTotal.inc({ fallback });
  }

  passwordChecked(match: boolean): void {
    this.passwordChecks.inc({ outcome: match ? 'match' : 'mismatch' });
  }

  eventDropped(): void {
    this.dropped.inc();
  }

  /** Counters of the leases of busy keys (leases.ts), read from `counts` at each scrape. */
  leases(counts: () => { local: number; granted: number; returned: number; waited: number }): void {
    const counter = (name: string, help: string, of: 'local' | 'granted' | 'returned' | 'waited'): void => {
      new Counter({
        name,
        help,
        registers: [this.registry],
        collect() {
          this.reset();
          this.inc(counts()[of]);
        },
      });
    };
    counter('rate_limit_lease_charges_total', 'Requests charged from points this instance leased ahead, without a round trip', 'local');
    counter('rate_limit_leases_total', 'Leases of busy rate-limit keys granted to this instance', 'granted');
    counter('rate_limit_lease_points_returned_total', 'Leased points given back unspent (a lease lapsed, a block, shutdown)', 'returned');
    counter('rate_limit_lease_waits_total', 'Requests that waited for a lease on its way (its key ran out before the refill came back)', 'waited');
  }
}
