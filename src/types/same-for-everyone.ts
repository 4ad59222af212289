/**
 * `@SameForEveryone()` beside a `@Subscription` says that the result of one of its events cannot
 * differ between subscribers: the field's resolver returns the event payload (or a function of it
 * alone), never anything from the context or from the arguments (which only choose the events),
 * and its type's fields are plain values of the payload. Over WebSocket, every subscriber whose
 * selection is the same then shares one execution and one serialised message per event, whoever
 * it is (anonymous or signed in) and whatever arguments chose its events (ws/shared-execution.ts);
 * the per-subscriber cost is the socket write. Stored as a field extension, like @ListSize.
 *
 * The WebSocket server also checks, per document, that every field selected under such a root
 * field resolves by plain property read (no resolver of its own): a field resolver added later
 * to the type makes documents selecting it fall back to per-viewer execution instead of leaking.
 *
 * @example
 * @SameForEveryone()
 * @Subscription(() => Product, { subscribe: ... })
 * productUpdated(@Root() product: ProductRecord): Product { return product; }
 */
import type { GraphQLSchema } from 'graphql';
import { Extensions, getMetadataStorage } from 'type-graphql';

const EXT = 'sameForEveryone';

export function SameForEveryone(): MethodDecorator {
  return Extensions({ [EXT]: true });
}

/** True when the root field was marked with {@link SameForEveryone}. */
export function isSameForEveryone(field: { extensions?: Readonly<Record<string, unknown>> | null } | null | undefined): boolean {
  return field?.extensions?.[EXT] === true;
}

const plainBySchema = new WeakMap<GraphQLSchema, Set<string>>();

/**
 * `Type.field` of every plain value of its parent object in this schema: a `@Field` with no
 * resolver arguments (so no context, no viewer), no roles and no middleware. What a shared
 * execution may select under a {@link SameForEveryone} root field. Read from TypeGraphQL's
 * metadata the first time it is asked for a built schema.
 */
export function plainFieldsOf(schema: GraphQLSchema): ReadonlySet<string> {
  let plain = plainBySchema.get(schema);
  if (!plain) {
    plain = new Set<string>();
    for (const type of getMetadataStorage().objectTypes) {
      if (!schema.getType(type.name)) continue;
      for (const f of type.fields ?? []) {
        if (!f.params?.length && !f.roles?.length && !f.middlewares?.length) plain.add(`${type.name}.${f.schemaName}`);
      }
    }
    plainBySchema.set(schema, plain);
  }
  return plain;
}
