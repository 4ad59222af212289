/** Request counts and latency per operation, and errors by code, into prom-client. */
import type { ApolloServerPlugin } from '@apollo/server';
import type { Context } from '../context';
import type { Metrics } from '../metrics';
import { clientCode } from './errors';

/**
 * Operation names come from clients, so the label set is capped: the first
 * {@link MAX_OPERATION_NAMES} distinct names are kept, later ones count as "other".
 */
export const MAX_OPERATION_NAMES = 200;

export function metricsPlugin(metrics: Metrics): ApolloServerPlugin<Context> {
  const known = new Set<string>();
  const label = (name: string): string => {
    if (known.has(name)) return name;
    if (known.size >= MAX_OPERATION_NAMES) return 'other';
    known.add(name);
    return name;
  };
  return {
    async requestDidStart() {
      const started = process.hrtime.bigint();
      return {
        async willSendResponse({ operationName, operation, errors }) {
          const labels = { operation: operationName ? label(operationName) : operation ? 'anonymous' : 'invalid', type: operation?.operation ?? 'unknown' };
          metrics.duration.observe(labels, Number(process.hrtime.bigint() - started) / 1e9);
          metrics.requests.inc({ ...labels, outcome: errors?.length ? 'error' : 'ok' });
          for (const e of errors ?? []) metrics.errors.inc({ code: clientCode(e) });
        },
      };
    },
  };
}
