/**
 * Dead letters in bulk: an admin sends every FAILED job (of one type, or all) back to WAITING,
 * or deletes them. Safe while workers run: each batch is one Lua script that acts only on jobs
 * still FAILED when it runs (a job a worker or another admin moved meanwhile is left alone), so
 * the answer is exactly how many jobs this call moved or deleted.
 *
 * Bounded work: the jobs are walked oldest first in batches of {@link DeadLetterLimits.batch}
 * (default 200; one script each, so Redis is never held long), and one call acts on at most
 * {@link DeadLetterLimits.perCall} (default 10,000, JOB_KEEP_FAILED's default); a call that
 * answers that many may have left more, and the next call continues. Only jobs that failed
 * before the call started are taken, so a retried job that fails again during the call is not
 * retried twice. Jobs that fail, or that retention trims, while a call walks may be left out.
 *
 * A retried job counts in its owner's quota again from the moment it moves (the reservation is
 * made in the same script); like retryJob, it is counted but not refused by the quota: the job
 * is stored already, and the admin chose to run it.
 */
import type { Queue } from 'bullmq';
import type { RedisClient } from '../../redis/connection';
import type { Keys } from '../../redis/keys';
import { runScript } from '../../redis/scripts';
import type { JobQuota } from './job-quota';

export interface DeadLetterLimits {
  /** Jobs per script call. Default 200. */
  batch: number;
  /** Jobs one call acts on at most. Default 10,000. */
  perCall: number;
}

export const DEAD_LETTER_LIMITS: DeadLetterLimits = { batch: 200, perCall: 10_000 };

type Act = (ids: string[]) => Promise<number>;

export class DeadLetters {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly queue: Pick<Queue, 'keys' | 'toKey'>,
    private readonly quota: Pick<JobQuota, 'keysOf'>,
    private readonly limits: DeadLetterLimits = DEAD_LETTER_LIMITS,
  ) {}

  /** Moves FAILED jobs of `type` (any type when null) back to WAITING with fresh attempts; returns how many moved. */
  retry(type: string | null): Promise<number> {
    return this.walk((ids) => this.retryBatch(type ?? '', ids));
  }

  /** Deletes FAILED jobs of `type` (any type when null); returns how many were deleted. */
  purge(type: string | null): Promise<number> {
    return this.walk((ids) => this.purgeBatch(type ?? '', ids));
  }

  /**
   * Hands `act` the failed jobs, oldest first, a batch at a time. A batch's jobs that `act` left
   * (another type, moved meanwhile) stay in the set, so the next batch starts after them.
   */
  private async walk(act: Act): Promise<number> {
    const started = Date.now();
    let offset = 0;
    let done = 0;
    while (done < this.limits.perCall) {
      const take = Math.min(this.limits.batch, this.limits.perCall - done);
      const ids = await this.redis.zrangebyscore(this.queue.keys.failed, '-inf', started, 'LIMIT', offset, take);
      if (!ids.length) break;
      const n = await act(ids);
      done += n;
      offset += ids.length - n;
      if (ids.length < take) break;
    }
    return done;
  }

  private async retryBatch(type: string, ids: string[]): Promise<number> {
    const found = await runScript<string[]>(
      this.redis,
      'jobOwners',
      ids.map((id) => this.queue.toKey(id)),
      [],
    );
    const k = this.queue.keys;
    const keys = [k.failed, k.wait, k.prioritized, k.pc, k.marker, k.meta, k.active, k.events, this.keys.jobQuotaOwners()];
    const jobs: Array<{ id: string; owner: string }> = [];
    ids.forEach((id, i) => {
      const name = found[2 * i];
      if (name && (type === '' || name === type)) jobs.push({ id, owner: found[2 * i + 1] });
    });
    if (!jobs.length) return 0;
    keys.push(...jobs.map((j) => this.queue.toKey(j.id)));
    // Each owner's two quota keys once, after the job keys; ARGV names where they are.
    const at = new Map<string, number>();
    const args: Array<string | number> = [type, jobs.length];
    for (const j of jobs) {
      let index = at.get(j.owner);
      if (index === undefined) {
        const q = j.owner ? this.quota.keysOf(j.owner) : null;
        index = q ? keys.push(q.jobs, q.bytes) - 1 : 0;
        at.set(j.owner, index);
      }
      args.push(j.id, j.owner, index);
    }
    return runScript<number>(this.redis, 'failedJobsRetry', keys, args);
  }

  private purgeBatch(type: string, ids: string[]): Promise<number> {
    const k = this.queue.keys;
    return runScript<number>(this.redis, 'failedJobsPurge', [k.failed, k.meta, k.events, ...ids.map((id) => this.queue.toKey(id))], [type, ...ids]);
  }
}
