/**
 * Background jobs on BullMQ: enqueue with validation, priorities, delays,
 * retries and idempotency; read, cancel, retry and list; live updates through
 * {@link JobUpdates}. Jobs are visible to their creator and to admins only.
 *
 * BullMQ does the queueing, locking, stalled-job recovery, backoff and
 * retention. Written here because BullMQ lacks them: owner-scoped idempotency
 * keys, per-owner quotas of pending jobs (job-quota.ts), an atomic read of a job
 * with its state, and a cancel that only removes jobs that have not started
 * (Lua in src/redis/lua/job*.lua).
 */
import { Queue, type Job as BullJob, type JobsOptions } from 'bullmq';
import type { Config } from '../../config';
import { AppError, ErrorCode, badInput, invalidInput, notFound } from '../../util/errors';
import type { Logger } from '../../util/logger';
import { closeQuietly, type RedisClient } from '../../redis/connection';
import type { Keys } from '../../redis/keys';
import { runScript } from '../../redis/scripts';
import { JobState, enqueueInputProblems, isJobTypeName } from './job-limits';
import { DeadLetters } from './dead-letters';
import { randomUUID } from 'node:crypto';
import { sha256 } from '../../util/crypto';
import type { PushIterator } from '../../util/push-iterator';
import type { JobRequester } from './job-handler';
import { JobTypes, type AnyJobHandler } from './job-types';
import type { JobUpdates } from './job-updates';
import { JobQuota, OWNED_JOBS_KEPT, type QuotaUsage } from './job-quota';
import type { QueueCounts } from './job-record';
import { BULL_TYPES, jobStateOf, recordFromHash, recordFromJob, toBullPriority, type JobRecord, type StoredJobData } from './job-record';

export type { JobRecord } from './job-record';
export type { QuotaUsage } from './job-quota';

/** Who is asking. */
export interface JobViewer {
  userId: string | null;
  /** Whether the viewer's roles include ADMIN. */
  admin: boolean;
}

/** A signed-in caller enqueueing: its account's address decides where its email.send may go. */
export interface JobSender extends JobViewer {
  userId: string;
  email: string;
}

export interface EnqueueOptions {
  /** -1000..1000, higher first. Default 0. */
  priority?: number;
  /** Default 0. */
  delayMs?: number;
  /** Default JOB_MAX_ATTEMPTS (3). */
  maxAttempts?: number;
}

export interface ClientEnqueueOptions extends EnqueueOptions {
  /** The same key from the same user names the same job. */
  idempotencyKey?: string;
}

/** Item `i` of a batch refused (BAD_USER_INPUT or FORBIDDEN): its message and fields say which item. */
function inBatch(err: unknown, i: number): unknown {
  if (!(err instanceof AppError) || (err.code !== ErrorCode.BAD_USER_INPUT && err.code !== ErrorCode.FORBIDDEN)) return err;
  const fields = err.extensions.fields as Record<string, string[]> | undefined;
  const named = fields ? Object.fromEntries(Object.entries(fields).map(([k, v]) => [`inputs[${i}].${k}`, v])) : undefined;
  return new AppError(err.code, `inputs[${i}]: ${err.message}`, named ? { fields: named } : {});
}

/** A dead-letter type filter: null for every type; BAD_USER_INPUT unless written as a job type (a type no longer handled may still name failed jobs). */
function checkedType(type: string | null | undefined): string | null {
  if (type === null || type === undefined) return null;
  if (!isJobTypeName(type)) throw badInput('type must be a job type such as email.send', { type: ['must be a job type such as email.send'] });
  return type;
}

/** BAD_USER_INPUT naming every field of the item outside its bounds (JOB_LIMITS). */
function checkInput(item: ClientEnqueueOptions & { type: string; data: unknown }): void {
  const problems = enqueueInputProblems(item);
  if (problems) throw invalidInput(problems);
}

export interface InternalEnqueueOptions extends EnqueueOptions {
  /** A stable id makes the enqueue idempotent: a second call with it adds nothing. No `:`, not all digits. */
  jobId?: string;
  /** `u:<userId>` to let that user read the job; default null (admins only). */
  owner?: string | null;
}

export type { QueueCounts } from './job-record';

/** The backoff type the worker's strategy implements (see worker/job-runner.ts). */
export const BACKOFF_TYPE = 'gw-exponential';

export const ownerOf = (userId: string): string => `u:${userId}`;
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
// Ids are only ever made here (or by internal callers); anything else cannot name a job.
const JOB_ID = /^[A-Za-z0-9_.-]{1,128}$/;
// 122 random bits; randomUUID draws from a cached entropy pool, several times cheaper than randomBytes per call.
const newJobId = (): string => `j${randomUUID()}`;

/** A job to add; `stable` when its id was given (idempotency key, internal caller), so a job may exist under it already. */
interface NewJob {
  name: string;
  data: StoredJobData;
  opts: JobsOptions;
  stable: boolean;
}

export class JobService {
  /** The BullMQ queue, on its own command connection (it never blocks). */
  readonly queue: Queue;
  /**
   * Not the app's shared connection: BullMQ defines ~60 Lua commands on the client it is given, and
   * ioredis copies every defined command onto each auto-pipeline it creates, which put ~25 µs on
   * every batch of the app's own commands (docs/performance.md, "What changed, and what each was worth").
   */
  private readonly queueConnection: RedisClient;
  private updates: JobUpdates | null = null;
  /** Per-owner quotas of WAITING + DELAYED jobs (JOB_MAX_PENDING_PER_USER, JOB_MAX_PENDING_BYTES_PER_USER). */
  readonly quota: JobQuota;
  /** FAILED jobs in bulk (retryFailed, purgeFailed). */
  readonly deadLetters: DeadLetters;

  constructor(
    private readonly redis: RedisClient,
    keys: Keys,
    private readonly config: Config,
    /** What handlers get to validate and run (the service container; built after this service). */
    private readonly handlerServices: () => unknown,
    log: Logger,
    /** The job types this process knows (every handler in ./handlers). */
    readonly types: JobTypes = new JobTypes(),
  ) {
    // The connection's types come from the same ioredis; BullMQ's union type does not name Cluster.
    // Redis and Cluster both have duplicate(), with signatures TypeScript cannot call as a union.
    this.queueConnection = (redis as { duplicate(): RedisClient }).duplicate();
    this.queue = new Queue(keys.jobQueue, { connection: this.queueConnection, prefix: keys.prefix });
    this.queue.on('error', (err) => log.debug({ err: err.message }, 'job queue error'));
    this.quota = new JobQuota(redis, keys, this.queue, { maxPending: config.jobs.maxPendingPerUser, maxPendingBytes: config.jobs.maxPendingBytesPerUser }, log);
    this.deadLetters = new DeadLetters(redis, keys, this.queue, this.quota);
  }

  /** Wires live updates (done by the jobs module on gateway instances). */
  attachUpdates(updates: JobUpdates): void {
    this.updates = updates;
  }

  /** Enqueues a client job type for the sender. BAD_USER_INPUT for unknown or internal types and bad data; FORBIDDEN for what the sender may not ask; QUOTA_EXCEEDED past the sender's quota. */
  async enqueue(sender: JobSender, type: string, data: unknown, opts: ClientEnqueueOptions): Promise<JobRecord> {
    return (await this.enqueueMany(sender, [{ type, data, ...opts }]))[0];
  }

  /**
   * Enqueues several jobs in one round trip (BullMQ's addBulk, one pipeline), in order. Every
   * item is validated first: one bad item refuses the whole batch with BAD_USER_INPUT (or
   * FORBIDDEN) naming it (`inputs[i]...`), and nothing is enqueued. Then room is reserved in
   * the sender's quota for the whole batch at once, or QUOTA_EXCEEDED and nothing is enqueued.
   * The pipeline is not a transaction: a Redis failure midway may leave some items enqueued
   * (idempotency keys make the retry safe).
   */
  async enqueueMany(sender: JobSender, items: ReadonlyArray<ClientEnqueueOptions & { type: string; data: unknown }>): Promise<JobRecord[]> {
    const owner = ownerOf(sender.userId);
    const requester: JobRequester = { kind: 'client', userId: sender.userId, email: sender.email, admin: sender.admin };
    const batch = items.length > 1;
    const prepared = items.map((item, i) => {
      try {
        checkInput(item);
        const handler = this.types.get(item.type);
        if (!handler || handler.internal) throw badInput(`Unknown job type ${item.type}`, { type: ['is not a job type clients may enqueue'] });
        // The key is scoped to its owner by hashing both into the job id, so BullMQ's own
        // "an id that exists is not added again" makes the enqueue idempotent atomically.
        const jobId = item.idempotencyKey ? `k${sha256(`${owner}\n${item.idempotencyKey}`).slice(0, 40)}` : newJobId();
        return { item, type: handler.type, payload: this.prepare(handler, item.data, requester), jobId };
      } catch (err) {
        throw batch ? inBatch(err, i) : err;
      }
    });
    const bulk = prepared.map((p): NewJob => ({
      name: p.type,
      data: { owner, payload: p.payload },
      opts: this.bullOptions(p.jobId, p.item),
      stable: Boolean(p.item.idempotencyKey),
    }));
    const jobs = await this.addReserved(owner, bulk, true);
    // A reused key names a job that may have moved on (or carry other data): report it as stored.
    // (Most batches carry no key: then no await, no array of nulls.)
    const keyed = prepared.some((p) => p.item.idempotencyKey)
      ? await Promise.all(prepared.map((p) => (p.item.idempotencyKey ? this.snapshot(p.jobId) : Promise.resolve(null))))
      : [];
    return jobs.map((job, i) => keyed[i] ?? recordFromJob(job, prepared[i].item.delayMs ? JobState.DELAYED : JobState.WAITING));
  }

  /**
   * For other services (e.g. checkout's order.process): any registered type, no viewer. A job
   * with an owner is counted in the owner's quota but never refused by it: the service chose it.
   */
  async enqueueInternal(type: string, data: unknown, opts: InternalEnqueueOptions = {}): Promise<{ id: string }> {
    const handler = this.types.get(type);
    if (!handler) throw new Error(`unknown job type ${type}`);
    checkInput({ type, data, ...opts });
    const payload = this.prepare(handler, data, { kind: 'internal' });
    const stored: StoredJobData = { owner: opts.owner ?? null, payload };
    const [job] = await this.addReserved(
      stored.owner,
      [{ name: handler.type, data: stored, opts: this.bullOptions(opts.jobId ?? newJobId(), opts), stable: opts.jobId !== undefined }],
      false,
    );
    return { id: String(job.id) };
  }

  private prepare(handler: AnyJobHandler, data: unknown, requester: JobRequester): unknown {
    if (!isObject(data)) throw badInput('data must be a JSON object', { data: ['must be a JSON object'] });
    const max = this.config.jobs.maxDataBytes;
    if (Buffer.byteLength(JSON.stringify(data)) > max) throw badInput(`data is larger than ${max} bytes`, { data: [`must be at most ${max} bytes as JSON`] });
    return handler.validate(data, this.handlerServices(), requester);
  }

  /**
   * Reserves the jobs' room in their owner's quota (all or nothing; `checked` against the limits),
   * then adds them. When the add fails, the reservations it made are settled at once: dropped
   * unless the job got in after all (the reply, not the write, was lost). Jobs without an owner
   * are not counted.
   */
  private async addReserved(owner: string | null, jobs: NewJob[], checked: boolean): Promise<BullJob[]> {
    // The data's size as BullMQ stores it: its JSON, which HSTRLEN of the job's `data` field measures.
    const items = jobs.map((j) => ({ id: String(j.opts.jobId), bytes: Buffer.byteLength(JSON.stringify(j.data)), keyed: j.stable }));
    const reserved = owner ? await this.quota.reserve(owner, items, checked) : [];
    try {
      // One job needs no pipeline around its script.
      const bulk = jobs.map(({ name, data, opts }) => ({ name, data, opts }));
      return bulk.length === 1 ? [await this.queue.add(bulk[0].name, bulk[0].data, bulk[0].opts)] : await this.queue.addBulk(bulk);
    } catch (err) {
      if (owner && reserved.length) await this.quota.settle(owner, reserved).catch(() => undefined);
      throw err;
    }
  }

  /** Settles a job's quota reservation with its state now (see {@link JobQuota.settle}); a no-op for jobs without an owner. */
  async settleQuota(owner: string | null | undefined, id: string): Promise<void> {
    if (owner) await this.quota.settle(owner, [id]);
  }

  /** A worker started an attempt of the job: its reservation is settled shortly (see {@link JobQuota.started}). */
  attemptStarted(owner: string | null | undefined, id: string): void {
    if (owner) this.quota.started(owner, id);
  }

  /** The viewer's quota use and limits. */
  quotaOf(viewer: JobSender): Promise<QuotaUsage> {
    return this.quota.usage(ownerOf(viewer.userId));
  }

  private bullOptions(jobId: string, o: EnqueueOptions): JobsOptions {
    return {
      jobId,
      priority: toBullPriority(o.priority ?? 0),
      delay: o.delayMs || undefined,
      attempts: o.maxAttempts ?? this.config.jobs.defaultMaxAttempts,
      backoff: { type: BACKOFF_TYPE, delay: this.config.jobs.backoffMs },
    };
  }

  /** The job and its state read atomically; null when it does not exist. */
  async snapshot(id: string): Promise<JobRecord | null> {
    if (!JOB_ID.test(id)) return null;
    const k = this.queue.keys;
    const keys = [this.queue.toKey(id), k.completed, k.failed, k.delayed, k.prioritized, k.active, k.wait, k.paused];
    const reply = await runScript<string[] | null>(this.redis, 'jobSnapshot', keys, [id]);
    if (!reply) return null;
    const state = jobStateOf(reply[0]);
    if (!state) return null;
    const hash: Record<string, string> = {};
    for (let i = 1; i < reply.length; i += 2) hash[reply[i]] = reply[i + 1];
    return recordFromHash(id, state, hash);
  }

  /** True when the viewer may see the job: its creator or an admin. */
  visible(job: JobRecord, viewer: JobViewer): boolean {
    return viewer.admin || (viewer.userId !== null && job.owner === ownerOf(viewer.userId));
  }

  /** The job if the viewer may see it; null otherwise, exactly as for a job that does not exist. */
  async get(viewer: JobViewer, id: string): Promise<JobRecord | null> {
    const job = await this.snapshot(id);
    return job && this.visible(job, viewer) ? job : null;
  }

  /** Removes a WAITING or DELAYED job, freeing its place in its owner's quota: true when removed, false when it has started or finished. NOT_FOUND when not visible. */
  async cancel(viewer: JobViewer, id: string): Promise<boolean> {
    const job = await this.get(viewer, id);
    if (!job) throw notFound('Job');
    return this.removePending(id, job.owner);
  }

  /**
   * For other services (a cancelled order's job): removes the job while it is WAITING or DELAYED,
   * in one script, and settles its owner's quota; false when it has started, finished or is gone.
   */
  async removePending(id: string, owner: string | null): Promise<boolean> {
    if (!JOB_ID.test(id)) return false;
    const k = this.queue.keys;
    const keys = [this.queue.toKey(id), k.delayed, k.prioritized, k.wait, k.paused, k.meta, k.events];
    const removed = (await runScript<number>(this.redis, 'jobCancel', keys, [id])) === 1;
    if (removed) await this.settleQuota(owner, id);
    return removed;
  }

  /**
   * The viewer's own jobs (those it enqueued, and the service's jobs for it such as its orders'
   * order.process), newest first, in one state or any; at most `limit`. Read from the owner's
   * list, which keeps the newest {@link OWNED_JOBS_KEPT}: jobs gone by retention or a cancel are
   * skipped (and dropped from the list once a minute old, so an add on its way is not).
   */
  async listOwn(viewer: JobViewer & { userId: string }, state: JobState | null, limit: number): Promise<JobRecord[]> {
    const owner = ownerOf(viewer.userId);
    const out: JobRecord[] = [];
    const gone: string[] = [];
    const page = state ? 100 : Math.min(100, limit + 10);
    for (let start = 0; out.length < limit && start < OWNED_JOBS_KEPT; start += page) {
      const entries = await this.quota.owned(owner, start, page);
      const jobs = await Promise.all(entries.map((e) => this.snapshot(e.id)));
      entries.forEach((e, i) => {
        const job = jobs[i];
        if (!job || job.owner !== owner) {
          if (e.atMs < Date.now() - 60_000) gone.push(e.id);
        } else if (!state || job.state === state) out.push(job);
      });
      if (entries.length < page) break;
    }
    if (gone.length) await this.quota.forget(owner, gone).catch(() => undefined);
    return out.slice(0, limit);
  }

  /** Admin: sends a FAILED job back to WAITING with a fresh set of attempts. */
  async retry(id: string): Promise<JobRecord> {
    const current = await this.snapshot(id);
    if (!current) throw notFound('Job');
    const notFailed = (): Error => badInput(`Only a FAILED job can be retried; this one is ${current.state}`, { id: ['is not FAILED'] });
    if (current.state !== JobState.FAILED) throw notFailed();
    const job = await this.queue.getJob(id);
    if (!job) throw notFound('Job');
    try {
      await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
    } catch {
      // Someone else retried or removed it in between.
      throw notFailed();
    }
    // Pending again: counted in its owner's quota (not checked against it: the owner did not add it).
    await this.settleQuota(current.owner, id);
    return (await this.snapshot(id)) ?? recordFromJob(job, JobState.WAITING);
  }

  /**
   * Admin: moves every FAILED job of `type` (any type when null or omitted) back to WAITING with
   * fresh attempts, counted in its owner's quota; returns exactly how many moved (at most 10,000
   * per call: see dead-letters.ts). BAD_USER_INPUT when `type` is not written as a job type.
   */
  retryFailed(type: string | null | undefined): Promise<number> {
    return this.deadLetters.retry(checkedType(type));
  }

  /** Admin: deletes every FAILED job of `type` (any type when null or omitted); returns exactly how many (at most 10,000 per call). */
  purgeFailed(type: string | null | undefined): Promise<number> {
    return this.deadLetters.purge(checkedType(type));
  }

  /** Admin: jobs in one state, next-to-run first for pending states and newest first for finished ones. */
  async list(state: JobState, limit: number): Promise<JobRecord[]> {
    const pending = state === JobState.WAITING || state === JobState.DELAYED || state === JobState.ACTIVE;
    const jobs = await this.queue.getJobs(BULL_TYPES[state], 0, limit - 1, pending);
    return jobs
      .filter(Boolean)
      .slice(0, limit)
      .map((j) => recordFromJob(j, state));
  }

  async counts(): Promise<QueueCounts> {
    // BullMQ counts a paused queue's jobs under waiting.
    const c = await this.queue.getJobCounts('waiting', 'prioritized', 'delayed', 'active', 'completed', 'failed');
    return { waiting: c.waiting + c.prioritized, delayed: c.delayed, active: c.active, completed: c.completed, failed: c.failed };
  }

  /** Live updates of one job: its current state, then every change. NOT_FOUND when not visible. */
  async watch(viewer: JobViewer, id: string): Promise<PushIterator<JobRecord>> {
    if (!(await this.get(viewer, id))) throw notFound('Job');
    return this.liveEvents().watchJob(id);
  }

  /** Live queue counts: now, then at most once a second while anything changes. */
  watchCounts(): Promise<PushIterator<QueueCounts>> {
    return this.liveEvents().watchCounts();
  }

  private liveEvents(): JobUpdates {
    if (!this.updates) throw new Error('live job updates are not running in this process');
    return this.updates;
  }

  /** Closes the queue handle and its connection (the app's shared connection stays open). */
  async close(): Promise<void> {
    await this.quota.settleStarted();
    await this.updates?.close();
    await this.queue.close();
    await closeQuietly(this.queueConnection);
  }
}
