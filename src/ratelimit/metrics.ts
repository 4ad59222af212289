/** prom-client instruments of the rate limiter, registered on the app's registry (served at /metrics). */
import { Counter, type Registry } from 'prom-client';

export class RateLimitMetrics {
  private readonly decisions: Counter<'policy' | 'outcome'>;
  private readonly points: Counter<'policy'>;
  private readonly storeDownTotal: Counter<'fallback'>;
  private readonly dropped: Counter;

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
  }

  allowed(policy: string, points: number): void {
    this.decisions.inc({ policy, outcome: 'allowed' });
    if (points > 0) this.points.inc({ policy }, points);
  }

  refused(policy: string): void {
    this.decisions.inc({ policy, outcome: 'refused' });
  }

  storeDown(fallback: 'memory' | 'closed'): void {
    this.storeDownTotal.inc({ fallback });
  }

  eventDropped(): void {
    this.dropped.inc();
  }
}
