import { Field, Int, ObjectType } from 'type-graphql';
import { ListSize } from '../list-size';
import { MAX_BLOCKED_SHOWN } from '../../services/ratelimit/stats';

@ObjectType({ description: "The caller's budget under the default policy." })
export class RateLimitStatus {
  @Field(() => Int, { description: 'Points a full budget holds (the burst).' })
  limit!: number;

  @Field(() => Int, { description: 'Points left now.' })
  remaining!: number;

  @Field(() => Date, { description: 'When the budget is full again.' })
  resetAt!: Date;

  @Field(() => Int, { description: 'The window over which `limit` points refill; 0 when unlimited.' })
  windowSeconds!: number;

  @Field({ description: 'True when rate limits are off or the caller is allow-listed (limit and remaining are then 2147483647).' })
  unlimited!: boolean;
}

@ObjectType({ description: 'One refused request.' })
export class RateLimitRejection {
  @Field({ description: 'The policy that refused it (the one with the longest wait), `blocklist` or `ws-subscriptions`.' })
  policy!: string;

  @Field({ description: 'The caller: `user:<id>` or `ip:<address>`.' })
  identity!: string;

  @Field({ description: 'What the policy counts by: the identity, `ip:<address>` or `email:<address>`.' })
  partition!: string;

  @Field({ description: 'Operation name, else its root fields.' })
  operation!: string;

  @Field({ description: '`http` or `ws`.' })
  transport!: string;

  @Field(() => Int)
  cost!: number;

  @Field(() => Int, { description: 'Seconds until a retry can pass.' })
  retryAfter!: number;

  @Field(() => Date)
  at!: Date;
}

@ObjectType({ description: 'Points (or refusals) of one identity.' })
export class RateLimitConsumer {
  @Field()
  identity!: string;

  @Field(() => Int)
  points!: number;
}

@ObjectType()
export class RateLimitMinuteCount {
  @Field(() => Date, { description: 'Start of the minute.' })
  at!: Date;

  @Field(() => Int)
  count!: number;
}

@ObjectType({ description: 'Refusals of one policy per minute, oldest first.' })
export class RateLimitRejectionSeries {
  @Field()
  policy!: string;

  @Field(() => Int)
  total!: number;

  // rateLimitOverview reads at most 60 minutes.
  @ListSize({ max: 60 })
  @Field(() => [RateLimitMinuteCount])
  perMinute!: RateLimitMinuteCount[];
}

@ObjectType({ description: 'A client refused now.' })
export class RateLimitBlockedClient {
  @Field()
  policy!: string;

  @Field({ description: 'What the policy counts by (identity, `ip:`, `email:`).' })
  identity!: string;

  @Field(() => Date, { nullable: true, description: 'When it may pass again; null for RATE_LIMIT_BLOCK entries.' })
  until!: Date | null;
}

@ObjectType({ description: 'A policy in force.' })
export class RateLimitPolicyInfo {
  @Field()
  name!: string;

  @Field(() => Int, { description: 'Steady rate: points per window.' })
  points!: number;

  @Field(() => Int)
  windowSeconds!: number;

  @Field(() => Int)
  burst!: number;

  @Field({ description: '`identity`, `ip` or `arg:<path>`.' })
  partition!: string;

  @Field({ description: '`open` or `closed`: what happens while Redis is unreachable.' })
  onRedisDown!: string;

  @Field({ description: 'Root fields carrying this policy; empty for the default policy.' })
  fields!: string;
}

/** Policies are defined in code (a dozen or so); a bound for the cost estimate. */
const MAX_POLICIES = 50;

@ObjectType({ description: 'Rate limiting across every instance, for operators.' })
export class RateLimitOverview {
  // rateLimitOverview's limit is 1 to 100.
  @ListSize({ max: 100 })
  @Field(() => [RateLimitConsumer], { description: 'Identities by default-policy points spent in the period.' })
  topConsumers!: RateLimitConsumer[];

  @ListSize({ max: 100 })
  @Field(() => [RateLimitConsumer], { description: 'Identities by refused requests in the period (points = refusals).' })
  topRejected!: RateLimitConsumer[];

  // One series per policy: the dozen or so defined in code.
  @ListSize({ max: MAX_POLICIES })
  @Field(() => [RateLimitRejectionSeries], { description: 'Refusals per policy per minute.' })
  rejections!: RateLimitRejectionSeries[];

  // At most MAX_BLOCKED_SHOWN refused clients (the statistics read), as many RATE_LIMIT_BLOCK entries and as many admins' blocks (ratelimit.mappers.ts).
  @ListSize({ max: 3 * MAX_BLOCKED_SHOWN })
  @Field(() => [RateLimitBlockedClient], {
    description:
      "Clients refused now: `blocklist` entries are blocks (until null: RATE_LIMIT_BLOCK; else an admin's blockClient), the others clients out of budget.",
  })
  blocked!: RateLimitBlockedClient[];

  @ListSize({ max: MAX_POLICIES })
  @Field(() => [RateLimitPolicyInfo])
  policies!: RateLimitPolicyInfo[];

  @Field({ description: 'False when RATE_LIMIT_DEFAULT=off on the answering instance.' })
  enabled!: boolean;
}

@ObjectType({ description: 'The values of a rate-limit policy.' })
export class RateLimitValues {
  @Field(() => Int, { description: 'Steady rate: points per window.' })
  points!: number;

  @Field(() => Int)
  windowSeconds!: number;

  @Field(() => Int, { description: 'Points a full budget holds.' })
  burst!: number;
}

@ObjectType({ description: 'A rate-limit policy with the values in force now on every instance.' })
export class RateLimitPolicy {
  @Field()
  name!: string;

  @Field(() => Int, { description: 'Steady rate: points per window.' })
  points!: number;

  @Field(() => Int)
  windowSeconds!: number;

  @Field(() => Int, { description: 'Points a full budget holds (a fresh client may spend them at once).' })
  burst!: number;

  @Field({ description: "True while an admin's override is in force instead of the configured values." })
  overridden!: boolean;

  @Field(() => RateLimitValues, { description: 'The configured values (environment or code): in force again after resetRateLimitPolicy.' })
  configured!: RateLimitValues;
}
