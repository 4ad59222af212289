/**
 * liveStats: at most one aggregate a second across all instances, the same for
 * every subscriber everywhere. While an instance has a liveStats subscriber it
 * asks Redis every 100 ms whether to publish; a script answers yes only when an
 * analytics write happened since the last publication and it could take a
 * 1-second SET NX PX lock. The winner reads the aggregate once and publishes it
 * on the pub/sub topic that every instance's subscribers listen on.
 */
import type { Logger } from '../../util/logger';
import type { RedisClient } from '../../redis/connection';
import type { Keys } from '../../redis/keys';
import type { GatewayPubSub } from '../../redis/pubsub';
import { runScript } from '../../redis/scripts';
import { newId } from '../../util/crypto';
import { filtered } from '../../util/iterators';
import type { AnalyticsService } from './analytics.service';

export const LIVE_STATS_TOPIC = 'analytics.live';
/** The minimum time between two publications, enforced in Redis. */
export const LIVE_PERIOD_MS = 1000;
/** How often an instance with subscribers asks; bounds the delay after a quiet spell. */
export const LIVE_POLL_MS = 100;
/** Pages carried in each push. */
export const LIVE_TOP_PAGES = 20;

export class LiveStatsService {
  private subscribers = 0;
  private timer?: NodeJS.Timeout;
  private ticking = false;
  private readonly instanceId = newId();

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly pubsub: GatewayPubSub,
    private readonly analytics: AnalyticsService,
    private readonly log: Logger,
  ) {}

  /** The subscription's event stream; the instance polls while at least one is open. */
  subscribe(): AsyncIterableIterator<unknown> {
    return filtered(this.pubsub.subscribe(LIVE_STATS_TOPIC), () => true, this.acquire());
  }

  /** Counts a local subscriber; the returned function (idempotent) releases it. */
  acquire(): () => void {
    if (this.subscribers++ === 0) {
      this.timer = setInterval(() => void this.tick(), LIVE_POLL_MS);
      this.timer.unref();
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--this.subscribers === 0) this.stop();
    };
  }

  /** Local liveStats subscribers right now. */
  get localSubscribers(): number {
    return this.subscribers;
  }

  /** One poll: publishes when this instance wins the period. Resolves true when it published. */
  async tick(): Promise<boolean> {
    if (this.ticking) return false;
    this.ticking = true;
    let won = false;
    try {
      const at = await runScript<number>(this.redis, 'liveStatsTick', [this.keys.anDirty(), this.keys.anLiveLock()], [LIVE_PERIOD_MS, this.instanceId]);
      won = at > 0;
      if (!won) return false;
      const snapshot = await this.analytics.snapshot({ topPages: LIVE_TOP_PAGES, at });
      await this.pubsub.publishAsync(LIVE_STATS_TOPIC, snapshot);
      return true;
    } catch (err) {
      this.log.debug({ err: (err as Error).message }, 'liveStats tick failed');
      // The flag was cleared for a publication that did not happen: let the next period retry.
      if (won) await this.redis.set(this.keys.anDirty(), '1').catch(() => undefined);
      return false;
    } finally {
      this.ticking = false;
    }
  }

  /** Stops polling (at shutdown, or when the last local subscriber leaves). */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
