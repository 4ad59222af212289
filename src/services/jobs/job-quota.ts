/**
 * Per-owner job quotas: an owner (`u:<userId>`) may hold at most
 * JOB_MAX_PENDING_PER_USER jobs that are WAITING or DELAYED, together at most
 * JOB_MAX_PENDING_BYTES_PER_USER bytes of job data as stored (the JSON that BullMQ
 * keeps in the job's `data` field).
 *
 * BullMQ's add scripts cannot check a quota, so room is reserved first, in one Lua
 * script that checks and reserves a whole batch at once (jobQuotaReserve-n.lua),
 * then the jobs are added. A reservation is keyed by job id, so an idempotent
 * re-enqueue takes no second place and a release happens at most once. Whenever a
 * job changes state in a way the gateway makes or sees (an attempt starts or
 * fails, a cancel, a retry), jobQuotaSettle-n.lua makes the reservation match
 * the job's current state, and the workers' recovery sweep does the same for
 * every reservation, which repairs any drift (a crash between two steps, a job
 * removed behind the gateway's back).
 */
import type { Queue } from 'bullmq';
import { quotaExceeded } from '../../util/errors';
import type { Logger } from '../../util/logger';
import type { RedisClient } from '../../redis/connection';
import type { Keys } from '../../redis/keys';
import { runScript } from '../../redis/scripts';

/** A job about to be added: its id, the size of its data as stored, and whether its id was given (an idempotency key, an internal caller's id), so a job may exist under it already. */
export interface QuotaItem {
  id: string;
  bytes: number;
  keyed: boolean;
}

/** An owner's use of the quota and the limits. */
export interface QuotaUsage {
  pending: number;
  pendingBytes: number;
  maxPending: number;
  maxPendingBytes: number;
}

export interface QuotaLimits {
  /** Default 200 (JOB_MAX_PENDING_PER_USER). */
  maxPending: number;
  /** Default 4 MiB (JOB_MAX_PENDING_BYTES_PER_USER). */
  maxPendingBytes: number;
}

// Owners are `u:<userId>` with server-made ids; anything else must not shape a key.
const OWNER = /^[A-Za-z0-9_.:-]{1,128}$/;
/** Reservations settled per script call by the sweep. */
const SWEEP_CHUNK = 100;
/**
 * Jobs whose attempts started are settled together this often: one script call per owner
 * instead of one per job (a worker at 1000 jobs/s makes ~25 calls of 25 jobs). Until then the
 * started jobs still count, so a quota is never undercounted, only overcounted this long.
 */
export const STARTED_SETTLE_MS = 25;
/** The newest jobs each owner's list (`myJobs`) keeps: older entries are dropped as new ones come. */
export const OWNED_JOBS_KEPT = 500;
/**
 * How long an owner's list lives after its last enqueue: longer than any job can stay
 * (a 24-day delay, attempts, then 7 days dead-lettered by default).
 */
export const OWNED_JOBS_TTL_MS = 40 * 24 * 3600 * 1000;

export class JobQuota {
  /** Owner -> ids of jobs whose attempts started since the last settle. */
  private readonly startedJobs = new Map<string, string[]>();
  private startedTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly queue: Pick<Queue, 'keys' | 'toKey'>,
    readonly limits: QuotaLimits,
    private readonly log: Logger,
  ) {}

  /** An owner's reservations hash and reserved-bytes key; null when `owner` is not an owner's name. */
  keysOf(owner: string): { jobs: string; bytes: string } | null {
    return OWNER.test(owner) ? { jobs: this.keys.jobQuota(owner, 'jobs'), bytes: this.keys.jobQuota(owner, 'bytes') } : null;
  }

  private ownerKeys(owner: string): string[] {
    if (!OWNER.test(owner)) throw new Error(`not a job owner: ${JSON.stringify(owner)}`);
    return [this.keys.jobQuota(owner, 'jobs'), this.keys.jobQuota(owner, 'bytes'), this.keys.jobQuotaOwners()];
  }

  /**
   * Reserves room for `items` all or nothing and returns the ids reserved now (an id whose job
   * exists or is already reserved takes none). QUOTA_EXCEEDED, with nothing reserved, when they
   * do not fit. `checked: false` reserves without the limit check (the service's own jobs).
   * The ids reserved are added to the owner's list of jobs ({@link owned}) in the same step.
   */
  async reserve(owner: string, items: readonly QuotaItem[], checked = true): Promise<string[]> {
    const keys = [...this.ownerKeys(owner), this.keys.jobsOwned(owner)];
    const limits = checked ? [this.limits.maxPending, this.limits.maxPendingBytes] : [-1, -1];
    const args: Array<string | number> = [...limits, owner, OWNED_JOBS_KEPT, OWNED_JOBS_TTL_MS];
    for (const i of items) {
      // Only a given id is looked up, so only its job key is sent (a batch of random ids sends none);
      // ARGV names its index in KEYS (1-based, as Lua counts), 0 for none.
      if (i.keyed) keys.push(this.queue.toKey(i.id));
      args.push(i.id, i.bytes, i.keyed ? keys.length : 0);
    }
    const reply = await runScript<Array<string | number>>(this.redis, 'jobQuotaReserve', keys, args);
    if (reply[0] === 1) return reply.slice(1).map(String);
    const [, quota, limit, used, requested] = reply as [number, 'pending' | 'pendingBytes', number, number, number];
    const message =
      quota === 'pending'
        ? `Job quota exceeded: you have ${used} of ${limit} jobs waiting or delayed, and this request adds ${requested}. Cancel some or wait until they start.`
        : `Job quota exceeded: your jobs waiting or delayed hold ${used} of ${limit} bytes of data, and this request adds ${requested}. Cancel some or wait until they start.`;
    throw quotaExceeded(message, { quota, limit, used, requested });
  }

  /**
   * Makes the owner's reservations of `ids` match the jobs' states now: reserved while WAITING or
   * DELAYED, released otherwise. A reservation whose job does not exist is kept while younger
   * than `graceMs` (its add may still be on its way); 0 drops it at once.
   */
  async settle(owner: string, ids: readonly string[], graceMs = 0): Promise<{ reserved: number; released: number }> {
    const k = this.queue.keys;
    const keys = [
      ...this.ownerKeys(owner),
      k.delayed,
      k.prioritized,
      k.wait,
      k.paused,
      k.active,
      k.completed,
      k.failed,
      ...ids.map((id) => this.queue.toKey(id)),
    ];
    const [reserved, released] = await runScript<[number, number]>(this.redis, 'jobQuotaSettle', keys, [owner, graceMs, ...ids]);
    return { reserved, released };
  }

  /**
   * Notes that a job's attempt started: its reservation is settled within {@link STARTED_SETTLE_MS},
   * together with the owner's other jobs that started meanwhile. The settle reads each job's state
   * then, so a job that has already failed back to DELAYED keeps its reservation.
   */
  started(owner: string, id: string): void {
    const ids = this.startedJobs.get(owner);
    if (ids) ids.push(id);
    else this.startedJobs.set(owner, [id]);
    if (!this.startedTimer) {
      this.startedTimer = setTimeout(() => void this.settleStarted(), STARTED_SETTLE_MS);
      this.startedTimer.unref();
    }
  }

  /** Settles every started job noted so far (also at close); a failure is left to the recovery sweep. */
  async settleStarted(): Promise<void> {
    if (this.startedTimer) clearTimeout(this.startedTimer);
    this.startedTimer = null;
    const batches = [...this.startedJobs];
    this.startedJobs.clear();
    await Promise.all(
      batches.map(([owner, ids]) =>
        this.settle(owner, ids).catch((err: Error) =>
          this.log.debug({ err: err.message, jobs: ids.length }, 'job quota settle failed; the recovery sweep repairs it'),
        ),
      ),
    );
  }

  /**
   * Ids of the owner's jobs, newest first, from `start` (at most `count`). The list keeps the
   * newest {@link OWNED_JOBS_KEPT}; it may name jobs that are gone (retention, a cancel, an add
   * that failed): the caller skips those and may {@link forget} them.
   */
  async owned(owner: string, start: number, count: number): Promise<Array<{ id: string; atMs: number }>> {
    if (!OWNER.test(owner)) throw new Error(`not a job owner: ${JSON.stringify(owner)}`);
    const flat = await this.redis.zrevrange(this.keys.jobsOwned(owner), start, start + count - 1, 'WITHSCORES');
    const out: Array<{ id: string; atMs: number }> = [];
    // Scores are enqueue times in µs (see jobQuotaReserve-n.lua).
    for (let i = 0; i < flat.length; i += 2) out.push({ id: flat[i], atMs: Number(flat[i + 1]) / 1000 });
    return out;
  }

  /** Drops ids of jobs that are gone from the owner's list. */
  async forget(owner: string, ids: readonly string[]): Promise<void> {
    if (ids.length && OWNER.test(owner)) await this.redis.zrem(this.keys.jobsOwned(owner), ...ids);
  }

  /** The owner's use now; both numbers read in one transaction. */
  async usage(owner: string): Promise<QuotaUsage> {
    const [jobs, bytes] = this.ownerKeys(owner);
    const res = await this.redis.multi().hlen(jobs).get(bytes).exec();
    if (!res || res.some(([err]) => err)) throw res?.find(([err]) => err)?.[0] ?? new Error('quota read aborted');
    return {
      pending: Number(res[0][1]),
      pendingBytes: Number(res[1][1] ?? 0),
      maxPending: this.limits.maxPending,
      maxPendingBytes: this.limits.maxPendingBytes,
    };
  }

  /**
   * The drift repair: settles every reservation of every owner, dropping those whose job is
   * gone (once older than `graceMs`) or no longer waiting or delayed. Returns how many it dropped.
   */
  async sweep(graceMs: number): Promise<number> {
    let released = 0;
    let cursor = '0';
    do {
      const [next, owners] = await this.redis.sscan(this.keys.jobQuotaOwners(), cursor, 'COUNT', 100);
      cursor = next;
      for (const owner of owners) {
        if (OWNER.test(owner)) released += await this.sweepOwner(owner, graceMs);
        else await this.redis.srem(this.keys.jobQuotaOwners(), owner);
      }
    } while (cursor !== '0');
    return released;
  }

  private async sweepOwner(owner: string, graceMs: number): Promise<number> {
    let released = 0;
    let cursor = '0';
    do {
      const [next, flat] = await this.redis.hscan(this.keys.jobQuota(owner, 'jobs'), cursor, 'COUNT', SWEEP_CHUNK);
      cursor = next;
      const ids = flat.filter((_, i) => i % 2 === 0);
      // Settling with no ids still drops the owner from the set once it holds nothing.
      released += (await this.settle(owner, ids, graceMs)).released;
    } while (cursor !== '0');
    return released;
  }
}
