import { IsInt, IsOptional, Matches, Max, MaxLength, Min, ValidateBy } from 'class-validator';
import { ArgsType, Field, InputType, Int } from 'type-graphql';
import { JobState } from './job.type';
import { JSONObjectScalar } from './scalars';

/** Bounds shared by the input class and the service. */
export const JOB_LIMITS = { priority: 1000, delayMs: 30 * 86_400_000, maxAttempts: 25, batch: 100 } as const;

/** Deepest nesting of job data: far beyond any real payload, far below what JSON.stringify's recursion survives. */
export const MAX_DATA_DEPTH = 64;

/** Whether objects and arrays in `value` nest at most `max` levels; walked without recursion, since the depth is the client's. */
export function nestedAtMost(value: unknown, max: number): boolean {
  const pending: Array<[unknown, number]> = [[value, 1]];
  for (let next = pending.pop(); next; next = pending.pop()) {
    const [v, depth] = next;
    if (v === null || typeof v !== 'object') continue;
    if (depth > max) return false;
    for (const child of Object.values(v)) pending.push([child, depth + 1]);
  }
  return true;
}

@InputType()
export class EnqueueJobInput {
  @Field({ description: 'A job type clients may enqueue: email.send or webhook.deliver.' })
  @Matches(/^[a-z][a-z0-9]*(\.[a-z][a-z0-9-]*)+$/, { message: 'must be a job type such as email.send' })
  @MaxLength(64)
  type!: string;

  @Field(() => JSONObjectScalar, { description: 'The job type\'s data; see the job types table.' })
  @ValidateBy({ name: 'maxDepth', validator: { validate: (v: unknown) => nestedAtMost(v, MAX_DATA_DEPTH) } }, { message: `must nest at most ${MAX_DATA_DEPTH} levels deep` })
  data!: Record<string, unknown>;

  @Field(() => Int, { nullable: true, description: `-${JOB_LIMITS.priority} to ${JOB_LIMITS.priority}, higher first. Default 0.` })
  @IsOptional()
  @IsInt()
  @Min(-JOB_LIMITS.priority)
  @Max(JOB_LIMITS.priority)
  priority?: number;

  @Field(() => Int, { nullable: true, description: 'Run no earlier than this many milliseconds from now (at most 30 days).' })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(JOB_LIMITS.delayMs)
  delayMs?: number;

  @Field(() => Int, { nullable: true, description: `1 to ${JOB_LIMITS.maxAttempts}. Default 3.` })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(JOB_LIMITS.maxAttempts)
  maxAttempts?: number;

  @Field({ nullable: true, description: 'The same key from the same user returns the same job instead of a new one.' })
  @IsOptional()
  @Matches(/^[\x21-\x7e]{1,128}$/, { message: 'must be 1 to 128 printable ASCII characters' })
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
