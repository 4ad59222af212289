/** What resolvers and plugins get for each operation: the request context, and the service container beside it. */
import type { Services } from '../services/container';
import type { RequestContext } from '../services/context';

export interface ResolverContext {
  readonly ctx: RequestContext;
  readonly services: Services;
}
