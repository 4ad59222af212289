import { IsInt, IsOptional, Max, MaxLength, Min } from 'class-validator';
import { Field, InputType, Int } from 'type-graphql';
import { OVERRIDE_BOUNDS } from '../../services/ratelimit/overrides';

const { points, windowSeconds, burst } = OVERRIDE_BOUNDS;

@InputType({ description: 'New values for one rate-limit policy, in force on every instance within a second.' })
export class RateLimitPolicyInput {
  @Field({ description: 'A policy rateLimitPolicies lists.' })
  @MaxLength(64, { message: 'must be at most 64 characters long' })
  name!: string;

  @Field(() => Int, { description: `Points per window, ${points.min} to ${points.max}.` })
  @IsInt({ message: 'must be an integer' })
  @Min(points.min, { message: `must be at least ${points.min}` })
  @Max(points.max, { message: `must be at most ${points.max}` })
  points!: number;

  @Field(() => Int, { description: `The window in seconds, ${windowSeconds.min} to ${windowSeconds.max} (7 days).` })
  @IsInt({ message: 'must be an integer' })
  @Min(windowSeconds.min, { message: `must be at least ${windowSeconds.min}` })
  @Max(windowSeconds.max, { message: `must be at most ${windowSeconds.max}` })
  windowSeconds!: number;

  @Field(() => Int, { nullable: true, description: `Points a fresh client may spend at once, ${burst.min} to ${burst.max}; default: points.` })
  @IsOptional()
  @IsInt({ message: 'must be an integer' })
  @Min(burst.min, { message: `must be at least ${burst.min}` })
  @Max(burst.max, { message: `must be at most ${burst.max}` })
  burst?: number | null;
}
