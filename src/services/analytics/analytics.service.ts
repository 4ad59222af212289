/**
 * Page views and conversions. Each tracked event is one script call (one Redis
 * round trip) that updates every counter, HyperLogLog, ranking, minute bucket
 * and journey it touches and PUBLISHes the event for `analyticsEvents`
 * subscribers on every instance. Reads are pipelined.
 *
 * Defaults: minute buckets and journeys live ANALYTICS_RETENTION (24h), a
 * journey keeps the visitor's last 50 pages, ANALYTICS_MAX_PAGES (10000)
 * pages and 100 conversion types are ranked one by one before new ones count
 * as "(other)". A journey is named by the keyed hash of the visitor id, and a
 * new one is charged to the caller's daily budget (see {@link VisitorBudget}).
 *
 * Revenue is what the server knows was paid: a completed order (recorded by
 * {@link recordOrder}), or a value an admin reports. A value anyone else sends
 * with a conversion is not counted: the conversion is, with no revenue.
 */
import type { Config } from '../../config';
import type { OrderRecord } from '../commerce/order.service';
import type { RequestContext } from '../context';
import { badInput, notFound } from '../../util/errors';
import type { RedisClient } from '../../redis/connection';
import type { AnalyticsDim, Keys } from '../../redis/keys';
import { runScript } from '../../redis/scripts';
import type { ExperimentService } from './experiment.service';
import { buildReport, type ExperimentReport } from './experiment.report';
import type { VisitorBudget } from './visitor-budget';
import type { VisitorService } from './visitor.service';
import { clientFacts, referrerHost, utmValue, valueDigest } from './page-view-facts';

export const ANALYTICS_EVENTS_TOPIC = 'analytics.events';
export const JOURNEY_CAP = 50;
export const MAX_CONVERSION_TYPES = 100;
export const MAX_PAGE_LENGTH = 256;
export const OTHER = '(other)';
/** The conversion type a completed order is recorded under; in parentheses, like OTHER, so no client can send it. */
export const ORDER_CONVERSION = '(order)';
/** How long a completed order's "revenue counted" marker is kept: far beyond any retry of its processing. */
const ORDER_MARKER_TTL_MS = 7 * 86_400_000;

export type AnalyticsEventKind = 'PAGE_VIEW' | 'CONVERSION';

/** What travels on the events channel (JSON; `at` in ms). */
export interface AnalyticsEventPayload {
  type: AnalyticsEventKind;
  at: number;
  page?: string;
  referrer?: string;
  visitorId?: string;
  conversionType?: string;
  valueCents?: number;
  experiment?: string;
}

export interface PageStatsRecord {
  page: string;
  views: number;
  uniqueVisitors: number;
}

export interface SeriesPoint {
  at: number;
  count: number;
}

/** Everything the dashboard shows, read at once; JSON-safe because it is also the liveStats payload. */
export interface AnalyticsSnapshot {
  at: number;
  totalPageViews: number;
  totalConversions: number;
  totalRevenueCents: number;
  uniqueVisitors: number;
  trackedPages: number;
  topPages: PageStatsRecord[];
  conversionsByType: Array<{ type: string; conversions: number; revenueCents: number }>;
  viewsPerMinute: SeriesPoint[];
  experiments: ExperimentReport[];
}

export interface SnapshotOptions {
  /** Default 10. */
  topPages?: number;
  /** Default 60. */
  minutes?: number;
  /** Default 20. */
  experiments?: number;
  /** The time (ms) the aggregate is taken at; default now. liveStats passes the Redis time of its decision. */
  at?: number;
}

export interface PageViewSpec {
  page: string;
  referrer?: string | null;
  visitorId?: string | null;
}

export interface ConversionSpec {
  type: string;
  valueCents?: number | null;
  experiment?: string | null;
  visitorId?: string | null;
}

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
/** Page views one trackPageViews call (and one POST /collect) may carry. */
export const MAX_BATCH = 100;
/** Page ids kept per visitor per day for funnels; later views of the day still count everywhere else. */
export const SEQ_CAP = 200;
/** Characters of the visitor's keyed hash (72 bits) that name its funnel sequence. */
const SEQ_VISITOR_CHARS = 12;
/** Longest funnel window, in days. */
export const FUNNEL_MAX_DAYS = 31;
/** The rollups' dimensions, in the order the script takes them. */
export const DIMS: readonly AnalyticsDim[] = ['page', 'ref', 'src', 'cmp', 'br', 'dev'];

type Piped = Array<[Error | null, unknown]>;
function results(res: Piped | null): unknown[] {
  return (res ?? []).map(([err, value]) => {
    if (err) throw err;
    return value;
  });
}

/** `/a/b?x=1#y` -> `/a/b`: pages are counted by path. */
export function normalizePage(raw: string): string {
  const cut = raw.search(/[?#]/);
  const page = cut < 0 ? raw : raw.slice(0, cut);
  if (page.length > MAX_PAGE_LENGTH)
    throw badInput(`The page path is longer than ${MAX_PAGE_LENGTH} characters`, { page: [`must be at most ${MAX_PAGE_LENGTH} characters`] });
  return page;
}

export class AnalyticsService {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly visitors: VisitorService,
    private readonly experiments: ExperimentService,
    private readonly budget: VisitorBudget,
    private readonly config: Pick<Config, 'analytics'>,
  ) {}

  private get bucketTtlSec(): number {
    // Two extra minutes so the oldest minute of a full-retention window is still there.
    return Math.ceil(this.config.analytics.retentionMs / 1000) + 120;
  }

  /** Hour and day rollups live ANALYTICS_HISTORY after their last write. */
  private get historyTtlSec(): number {
    return this.config.analytics.historyDays * 86_400;
  }

  /** Funnel sequences are read at most {@link FUNNEL_MAX_DAYS} back: kept no longer than that. */
  private get sequenceTtlSec(): number {
    return Math.min(this.config.analytics.historyDays, FUNNEL_MAX_DAYS) * 86_400;
  }

  /** Longest pageViewSeries window, in minutes. */
  get maxMinutes(): number {
    return Math.floor(this.config.analytics.retentionMs / MINUTE);
  }

  /** One page view: {@link trackPageViews} with one input. */
  async trackPageView(ctx: RequestContext, spec: PageViewSpec): Promise<void> {
    await this.trackPageViews(ctx, [spec]);
  }

  /**
   * 1 to {@link MAX_BATCH} page views in one script call (one round trip): counters, uniques,
   * ranking, minute bucket, journeys (within the caller's budget), the hourly and daily rollups,
   * the live flag and one event per view. Views from a bot's User-Agent are counted apart (an
   * admin, a server-side reporter, is never taken for a bot). Returns how many were recorded.
   */
  async trackPageViews(ctx: RequestContext, specs: readonly PageViewSpec[]): Promise<number> {
    if (specs.length < 1 || specs.length > MAX_BATCH)
      throw badInput(`inputs must hold 1 to ${MAX_BATCH} page views`, { inputs: [`must hold 1 to ${MAX_BATCH} page views`] });
    const pages = specs.map((spec, i) => {
      try {
        return normalizePage(spec.page);
      } catch (err) {
        if (specs.length === 1) throw err;
        throw badInput(`inputs[${i}].page is longer than ${MAX_PAGE_LENGTH} characters`, {
          [`inputs[${i}].page`]: [`must be at most ${MAX_PAGE_LENGTH} characters`],
        });
      }
    });
    const client = clientFacts(ctx.client.userAgent);
    const bot = client.bot && !(await this.isAdmin(ctx));
    const at = Date.now();
    const minute = Math.floor(at / MINUTE);
    const day = Math.floor(at / DAY);
    const k = this.keys;
    const keys = [
      k.anTotals(),
      k.anPages(),
      k.anUniques(),
      k.anUniques(OTHER),
      k.anMinute(minute),
      k.anDirty(),
      '', // KEYS[7]: the caller's budget counter, known inside budget.run
      k.anHour(Math.floor(at / HOUR)),
      k.anDay(day, 'tot'),
      k.anDay(day, 'uv'),
      k.anDay(day, 'seq'),
      k.anPageIds(),
      ...DIMS.map((d) => k.anDayValues(day, d)),
      ...DIMS.map((d) => k.anDayUniques(day, d, valueDigest(OTHER))),
    ];
    const index = new Map<string, number>();
    const at1 = (key: string): number => {
      let i = index.get(key);
      if (i === undefined) {
        keys.push(key);
        i = keys.length;
        index.set(key, i);
      }
      return i;
    };
    const perView: Array<string | number> = [];
    for (let i = 0; i < specs.length; i++) {
      const spec = specs[i];
      const page = pages[i];
      const visitorId = await this.visitors.visitorFor(ctx, spec.visitorId);
      const visitorKey = await this.visitors.visitorKey(visitorId);
      const values: Record<AnalyticsDim, string> = {
        page,
        ref: referrerHost(spec.referrer),
        src: utmValue(spec.page, 'utm_source'),
        cmp: utmValue(spec.page, 'utm_campaign'),
        br: client.browser,
        dev: client.device,
      };
      const event: AnalyticsEventPayload = { type: 'PAGE_VIEW', at, page, visitorId, ...(spec.referrer ? { referrer: spec.referrer } : {}) };
      const dayUniques = (d: AnalyticsDim): number => at1(k.anDayUniques(day, d, valueDigest(values[d])));
      perView.push(page, visitorId, visitorKey.slice(0, SEQ_VISITOR_CHARS), bot ? '1' : '0');
      if (bot) {
        // Nothing per visitor is written for a bot: the indexes are never read.
        perView.push(1, 1, 1, values.ref, 1, values.src, 1, values.cmp, 1, values.br, 1, 'bot', 1);
      } else {
        perView.push(at1(k.anUniques(page)), at1(k.anJourney(visitorKey)), dayUniques('page'));
        for (const d of ['ref', 'src', 'cmp', 'br', 'dev'] as const) perView.push(values[d], dayUniques(d));
      }
      perView.push(JSON.stringify(event));
    }
    const a = this.config.analytics;
    return this.budget.run(
      ctx,
      (budget) => {
        keys[6] = budget.key;
        return runScript<number>(this.redis, 'trackPageViews', keys, [
          a.maxPages,
          a.maxValuesPerDay,
          this.bucketTtlSec,
          this.historyTtlSec,
          this.sequenceTtlSec,
          JOURNEY_CAP,
          this.bucketTtlSec,
          k.channel(ANALYTICS_EVENTS_TOPIC),
          ...budget.args,
          SEQ_CAP,
          specs.length,
          ...perView,
        ]);
      },
      (code) => code === -1,
    );
  }

  /** Whether the caller is an admin or an ADMIN API key (a trusted server-side reporter); costs nothing without a token. */
  private async isAdmin(ctx: RequestContext): Promise<boolean> {
    if (!ctx.token) return false;
    return Boolean((await ctx.actor())?.roles.includes('ADMIN'));
  }

  /**
   * One script call; with `experiment`, counts for the viewer's variant. NOT_FOUND for an unknown
   * experiment. `valueCents` counts as revenue only when an admin sends it.
   */
  async trackConversion(ctx: RequestContext, spec: ConversionSpec): Promise<void> {
    // The viewer as assignVariant decides it, so a conversion counts for the variant that viewer was given.
    const visitorId = await this.visitors.viewerFor(ctx, spec.visitorId);
    const valueCents = spec.valueCents && (await this.reportsRevenue(ctx)) ? spec.valueCents : 0;
    const code = await this.convert({ type: spec.type, valueCents, visitorId, experiment: spec.experiment ?? '' });
    if (code === -1) throw notFound(`Experiment ${spec.experiment}`);
  }

  /**
   * Counts a completed order: its total as revenue (conversion type `(order)`) of the buyer
   * (`user:<id>`), and a conversion in every experiment the buyer was exposed to. Safe to call
   * again for the same order (a retried job): it counts once.
   */
  async recordOrder(order: Pick<OrderRecord, 'id' | 'userId' | 'totalCents'>): Promise<void> {
    await this.convert({ type: ORDER_CONVERSION, valueCents: order.totalCents, visitorId: `user:${order.userId}`, experiment: '*', orderId: order.id });
  }

  /** Whether a value sent with a conversion is revenue: only from an admin (a server-side reporter, e.g. an ADMIN API key). */
  private reportsRevenue(ctx: RequestContext): Promise<boolean> {
    return this.isAdmin(ctx);
  }

  /** The conversion script; `experiment` '' for none, '*' for every one the visitor was exposed to. Returns its code. */
  private async convert(c: { type: string; valueCents: number; visitorId: string; experiment: string; orderId?: string }): Promise<number> {
    const at = Date.now();
    const named = c.experiment !== '' && c.experiment !== '*' ? c.experiment : '';
    const event: AnalyticsEventPayload = {
      type: 'CONVERSION',
      at,
      visitorId: c.visitorId,
      conversionType: c.type,
      valueCents: c.valueCents,
      ...(named ? { experiment: named } : {}),
    };
    const k = this.keys;
    const [code] = await runScript<[number, string]>(
      this.redis,
      'trackConversion',
      [
        k.anTotals(),
        k.anConversions('count'),
        k.anConversions('revenue'),
        k.anMinute(Math.floor(at / MINUTE)),
        k.anDirty(),
        k.anVisitorExps(await this.visitors.visitorKey(c.visitorId)),
        k.anOrder(c.orderId ?? ''),
        k.experiment(named, 'def'),
        k.experiment(named, 'stats'),
        k.experiment(named, 'assign'),
        k.experiment(named, 'converted'),
      ],
      [
        c.type,
        c.valueCents,
        c.visitorId,
        named ? '=' : c.experiment,
        // Orders keep their own type even when clients have used up the ranked types: room for "(other)" and "(order)".
        c.orderId ? MAX_CONVERSION_TYPES + 2 : MAX_CONVERSION_TYPES,
        this.bucketTtlSec,
        k.channel(ANALYTICS_EVENTS_TOPIC),
        JSON.stringify(event),
        this.config.analytics.experimentVisitorTtlMs,
        c.orderId ? ORDER_MARKER_TTL_MS : '',
        k.experimentPrefix(),
        named,
      ],
    );
    return code;
  }

  /** Views and distinct visitors of one page (zeros for a page never seen). */
  async pageStats(rawPage: string): Promise<PageStatsRecord> {
    const page = rawPage === OTHER ? OTHER : normalizePage(rawPage);
    const [score, uniques] = results(await this.redis.pipeline().zscore(this.keys.anPages(), page).pfcount(this.keys.anUniques(page)).exec());
    return { page, views: Number(score ?? 0), uniqueVisitors: Number(uniques) };
  }

  /** The `limit` most viewed pages with their distinct visitors (two round trips). */
  async topPages(limit: number): Promise<PageStatsRecord[]> {
    const flat = await this.redis.zrevrange(this.keys.anPages(), 0, limit - 1, 'WITHSCORES');
    return this.withUniques(flat);
  }

  private async withUniques(flat: string[]): Promise<PageStatsRecord[]> {
    const pages: Array<{ page: string; views: number }> = [];
    for (let i = 0; i < flat.length; i += 2) pages.push({ page: flat[i], views: Number(flat[i + 1]) });
    if (!pages.length) return [];
    const pipe = this.redis.pipeline();
    for (const p of pages) pipe.pfcount(this.keys.anUniques(p.page));
    const counts = results(await pipe.exec());
    return pages.map((p, i) => ({ ...p, uniqueVisitors: Number(counts[i]) }));
  }

  /** Longest pageViewSeries window, in minutes: the history. */
  get maxSeriesMinutes(): number {
    return this.config.analytics.historyDays * 1440;
  }

  /**
   * Views over the last `minutes`, oldest first, one page or all. Up to the retention (default
   * 60): one point per minute from the minute buckets. Longer, up to the history: one point per
   * hour for all pages (hourly rollups), one per UTC day for one page (daily rollups), covering
   * every hour or day the window touches; the last point is the running one.
   */
  async series(page: string | null, minutes = 60): Promise<SeriesPoint[]> {
    const max = this.maxSeriesMinutes;
    if (!Number.isInteger(minutes) || minutes < 1 || minutes > Math.max(max, this.maxMinutes)) {
      const most = Math.max(max, this.maxMinutes);
      throw badInput(`minutes must be from 1 to ${most}`, { minutes: [`must be from 1 to ${most}`] });
    }
    const field = page === null ? '*' : page === OTHER ? OTHER : normalizePage(page);
    const now = Date.now();
    const pipe = this.redis.pipeline();
    let step: number;
    let first: number;
    if (minutes <= this.maxMinutes) {
      step = MINUTE;
      first = Math.floor(now / MINUTE) - minutes + 1;
      for (let m = first; m <= first + minutes - 1; m++) pipe.hget(this.keys.anMinute(m), field);
    } else if (page === null) {
      step = HOUR;
      const last = Math.floor(now / HOUR);
      first = Math.floor((now - minutes * MINUTE + 1) / HOUR);
      for (let h = first; h <= last; h++) pipe.hget(this.keys.anHour(h), '*');
    } else {
      step = DAY;
      const last = Math.floor(now / DAY);
      first = Math.floor((now - minutes * MINUTE + 1) / DAY);
      for (let d = first; d <= last; d++) pipe.zscore(this.keys.anDayValues(d, 'page'), field);
    }
    const counts = results(await pipe.exec());
    return counts.map((c, i) => ({ at: (first + i) * step, count: Number(c ?? 0) }));
  }

  /** The visitor's latest pages, newest first (at most 50). */
  async journey(visitorId: string): Promise<string[]> {
    return this.redis.lrange(this.keys.anJourney(await this.visitors.visitorKey(visitorId)), 0, JOURNEY_CAP - 1);
  }

  /** Totals, ranking, conversion types, the last `minutes` and experiment reports: two pipelined round trips. */
  async snapshot(opts: SnapshotOptions = {}): Promise<AnalyticsSnapshot> {
    const top = opts.topPages ?? 10;
    const minutes = Math.min(opts.minutes ?? 60, this.maxMinutes);
    const k = this.keys;
    const at = opts.at ?? Date.now();
    const now = Math.floor(at / MINUTE);
    const pipe = this.redis
      .pipeline()
      .hmget(k.anTotals(), 'views', 'conversions', 'revenue')
      .pfcount(k.anUniques())
      .zcard(k.anPages())
      .zrevrange(k.anPages(), 0, top - 1, 'WITHSCORES')
      .hgetall(k.anConversions('count'))
      .hgetall(k.anConversions('revenue'))
      .zrevrange(k.experiments(), 0, (opts.experiments ?? 20) - 1);
    for (let m = now - minutes + 1; m <= now; m++) pipe.hget(k.anMinute(m), '*');
    const [totals, uniques, pageCount, flatTop, convCount, convRevenue, expKeys, ...minuteCounts] = results(await pipe.exec()) as [
      Array<string | null>,
      number,
      number,
      string[],
      Record<string, string>,
      Record<string, string>,
      string[],
      ...Array<string | null>,
    ];
    const [topPages, raws] = await Promise.all([this.withUniques(flatTop), this.experiments.read(expKeys)]);
    return {
      at,
      totalPageViews: Number(totals[0] ?? 0),
      totalConversions: Number(totals[1] ?? 0),
      totalRevenueCents: Number(totals[2] ?? 0),
      uniqueVisitors: Number(uniques),
      trackedPages: Number(pageCount),
      topPages,
      conversionsByType: Object.entries(convCount)
        .map(([type, n]) => ({ type, conversions: Number(n), revenueCents: Number(convRevenue[type] ?? 0) }))
        .sort((a, b) => b.conversions - a.conversions || a.type.localeCompare(b.type)),
      viewsPerMinute: minuteCounts.map((c, i) => ({ at: (now - minutes + 1 + i) * MINUTE, count: Number(c ?? 0) })),
      experiments: raws.filter((r) => r !== null).map(buildReport),
    };
  }
}
