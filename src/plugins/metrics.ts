/** Request counts and latency per operation, and errors by code, into prom-client. */
import type { ApolloServerPlugin } from '@apollo/server';
import type { Context } from '../context';
import type { Metrics } from '../metrics';

export function metricsPlugin(metrics: Metrics): ApolloServerPlugin<Context> {
  return {
    async requestDidStart() {
      const started = process.hrtime.bigint();
      return {
        async willSendResponse({ operationName, operation, errors }) {
          const labels = { operation: operationName ?? (operation ? 'anonymous' : 'invalid'), type: operation?.operation ?? 'unknown' };
          metrics.duration.observe(labels, Number(process.hrtime.bigint() - started) / 1e9);
          metrics.requests.inc({ ...labels, outcome: errors?.length ? 'error' : 'ok' });
          for (const e of errors ?? []) metrics.errors.inc({ code: String(e.extensions?.code ?? 'INTERNAL_SERVER_ERROR') });
        },
      };
    },
  };
}
