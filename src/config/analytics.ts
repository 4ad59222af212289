/** Analytics and experiments: retention, history, page and value counting, what one caller may store. */
import { ConfigError, boundedDuration, duration, int, str, type Env } from './parse';

export interface AnalyticsConfig {
  /** ANALYTICS_RETENTION: how long per-minute buckets and visitor journeys live; bounds pageViewSeries' window. Default 24h. */
  readonly retentionMs: number;
  /** ANALYTICS_MAX_PAGES: distinct pages tracked one by one; later new pages count under "(other)". Default 10000. */
  readonly maxPages: number;
  /** ANALYTICS_VISITOR_KEYS_PER_DAY: new visitor keys (journeys, exposure records) one caller may create per UTC day; admins are exempt. Default 1000. */
  readonly visitorKeysPerDay: number;
  /** EXPERIMENT_VISITOR_TTL: how long a visitor's experiment exposures are kept after its last use. Default 30d. */
  readonly experimentVisitorTtlMs: number;
  /** ANALYTICS_HISTORY: how many UTC days the hourly and daily rollups are kept (breakdowns, long series). Default 90. */
  readonly historyDays: number;
  /** ANALYTICS_MAX_VALUES_PER_DAY: distinct referrers, UTM sources, UTM campaigns and browsers counted one by one per UTC day; later new ones count as "(other)". Default 1000. */
  readonly maxValuesPerDay: number;
}

/** Whole minutes from 1m to 31d: series buckets are per minute. */
function retention(env: Env): number {
  const ms = duration(env, 'ANALYTICS_RETENTION', '24h');
  if (ms < 60_000 || ms > 31 * 86_400_000 || ms % 60_000 !== 0) {
    throw new ConfigError('ANALYTICS_RETENTION', 'whole minutes from 1m to 31d, such as 90m, 24h or 7d', str(env, 'ANALYTICS_RETENTION') ?? '');
  }
  return ms;
}

/** Whole days from 1d to 366d: rollups are per hour and per UTC day. */
function history(env: Env): number {
  const ms = duration(env, 'ANALYTICS_HISTORY', '90d');
  if (ms < 86_400_000 || ms > 366 * 86_400_000 || ms % 86_400_000 !== 0) {
    throw new ConfigError('ANALYTICS_HISTORY', 'whole days from 1d to 366d, such as 30d or 90d', str(env, 'ANALYTICS_HISTORY') ?? '');
  }
  return ms / 86_400_000;
}

export function readAnalytics(env: Env): AnalyticsConfig {
  return {
    retentionMs: retention(env),
    maxPages: int(env, 'ANALYTICS_MAX_PAGES', 10_000, 10, 1_000_000),
    visitorKeysPerDay: int(env, 'ANALYTICS_VISITOR_KEYS_PER_DAY', 1000, 0, 1_000_000_000),
    experimentVisitorTtlMs: boundedDuration(env, 'EXPERIMENT_VISITOR_TTL', '30d', '366d'),
    historyDays: history(env),
    maxValuesPerDay: int(env, 'ANALYTICS_MAX_VALUES_PER_DAY', 1000, 10, 100_000),
  };
}
