/** Computes each operation's cost before execution and refuses it above the ceiling. The cost is kept on the context for the rate limiter. */
import type { ApolloServerPlugin } from '@apollo/server';
import type { Context } from '../context';
import { costTooHigh, operationCost } from './query-limits';

export function costPlugin(maxCost: number): ApolloServerPlugin<Context> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ schema, document, request, contextValue }) {
          const cost = operationCost(schema, document, request.operationName ?? undefined, request.variables ?? {});
          contextValue.cost = cost;
          if (cost > maxCost) throw costTooHigh(cost, maxCost);
        },
      };
    },
  };
}
