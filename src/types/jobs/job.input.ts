import { IsInt, IsOptional, Max, Min } from 'class-validator';
import { ArgsType, Field, InputType, Int } from 'type-graphql';
import { JOB_LIMITS, JobState } from '../../services/jobs/job-limits';
import { JSONObjectScalar } from '../scalars';

export { JOB_LIMITS };

/**
 * Checked by JobService (enqueueInputProblems in services/jobs/job-limits.ts), not by class-validator: the service
 * keeps internal callers to the same bounds, and a batch of 100 inputs costs a fraction of
 * class-validator's work per item, which was the largest allocator on the enqueueJobs path.
 */
@InputType()
export class EnqueueJobInput {
  @Field({ description: 'A job type clients may enqueue: email.send or webhook.deliver.' })
  type!: string;

  @Field(() => JSONObjectScalar, { description: "The job type's data; see the job types table." })
  data!: Record<string, unknown>;

  @Field(() => Int, { nullable: true, description: `-${JOB_LIMITS.priority} to ${JOB_LIMITS.priority}, higher first. Default 0.` })
  priority?: number;

  @Field(() => Int, { nullable: true, description: 'Run no earlier than this many milliseconds from now (at most 24 days: 2073600000).' })
  delayMs?: number;

  @Field(() => Int, { nullable: true, description: `1 to ${JOB_LIMITS.maxAttempts}. Default 3.` })
  maxAttempts?: number;

  @Field({ nullable: true, description: 'The same key from the same user returns the same job instead of a new one.' })
  idempotencyKey?: string;
}

@ArgsType()
export class JobsArgs {
  @Field(() => JobState)
  state!: JobState;

  @Field(() => Int, { nullable: true, description: '1 to 500. Default 50.' })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(500)
  limit?: number;
}

/** `myJobs`: default and largest page. */
export const MY_JOBS_PAGE = { default: 20, max: 100 } as const;

@ArgsType()
export class MyJobsArgs {
  @Field(() => JobState, { nullable: true, description: 'Only jobs in this state now; any state when omitted.' })
  @IsOptional()
  state?: JobState | null;

  @Field(() => Int, { nullable: true, description: `1 to ${MY_JOBS_PAGE.max}. Default ${MY_JOBS_PAGE.default}.` })
  @IsOptional()
  @IsInt({ message: 'must be a whole number' })
  @Min(1, { message: 'must be at least 1' })
  @Max(MY_JOBS_PAGE.max, { message: `must be at most ${MY_JOBS_PAGE.max}` })
  limit?: number | null;
}
