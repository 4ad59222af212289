/**
 * `@Cached` is refused where a cached result could differ per caller: the schema check throws for a
 * field that is not a Query, not public, reads the request context (or root, or info), or runs
 * another middleware; the options are checked when the decorator is applied; the gateway's own
 * schema passes, with `recommendations` cached.
 */
import 'reflect-metadata';
import { Arg, Authorized, Ctx, Info, Int, Mutation, ObjectType, Field, Query, Resolver, UseMiddleware, buildSchema } from 'type-graphql';
import { buildGatewaySchema } from '../../src/app/schema';
import { Cached, cachedOf, checkCachedFields } from '../../src/types/cache/cached.decorator';
import { PRODUCTS_CHANGED_TAG } from '../../src/services/commerce/catalog.service';

@ObjectType()
class Thing {
  @Field(() => Int)
  n!: number;
}

@Resolver()
class Good {
  @Cached({ ttlSeconds: 10, tags: ['things'] })
  @Query(() => Thing)
  thing(@Arg('n', () => Int) n: number, @Ctx('services') _services: unknown): Thing {
    return { n };
  }
}

@Resolver()
class NotPublic {
  @Authorized('ADMIN')
  @Cached({ ttlSeconds: 10 })
  @Query(() => Thing)
  secret(): Thing {
    return { n: 1 };
  }
}

@Resolver()
class ReadsTheCaller {
  @Cached({ ttlSeconds: 10 })
  @Query(() => Thing)
  mine(@Ctx() _ctx: unknown): Thing {
    return { n: 1 };
  }
}

@Resolver()
class ReadsInfo {
  @Cached({ ttlSeconds: 10 })
  @Query(() => Thing)
  shaped(@Info() _info: unknown): Thing {
    return { n: 1 };
  }
}

@Resolver()
class OtherMiddleware {
  @UseMiddleware(async (_data, next) => next())
  @Cached({ ttlSeconds: 10 })
  @Query(() => Thing)
  wrapped(): Thing {
    return { n: 1 };
  }
}

@Resolver()
class OnAMutation {
  @Query(() => Int)
  ok(): number {
    return 1;
  }

  @Cached({ ttlSeconds: 10 })
  @Mutation(() => Thing)
  change(): Thing {
    return { n: 1 };
  }
}

// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type -- TypeGraphQL's own type for resolver classes
const check = async (resolver: Function): Promise<void> =>
  checkCachedFields(await buildSchema({ resolvers: [resolver], validate: false, authChecker: () => true }));

test('a public Query taking arguments and services only may be cached', async () => {
  await expect(check(Good)).resolves.toBeUndefined();
});

test.each([
  [NotPublic, /Query\.secret: the field is not public/],
  [ReadsTheCaller, /Query\.mine: the resolver takes @Ctx\(\)/],
  [ReadsInfo, /Query\.shaped: the resolver takes a info parameter/],
  [OtherMiddleware, /Query\.wrapped: no other middleware/],
  [OnAMutation, /Mutation\.change: only a Query field/],
])('refused at schema build: %p', async (resolver, message) => {
  await expect(check(resolver)).rejects.toThrow(message);
});

test('options are checked when the decorator is applied', () => {
  expect(() => Cached({ ttlSeconds: 0 })).toThrow(/ttlSeconds must be a whole number from 1 to 300/);
  expect(() => Cached({ ttlSeconds: 301 })).toThrow(/ttlSeconds/);
  expect(() => Cached({ ttlSeconds: 1.5 })).toThrow(/ttlSeconds/);
  expect(() => Cached({ ttlSeconds: 10, tags: ['has space'] })).toThrow(/tag "has space"/);
  expect(() => Cached({ ttlSeconds: 10, tags: [''] })).toThrow(/tag ""/);
});

test("the gateway's schema passes, recommendations cached in memory by the catalog's product-change tag", async () => {
  const schema = await buildGatewaySchema();
  const fields = schema.getQueryType()!.getFields();
  expect(cachedOf(fields.recommendations)).toMatchObject({ ttlSeconds: 5, tags: [PRODUCTS_CHANGED_TAG], redis: false });
  expect(cachedOf(fields.products)).toBeUndefined();
});
