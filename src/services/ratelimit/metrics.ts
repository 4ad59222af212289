/** prom-client instruments of the rate limiter, registered on the app's registry (served at /metrics). */
import { Counter, type Registry } from 'prom-client';

export class RateLimitMetrics {
  private readonly decisions: Counter<'policy' | 'outcome'>;
  private readonly points: Counter<'policy'>;
  private readonly storeDownTotal: Counter<'fallback'>;
  private readonly dropped: Counter;
  private readonly passwordChecks: Counter<'outcome'>;

  constructor(registry: Registry) {
    this.decisions = new Counter({
      name: 'rate_limit_decisions_total',
      help: 'Rate-limit decisions per policy: allowed or refused',
      labelNames: ['policy', 'outcome'] as const,
      registers: [registry],
    });
    this.points = new Counter({
      name: 'rate_limit_points_total',
      help: 'Points charged per policy on allowed requests',
      labelNames: ['policy'] as const,
      registers: [registry],
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

  /** Per policy: labelled children, so counting a decision hashes no label object (it runs on every request). */
  private readonly children = new Map<string, { allowed: { inc(): void }; points: { inc(n: number): void } }>();

  allowed(policy: string, points: number): void {
    let c = this.children.get(policy);
    if (!c) this.children.set(policy, (c = { allowed: this.decisions.labels(policy, 'allowed'), points: this.points.labels(policy) }));
    c.allowed.inc();
    if (points > 0) c.points.inc(points);
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
}
