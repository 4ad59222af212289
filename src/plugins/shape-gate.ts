/**
 * Runs the shape check (document-shape.ts) on HTTP, between parsing and validation.
 * Apollo has no hook that can refuse a request there (an error thrown by a plugin before
 * execution becomes a 500), so a refused document is swapped for an empty one that only
 * {@link refusedRule} fails, with the refusal: graphql-js never validates the real
 * document, and Apollo answers as for any validation failure (400, didEncounterErrors,
 * nothing kept in its document cache). Apollo codes every validation error
 * GRAPHQL_VALIDATION_FAILED; the error formatter gives a refusal raised as an AppError
 * (QUERY_TOO_COMPLEX) its own code back (see errors.ts).
 */
import type { GatewayPlugin, RequestHooks } from './compose';
import { Kind, type DocumentNode, type GraphQLError, type ValidationRule } from 'graphql';
import type { ResolverContext } from '../resolvers/context';
import { checkShape } from './document-shape';
import type { QueryLimits } from './query-limits';

const refusals = new WeakMap<DocumentNode, GraphQLError>();

function refusedDocument(error: GraphQLError): DocumentNode {
  const doc: DocumentNode = { kind: Kind.DOCUMENT, definitions: [] };
  refusals.set(doc, error);
  return doc;
}

/** Reports the refusal a swapped document stands for; nothing for any other document. */
export const refusedRule: ValidationRule = (ctx) => {
  const error = refusals.get(ctx.getDocument());
  if (error) ctx.reportError(error);
  return {};
};

export function shapeGatePlugin(limits: QueryLimits): GatewayPlugin<ResolverContext> {
  // One listener for every request (it keeps no per-request state): no allocation per request.
  const hooks: RequestHooks<ResolverContext> = {
    // Only documents Apollo has not parsed and validated before get here: its document cache skips both.
    parsingDidStart(rc) {
      // Apollo calls this without awaiting it, right before validating: it must not throw, and does all its work at once.
      return async (err) => {
        if (err || !rc.document) return;
        try {
          const refusal = checkShape(rc.schema, rc.document, rc.request.operationName ?? undefined, limits);
          // The request context's document is read-only in Apollo's types; replacing it is the point (see above).
          if (refusal) (rc as { document: DocumentNode }).document = refusedDocument(refusal);
        } catch (error) {
          // A rejection here would be unhandled; validation still judges the document.
          rc.contextValue.ctx.log.error({ err: error }, 'shape check failed');
        }
      };
    },
  };
  return { hooks };
}
