/**
 * A subscribe message's document, checked over WebSocket as Apollo checks a request over
 * HTTP, with the same answers: parsed under QUERY_MAX_TOKENS (GRAPHQL_PARSE_FAILED), the
 * shape check, graphql-js validation (GRAPHQL_VALIDATION_FAILED; introspection refused when
 * INTROSPECTION is off, with Apollo's message; no suggestions in production; at most
 * VALIDATION_MAX_ERRORS errors), the operation
 * resolved (OPERATION_RESOLUTION_FAILURE, graphql-js's messages), and the cost computed and
 * held to QUERY_MAX_COST (QUERY_TOO_COMPLEX; BAD_USER_INPUT for variables that do not fit).
 * test/e2e/transport-parity.test.ts runs every rule over both transports.
 */
import { ApolloServerValidationErrorCode } from '@apollo/server/errors';
import {
  GraphQLError,
  Kind,
  getOperationAST,
  parse,
  specifiedRules,
  validate,
  type DocumentNode,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type ValidationRule,
} from 'graphql';
import type { Config } from '../config';
import { checkShape } from '../plugins/document-shape';
import { VALIDATION_MAX_ERRORS, assertWellFormedVariables, costTooHigh, operationCost } from '../plugins/query-limits';

export interface Payload {
  query: string;
  operationName?: string | null;
  variables?: Record<string, unknown> | null;
}

export type Checked =
  | { ok: true; document: DocumentNode; operation: OperationDefinitionNode; cost: number }
  /** `invalid`: the document failed parsing, the shape check or validation (what closes a socket that keeps sending them). */
  | { ok: false; errors: GraphQLError[]; invalid: boolean };

/** Apollo's own rule when `introspection` is off (it is not exported), with its message and code. */
const noIntrospection: ValidationRule = (ctx) => ({
  Field(node) {
    if (node.name.value !== '__schema' && node.name.value !== '__type') return;
    ctx.reportError(
      new GraphQLError(
        'GraphQL introspection is not allowed by Apollo Server, but the query contained __schema or __type. To enable introspection, pass introspection: true to ApolloServer in production',
        { nodes: [node], extensions: { validationErrorCode: ApolloServerValidationErrorCode.INTROSPECTION_DISABLED } },
      ),
    );
  },
});

const parseFailed = (e: GraphQLError): GraphQLError =>
  new GraphQLError(e.message, { source: e.source, positions: e.positions, extensions: { ...e.extensions, code: 'GRAPHQL_PARSE_FAILED' }, originalError: e });

const validationFailed = (e: GraphQLError): GraphQLError =>
  new GraphQLError(e.message, { nodes: e.nodes, extensions: { ...e.extensions, code: 'GRAPHQL_VALIDATION_FAILED' }, originalError: e.originalError ?? e });

/** graphql-js's own messages for a document without the operation to run (execute answers them over HTTP). */
function unresolved(document: DocumentNode, operationName: string | undefined): GraphQLError {
  const ops = document.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION).length;
  const message =
    operationName !== undefined
      ? `Unknown operation named "${operationName}".`
      : ops > 1
        ? 'Must provide operation name if query contains multiple operations.'
        : 'Must provide an operation.';
  return new GraphQLError(message, { extensions: { code: 'OPERATION_RESOLUTION_FAILURE' } });
}

export function documentChecker(schema: GraphQLSchema, config: Config): (payload: Payload) => Checked {
  const limits = config.graphql.limits;
  const rules = [...specifiedRules, ...(config.graphql.introspection ? [] : [noIntrospection])];
  const options = { hideSuggestions: config.production, maxErrors: VALIDATION_MAX_ERRORS };
  return (payload) => {
    let document: DocumentNode;
    try {
      document = parse(payload.query, { maxTokens: limits.tokens });
    } catch (err) {
      return { ok: false, errors: [parseFailed(err instanceof GraphQLError ? err : new GraphQLError(String(err)))], invalid: true };
    }
    const operationName = payload.operationName ?? undefined;
    const refusal = checkShape(schema, document, operationName, limits);
    if (refusal) return { ok: false, errors: [refusal], invalid: true };
    const invalid = validate(schema, document, rules, options);
    if (invalid.length) return { ok: false, errors: invalid.map(validationFailed), invalid: true };
    const operation = getOperationAST(document, operationName);
    if (!operation) return { ok: false, errors: [unresolved(document, operationName)], invalid: false };
    try {
      if (payload.variables) assertWellFormedVariables(payload.variables);
      const cost = operationCost(schema, document, operationName, payload.variables ?? {});
      if (cost > limits.cost) return { ok: false, errors: [costTooHigh(cost, limits.cost)], invalid: false };
      return { ok: true, document, operation, cost };
    } catch (err) {
      if (err instanceof GraphQLError) return { ok: false, errors: [err], invalid: false };
      throw err;
    }
  };
}
