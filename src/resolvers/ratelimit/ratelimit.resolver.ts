import type { GraphQLResolveInfo } from 'graphql';
import { Arg, Authorized, Ctx, Info, Int, Mutation, Query, Resolver, Root, Subscription } from 'type-graphql';
import type { ResolverContext } from '../context';
import { Audited } from '../audit/audited';
import { RateLimit } from '../../types/ratelimit/rate-limit.decorator';
import { RATE_LIMIT_REJECTED_TOPIC, type RejectionEvent } from '../../services/ratelimit/ratelimit.service';
import { RateLimitOverview, RateLimitPolicy, RateLimitRejection, RateLimitStatus } from '../../types/ratelimit/ratelimit.type';
import { RateLimitPolicyInput } from '../../types/ratelimit/ratelimit.input';
import { toOverview, toPolicy, toRejection } from '../../types/ratelimit/ratelimit.mappers';
import { ListSize } from '../../types/list-size';

/** Policies are defined in configuration and code: a dozen or so. */
const MAX_POLICIES = 50;

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
    return toOverview(await limits.overview(m, l), limits.policy, info.schema, limits.extra, (p) => limits.effective(p));
  }

  @Authorized('ADMIN')
  @ListSize({ max: MAX_POLICIES })
  @Query(() => [RateLimitPolicy], { description: 'Admin only. Every policy with the values in force now; empty when rate limits are off.' })
  rateLimitPolicies(@Ctx() { services }: ResolverContext): RateLimitPolicy[] {
    return services.rateLimits.policies().map(toPolicy);
  }

  @Authorized('ADMIN')
  @Audited((args) => {
    const i = args.input as RateLimitPolicyInput;
    return `${i.name} ${i.points}/${i.windowSeconds}s burst ${i.burst ?? i.points}`;
  })
  @Mutation(() => RateLimitPolicy, {
    description: 'Admin only. Puts these values in force instead of the configured ones, on every instance within a second; recorded in the audit log.',
  })
  async setRateLimitPolicy(
    @Arg('input', () => RateLimitPolicyInput) input: RateLimitPolicyInput,
    @Ctx() { services }: ResolverContext,
  ): Promise<RateLimitPolicy> {
    return toPolicy(await services.rateLimits.setPolicy(input.name, input));
  }

  @Authorized('ADMIN')
  @Audited((args) => String(args.name))
  @Mutation(() => RateLimitPolicy, { description: 'Admin only. Back to the configured values, on every instance within a second.' })
  async resetRateLimitPolicy(@Arg('name') name: string, @Ctx() { services }: ResolverContext): Promise<RateLimitPolicy> {
    return toPolicy(await services.rateLimits.resetPolicy(name));
  }

  @Authorized('ADMIN')
  @Audited((args) => `${String(args.identity)} for ${String(args.seconds)}s`)
  @Mutation(() => Boolean, {
    description:
      'Admin only. Refuses every request of `identity` (user:<id>, ip:<address>, key:<id>, as rateLimitOverview shows it) for 1 to 2592000 seconds (30 days), on every instance at once.',
  })
  async blockClient(@Arg('identity') identity: string, @Arg('seconds', () => Int) seconds: number, @Ctx() { services }: ResolverContext): Promise<boolean> {
    await services.rateLimits.blockClient(identity, seconds);
    return true;
  }

  @Authorized('ADMIN')
  @Audited((args) => String(args.identity))
  @Mutation(() => Boolean, { description: 'Admin only. Lifts a block; false when the identity was not blocked (RATE_LIMIT_BLOCK entries stay).' })
  unblockClient(@Arg('identity') identity: string, @Ctx() { services }: ResolverContext): Promise<boolean> {
    return services.rateLimits.unblockClient(identity);
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
