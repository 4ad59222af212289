/**
 * Rate limits as an Apollo plugin and a WebSocket subscribe guard. The plugin
 * decides in `didResolveOperation`, after the cost plugin has set `ctx.cost`
 * and before execution, so a refused operation runs no resolver.
 */
import { GraphQLError } from 'graphql';
import type { ResolverContext } from '../../resolvers/context';
import { rootFields } from './operation';
import { schemaPolicies } from '../../types/ratelimit/rate-limit.decorator';
import { SUBSCRIPTION_CAP_POLICY, type RateLimitService } from '../../services/ratelimit/ratelimit.service';
import type { SubscribeGuard } from '../../ws/server';
import { isApiKey } from '../../util/crypto';
import type { GatewayPlugin, RequestHooks } from '../compose';

export function rateLimitPlugin(service: RateLimitService, maxCost: number): GatewayPlugin<ResolverContext> {
  // One listener for every request, its state on the request context (ctx.rateCharged): a request
  // allocates nothing here, and one decided from a lease (the common case) creates no promise.
  const hooks: RequestHooks<ResolverContext> = {
    didResolveOperation({ schema, document, operation, request, contextValue: { ctx } }) {
      // Refused by the cost plugin (over the ceiling, or variables that do not fit), which ran first and
      // set ctx.cost: didEncounterErrors charges it as a refused document.
      if (ctx.cost > maxCost || !operation) return;
      ctx.rateCharged = true;
      const roots = rootFields(schema, document, operation, request.variables ?? {});
      return service.enforce(ctx, { cost: ctx.cost, roots, transport: 'http', operation });
    },
    didEncounterErrors({ contextValue: { ctx }, source, request }) {
      // Parse, validation and cost failures never reach didResolveOperation's charge: charged by size.
      if (ctx.rateCharged) return;
      ctx.rateCharged = true;
      return service.chargeRejected(ctx, Buffer.byteLength(source ?? request.query ?? ''));
    },
  };
  // The @RateLimit policies are known from the schema: operators may list and override them.
  const serverWillStart: GatewayPlugin<ResolverContext>['serverWillStart'] = async ({ schema }) => service.registerPolicies(schemaPolicies(schema));
  // Off (RATE_LIMIT_DEFAULT=off): nothing runs per request.
  if (!service.enabled) return { serverWillStart };
  return {
    serverWillStart,
    requestDidStart({ contextValue: { ctx } }) {
      // The identity needs the session (or the API key): start its check now so it overlaps parsing
      // and validation. Once the session names a user, the user is read too, for the many signed-in
      // operations that need it (every @Authorized one): one turn of the event loop later, when the
      // limiter's batch of charges is sent (ratelimit/store.ts), so both leave in one auto-pipelined
      // write and the limiter adds a command but no round trip (when the session and user are not cached).
      if (ctx.token && isApiKey(ctx.token)) ctx.actor().catch(() => undefined);
      else if (ctx.token)
        ctx.session().then(
          () => setImmediate(() => void ctx.actor().catch(() => undefined)),
          () => undefined,
        );
    },
    hooks,
  };
}

/** Errors over WebSocket carry no HTTP status. */
function wsError(err: GraphQLError): GraphQLError {
  const { http: _drop, ...extensions } = err.extensions as Record<string, unknown>;
  return new GraphQLError(err.message, { extensions });
}

/**
 * Subscribe operations spend the same default budget, and the policies of their root fields
 * (`@RateLimit` on a Subscription field), as HTTP operations do; a connection holds at most
 * `maxOpen` subscriptions.
 */
export function rateLimitGuard(service: RateLimitService, maxOpen: number): SubscribeGuard {
  return async (ctx, op, conn) => {
    if (!service.enabled) return;
    const roots = rootFields(op.schema, op.document, op.operation, op.variables);
    const req = { cost: op.cost, roots, operation: op.operation, transport: 'ws' } as const;
    try {
      if (conn.open.size >= maxOpen)
        await service.refuse(ctx, SUBSCRIPTION_CAP_POLICY, 1, `At most ${maxOpen} subscriptions may be open on one connection`, req);
      await service.enforce(ctx, req);
    } catch (err) {
      throw err instanceof GraphQLError ? wsError(err) : err;
    }
  };
}
