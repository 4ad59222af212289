/**
 * The domainEvents subscription's delivery. Each instance runs one {@link EventFeed}: while anyone
 * listens, it reads every domain stream from where it is (one script call per stream, every
 * {@link FEED_LIMITS.pollMs} when idle, at once while entries keep coming) and offers each batch
 * to its listeners. A subscription ({@link EventSubscription}) that resumes after a cursor first
 * reads the streams itself (its own {@link MergedReader}, one page at a time as the client takes
 * them), then joins the feed once it has caught up: it reads up to the feed's position and takes
 * the feed's events after it, so nothing is missed or repeated at the hand-over.
 *
 * Bounded per subscription: at most one page per stream read ahead, and at most
 * {@link FEED_LIMITS.queue} events queued from the feed. A client that does not keep up leaves the
 * feed (its queue dropped) and goes back to reading the streams at its own pace from its last
 * event, so a slow client makes the gateway hold no more and loses nothing, unless it falls so
 * far behind that the streams are trimmed past its place: then it gets a CURSOR_EXPIRED error
 * and the subscription ends (as does a resume from such a cursor).
 */
import { isRedisUnavailable, type RedisClient } from '../../redis/connection';
import type { Logger } from '../../util/logger';
import { comparePositions, type Position } from './event-position';
import { CursorExpiredError, headPosition, MergedReader, type StreamEntry, type StreamSpec } from './merged-reader';

export const FEED_LIMITS = {
  /** Entries read per stream in one script call. */
  page: 100,
  /** How often the feed looks for new entries while none come. */
  pollMs: 100,
  /** Events one subscription may hold from the feed (queued or about to be sent) before it goes back to reading the streams itself. */
  queue: 1000,
  /** Wait before trying again while Redis does not answer. */
  retryMs: 1000,
} as const;

export interface FeedListener {
  /** A batch in order, complete: every entry of an id in it is in it. */
  offer(batch: readonly StreamEntry[]): void;
  /** The feed lost its place (the streams were trimmed past it): read the streams again from your own. */
  dropped(): void;
  /** The feed stops (shutdown). */
  end(): void;
}

export class EventFeed {
  private reader: MergedReader | null = null;
  private starting: Promise<MergedReader> | null = null;
  private readonly listeners = new Set<FeedListener>();
  private running = false;
  private closed = false;
  private failing = false;
  private sleeper: { timer: NodeJS.Timeout; wake: () => void } | null = null;

  constructor(
    private readonly redis: RedisClient,
    private readonly specs: readonly StreamSpec[],
    private readonly log: Logger,
  ) {}

  /**
   * Adds a listener; resolves with the position after which it is offered every event (the feed
   * has offered everything up to it to others). Rejects while Redis does not answer.
   */
  async attach(listener: FeedListener): Promise<Position> {
    if (this.closed) throw new Error('the event feed is closed');
    const reader = this.reader ?? (await (this.starting ??= this.start()));
    this.listeners.add(listener);
    if (!this.running) void this.loop();
    return reader.position;
  }

  detach(listener: FeedListener): void {
    this.listeners.delete(listener);
  }

  /** Listeners now (for tests and metrics). */
  get size(): number {
    return this.listeners.size;
  }

  /** Ends every listener and stops reading. */
  close(): void {
    this.closed = true;
    for (const l of [...this.listeners]) l.end();
    this.listeners.clear();
    this.sleeper?.wake();
  }

  private async start(): Promise<MergedReader> {
    try {
      const from = await headPosition(this.redis, this.specs);
      this.reader = new MergedReader(this.redis, this.specs, from, FEED_LIMITS.page);
      return this.reader;
    } finally {
      this.starting = null;
    }
  }

  private async loop(): Promise<void> {
    this.running = true;
    try {
      while (this.listeners.size && !this.closed && this.reader) {
        let wait: number = FEED_LIMITS.pollMs;
        try {
          await this.reader.read();
          // Taken and offered in one go: a listener attaching in between gets the position after this batch.
          const batch = this.reader.take();
          if (batch.length) for (const l of [...this.listeners]) l.offer(batch);
          if (!this.reader.caughtUp) wait = 0;
          // Entries of this very millisecond wait for the next one.
          else if (this.reader.holding) wait = 2;
          if (this.failing) this.log.info('domain event feed reading again');
          this.failing = false;
        } catch (err) {
          if (err instanceof CursorExpiredError) {
            // Trimmed past the feed itself (far more appends than EVENT_STREAM_MAXLEN between two reads):
            // every listener reads from its own place again, and the feed starts afresh.
            this.log.warn({ domain: err.domain }, 'domain event feed fell behind the stream trimming; listeners read the streams again');
            const listeners = [...this.listeners];
            this.listeners.clear();
            for (const l of listeners) l.dropped();
            break;
          }
          if (!this.failing) this.log.warn({ err: (err as Error).message }, 'domain event feed cannot read the streams; retrying');
          this.failing = true;
          wait = FEED_LIMITS.retryMs;
        }
        await this.sleep(wait);
      }
    } finally {
      this.running = false;
      // Nobody listens: the next listener starts from the streams' end again rather than from here.
      if (!this.listeners.size) this.reader = null;
    }
  }

  private sleep(ms: number): Promise<void> {
    if (ms <= 0) return new Promise((resolve) => setImmediate(resolve));
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.sleeper = null;
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.sleeper = { timer, wake };
    });
  }
}

/** What a subscription yields: an event with its cursor, or the error that ends it. */
export type SubscriptionMessage = { entry: StreamEntry; tied: boolean } | { expired: CursorExpiredError };

/**
 * One domainEvents subscription. Pull-based: it reads from Redis only when the client has taken
 * what was read before (graphql-ws sends the next message once the socket has taken the last).
 */
export class EventSubscription implements AsyncIterableIterator<SubscriptionMessage>, FeedListener {
  private ready: SubscriptionMessage[] = [];
  /** The last event handed to `ready` (or where the subscription started). */
  private delivered: Position;
  private history: MergedReader | null = null;
  /** Set while joined to the feed: it offers every event after this position. */
  private joinedAt: Position | null = null;
  private queue: StreamEntry[][] = [];
  private queued = 0;
  private waiter: (() => void) | null = null;
  /** Ended by the client or the feed: nothing more is handed out. */
  private closed = false;
  /** Ended by an error: what is ready is still handed out. */
  private finished = false;

  private constructor(
    private readonly feed: EventFeed,
    private readonly redis: RedisClient,
    /** The streams of the selected types. */
    private readonly specs: readonly StreamSpec[],
    private readonly wanted: (entry: StreamEntry) => boolean,
    from: Position,
    private readonly log: Logger,
  ) {
    this.delivered = from;
  }

  /**
   * Live events only (`from` null), or every event after `from` and then the live ones. Throws
   * {@link CursorExpiredError} when a stream no longer holds every event after `from`.
   */
  static async open(
    feed: EventFeed,
    redis: RedisClient,
    specs: readonly StreamSpec[],
    wanted: (entry: StreamEntry) => boolean,
    from: Position | null,
    log: Logger,
  ): Promise<EventSubscription> {
    if (from === null) {
      const sub = new EventSubscription(feed, redis, specs, wanted, { id: 0n, rank: 0 }, log);
      sub.joinedAt = sub.delivered = await feed.attach(sub);
      return sub;
    }
    const sub = new EventSubscription(feed, redis, specs, wanted, from, log);
    sub.history = new MergedReader(redis, specs, from, FEED_LIMITS.page);
    await sub.history.read();
    return sub;
  }

  /** Joined to the feed now (for tests). */
  get live(): boolean {
    return this.joinedAt !== null && this.history === null;
  }

  offer(batch: readonly StreamEntry[]): void {
    if (this.closed || this.finished) return;
    const mine = batch.filter(this.wanted);
    if (!mine.length) return;
    // Events handed to `ready` but not yet sent count too: the bound is on what the gateway holds for this client.
    if (this.queued + this.ready.length + mine.length > FEED_LIMITS.queue) {
      this.log.debug('domainEvents subscriber fell behind the feed; reading the streams at its own pace');
      this.feed.detach(this);
      return this.dropped();
    }
    this.queue.push(mine);
    this.queued += mine.length;
    this.wake();
  }

  /** Off the feed: back to reading the streams from the last event handed out. */
  dropped(): void {
    this.joinedAt = null;
    this.queue = [];
    this.queued = 0;
    this.history ??= new MergedReader(this.redis, this.specs, this.delivered, FEED_LIMITS.page);
    this.wake();
  }

  end(): void {
    this.closed = true;
    this.ready = [];
    this.wake();
  }

  async next(): Promise<IteratorResult<SubscriptionMessage>> {
    for (;;) {
      if (this.closed) return { value: undefined, done: true };
      const value = this.ready.shift();
      if (value) return { value, done: false };
      if (this.finished) return this.return();
      try {
        await this.advance();
      } catch (err) {
        if (err instanceof CursorExpiredError) {
          this.finished = true;
          this.ready.push({ expired: err });
        } else if (isRedisUnavailable(err)) {
          await this.pause(FEED_LIMITS.retryMs);
        } else {
          throw err;
        }
      }
    }
  }

  return(): Promise<IteratorResult<SubscriptionMessage>> {
    this.feed.detach(this);
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  throw(err?: unknown): Promise<IteratorResult<SubscriptionMessage>> {
    this.feed.detach(this);
    this.end();
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- passes the caller's reason through unchanged
    return Promise.reject(err);
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<SubscriptionMessage> {
    return this;
  }

  /** Fills `ready`, or waits for something that may. */
  private async advance(): Promise<void> {
    const history = this.history;
    if (history) {
      const batch = history.take();
      if (batch.length) return this.hand(batch);
      if (this.joinedAt && comparePositions(history.position, this.joinedAt) >= 0) {
        // Read up to where the feed took over: from here on its queue has everything.
        this.history = null;
        return;
      }
      if (history.caughtUp && !this.joinedAt) {
        this.joinedAt = await this.feed.attach(this);
        return;
      }
      return history.read();
    }
    if (this.queue.length) {
      const batches = this.queue;
      this.queue = [];
      this.queued = 0;
      for (const b of batches) this.hand(b);
      return;
    }
    await new Promise<void>((resolve) => (this.waiter = resolve));
  }

  /** Moves the wanted entries of one complete batch after `delivered` to `ready`, with their cursors. */
  private hand(batch: readonly StreamEntry[]): void {
    const mine = batch.filter((e) => this.wanted(e) && comparePositions(e, this.delivered) > 0);
    mine.forEach((entry, i) => {
      // An event sharing its id with the next one names its stream, so a resume after it still gets the next.
      const tied = i + 1 < mine.length && mine[i + 1].id === entry.id;
      this.ready.push({ entry, tied });
    });
    if (mine.length) this.delivered = mine[mine.length - 1];
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        resolve();
      }, ms);
      this.waiter = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
