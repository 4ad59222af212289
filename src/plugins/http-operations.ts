/**
 * Subscriptions are served over WebSocket (graphql-ws). Executed over HTTP, their fields
 * would resolve once with no event, so such a request is the client's mistake, refused
 * with 400 before anything runs.
 */
import type { BaseContext } from '@apollo/server';
import type { GatewayPlugin, RequestHooks } from './compose';
import { GraphQLError, OperationTypeNode } from 'graphql';

export const SUBSCRIPTION_OVER_HTTP = 'Subscriptions are served over WebSocket (graphql-transport-ws) on /graphql, not over HTTP';

export function subscriptionsOverHttpPlugin<T extends BaseContext>(): GatewayPlugin<T> {
  // One listener for every request: no allocation per request.
  const hooks: RequestHooks<T> = {
    didResolveOperation({ operation }) {
      if (operation?.operation === OperationTypeNode.SUBSCRIPTION) {
        throw new GraphQLError(SUBSCRIPTION_OVER_HTTP, { extensions: { code: 'BAD_REQUEST', http: { status: 400 } } });
      }
    },
  };
  return { hooks };
}
