/** Computes each operation's cost before execution and refuses it above the ceiling. The cost is kept on the context for the rate limiter. */
import type { ApolloServerPlugin } from '@apollo/server';
import { Kind, type DocumentNode, type GraphQLSchema } from 'graphql';
import type { Context } from '../context';
import { costTooHigh, operationCost } from './query-limits';

const declaresVariables = (document: DocumentNode): boolean =>
  document.definitions.some((d) => d.kind === Kind.OPERATION_DEFINITION && (d.variableDefinitions?.length ?? 0) > 0);

/**
 * Walking the document for its cost is the priciest step before execution, so a
 * document's cost is computed once: Apollo's document store hands back the same
 * DocumentNode for the same query text. Documents that declare variables are
 * costed per request, since a variable may be a list's `limit`.
 */
function cachedCost(): (schema: GraphQLSchema, document: DocumentNode, operationName: string | undefined, variables: Record<string, unknown>) => number {
  const byDocument = new WeakMap<DocumentNode, Map<string, number>>();
  return (schema, document, operationName, variables) => {
    if (declaresVariables(document)) return operationCost(schema, document, operationName, variables);
    let byOperation = byDocument.get(document);
    if (!byOperation) byDocument.set(document, (byOperation = new Map()));
    let cost = byOperation.get(operationName ?? '');
    if (cost === undefined) byOperation.set(operationName ?? '', (cost = operationCost(schema, document, operationName, variables)));
    return cost;
  };
}

export function costPlugin(maxCost: number): ApolloServerPlugin<Context> {
  const costOf = cachedCost();
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ schema, document, request, contextValue, operation }) {
          // No operation of that name: execution answers "Unknown operation named ..." itself.
          if (!operation) return;
          const cost = costOf(schema, document, request.operationName ?? undefined, request.variables ?? {});
          contextValue.cost = cost;
          if (cost > maxCost) throw costTooHigh(cost, maxCost);
        },
      };
    },
  };
}
