/**
 * Executes operations with graphql-jit behind Apollo Server's gateway interface,
 * the one place Apollo lets an executor be swapped in. Apollo still parses,
 * validates (once per distinct document, through its document store), runs
 * every plugin hook and formats errors; only execution changes. Each
 * (document, operation name) is compiled once: the document store hands back
 * the same DocumentNode for the same query text, so a WeakMap keyed by it
 * keeps the compiled function exactly as long as Apollo keeps the document.
 *
 * Apollo's per-field plugin hook (`willResolveField`) is not called on this
 * path; plugins must work per request, not per field.
 */
import type { ApolloServerOptionsWithGateway } from '@apollo/server';
import { GraphQLError, execute, getVariableValues, printSchema, type DocumentNode, type ExecutionResult, type GraphQLSchema, type OperationDefinitionNode } from 'graphql';
import { compileQuery, isCompiledQuery, type CompiledQuery } from 'graphql-jit';
import { AppError, ErrorCode } from '../errors';

// Apollo re-exports the options but not the gateway types themselves.
type GatewayInterface = ApolloServerOptionsWithGateway<never>['gateway'];
type GatewayExecutor = NonNullable<Awaited<ReturnType<GatewayInterface['load']>>['executor']>;
type Compiled = CompiledQuery | ExecutionResult;

/**
 * graphql-jit reports errors as look-alikes of GraphQLError whose `extensions`
 * may be undefined and whose properties are read-only, while Apollo and the
 * error plugins expect graphql-js's own (extensions always an object, writable).
 */
function asGraphQLError(e: GraphQLError): GraphQLError {
  const err = new GraphQLError(e.message, { path: e.path, originalError: e.originalError ?? undefined, extensions: e.extensions ?? undefined });
  if (e.locations) (err as { locations?: GraphQLError['locations'] }).locations = e.locations;
  return err;
}

function normalized(result: ExecutionResult): ExecutionResult {
  return result.errors?.length ? { ...result, errors: result.errors.map(asGraphQLError) } : result;
}

/**
 * graphql-jit answers without `data` only when the variables do not fit their types: the
 * client's mistake, BAD_USER_INPUT (Apollo answers 400 for a result without data). Its
 * messages name the failing field as if it were a variable, so graphql-js words them again
 * (the same words as when the cost estimate refuses them); this runs only on that failure.
 */
function badVariables(schema: GraphQLSchema, operation: OperationDefinitionNode | undefined, variables: Record<string, unknown>, result: ExecutionResult): ExecutionResult {
  const again = operation ? getVariableValues(schema, operation.variableDefinitions ?? [], variables) : undefined;
  const errors = again?.errors?.length ? again.errors : (result.errors ?? []);
  return { errors: errors.map((e) => new AppError(ErrorCode.BAD_USER_INPUT, e.message)) };
}

/**
 * Subscriptions are served over WebSocket (graphql-ws). Executed here, over HTTP, their fields
 * would resolve once with no event, so such a request is the client's mistake, refused with 400.
 */
const subscriptionOverHttp = (): ExecutionResult => ({
  errors: [new GraphQLError('Subscriptions are served over WebSocket (graphql-transport-ws) on /graphql, not over HTTP', { extensions: { code: 'BAD_REQUEST', http: { status: 400 } } })],
});

/** Compiled operations per document; the inner key is the requested operation name ('' for none). */
export function jitExecutor(schema: GraphQLSchema): GatewayExecutor {
  const cache = new WeakMap<DocumentNode, Map<string, Compiled | null>>();
  const compile = (document: DocumentNode, operationName: string | undefined): Compiled | null => {
    let byName = cache.get(document);
    if (!byName) cache.set(document, (byName = new Map()));
    const key = operationName ?? '';
    let compiled = byName.get(key);
    if (compiled === undefined) {
      try {
        compiled = compileQuery(schema, document, operationName);
      } catch {
        // Something graphql-jit cannot compile runs on graphql-js instead (null marks it).
        compiled = null;
      }
      byName.set(key, compiled);
    }
    return compiled;
  };
  return async (rc) => {
    if (rc.operation?.operation === 'subscription') return subscriptionOverHttp();
    const { document, context, request } = rc;
    const operationName = request.operationName ?? undefined;
    const compiled = compile(document, operationName);
    if (compiled === null) return execute({ schema, document, contextValue: context, variableValues: request.variables, operationName });
    if (!isCompiledQuery(compiled)) return normalized(compiled);
    const variables = request.variables ?? {};
    const result = await compiled.query(undefined, context, variables);
    return 'data' in result ? normalized(result) : badVariables(schema, rc.operation, variables, result);
  };
}

/** Apollo's `gateway` option serving one fixed, local schema through {@link jitExecutor}. */
export function jitGateway(schema: GraphQLSchema): GatewayInterface {
  const executor = jitExecutor(schema);
  return {
    onSchemaLoadOrUpdate(callback) {
      callback({ apiSchema: schema, coreSupergraphSdl: printSchema(schema) });
      return () => {};
    },
    async load() {
      return { executor };
    },
    async stop() {},
  };
}
