import type { GraphQLResolveInfo } from 'graphql';
import { Arg, Authorized, Ctx, Info, Int, Query, Resolver, Root, Subscription } from 'type-graphql';
import type { ResolverContext } from '../context';
import { RateLimit } from '../../types/ratelimit/rate-limit.decorator';
import { RATE_LIMIT_REJECTED_TOPIC, type RejectionEvent } from '../../services/ratelimit/ratelimit.service';
import { RateLimitOverview, RateLimitRejection, RateLimitStatus } from '../../types/ratelimit/ratelimit.type';
import { toOverview, toRejection } from '../../types/ratelimit/ratelimit.mappers';

@Resolver()
export class RateLimitResolver {
  // Reading the budget does not spend it; its own small policy keeps polling cheap.
  @RateLimit({ name: 'rate-limit-status', points: 60, window: '1m', chargeDefault: false })
  @Query(() => RateLimitStatus, { description: "The caller's own budget under the default policy, read without spending it." })
  rateLimitStatus(@Ctx() { ctx, services }: ResolverContext): RateLimitStatus {
    return services.rateLimits.status(ctx);
  }

  @Authorized('ADMIN')
  @Query(() => RateLimitOverview, { description: 'Admin only. Top consumers, refusals per policy per minute and blocked clients, across every instance.' })
  async rateLimitOverview(
    @Ctx() { services }: ResolverContext,
    @Info() info: GraphQLResolveInfo,
    @Arg('minutes', () => Int, { nullable: true, description: 'Period, 1 to 60 minutes; default 60.' }) minutes?: number,
    @Arg('limit', () => Int, { nullable: true, description: 'Top entries, 1 to 100; default 10.' }) limit?: number,
  ): Promise<RateLimitOverview> {
    const m = Math.min(60, Math.max(1, minutes ?? 60));
    const l = Math.min(100, Math.max(1, limit ?? 10));
    const limits = services.rateLimits;
    return toOverview(await limits.overview(m, l), limits.policy, info.schema, limits.extra);
  }

  @Authorized('ADMIN')
  @Subscription(() => RateLimitRejection, {
    topics: RATE_LIMIT_REJECTED_TOPIC,
    description: 'Admin only. Every refused request, from every instance.',
  })
  rateLimitRejected(@Root() event: RejectionEvent): RateLimitRejection {
    return toRejection(event);
  }
}
