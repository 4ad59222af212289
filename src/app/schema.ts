/** Builds the executable schema from every module's resolvers, and renders it for schema/schema.graphql. */
import 'reflect-metadata';
import { lexicographicSortSchema, printSchema, type GraphQLSchema } from 'graphql';
import { buildSchema, type NonEmptyArray, type PubSub } from 'type-graphql';
import { authChecker } from '../resolvers/viewer';
import { moduleResolvers } from '../modules';
import type { ResolverClass } from '../modules/module';
import { checkCachedFields } from '../types/cache/cached.decorator';
import { DateTimeScalar } from '../types/scalars';

/** A pub/sub that refuses to publish: for building the schema where no events flow (schema emission). */
const offlinePubSub: PubSub = {
  publish() {
    throw new Error('no pub/sub in this schema');
  },
  subscribe() {
    throw new Error('no pub/sub in this schema');
  },
};

/** The schema; refused (thrown) when a `@Cached` field could answer differently per caller. */
export async function buildGatewaySchema(pubSub: PubSub = offlinePubSub): Promise<GraphQLSchema> {
  const schema = await buildSchema({
    resolvers: moduleResolvers() as NonEmptyArray<ResolverClass>,
    scalarsMap: [{ type: Date, scalar: DateTimeScalar }],
    authChecker,
    pubSub,
    validate: { forbidUnknownValues: false, stopAtFirstError: false },
  });
  checkCachedFields(schema);
  return schema;
}

/** The committed text form: sorted, so it changes only when the API does. */
export const renderSchema = (schema: GraphQLSchema): string => `${printSchema(lexicographicSortSchema(schema))}\n`;
