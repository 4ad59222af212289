import { Arg, Authorized, Ctx, FieldResolver, Int, Mutation, Query, Resolver, Root, Subscription } from 'type-graphql';
import type { ResolverContext } from '../context';
import { requireAdmin } from '../viewer';
import { badInput } from '../../util/errors';
import { filtered } from '../../util/iterators';
import { RateLimit } from '../../types/ratelimit/rate-limit.decorator';
import { ANALYTICS_EVENTS_TOPIC, JOURNEY_CAP, MAX_BATCH, type AnalyticsEventPayload, type AnalyticsSnapshot } from '../../services/analytics/analytics.service';
import { LIVE_TOP_PAGES } from '../../services/analytics/live-stats.service';
import { ConversionInput, PageViewInput } from '../../types/analytics/analytics.input';
import { toAnalyticsEvent, toAnalyticsStats, toTimePoint } from '../../types/analytics/analytics.mappers';
import {
  AnalyticsDimension,
  AnalyticsEvent,
  AnalyticsEventType,
  AnalyticsStats,
  BreakdownRow,
  FunnelStep,
  PageStats,
  TimePoint,
} from '../../types/analytics/analytics.type';
import { BREAKDOWN_DEFAULT_LIMIT, BREAKDOWN_MAX_LIMIT, DEFAULT_DAYS, FUNNEL_MAX_STEPS } from '../../services/analytics/history.service';
import type { AnalyticsDim } from '../../services/analytics/history.service';
import { ListSize } from '../../types/list-size';

/** The rollups' name of each dimension. */
const DIMENSIONS: Record<AnalyticsDimension, AnalyticsDim> = {
  PAGE: 'page',
  REFERRER: 'ref',
  UTM_SOURCE: 'src',
  UTM_CAMPAIGN: 'cmp',
  BROWSER: 'br',
  DEVICE: 'dev',
};

// Every subscriber on this instance receives the same parsed payload object: map it once for all of them.
const events = new WeakMap<AnalyticsEventPayload, AnalyticsEvent>();
const sharedEvent = (e: AnalyticsEventPayload): AnalyticsEvent => events.get(e) ?? (events.set(e, toAnalyticsEvent(e)), events.get(e)!);
const snapshots = new WeakMap<AnalyticsSnapshot, AnalyticsStats>();
const sharedStats = (s: AnalyticsSnapshot): AnalyticsStats => snapshots.get(s) ?? (snapshots.set(s, { ...toAnalyticsStats(s), live: true }), snapshots.get(s)!);

const wanted = (types: AnalyticsEventType[] | null | undefined, payload: AnalyticsEventPayload): boolean =>
  !types?.length || types.includes(payload.type as AnalyticsEventType);

/**
 * Tracking's own budget, in page views: trackPageView costs one point, trackPageViews one per
 * view in it (the rate limiter charges a root field taking `inputs` per item). The burst holds one
 * full batch.
 */
const PAGE_VIEW_POLICY = { name: 'page-view', points: 120, window: '1m', burst: MAX_BATCH } as const;

@Resolver(() => AnalyticsStats)
export class AnalyticsResolver {
  @RateLimit(PAGE_VIEW_POLICY)
  @Mutation(() => Boolean, { description: 'Anyone may track. One Redis round trip; the event reaches analyticsEvents subscribers.' })
  async trackPageView(@Arg('input', () => PageViewInput) input: PageViewInput, @Ctx() { ctx, services }: ResolverContext): Promise<boolean> {
    await services.analytics.trackPageView(ctx, input);
    return true;
  }

  @RateLimit(PAGE_VIEW_POLICY)
  @Mutation(() => Int, {
    description: `Anyone. Up to ${MAX_BATCH} page views in one request and one Redis round trip, each as trackPageView records it; returns how many were recorded. One invalid input refuses the batch (BAD_USER_INPUT) and nothing is recorded. Costs one point per view of the page-view and default rate limits. Also POST /collect.`,
  })
  trackPageViews(@Arg('inputs', () => [PageViewInput]) inputs: PageViewInput[], @Ctx() { ctx, services }: ResolverContext): Promise<number> {
    return services.analytics.trackPageViews(ctx, inputs);
  }

  @Mutation(() => Boolean, {
    description: "Anyone may track. Naming an experiment counts it for the viewer's variant. valueCents is revenue only from an admin.",
  })
  async trackConversion(@Arg('input', () => ConversionInput) input: ConversionInput, @Ctx() { ctx, services }: ResolverContext): Promise<boolean> {
    await services.analytics.trackConversion(ctx, input);
    return true;
  }

  @Authorized('ADMIN')
  @Query(() => AnalyticsStats, { description: 'Admin only.' })
  async analytics(@Ctx() { services }: ResolverContext): Promise<AnalyticsStats> {
    return toAnalyticsStats(await services.analytics.snapshot({ topPages: LIVE_TOP_PAGES }));
  }

  @Authorized('ADMIN')
  @Query(() => PageStats, { description: 'Admin only.' })
  pageStats(@Arg('page') page: string, @Ctx() { services }: ResolverContext): Promise<PageStats> {
    return services.analytics.pageStats(page);
  }

  @Authorized('ADMIN')
  // One point per minute up to the longest ANALYTICS_RETENTION (31 days); past the retention one per hour or day, fewer.
  @ListSize({ arg: 'minutes', default: 60, max: 31 * 24 * 60 })
  @Query(() => [TimePoint], {
    description:
      'Admin only. Counts for the last `minutes` (default 60), oldest first, all pages when `page` is null: one point per minute up to ANALYTICS_RETENTION; beyond it, up to ANALYTICS_HISTORY, one per hour (all pages) or per UTC day (one page).',
  })
  async pageViewSeries(
    @Arg('page', () => String, { nullable: true }) page: string | null,
    @Arg('minutes', () => Int, { nullable: true, defaultValue: 60 }) minutes: number,
    @Ctx() { services }: ResolverContext,
  ): Promise<TimePoint[]> {
    return (await services.analytics.series(page ?? null, minutes ?? 60)).map(toTimePoint);
  }

  @Authorized('ADMIN')
  @ListSize({ max: JOURNEY_CAP })
  @Query(() => [String], { description: "Admin only. A visitor's latest pages, newest first (at most 50)." })
  visitorJourney(@Arg('visitorId') visitorId: string, @Ctx() { services }: ResolverContext): Promise<string[]> {
    return services.analytics.journey(visitorId);
  }

  @Authorized('ADMIN')
  @ListSize({ arg: 'limit', default: BREAKDOWN_DEFAULT_LIMIT, max: BREAKDOWN_MAX_LIMIT })
  @Query(() => [BreakdownRow], {
    description: `Admin only. Views and unique visitors per value of one dimension over the last \`days\` UTC days (today included; 1 to ANALYTICS_HISTORY, default ${DEFAULT_DAYS} or the whole history if shorter), most viewed first; \`limit\` 1 to ${BREAKDOWN_MAX_LIMIT}, default ${BREAKDOWN_DEFAULT_LIMIT}.`,
  })
  async breakdown(
    @Arg('dimension', () => AnalyticsDimension) dimension: AnalyticsDimension,
    @Arg('days', () => Int, { nullable: true }) days: number | null | undefined,
    @Arg('limit', () => Int, { nullable: true }) limit: number | null | undefined,
    @Ctx() { services }: ResolverContext,
  ): Promise<BreakdownRow[]> {
    return services.analyticsHistory.breakdown(DIMENSIONS[dimension], days, limit ?? BREAKDOWN_DEFAULT_LIMIT);
  }

  @Authorized('ADMIN')
  @ListSize({ max: FUNNEL_MAX_STEPS })
  @Query(() => [FunnelStep], {
    description: `Admin only. Ordered page funnel over the last \`days\` UTC days (today included; 1 to 31 and at most ANALYTICS_HISTORY, default ${DEFAULT_DAYS} or the whole history if shorter): for each of 1 to ${FUNNEL_MAX_STEPS} steps, the visitors who viewed it after viewing every earlier step, in that order (docs/analytics.md, "Funnels").`,
  })
  funnel(
    @Arg('steps', () => [String]) steps: string[],
    @Arg('days', () => Int, { nullable: true }) days: number | null | undefined,
    @Ctx() { services }: ResolverContext,
  ): Promise<FunnelStep[]> {
    return services.analyticsHistory.funnel(steps, days);
  }

  @ListSize({ arg: 'limit', default: 10, max: 100 })
  @FieldResolver(() => [PageStats], { description: `Most viewed first. Limit 1 to 100, default 10; liveStats carries the top ${LIVE_TOP_PAGES}.` })
  async topPages(
    @Root() stats: AnalyticsStats,
    @Arg('limit', () => Int, { nullable: true, defaultValue: 10 }) limit: number,
    @Ctx() { services }: ResolverContext,
  ): Promise<PageStats[]> {
    const n = limit ?? 10;
    if (n < 1 || n > 100) throw badInput('limit must be from 1 to 100', { limit: ['must be from 1 to 100'] });
    const read = stats.topPagesRead;
    if (stats.live || read.length >= n || read.length >= stats.trackedPages) return read.slice(0, n);
    return services.analytics.topPages(n);
  }

  // Subscriptions check the role once, at subscribe time: an @Authorized check would run again for every event.
  @Subscription(() => AnalyticsEvent, {
    subscribe: async ({ args, context }) => {
      const { ctx, services } = context as ResolverContext;
      await requireAdmin(ctx);
      const types = (args as { types?: AnalyticsEventType[] | null }).types;
      return filtered(services.pubsub.subscribe(ANALYTICS_EVENTS_TOPIC) as AsyncIterable<AnalyticsEventPayload>, (e) => wanted(types, e));
    },
    description: 'Admin only. Every tracked event on any instance; `types` omitted or empty means all.',
  })
  analyticsEvents(
    @Root() event: AnalyticsEventPayload,
    @Arg('types', () => [AnalyticsEventType], { nullable: true, validate: false }) _types?: AnalyticsEventType[] | null,
  ): AnalyticsEvent {
    return sharedEvent(event);
  }

  @Subscription(() => AnalyticsStats, {
    subscribe: async ({ context }) => {
      const { ctx, services } = context as ResolverContext;
      await requireAdmin(ctx);
      return services.liveStats.subscribe();
    },
    description: 'Admin only. Pushed at most once a second (across all instances) while anything changes; the same payload on every instance.',
  })
  liveStats(@Root() snapshot: AnalyticsSnapshot): AnalyticsStats {
    return sharedStats(snapshot);
  }
}
