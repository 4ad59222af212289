/** Request counts and latency per operation, and errors by code, into prom-client. */
import type { GatewayPlugin, RequestHooks } from './compose';
import type { ResolverContext } from '../resolvers/context';
import type { Metrics } from '../util/metrics';
import { clientCode } from './errors';

/**
 * Operation names come from clients, so the label set is capped: the first
 * {@link MAX_OPERATION_NAMES} distinct names are kept, later ones count as "other".
 */
export const MAX_OPERATION_NAMES = 200;

export function metricsPlugin(metrics: Metrics): GatewayPlugin<ResolverContext> {
  const known = new Set<string>();
  const label = (name: string): string => {
    if (known.has(name)) return name;
    if (known.size >= MAX_OPERATION_NAMES) return 'other';
    known.add(name);
    return name;
  };
  // Labelled children per (operation, type): observing through them skips hashing the labels per request.
  interface Children {
    duration: { observe(v: number): void };
    ok: { inc(): void };
    error: { inc(): void };
  }
  const children = new Map<string, Children>();
  const childrenFor = (operation: string, type: string): Children => {
    const key = `${type}\u0000${operation}`;
    let c = children.get(key);
    if (!c) {
      c = {
        duration: metrics.duration.labels(operation, type),
        ok: metrics.requests.labels(operation, type, 'ok'),
        error: metrics.requests.labels(operation, type, 'error'),
      };
      children.set(key, c);
    }
    return c;
  };
  // One listener for every request (the start time is the request context's): no allocation per request.
  const hooks: RequestHooks<ResolverContext> = {
    willSendResponse({ operationName, operation, errors, contextValue }) {
      const c = childrenFor(operationName ? label(operationName) : operation ? 'anonymous' : 'invalid', operation?.operation ?? 'unknown');
      c.duration.observe((performance.now() - contextValue.ctx.startedAt) / 1000);
      (errors?.length ? c.error : c.ok).inc();
      for (const e of errors ?? []) metrics.errors.inc({ code: clientCode(e) });
    },
  };
  return { hooks };
}
