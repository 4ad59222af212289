/**
 * A job type is one file in services/jobs/handlers/ exporting a {@link JobHandler}.
 * The queue validates data with `validate` at enqueue (BAD_USER_INPUT on failure),
 * and a worker calls `run` for each attempt. Handlers must be idempotent: a job
 * may run again after a crash, so effects are keyed by the job id.
 */

export interface JobRun<T> {
  /** The queue's job id: stable across attempts, use it as the idempotency key of effects. */
  id: string;
  data: T;
  /** 1 for the first attempt. */
  attempt: number;
  /** Reports progress 0..100; reaches jobUpdated subscribers. */
  updateProgress(percent: number): Promise<void>;
}

/**
 * Who asks for a job, as `validate` sees it. `client`: a signed-in caller of the API, with its
 * account's address and whether its roles include ADMIN. `internal`: the service itself
 * (`enqueueInternal`, e.g. checkout's order.process), which client rules do not hold back.
 */
export type JobRequester = { kind: 'client'; userId: string; email: string; admin: boolean } | { kind: 'internal' };

/**
 * `S` is what the handler gets to do its work: the service container for the gateway's own
 * handlers (the job service hands it through without knowing its type).
 */
export interface JobHandler<T = unknown, S = unknown> {
  /** The job type clients name, e.g. `email.send`. */
  type: string;
  /** True when clients may not enqueue it (e.g. `order.process`, enqueued by checkout). */
  internal?: boolean;
  /**
   * Checks and normalises client data; throws a BAD_USER_INPUT AppError when it is not acceptable,
   * FORBIDDEN when this requester may not ask for it.
   */
  validate(data: unknown, services: S, requester: JobRequester): T;
  /** Performs one attempt. Throwing fails the attempt (retried with backoff until maxAttempts). */
  run(job: JobRun<T>, services: S): Promise<Record<string, unknown> | void>;
  /**
   * Called once when the last attempt failed and the job is about to be dead-lettered, so a
   * handler can undo what it holds (e.g. release an order's stock). Must be idempotent.
   */
  onExhausted?(job: JobRun<T>, error: Error, services: S): Promise<void>;
  /**
   * Run by every worker about every JOB_RECOVER_INTERVAL (with jitter) to find work of
   * this type that should have been enqueued and was not (e.g. an order whose hand-off to the
   * queue failed), and enqueue it. Several workers may run it at once: it must be idempotent.
   */
  recover?(services: S): Promise<void>;
}
