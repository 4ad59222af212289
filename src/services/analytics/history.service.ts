/**
 * Questions about the days behind the live numbers, answered from the daily rollups that
 * trackPageViews writes (kept ANALYTICS_HISTORY, default 90 days):
 *
 * - breakdown: views and unique visitors per value of one dimension (page, referrer host, UTM
 *   source, UTM campaign, browser, device class) over the last `days` UTC days. Views are exact
 *   (the days' sorted sets summed in Redis); visitors are the union of the days' HyperLogLogs
 *   of the value (standard error 0.81%), so a visitor seen on several days counts once.
 * - funnel: how many visitors reached each page of an ordered list, in order (see {@link funnel}).
 */
import { randomBytes } from 'node:crypto';
import type { Config } from '../../config';
import { badInput } from '../../util/errors';
import type { RedisClient } from '../../redis/connection';
import type { AnalyticsDim, Keys } from '../../redis/keys';
import { FUNNEL_MAX_DAYS, normalizePage, OTHER } from './analytics.service';
import { valueDigest } from './page-view-facts';

const DAY = 86_400_000;
export const BREAKDOWN_MAX_LIMIT = 100;
export const BREAKDOWN_DEFAULT_LIMIT = 10;
export const DEFAULT_DAYS = 7;
export const FUNNEL_MAX_STEPS = 10;
/** Fields per HSCAN call while a funnel reads a day's sequences. */
const SCAN_COUNT = 1000;

export interface BreakdownRecord {
  value: string;
  views: number;
  uniqueVisitors: number;
}

export interface FunnelStepRecord {
  page: string;
  visitors: number;
}

type Piped = Array<[Error | null, unknown]>;
function results(res: Piped | null): unknown[] {
  return (res ?? []).map(([err, value]) => {
    if (err) throw err;
    return value;
  });
}

export type { AnalyticsDim };

export class AnalyticsHistory {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly config: Pick<Config, 'analytics'>,
  ) {}

  /** Longest window of breakdown, in days. */
  get maxDays(): number {
    return this.config.analytics.historyDays;
  }

  /** Longest window of funnel, in days. */
  get maxFunnelDays(): number {
    return Math.min(FUNNEL_MAX_DAYS, this.config.analytics.historyDays);
  }

  /** The epoch days of the window, oldest first: today (UTC) and the `days - 1` before it. */
  private window(days: number, max: number): number[] {
    if (!Number.isInteger(days) || days < 1 || days > max) throw badInput(`days must be from 1 to ${max}`, { days: [`must be from 1 to ${max}`] });
    const today = Math.floor(Date.now() / DAY);
    return Array.from({ length: days }, (_, i) => today - days + 1 + i);
  }

  /**
   * The `limit` values of `dim` with the most views over the window, most first (ties in reverse
   * byte order of the value, as Redis ranks them),
   * with their unique visitors. Two round trips: one MULTI sums the days' sorted sets into a
   * scratch key, reads the top and deletes it; one pipeline counts each value's visitors.
   */
  async breakdown(dim: AnalyticsDim, days?: number | null, limit = BREAKDOWN_DEFAULT_LIMIT): Promise<BreakdownRecord[]> {
    const window = this.window(days ?? Math.min(DEFAULT_DAYS, this.maxDays), this.maxDays);
    if (!Number.isInteger(limit) || limit < 1 || limit > BREAKDOWN_MAX_LIMIT)
      throw badInput(`limit must be from 1 to ${BREAKDOWN_MAX_LIMIT}`, { limit: [`must be from 1 to ${BREAKDOWN_MAX_LIMIT}`] });
    const k = this.keys;
    const sets = window.map((d) => k.anDayValues(d, dim));
    let flat: string[];
    if (sets.length === 1) {
      flat = await this.redis.zrevrange(sets[0], 0, limit - 1, 'WITHSCORES');
    } else {
      const scratch = k.anScratch(randomBytes(9).toString('base64url'));
      const res = results(
        await this.redis
          .multi()
          .zunionstore(scratch, sets.length, ...sets)
          .zrevrange(scratch, 0, limit - 1, 'WITHSCORES')
          .del(scratch)
          .exec(),
      );
      flat = res[1] as string[];
    }
    const rows: Array<{ value: string; views: number }> = [];
    for (let i = 0; i < flat.length; i += 2) rows.push({ value: flat[i], views: Number(flat[i + 1]) });
    if (!rows.length) return [];
    const pipe = this.redis.pipeline();
    for (const r of rows) {
      const digest = valueDigest(r.value);
      pipe.pfcount(...window.map((d) => k.anDayUniques(d, dim, digest)));
    }
    const counts = results(await pipe.exec());
    return rows.map((r, i) => ({ ...r, uniqueVisitors: Number(counts[i]) }));
  }

  /**
   * Visitors who reached each step, in order, over the window. A visitor's views of the window
   * form one sequence, in the order they were recorded (day after day). The visitor reaches step
   * 1 with any view of `steps[0]`, and step k+1 with a view of `steps[k]` that comes after the
   * view that reached step k: views of other pages in between do not matter, a step seen only
   * before the previous one does not count (going back counts once the page is viewed again
   * after it), and one view reaches at most one step. So every count is at most the one before.
   *
   * Counts are exact over the visitors whose sequence was kept: a visitor's journey within its
   * caller's daily budget, at most 200 views per visitor per day. Bots have none. Pages are
   * matched as tracked: query string and fragment dropped; a page counted as "(other)" past
   * ANALYTICS_MAX_PAGES matches no step.
   */
  async funnel(rawSteps: readonly string[], days?: number | null): Promise<FunnelStepRecord[]> {
    if (rawSteps.length < 1 || rawSteps.length > FUNNEL_MAX_STEPS)
      throw badInput(`steps must hold 1 to ${FUNNEL_MAX_STEPS} pages`, { steps: [`must hold 1 to ${FUNNEL_MAX_STEPS} pages`] });
    const steps = rawSteps.map((s, i) => {
      if (!/^\/\S*$/.test(s))
        throw badInput(`steps[${i}] must be a path starting with "/"`, { [`steps[${i}]`]: ['must be a path starting with "/" and without spaces'] });
      return normalizePage(s);
    });
    const window = this.window(days ?? Math.min(DEFAULT_DAYS, this.maxFunnelDays), this.maxFunnelDays);
    const ids = await this.redis.hmget(this.keys.anPageIds(), ...steps);
    // A step never tracked (or only counted under "(other)") stops every visitor there.
    const wanted = ids.map((id, i) => (id !== null && steps[i] !== OTHER ? id : null));
    const reached = new Array<number>(steps.length).fill(0);
    if (wanted[0] === null) return steps.map((page) => ({ page, visitors: 0 }));
    // Visitors past step 1, by short hash -> steps reached so far. Nobody else is remembered.
    const progress = new Map<string, number>();
    for (const day of window) {
      const key = this.keys.anDay(day, 'seq');
      // HSCAN may return a field twice: each is applied once per day.
      const seen = new Set<string>();
      let cursor = '0';
      do {
        const [next, flat] = await this.redis.hscan(key, cursor, 'COUNT', SCAN_COUNT);
        cursor = next;
        for (let i = 0; i < flat.length; i += 2) {
          const visitor = flat[i];
          if (seen.has(visitor)) continue;
          seen.add(visitor);
          let at = progress.get(visitor) ?? 0;
          if (at === steps.length) continue;
          for (const id of flat[i + 1].split(',')) {
            if (id !== wanted[at]) continue;
            at++;
            if (at === steps.length || wanted[at] === null) break;
          }
          if (at > 0) progress.set(visitor, at);
        }
      } while (cursor !== '0');
    }
    for (const at of progress.values()) for (let s = 0; s < at; s++) reached[s]++;
    return steps.map((page, i) => ({ page, visitors: reached[i] }));
  }
}
