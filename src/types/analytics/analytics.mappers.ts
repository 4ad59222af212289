/** Analytics and experiment records (JSON-safe, times in ms) -> GraphQL object types. */
import type { AnalyticsEventPayload, AnalyticsSnapshot, SeriesPoint } from '../../services/analytics/analytics.service';
import type { ExperimentReport } from '../../services/analytics/experiment.report';
import { AnalyticsEventType, type AnalyticsEvent, type AnalyticsStats, type TimePoint } from './analytics.type';
import { ExperimentStatus, type Experiment } from './experiment.type';
import { saturateInt } from '../int';

export const toTimePoint = (p: SeriesPoint): TimePoint => ({ at: new Date(p.at), count: p.count });

export const toExperiment = (r: ExperimentReport): Experiment => ({
  ...r,
  variants: r.variants.map((v) => ({ ...v, revenueCents: saturateInt(v.revenueCents) })),
  createdAt: new Date(r.createdAt),
  status: ExperimentStatus[r.status],
  stoppedAt: r.stoppedAt === null ? null : new Date(r.stoppedAt),
});

export const toAnalyticsStats = (s: AnalyticsSnapshot): AnalyticsStats => ({
  totalPageViews: s.totalPageViews,
  totalConversions: s.totalConversions,
  totalRevenueCents: saturateInt(s.totalRevenueCents),
  uniqueVisitors: s.uniqueVisitors,
  trackedPages: s.trackedPages,
  conversionsByType: s.conversionsByType.map((c) => ({ ...c, revenueCents: saturateInt(c.revenueCents) })),
  viewsPerMinute: s.viewsPerMinute.map(toTimePoint),
  experiments: s.experiments.map(toExperiment),
  at: new Date(s.at),
  topPagesRead: s.topPages,
});

export const toAnalyticsEvent = (e: AnalyticsEventPayload): AnalyticsEvent => ({
  type: AnalyticsEventType[e.type],
  page: e.page ?? null,
  referrer: e.referrer ?? null,
  visitorId: e.visitorId ?? null,
  conversionType: e.conversionType ?? null,
  valueCents: e.valueCents ?? null,
  experiment: e.experiment ?? null,
  at: new Date(e.at),
});
