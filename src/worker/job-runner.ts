/**
 * Runs jobs: one BullMQ Worker on the queue, dispatching each job to its
 * handler. BullMQ provides the locks (renewed while a job runs; a dead worker's
 * jobs are re-run elsewhere once its lock expires), backoff and retention.
 * Added here: the jittered capped backoff, a shutdown that hands running
 * jobs back to the queue when they outlast the grace period instead of letting
 * them wait for lock expiry, and the owners' job quotas kept in step: a job's
 * reservation is settled whenever this worker moves it (an attempt starts,
 * fails, a job is handed back or found stalled), and the recovery sweep
 * repairs what a crash between two steps left behind.
 */
import { hostname } from 'node:os';
import { UnrecoverableError, WaitingError, Worker, type Job as BullJob } from 'bullmq';
import type { Config } from '../config';
import type { Logger } from '../util/logger';
import { isRedisUnavailable, waitReady, type RedisClient } from '../redis/connection';
import type { Keys } from '../redis/keys';
import type { Services } from '../services/container';
import type { StoredJobData } from '../services/jobs/job-record';
import type { JobRun } from '../services/jobs/job-handler';
import type { JobTypes } from '../services/jobs/job-types';

/** Longest wait between two attempts, whatever JOB_BACKOFF and the attempt count. */
export const MAX_BACKOFF_MS = 3_600_000;
/** A retry waits between 80% and 100% of the exponential delay, so retries of jobs that failed together spread out. */
export const BACKOFF_JITTER = 0.2;
/** Longest a job taken while the handlers' connection is still reconnecting waits for it (it retries at most 1 s apart). */
export const COMMANDS_READY_WAIT_MS = 5000;

/** Delay before the next attempt after `failedAttempts` attempts failed (1 after the first failure). */
export function backoffDelay(failedAttempts: number, baseMs: number, random: () => number = Math.random): number {
  const full = Math.min(baseMs * 2 ** Math.max(0, failedAttempts - 1), MAX_BACKOFF_MS);
  return Math.round(full * (1 - BACKOFF_JITTER * random()));
}

const clampProgress = (p: number): number => (Number.isFinite(p) ? Math.max(0, Math.min(100, Math.round(p))) : 0);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export interface RunnerDeps {
  services: Services;
  registry: JobTypes;
  /** A blocking-capable connection (maxRetriesPerRequest null); BullMQ duplicates it for its own use. */
  connection: RedisClient;
  /**
   * The fail-fast connection the services (so the handlers) use. After an outage or a
   * failover it reconnects on its own schedule, possibly after the worker's connection
   * has taken jobs again; a job taken in between waits for it instead of spending an
   * attempt (a job with one attempt left would be dead-lettered).
   */
  commands?: RedisClient;
  keys: Keys;
  config: Config;
  log: Logger;
}

interface Running {
  job: BullJob<StoredJobData>;
  token: string;
  handBack(err: Error): void;
}

export class JobRunner {
  readonly worker: Worker<StoredJobData>;
  private readonly running = new Map<string, Running>();
  private closing: Promise<{ handedBack: number }> | null = null;
  private recoverTimer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: RunnerDeps) {
    const { config, keys } = deps;
    const { jobs } = config;
    this.worker = new Worker<StoredJobData>(keys.jobQueue, (job, token) => this.process(job, token ?? ''), {
      connection: deps.connection,
      prefix: keys.prefix,
      name: `${hostname()}:${process.pid}`,
      autorun: false,
      concurrency: config.jobs.concurrency,
      lockDuration: jobs.lockMs,
      // A dead worker's jobs are noticed within lock + one check interval.
      stalledInterval: Math.max(500, Math.min(jobs.lockMs, 30_000)),
      maxStalledCount: 3,
      removeOnComplete: { count: jobs.keepCompleted.count, age: Math.ceil(jobs.keepCompleted.ageMs / 1000) },
      removeOnFail: { count: jobs.keepFailed.count, age: Math.ceil(jobs.keepFailed.ageMs / 1000) },
      runRetryDelay: 1000,
      settings: {
        backoffStrategy: (attemptsMade, _type, _err, job) =>
          backoffDelay(
            attemptsMade,
            Number(job?.opts.backoff && typeof job.opts.backoff === 'object' ? job.opts.backoff.delay : jobs.backoffMs) || jobs.backoffMs,
          ),
      },
    });
    this.worker.on('error', (err) => {
      if (isRedisUnavailable(err)) deps.log.debug({ err: err.message }, 'job worker: redis unavailable');
      else deps.log.warn({ err: err.message }, 'job worker error');
    });
    this.worker.on('failed', (job, err) => {
      deps.log.debug({ jobId: job?.id, type: job?.name, err: err.message }, 'job attempt failed');
      // Waiting for a retry (DELAYED) counts in the owner's quota again; dead-lettered, it does not.
      if (job) void this.settleQuota(job.data?.owner, String(job.id));
    });
    // Moved back to WAITING by this worker's stalled-job check: counts again.
    this.worker.on('stalled', (jobId) => void this.settleStalled(jobId));
  }

  /** Settles one job's quota reservation with its state now; a failure waits for the recovery sweep. */
  private async settleQuota(owner: string | null | undefined, id: string): Promise<void> {
    await this.deps.services.jobs
      .settleQuota(owner, id)
      .catch((err: Error) => this.deps.log.debug({ err: err.message, jobId: id }, 'job quota settle failed; the recovery sweep repairs it'));
  }

  /** A stalled job's owner is read from the job itself (the event carries only its id). */
  private async settleStalled(jobId: string): Promise<void> {
    const job = await this.deps.services.jobs.snapshot(jobId).catch(() => null);
    if (job) await this.settleQuota(job.owner, jobId);
  }

  /** Starts taking jobs and the handlers' recovery sweeps; resolves once the worker is connected. */
  async start(): Promise<void> {
    void this.worker.run().catch((err: Error) => this.deps.log.error({ err: err.message }, 'job worker stopped'));
    await this.worker.waitUntilReady();
    this.scheduleRecovery();
  }

  /** Runs every handler's `recover` about every JOB_RECOVER_INTERVAL; ±20% jitter keeps workers that started together apart. */
  private scheduleRecovery(): void {
    const every = this.deps.config.jobs.recoverIntervalMs;
    this.recoverTimer = setTimeout(
      () => {
        void this.recover().finally(() => {
          if (!this.closing) this.scheduleRecovery();
        });
      },
      every * (0.8 + Math.random() * 0.4),
    );
    this.recoverTimer.unref();
  }

  /**
   * One round of every handler's recovery sweep, then the quotas' drift repair; a failing sweep
   * (Redis down) waits for the next round. A reservation whose job does not exist is given one
   * JOB_RECOVER_INTERVAL (at least 1 s) for its add to land before it is dropped.
   */
  async recover(): Promise<void> {
    for (const handler of this.deps.registry.all()) {
      if (!handler.recover) continue;
      await handler
        .recover(this.deps.services)
        .catch((err: Error) => this.deps.log.warn({ err: err.message, type: handler.type }, 'job recovery sweep failed'));
    }
    try {
      const released = await this.deps.services.jobs.quota.sweep(Math.max(1000, this.deps.config.jobs.recoverIntervalMs));
      if (released) this.deps.log.info({ released }, 'job quota sweep dropped reservations of jobs no longer waiting or delayed');
    } catch (err) {
      this.deps.log.warn({ err: (err as Error).message }, 'job quota sweep failed');
    }
  }

  /** Jobs this process is running now. */
  get active(): number {
    return this.running.size;
  }

  private async process(job: BullJob<StoredJobData>, token: string): Promise<Record<string, unknown> | null> {
    const handler = this.deps.registry.get(job.name);
    if (!handler) throw new UnrecoverableError(`unknown job type ${job.name}`);
    const { commands } = this.deps;
    // Still down after the wait: the attempt runs and fails as it would have.
    if (commands && commands.status !== 'ready') await waitReady(commands, COMMANDS_READY_WAIT_MS).catch(() => undefined);
    const id = String(job.id);
    // The attempt has started: the job no longer counts in its owner's quota (settled within 25 ms, in a batch).
    this.deps.services.jobs.attemptStarted(job.data?.owner, id);
    const run: JobRun<unknown> = {
      id,
      data: job.data.payload,
      attempt: job.attemptsMade + 1,
      updateProgress: (p) => job.updateProgress(clampProgress(p)),
    };
    try {
      // One promise that settles with the handler, or earlier when close() hands the job back.
      const result = await new Promise<unknown>((resolve, reject) => {
        this.running.set(id, { job, token, handBack: reject });
        handler.run(run, this.deps.services).then(resolve, async (err: Error) => {
          // No attempt follows (the last one, or an unrecoverable error): let the handler undo what it holds before the job is dead-lettered.
          if (handler.onExhausted && (run.attempt >= (job.opts.attempts ?? 1) || err instanceof UnrecoverableError)) {
            await handler.onExhausted(run, err, this.deps.services).catch((e: unknown) => this.deps.log.error({ err: e, jobId: id }, 'onExhausted failed'));
          }
          reject(err);
        });
      });
      return isObject(result) ? result : null;
    } finally {
      this.running.delete(id);
    }
  }

  /**
   * Stops taking jobs, lets running ones finish for `graceMs`, then hands the
   * rest back to the queue (another worker takes them at once; their handlers
   * are idempotent) and closes. Idempotent.
   */
  close(graceMs = this.deps.config.jobs.shutdownGraceMs): Promise<{ handedBack: number }> {
    return (this.closing ??= (async () => {
      clearTimeout(this.recoverTimer);
      const closed = this.worker.close();
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([closed.then(() => false), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), graceMs)))]);
      clearTimeout(timer);
      let handedBack = 0;
      if (timedOut) {
        for (const r of [...this.running.values()]) {
          try {
            await r.job.moveToWait(r.token);
            handedBack++;
            // WAITING again: counts in its owner's quota.
            await this.settleQuota(r.job.data?.owner, String(r.job.id));
          } catch (err) {
            // Redis unreachable: the job's lock expires and another worker re-runs it.
            this.deps.log.warn({ jobId: r.job.id, err: (err as Error).message }, 'could not hand a job back; it runs again after its lock expires');
          }
          r.handBack(new WaitingError('handed back at shutdown'));
        }
        await closed;
      }
      if (handedBack) this.deps.log.info({ handedBack }, 'handed running jobs back to the queue');
      // The quota settles of the last jobs started are not left to a timer.
      await this.deps.services.jobs.quota.settleStarted();
      return { handedBack };
    })());
  }
}
