/**
 * Live job updates on this instance. BullMQ writes every transition (added,
 * active, progress, completed, failed, delayed, stalled, removed...) to the
 * queue's event stream in Redis, wherever the worker runs; each gateway
 * instance that has subscribers reads that stream with a QueueEvents reader and
 * answers its own subscribers only, so no event is fanned out twice.
 *
 * The reader starts with the first subscriber (from the stream's last id read
 * before the subscriber's first snapshot, so no change falls in between) and
 * stops after `idleCloseMs` without subscribers. A job update is a fresh atomic
 * snapshot; events for one job that arrive while one is being read are folded
 * into one more read, so subscribers always end on the latest state.
 */
import type { QueueEvents } from 'bullmq';
import type { Logger } from '../../util/logger';
import type { RedisClient } from '../../redis/connection';
import { PushIterator } from '../../util/push-iterator';
import type { JobReader, JobRecord, QueueCounts } from './job-record';

/** Opens a reader of the queue's event stream after `lastEventId`. */
export type OpenQueueEvents = (lastEventId: string) => QueueEvents;

export interface JobUpdatesOptions {
  /** Default 1000: counts are pushed at most this often. */
  countsIntervalMs?: number;
  /** Default 30000: the stream reader closes after this long without subscribers. */
  idleCloseMs?: number;
}

const JOB_EVENTS = ['added', 'waiting', 'active', 'progress', 'completed', 'failed', 'delayed', 'stalled', 'removed'] as const;

interface Watcher<T> {
  it: PushIterator<T>;
  last: string;
}

function offer<T>(w: Watcher<T>, value: T): void {
  const json = JSON.stringify(value);
  if (json === w.last) return;
  w.last = json;
  w.it.push(value);
}

export class JobUpdates {
  private reader: QueueEvents | null = null;
  private starting: Promise<void> | null = null;
  private readonly byJob = new Map<string, Set<Watcher<JobRecord>>>();
  private readonly counters = new Set<Watcher<QueueCounts>>();
  private readonly reading = new Map<string, { again: boolean }>();
  private dirty = false;
  private tick: NodeJS.Timeout | null = null;
  private idle: NodeJS.Timeout | null = null;
  private readonly countsIntervalMs: number;
  private readonly idleCloseMs: number;

  constructor(
    private readonly jobs: JobReader,
    private readonly redis: RedisClient,
    private readonly open: OpenQueueEvents,
    private readonly log: Logger,
    opts: JobUpdatesOptions = {},
  ) {
    this.countsIntervalMs = opts.countsIntervalMs ?? 1000;
    this.idleCloseMs = opts.idleCloseMs ?? 30_000;
  }

  async watchJob(id: string): Promise<PushIterator<JobRecord>> {
    await this.ensureReading();
    let set = this.byJob.get(id);
    if (!set) this.byJob.set(id, (set = new Set()));
    const watchers = set;
    const w: Watcher<JobRecord> = {
      last: '',
      it: new PushIterator<JobRecord>(() => {
        watchers.delete(w);
        if (!watchers.size && this.byJob.get(id) === watchers) this.byJob.delete(id);
        this.maybeIdle();
      }),
    };
    watchers.add(w);
    this.refresh(id);
    return w.it;
  }

  async watchCounts(): Promise<PushIterator<QueueCounts>> {
    await this.ensureReading();
    const w: Watcher<QueueCounts> = {
      last: '',
      it: new PushIterator<QueueCounts>(() => {
        this.counters.delete(w);
        if (!this.counters.size && this.tick) {
          clearInterval(this.tick);
          this.tick = null;
        }
        this.maybeIdle();
      }),
    };
    this.counters.add(w);
    this.tick ??= setInterval(() => void this.pushCounts(false), this.countsIntervalMs);
    void this.pushCounts(true, w);
    return w.it;
  }

  private async ensureReading(): Promise<void> {
    if (this.idle) {
      clearTimeout(this.idle);
      this.idle = null;
    }
    if (this.reader) return;
    this.starting ??= (async () => {
      const [last] = await this.redis.xrevrange(this.jobs.queue.keys.events, '+', '-', 'COUNT', 1);
      const reader = this.open(last?.[0] ?? '0-0');
      reader.on('error', (err) => this.log.debug({ err: err.message }, 'job events reader error'));
      for (const name of JOB_EVENTS) {
        reader.on(name, (args: { jobId: string }) => this.onEvent(name, args.jobId));
      }
      await reader.waitUntilReady();
      this.reader = reader;
    })().finally(() => {
      this.starting = null;
    });
    await this.starting;
  }

  private onEvent(name: (typeof JOB_EVENTS)[number], jobId: string): void {
    this.dirty = true;
    if (!this.byJob.has(jobId)) return;
    if (name === 'removed') return this.deliver(jobId, null);
    this.refresh(jobId);
  }

  private refresh(id: string): void {
    const pending = this.reading.get(id);
    if (pending) {
      pending.again = true;
      return;
    }
    const state = { again: false };
    this.reading.set(id, state);
    void (async () => {
      do {
        state.again = false;
        try {
          this.deliver(id, await this.jobs.snapshot(id));
        } catch (err) {
          this.log.debug({ err: (err as Error).message, jobId: id }, 'job snapshot failed');
        }
      } while (state.again && this.byJob.has(id));
      this.reading.delete(id);
    })();
  }

  /** A null job is gone (cancelled or past retention): its subscriptions complete. */
  private deliver(id: string, job: JobRecord | null): void {
    for (const w of [...(this.byJob.get(id) ?? [])]) {
      if (job) offer(w, job);
      else w.it.end();
    }
  }

  private async pushCounts(force: boolean, only?: Watcher<QueueCounts>): Promise<void> {
    if (!force && !this.dirty) return;
    if (!only) this.dirty = false;
    try {
      const counts = await this.jobs.counts();
      for (const w of only ? [only] : this.counters) offer(w, counts);
    } catch (err) {
      if (!only) this.dirty = true;
      this.log.debug({ err: (err as Error).message }, 'queue counts failed');
    }
  }

  private maybeIdle(): void {
    if (this.byJob.size || this.counters.size || this.idle || !this.reader) return;
    this.idle = setTimeout(() => {
      this.idle = null;
      const reader = this.reader;
      this.reader = null;
      void reader?.close().catch(() => undefined);
    }, this.idleCloseMs);
    this.idle.unref();
  }

  /** Ends every subscription and closes the reader. */
  async close(): Promise<void> {
    if (this.tick) {
      clearInterval(this.tick);
      this.tick = null;
    }
    if (this.idle) {
      clearTimeout(this.idle);
      this.idle = null;
    }
    for (const set of [...this.byJob.values()]) for (const w of [...set]) w.it.end();
    for (const w of [...this.counters]) w.it.end();
    await this.starting?.catch(() => undefined);
    const reader = this.reader;
    this.reader = null;
    await reader?.close();
  }
}
