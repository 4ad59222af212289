/**
 * Admin overrides of rate-limit policies (`setRateLimitPolicy`): the values in force instead of the
 * configured ones, kept in Redis (one hash, policy name -> JSON) and mirrored in memory on every
 * instance, so the request path reads them without a round trip. A change is published on a
 * pub/sub topic and every instance reloads the hash at once; each instance also reloads it every
 * RATE_LIMIT_POLICY_RESYNC (default 5 s), which heals a missed message (a subscriber reconnecting,
 * an instance started meanwhile). The configured values stay the defaults: removing an override
 * (`resetRateLimitPolicy`) brings them back.
 */
import type { Logger } from '../../util/logger';
import type { RedisClient } from '../../redis/connection';
import type { Keys } from '../../redis/keys';
import type { GatewayPubSub } from '../../redis/pubsub';
import type { RatePolicy } from './policy';

/** The values an admin may set: a steady rate (`points` per `windowSeconds`) and a burst. */
export interface PolicyValues {
  points: number;
  windowSeconds: number;
  burst: number;
}

/** Bounds of an override (inclusive). */
export const OVERRIDE_BOUNDS = {
  points: { min: 1, max: 1_000_000 },
  /** One second to seven days. */
  windowSeconds: { min: 1, max: 604_800 },
  burst: { min: 1, max: 1_000_000 },
} as const;

/** Published after every change; the message carries nothing but the news (instances reload the hash). */
export const POLICIES_CHANGED_TOPIC = 'RATE_LIMIT_POLICIES_CHANGED';

/** What is wrong with the values, by field (`points`, `windowSeconds`, `burst`); null when nothing. */
export function overrideProblems(v: PolicyValues): Record<string, string[]> | null {
  let out: Record<string, string[]> | null = null;
  for (const field of ['points', 'windowSeconds', 'burst'] as const) {
    const n = v[field];
    const { min, max } = OVERRIDE_BOUNDS[field];
    if (!Number.isInteger(n) || n < min || n > max) (out ??= {})[field] = [`must be an integer from ${min} to ${max}`];
  }
  return out;
}

/** A stored override, or null when it is not one (written by hand, by another version): such entries are ignored. */
function parseStored(raw: string): PolicyValues | null {
  try {
    const v = JSON.parse(raw) as PolicyValues;
    const values = { points: v.points, windowSeconds: v.windowSeconds, burst: v.burst };
    return overrideProblems(values) ? null : values;
  } catch {
    return null;
  }
}

export class PolicyOverrides {
  private values = new Map<string, PolicyValues>();
  /** Configured policy -> the same policy with the override's values, made once per change. */
  private derived = new WeakMap<RatePolicy, RatePolicy>();
  private stamp = '';
  /** Goes up each time the values in force change (what was derived from the old ones is stale). */
  generation = 0;
  /** Reloads started and the latest one applied: an older answer never replaces a newer one. */
  private started = 0;
  private applied = 0;
  private timer: NodeJS.Timeout | null = null;
  private unlisten: (() => void) | null = null;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly pubsub: GatewayPubSub,
    private readonly log: Logger,
    private readonly resyncMs: number,
  ) {}

  /** The policy with its override's values in force, or the policy itself (the request path: one map lookup, no I/O). */
  apply(p: RatePolicy): RatePolicy {
    if (this.values.size === 0) return p;
    const v = this.values.get(p.name);
    if (!v) return p;
    let d = this.derived.get(p);
    if (!d) {
      d = { ...p, points: v.points, windowMs: v.windowSeconds * 1000, burst: v.burst };
      this.derived.set(p, d);
    }
    return d;
  }

  /** The override of `name` in force on this instance, if any. */
  get(name: string): PolicyValues | undefined {
    return this.values.get(name);
  }

  /** Loads the overrides, then follows changes (pub/sub) and resyncs periodically. A failed first load leaves the configured values in force until a reload succeeds. */
  async start(): Promise<void> {
    if (this.timer) return;
    this.timer = setInterval(() => void this.reload().catch(() => undefined), this.resyncMs);
    this.timer.unref();
    try {
      this.unlisten = await this.pubsub.listen(POLICIES_CHANGED_TOPIC, () => void this.reload().catch(() => undefined));
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'rate-limit policy changes not followed; the periodic resync applies them');
    }
    await this.reload().catch((err: Error) => this.log.warn({ err: err.message }, 'rate-limit overrides not loaded yet; configured values in force'));
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.unlisten?.();
    this.unlisten = null;
  }

  /** Reads the hash and makes it the table in force. */
  async reload(): Promise<void> {
    const seq = ++this.started;
    let raw: Record<string, string>;
    try {
      raw = await this.redis.hgetall(this.keys.rateLimitSettings('overrides'));
    } catch (err) {
      this.log.debug({ err: (err as Error).message }, 'rate-limit overrides not reloaded');
      throw err;
    }
    if (seq < this.applied) return;
    this.applied = seq;
    const next = new Map<string, PolicyValues>();
    for (const [name, json] of Object.entries(raw)) {
      const v = parseStored(json);
      if (v) next.set(name, v);
      else this.log.warn({ policy: name }, 'ignoring an unreadable rate-limit override');
    }
    const stamp = JSON.stringify([...next].sort(([a], [b]) => (a < b ? -1 : 1)));
    if (stamp === this.stamp) return;
    this.stamp = stamp;
    this.values = next;
    this.derived = new WeakMap();
    this.generation++;
  }

  /** Stores an override, tells every instance, and applies it here before answering. */
  async set(name: string, values: PolicyValues): Promise<void> {
    await this.redis.hset(this.keys.rateLimitSettings('overrides'), name, JSON.stringify(values));
    await this.changed();
  }

  /** Removes an override (the configured values are in force again); true when there was one. */
  async reset(name: string): Promise<boolean> {
    const removed = await this.redis.hdel(this.keys.rateLimitSettings('overrides'), name);
    await this.changed();
    return removed === 1;
  }

  private async changed(): Promise<void> {
    await Promise.all([this.pubsub.publishAsync(POLICIES_CHANGED_TOPIC, { at: Date.now() }).catch(() => undefined), this.reload()]);
  }
}
