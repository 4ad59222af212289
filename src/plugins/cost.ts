/** Computes each operation's cost before execution and refuses it above the ceiling. The cost is kept on the context for the rate limiter. */
import type { GatewayPlugin, RequestHooks } from './compose';
import type { DocumentNode, GraphQLSchema, OperationDefinitionNode } from 'graphql';
import type { ResolverContext } from '../resolvers/context';
import { assertWellFormedVariables, costTooHigh, operationCost } from './query-limits';

type CostOf = (
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  operationName: string | undefined,
  variables: Record<string, unknown>,
) => number;

/** Distinct variable shapes whose cost is kept per operation; past this, the others are costed per request. */
const MAX_SHAPES = 64;

/**
 * What an operation's cost can depend on in its variables: list lengths (`inputs`), numbers
 * (`limit`) and booleans (`@skip`/`@include`). Strings and objects count only as such, so one
 * key serves every request whose variables differ only in those. Only the variables the
 * operation declares count, in declaration order (coercion ignores any others): no name is
 * spelt into the key, so no choice of names can make two shapes read alike.
 */
function shapeOf(operation: OperationDefinitionNode, variables: Record<string, unknown>): string {
  let key = '';
  for (const def of operation.variableDefinitions ?? []) {
    const v = variables[def.variable.name.value];
    key += `${Array.isArray(v) ? `[${v.length}]` : typeof v === 'number' || typeof v === 'boolean' ? String(v) : v === null ? 'null' : typeof v},`;
  }
  return key;
}

/**
 * Walking the document for its cost, and coercing its variables to do so, is the priciest
 * step before execution (for a batch of 100 job inputs, more than the walk itself). So the
 * cost is kept per document (Apollo's document store hands back the same DocumentNode for the
 * same query text), operation and variable shape, and computed in full only for a shape not
 * seen yet. Variables that do not fit their types but share a costed shape (a misspelt enum
 * value, an input object with a wrong field) are refused by the executor's own coercion
 * instead, with the same BAD_USER_INPUT (Apollo answers 400 for variables that do not coerce).
 */
function cachedCost(): CostOf {
  const byDocument = new WeakMap<DocumentNode, Map<string, number>>();
  return (schema, document, operation, operationName, variables) => {
    let byKey = byDocument.get(document);
    if (!byKey) byDocument.set(document, (byKey = new Map<string, number>()));
    const key = `${operationName ?? ''}\n${shapeOf(operation, variables)}`;
    let cost = byKey.get(key);
    if (cost === undefined) {
      // Throws (and keeps nothing) for variables that do not fit their types.
      cost = operationCost(schema, document, operationName, variables);
      if (byKey.size < MAX_SHAPES) byKey.set(key, cost);
    }
    return cost;
  };
}

export function costPlugin(maxCost: number): GatewayPlugin<ResolverContext> {
  const costOf = cachedCost();
  // One listener for every request (the cost goes on the request's context): no allocation per request.
  const hooks: RequestHooks<ResolverContext> = {
    didResolveOperation({ schema, document, request, contextValue, operation }) {
      // No operation of that name: execution answers "Unknown operation named ..." itself.
      if (!operation) return;
      // Refused: the rate limiter (whose hook runs after this one) charges it as a refused document, not its cost.
      contextValue.ctx.cost = Number.POSITIVE_INFINITY;
      if (request.variables) assertWellFormedVariables(request.variables);
      const cost = costOf(schema, document, operation, request.operationName ?? undefined, request.variables ?? {});
      if (cost > maxCost) throw costTooHigh(cost, maxCost);
      contextValue.ctx.cost = cost;
    },
  };
  return { hooks };
}
