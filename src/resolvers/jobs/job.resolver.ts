import { Arg, Args, Authorized, Ctx, ID, Int, Mutation, Query, Resolver, Root, Subscription } from 'type-graphql';
import type { ResolverContext } from '../context';
import { Audited } from '../audit/audited';
import type { RequestContext } from '../../services/context';
import { isAdmin, signedInActor } from '../viewer';
import type { JobRecord, JobSender, QueueCounts, QuotaUsage } from '../../services/jobs/job.service';
import { badInput } from '../../util/errors';
import { RateLimit } from '../../types/ratelimit/rate-limit.decorator';
import { EnqueueJobInput, JOB_LIMITS, JobsArgs, MY_JOBS_PAGE, MyJobsArgs } from '../../types/jobs/job.input';
import { Job, JobQuota, QueueStats } from '../../types/jobs/job.type';
import { ListSize } from '../../types/list-size';

/**
 * The caller: admin by its roles, and its account's address (where its email.send may go). An API key owns
 * its jobs as `key:<id>` (its own quota) and has no address: with ADMIN it may mail anyone, else no one.
 */
async function viewer(ctx: RequestContext): Promise<JobSender> {
  const actor = await signedInActor(ctx);
  if (actor.kind === 'key') return { userId: `key:${actor.id}`, admin: isAdmin(actor), email: '' };
  return { userId: actor.user.id, admin: isAdmin(actor), email: actor.user.email };
}

@Resolver(() => Job)
export class JobResolver {
  @Authorized()
  @Query(() => Job, { nullable: true, description: "The caller's job (any job for an admin); null for anyone else's or an unknown id." })
  async job(@Arg('id', () => ID) id: string, @Ctx() { ctx, services }: ResolverContext): Promise<Job | null> {
    return services.jobs.get(await viewer(ctx), id);
  }

  @Authorized('ADMIN')
  @ListSize({ arg: 'limit', default: 50, max: 500 })
  @Query(() => [Job], { description: 'Admin only. Jobs in one state: pending ones in run order, finished ones newest first.' })
  jobs(@Args(() => JobsArgs) { state, limit }: JobsArgs, @Ctx() { services }: ResolverContext): Promise<Job[]> {
    return services.jobs.list(state, limit ?? 50);
  }

  @Authorized()
  @ListSize({ arg: 'limit', default: MY_JOBS_PAGE.default, max: MY_JOBS_PAGE.max })
  @Query(() => [Job], {
    description: `The caller's own jobs, newest first: those it enqueued and those the service runs for it (its orders' order.process), in one state now or any. limit 1 to ${MY_JOBS_PAGE.max}, default ${MY_JOBS_PAGE.default}.`,
  })
  async myJobs(@Args(() => MyJobsArgs) { state, limit }: MyJobsArgs, @Ctx() { ctx, services }: ResolverContext): Promise<Job[]> {
    return services.jobs.listOwn(await viewer(ctx), state ?? null, limit ?? MY_JOBS_PAGE.default);
  }

  @Authorized()
  @Query(() => JobQuota, { description: "The caller's jobs WAITING or DELAYED, in count and bytes, and the limits on them." })
  async myJobQuota(@Ctx() { ctx, services }: ResolverContext): Promise<QuotaUsage> {
    return services.jobs.quotaOf(await viewer(ctx));
  }

  @Authorized('ADMIN')
  @Query(() => QueueStats, { description: 'Admin only.' })
  queueStats(@Ctx() { services }: ResolverContext): Promise<QueueStats> {
    return services.jobs.counts();
  }

  @Authorized()
  @Mutation(() => Job, {
    description:
      "Enqueues a job of a client type (see the job types table). The same idempotencyKey returns the same job. QUOTA_EXCEEDED past the caller's job quota (myJobQuota).",
  })
  // validate: false on both: JobService checks the input's bounds (enqueueInputProblems), for internal callers too.
  async enqueueJob(@Arg('input', () => EnqueueJobInput, { validate: false }) input: EnqueueJobInput, @Ctx() { ctx, services }: ResolverContext): Promise<Job> {
    const { type, data, ...opts } = input;
    return services.jobs.enqueue(await viewer(ctx), type, data, opts);
  }

  @Authorized()
  @ListSize({ max: JOB_LIMITS.batch })
  @Mutation(() => [Job], {
    description: `Enqueues 1 to ${JOB_LIMITS.batch} jobs in one round trip, in order; costs one point per job. One invalid item refuses the batch (BAD_USER_INPUT or FORBIDDEN naming inputs[i]) and nothing is enqueued; so does a batch that does not fit in the caller's job quota (QUOTA_EXCEEDED).`,
  })
  async enqueueJobs(
    @Arg('inputs', () => [EnqueueJobInput], { validate: false }) inputs: EnqueueJobInput[],
    @Ctx() { ctx, services }: ResolverContext,
  ): Promise<Job[]> {
    if (inputs.length < 1 || inputs.length > JOB_LIMITS.batch)
      throw badInput(`inputs must hold 1 to ${JOB_LIMITS.batch} jobs`, { inputs: [`must hold 1 to ${JOB_LIMITS.batch} jobs`] });
    return services.jobs.enqueueMany(await viewer(ctx), inputs);
  }

  @Authorized()
  @Mutation(() => Boolean, { description: 'Removes a WAITING or DELAYED job of the caller (any job for an admin); false once it has started.' })
  async cancelJob(@Arg('id', () => ID) id: string, @Ctx() { ctx, services }: ResolverContext): Promise<boolean> {
    return services.jobs.cancel(await viewer(ctx), id);
  }

  @Authorized('ADMIN')
  @Audited((args) => String(args.id))
  @Mutation(() => Job, { description: 'Admin only: moves a FAILED job back to WAITING with a fresh set of attempts.' })
  retryJob(@Arg('id', () => ID) id: string, @Ctx() { services }: ResolverContext): Promise<Job> {
    return services.jobs.retry(id);
  }

  @Authorized('ADMIN')
  @Audited((args, moved) => `${typeof args.type === 'string' ? args.type : 'every type'}: ${String(moved)} moved`)
  @Mutation(() => Int, {
    description:
      'Admin only. Moves FAILED jobs (of one type, or all) back to WAITING with fresh attempts; returns exactly how many moved. At most 10000 per call: call again while it answers 10000.',
  })
  retryFailedJobs(@Arg('type', () => String, { nullable: true }) type: string | null, @Ctx() { services }: ResolverContext): Promise<number> {
    return services.jobs.retryFailed(type);
  }

  @Authorized('ADMIN')
  @Audited((args, deleted) => `${typeof args.type === 'string' ? args.type : 'every type'}: ${String(deleted)} deleted`)
  @Mutation(() => Int, {
    description: 'Admin only. Deletes FAILED jobs (of one type, or all); returns exactly how many. At most 10000 per call: call again while it answers 10000.',
  })
  purgeFailedJobs(@Arg('type', () => String, { nullable: true }) type: string | null, @Ctx() { services }: ResolverContext): Promise<number> {
    return services.jobs.purgeFailed(type);
  }

  @Authorized()
  // Each subscribe reads the job from Redis: a client re-subscribing in a loop is slowed down.
  @RateLimit({ name: 'job-watch', points: 60, window: '1m', burst: 30 })
  @Subscription(() => Job, {
    description: "The job's owner or an admin. The current state first, then every state or progress change; completes when the job is removed.",
    subscribe: async ({ args, context }) =>
      (context as ResolverContext).services.jobs.watch(await viewer((context as ResolverContext).ctx), String((args as { id: string }).id)),
  })
  jobUpdated(@Root() job: JobRecord, @Arg('id', () => ID) _id: string): Job {
    return job;
  }

  @Authorized('ADMIN')
  @Subscription(() => QueueStats, {
    description: 'Admin only. The counts now, then pushed at most once a second while anything changes.',
    subscribe: ({ context }) => (context as ResolverContext).services.jobs.watchCounts(),
  })
  queueStatsUpdated(@Root() stats: QueueCounts): QueueStats {
    return stats;
  }
}
