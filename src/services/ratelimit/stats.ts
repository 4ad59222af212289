/**
 * Operator statistics. Every instance counts in memory and writes its counts
 * once a second in one MULTI, so the request path never pays for them: per
 * minute, points spent per identity and refusals per identity (sorted sets)
 * and refusals per policy (hash); a sorted set of refused clients scored by
 * when they may retry. Minute buckets live a little over an hour.
 */
import type { RedisClient } from '../../redis/connection';
import type { Keys } from '../../redis/keys';
import { randomBytes } from 'node:crypto';

const MINUTE = 60_000;
const TTL_SEC = 3900;
/** Distinct identities buffered per minute before new ones are dropped (a flood of addresses must not grow memory). */
const MAX_IDENTITIES = 20_000;
/** Refused clients `read` returns at most. */
export const MAX_BLOCKED_SHOWN = 1000;

interface Bucket {
  spent: Map<string, number>;
  refused: Map<string, number>;
  byPolicy: Map<string, number>;
}

const bump = (m: Map<string, number>, k: string, n: number): void => {
  if (m.has(k) || m.size < MAX_IDENTITIES) m.set(k, (m.get(k) ?? 0) + n);
};

export interface OverviewData {
  topConsumers: Array<{ identity: string; points: number }>;
  topRefused: Array<{ identity: string; points: number }>;
  /** Oldest minute first; one map policy -> count per minute. */
  minutes: Array<{ at: number; byPolicy: Record<string, number> }>;
  blocked: Array<{ policy: string; identity: string; until: number }>;
}

export class RateLimitStats {
  private buckets = new Map<number, Bucket>();
  private blocked = new Map<string, number>();

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
  ) {}

  /** The bucket of the minute last counted in (in `buckets`; flush forgets it with them): most counts land in it. */
  private current: { bucket: Bucket; minute: number } | null = null;

  private bucket(now: number): Bucket {
    const c = this.current;
    if (c && now >= c.minute && now < c.minute + MINUTE) return c.bucket;
    const minute = Math.floor(now / MINUTE) * MINUTE;
    let b = this.buckets.get(minute);
    if (!b) this.buckets.set(minute, (b = { spent: new Map(), refused: new Map(), byPolicy: new Map() }));
    this.current = { bucket: b, minute };
    return b;
  }

  spent(identity: string, points: number, now = Date.now()): void {
    if (points > 0) bump(this.bucket(now).spent, identity, points);
  }

  refused(identity: string, policies: Array<{ policy: string; partition: string; until: number }>, now = Date.now()): void {
    const b = this.bucket(now);
    bump(b.refused, identity, 1);
    for (const p of policies) {
      bump(b.byPolicy, p.policy, 1);
      const member = `${p.policy}\n${p.partition}`;
      if (this.blocked.size < MAX_IDENTITIES || this.blocked.has(member)) this.blocked.set(member, Math.max(p.until, this.blocked.get(member) ?? 0));
    }
  }

  /** Writes and clears the buffer. On failure the buffered counts are dropped (they are statistics, not limits). */
  async flush(): Promise<void> {
    const buckets = this.buckets;
    const blocked = this.blocked;
    if (!buckets.size && !blocked.size) return;
    this.buckets = new Map();
    this.current = null;
    this.blocked = new Map();
    const m = this.redis.multi();
    for (const [minute, b] of buckets) {
      const spentKey = this.keys.rateLimitStats('spent', String(minute));
      const refusedKey = this.keys.rateLimitStats('refused', String(minute));
      const policyKey = this.keys.rateLimitStats('policy', String(minute));
      for (const [id, n] of b.spent) m.zincrby(spentKey, n, id);
      for (const [id, n] of b.refused) m.zincrby(refusedKey, n, id);
      for (const [p, n] of b.byPolicy) m.hincrby(policyKey, p, n);
      for (const k of [spentKey, refusedKey, policyKey]) m.expire(k, TTL_SEC);
    }
    const blockedKey = this.keys.rateLimitStats('blocked');
    for (const [member, until] of blocked) m.zadd(blockedKey, 'GT', until, member);
    m.zremrangebyscore(blockedKey, '-inf', Date.now());
    await m.exec();
  }

  /** The last `minutes` minutes, including the current one. */
  async read(minutes: number, limit: number, now = Date.now()): Promise<OverviewData> {
    const current = Math.floor(now / MINUTE) * MINUTE;
    const mins = Array.from({ length: minutes }, (_, i) => current - (minutes - 1 - i) * MINUTE);
    const tmp = randomBytes(6).toString('hex');
    const tmpSpent = this.keys.rateLimitStats('tmp', tmp, 'spent');
    const tmpRefused = this.keys.rateLimitStats('tmp', tmp, 'refused');
    const m = this.redis.multi();
    m.zunionstore(tmpSpent, mins.length, ...mins.map((x) => this.keys.rateLimitStats('spent', String(x))));
    m.zrevrange(tmpSpent, 0, limit - 1, 'WITHSCORES');
    m.zunionstore(tmpRefused, mins.length, ...mins.map((x) => this.keys.rateLimitStats('refused', String(x))));
    m.zrevrange(tmpRefused, 0, limit - 1, 'WITHSCORES');
    m.del(tmpSpent, tmpRefused);
    for (const x of mins) m.hgetall(this.keys.rateLimitStats('policy', String(x)));
    m.zrangebyscore(this.keys.rateLimitStats('blocked'), now, '+inf', 'WITHSCORES', 'LIMIT', 0, MAX_BLOCKED_SHOWN);
    const res = (await m.exec()) ?? [];
    for (const [err] of res) if (err) throw err;
    const val = (i: number): unknown => res[i][1];
    const pairs = (flat: string[]): Array<{ identity: string; points: number }> => {
      const out = [];
      for (let i = 0; i < flat.length; i += 2) out.push({ identity: flat[i], points: Number(flat[i + 1]) });
      return out;
    };
    const blockedFlat = val(5 + mins.length) as string[];
    const blocked = [];
    for (let i = 0; i < blockedFlat.length; i += 2) {
      const [policy, identity] = blockedFlat[i].split('\n');
      blocked.push({ policy, identity, until: Number(blockedFlat[i + 1]) });
    }
    return {
      topConsumers: pairs(val(1) as string[]),
      topRefused: pairs(val(3) as string[]),
      minutes: mins.map((at, i) => ({
        at,
        byPolicy: Object.fromEntries(Object.entries(val(5 + i) as Record<string, string>).map(([k, v]) => [k, Number(v)])),
      })),
      blocked,
    };
  }
}
