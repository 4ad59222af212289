import { Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { JSONObjectScalar } from '../scalars';
import { JobState } from '../../services/jobs/job-limits';

export { JobState };
registerEnumType(JobState, {
  name: 'JobState',
  description: 'FAILED means dead-lettered: every attempt is spent. A job waiting for its next attempt after a failure is DELAYED.',
});

@ObjectType({ description: 'A background job. Visible to its creator and to admins only.' })
export class Job {
  @Field(() => ID)
  id!: string;

  @Field({ description: 'The job type, e.g. email.send.' })
  type!: string;

  @Field(() => JobState)
  state!: JobState;

  @Field(() => Int, { description: 'Higher runs first; FIFO within one priority.' })
  priority!: number;

  @Field(() => Int, { description: '0 to 100' })
  progress!: number;

  @Field(() => Int, { description: 'Attempts made so far, the running one included.' })
  attempts!: number;

  @Field(() => Int)
  maxAttempts!: number;

  @Field(() => JSONObjectScalar)
  data!: Record<string, unknown>;

  @Field(() => JSONObjectScalar, { nullable: true })
  result!: Record<string, unknown> | null;

  @Field(() => String, { nullable: true, description: "The last failed attempt's error." })
  error!: string | null;

  @Field(() => Date)
  createdAt!: Date;

  @Field(() => Date, { nullable: true })
  finishedAt!: Date | null;
}

@ObjectType({ description: 'How many jobs are in each state.' })
export class QueueStats {
  @Field(() => Int)
  waiting!: number;

  @Field(() => Int)
  delayed!: number;

  @Field(() => Int)
  active!: number;

  @Field(() => Int)
  completed!: number;

  @Field(() => Int)
  failed!: number;
}

@ObjectType({
  description:
    "The caller's job quota. A job counts while it is WAITING or DELAYED: from enqueue until its first attempt starts (released within 25 ms of the start), and again while it waits for a retry after a failed attempt, after an admin's retryJob, or after its worker stopped or died. Past either limit, enqueueJob and enqueueJobs answer QUOTA_EXCEEDED and store nothing.",
})
export class JobQuota {
  @Field(() => Int, { description: 'Jobs now WAITING or DELAYED.' })
  pending!: number;

  @Field(() => Int, { description: "Bytes of those jobs' data, as stored (JSON, with the job's owner)." })
  pendingBytes!: number;

  @Field(() => Int, { description: 'At most this many jobs (JOB_MAX_PENDING_PER_USER).' })
  maxPending!: number;

  @Field(() => Int, { description: 'At most this many bytes of data (JOB_MAX_PENDING_BYTES_PER_USER).' })
  maxPendingBytes!: number;
}
