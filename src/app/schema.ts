/** Builds the executable schema from every resolver, and renders it for schema/schema.graphql. */
import 'reflect-metadata';
import { lexicographicSortSchema, printSchema, type GraphQLSchema } from 'graphql';
import { buildSchema, type NonEmptyArray, type PubSub } from 'type-graphql';
import { authChecker } from '../resolvers/viewer';
import { AnalyticsResolver } from '../resolvers/analytics/analytics.resolver';
import { AuthResolver } from '../resolvers/sessions/auth.resolver';
import { ExperimentResolver } from '../resolvers/analytics/experiment.resolver';
import { InstanceResolver } from '../resolvers/instances/instance.resolver';
import { JobResolver } from '../resolvers/jobs/job.resolver';
import { CartResolver } from '../resolvers/commerce/cart.resolver';
import { OrderResolver } from '../resolvers/commerce/order.resolver';
import { ProductResolver } from '../resolvers/commerce/product.resolver';
import { RateLimitResolver } from '../resolvers/ratelimit/ratelimit.resolver';
import { SessionResolver } from '../resolvers/sessions/session.resolver';
import { UserResolver } from '../resolvers/sessions/user.resolver';
import { DateTimeScalar } from '../types/scalars';

// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
export const RESOLVERS: NonEmptyArray<Function> = [AuthResolver, SessionResolver, UserResolver, ProductResolver, CartResolver, OrderResolver, AnalyticsResolver, ExperimentResolver, JobResolver, InstanceResolver, RateLimitResolver];

/** A pub/sub that refuses to publish: for building the schema where no events flow (schema emission). */
const offlinePubSub: PubSub = {
  publish() {
    throw new Error('no pub/sub in this schema');
  },
  subscribe() {
    throw new Error('no pub/sub in this schema');
  },
};

export function buildGatewaySchema(pubSub: PubSub = offlinePubSub): Promise<GraphQLSchema> {
  return buildSchema({
    resolvers: RESOLVERS,
    scalarsMap: [{ type: Date, scalar: DateTimeScalar }],
    authChecker,
    pubSub,
    validate: { forbidUnknownValues: false, stopAtFirstError: false },
  });
}

/** The committed text form: sorted, so it changes only when the API does. */
export const renderSchema = (schema: GraphQLSchema): string => `${printSchema(lexicographicSortSchema(schema))}\n`;
