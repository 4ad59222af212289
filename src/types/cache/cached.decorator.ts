/**
 * `@Cached({ ttlSeconds, tags })` on a Query resolver keeps its result for `ttlSeconds` in the
 * shared cache (in memory, then in Redis: services/cache/result-cache.ts), keyed by the field and
 * its arguments only. The key holds nothing about the caller, so the result must be the same for
 * every caller; `checkCachedFields` enforces it on the built schema (buildGatewaySchema calls it,
 * so a field that breaks a rule stops the start):
 *
 * - only a field of `Query` (a mutation's or subscription's result is not a read to share);
 * - public: no `@Authorized` (roles would make the result depend on who asks);
 * - the resolver takes its arguments and `@Ctx('services')` only: no request context (the
 *   caller's session, user, address), no root, no info; no other middleware.
 *
 * Entries go when one of their `tags` is invalidated (`services.cache.invalidateTags(tags)` from
 * the writes that change the result, or a topic the service maps to the tag with
 * `cache.invalidateOn`), or when their lifetime ends. Results over 64 KB, not plain JSON, or null
 * are returned but not kept. Stored as a field extension (like @RateLimit) plus a field middleware.
 *
 * @example
 * @Cached({ ttlSeconds: 30, tags: [RECOMMENDATIONS_TAG], redis: false })
 * @Query(() => [Product])
 * recommendations(@Args(() => RecommendationsArgs) args: RecommendationsArgs, @Ctx('services') services: Services) { ... }
 */
import type { GraphQLField, GraphQLSchema } from 'graphql';
import { Extensions, UseMiddleware, getMetadataStorage, type MiddlewareFn } from 'type-graphql';
import { checkResultCacheOptions, type ResultCacheOptions } from '../../services/cache/result-cache';
import type { CacheServices } from '../../services/container';

export { MAX_CACHED_BYTES, MAX_CACHED_TTL_SECONDS } from '../../services/cache/result-cache';

export interface CachedOptions {
  /** Lifetime of an entry, 1 to 300 seconds. */
  ttlSeconds: number;
  /** Tags (names from code) whose invalidation drops the entries. Default none: only the lifetime ends them. */
  tags?: readonly string[];
  /**
   * Default true: also keep the result in Redis for the other instances. false: in memory only, for
   * a result whose writers announce changes on a script-published topic (which reaches every
   * instance's memory, never Redis), or that costs no more to compute than a Redis read.
   */
  redis?: boolean;
}

const EXT = 'cached';

interface CachedSpec extends ResultCacheOptions {
  /** Which middleware is this field's, to find its resolver's metadata. */
  readonly id: number;
}

const middlewares = new Map<number, MiddlewareFn<object>>();
let nextId = 0;

export function Cached(options: CachedOptions): MethodDecorator {
  const spec: CachedSpec = { id: ++nextId, ttlSeconds: options.ttlSeconds, tags: [...(options.tags ?? [])], redis: options.redis ?? true };
  checkResultCacheOptions('@Cached', spec);
  const middleware: MiddlewareFn<object> = ({ args, info, context }, next) =>
    (context as { services: CacheServices }).services.results.get(`${info.parentType.name}.${info.fieldName}`, args, spec, next);
  middlewares.set(spec.id, middleware);
  const ext = Extensions({ [EXT]: spec });
  const use = UseMiddleware(middleware);
  return (target, key, descriptor) => {
    ext(target, key, descriptor);
    use(target, key, descriptor);
  };
}

/** The cache options of a field, if it is `@Cached`. */
export function cachedOf(field: Pick<GraphQLField<unknown, unknown>, 'extensions'>): ResultCacheOptions | undefined {
  return field.extensions?.[EXT] as CachedSpec | undefined;
}

/** Throws, naming the field and the rule, when a `@Cached` field of the schema could answer differently per caller. */
export function checkCachedFields(schema: GraphQLSchema): void {
  const storage = getMetadataStorage();
  const resolvers = [...storage.queries, ...storage.mutations, ...storage.subscriptions, ...storage.fieldResolvers];
  for (const type of Object.values(schema.getTypeMap())) {
    if (type.name.startsWith('__') || !('getFields' in type) || typeof type.getFields !== 'function') continue;
    for (const field of Object.values(type.getFields() as Record<string, GraphQLField<unknown, unknown>>)) {
      const spec = field.extensions?.[EXT] as CachedSpec | undefined;
      if (!spec) continue;
      const where = `@Cached ${type.name}.${field.name}`;
      if (type !== schema.getQueryType()) throw new Error(`${where}: only a Query field may be cached`);
      const mw = middlewares.get(spec.id);
      const meta = resolvers.find((r) => mw && r.middlewares?.includes(mw));
      if (!meta) throw new Error(`${where}: its resolver's metadata was not found`);
      if (meta.roles?.length) throw new Error(`${where}: the field is not public (@Authorized): a cached result is the same for every caller`);
      if (meta.middlewares?.some((m) => m !== mw))
        throw new Error(`${where}: no other middleware may run on a cached field (it could make the result depend on the caller)`);
      for (const p of meta.params ?? []) {
        const ok = p.kind === 'arg' || p.kind === 'args' || (p.kind === 'context' && p.propertyName === 'services');
        if (!ok)
          throw new Error(
            `${where}: the resolver takes ${p.kind === 'context' ? `@Ctx(${p.propertyName ? `'${p.propertyName}'` : ''})` : `a ${p.kind} parameter`}; a cached resolver takes its arguments and @Ctx('services') only, so nothing about the caller can reach its result`,
          );
      }
    }
  }
}
