import { Field, Int, ObjectType, registerEnumType } from 'type-graphql';
import { Experiment } from './experiment.type';
import { MAX_CONVERSION_TYPES } from '../../services/analytics/analytics.service';
import { ListSize } from '../list-size';

export enum AnalyticsEventType {
  PAGE_VIEW = 'PAGE_VIEW',
  CONVERSION = 'CONVERSION',
}
registerEnumType(AnalyticsEventType, { name: 'AnalyticsEventType' });

@ObjectType()
export class PageStats {
  @Field()
  page!: string;

  @Field(() => Int)
  views!: number;

  @Field(() => Int, { description: 'Distinct visitors (HyperLogLog: standard error 0.81%).' })
  uniqueVisitors!: number;
}

@ObjectType({ description: 'A count for one minute, `at` being the start of the minute.' })
export class TimePoint {
  @Field(() => Date)
  at!: Date;

  @Field(() => Int)
  count!: number;
}

@ObjectType({ description: 'Conversions and revenue of one conversion type.' })
export class ConversionTypeStats {
  @Field()
  type!: string;

  @Field(() => Int)
  conversions!: number;

  @Field(() => Int)
  revenueCents!: number;
}

@ObjectType()
export class AnalyticsStats {
  @Field(() => Int)
  totalPageViews!: number;

  @Field(() => Int)
  totalConversions!: number;

  @Field(() => Int)
  totalRevenueCents!: number;

  @Field(() => Int, { description: 'Distinct visitors over all pages (HyperLogLog: standard error 0.81%).' })
  uniqueVisitors!: number;

  @Field(() => Int, { description: 'Distinct pages ranked, "(other)" included once past ANALYTICS_MAX_PAGES.' })
  trackedPages!: number;

  // Past MAX_CONVERSION_TYPES distinct types, new ones count as "(other)".
  @ListSize({ max: MAX_CONVERSION_TYPES + 1 })
  @Field(() => [ConversionTypeStats], { description: 'Per conversion type, most conversions first.' })
  conversionsByType!: ConversionTypeStats[];

  @ListSize({ max: 60 })
  @Field(() => [TimePoint], { description: 'Page views per minute over the last hour, oldest first; the last minute is still running.' })
  viewsPerMinute!: TimePoint[];

  @ListSize({ max: 20 })
  @Field(() => [Experiment], { description: 'The 20 most recent experiments with their results.' })
  experiments!: Experiment[];

  @Field(() => Date, { description: 'When these numbers were read.' })
  at!: Date;

  /** The ranking as read with the numbers above; `topPages` answers from it when it is long enough. */
  topPagesRead!: PageStats[];
  /** A liveStats push: `topPages` answers from what was read and never asks Redis per subscriber. */
  live?: boolean;
}

@ObjectType()
export class AnalyticsEvent {
  @Field(() => AnalyticsEventType)
  type!: AnalyticsEventType;

  @Field(() => String, { nullable: true })
  page!: string | null;

  @Field(() => String, { nullable: true, description: "The page view's referrer, when the client sent one." })
  referrer!: string | null;

  @Field(() => String, { nullable: true })
  visitorId!: string | null;

  @Field(() => String, { nullable: true })
  conversionType!: string | null;

  @Field(() => Int, { nullable: true })
  valueCents!: number | null;

  @Field(() => String, { nullable: true, description: 'The experiment a conversion named.' })
  experiment!: string | null;

  @Field(() => Date)
  at!: Date;
}

export enum AnalyticsDimension {
  PAGE = 'PAGE',
  REFERRER = 'REFERRER',
  UTM_SOURCE = 'UTM_SOURCE',
  UTM_CAMPAIGN = 'UTM_CAMPAIGN',
  BROWSER = 'BROWSER',
  DEVICE = 'DEVICE',
}
registerEnumType(AnalyticsDimension, {
  name: 'AnalyticsDimension',
  description: 'What a breakdown groups page views by.',
  valuesConfig: {
    PAGE: { description: 'The path, query string and fragment dropped; "(other)" past ANALYTICS_MAX_PAGES.' },
    REFERRER: { description: 'The referrer\'s host name, lower case; "(direct)" without a referrer.' },
    UTM_SOURCE: { description: 'utm_source from the page\'s query string, lower case; "(none)" without one.' },
    UTM_CAMPAIGN: { description: 'utm_campaign from the page\'s query string, lower case; "(none)" without one.' },
    BROWSER: { description: 'The browser family from the User-Agent; "(unknown)" when not recognised. Bots are left out.' },
    DEVICE: { description: 'desktop, mobile, tablet or bot, from the User-Agent. Bot views count here only, with no visitors.' },
  },
});

@ObjectType({ description: 'Views and unique visitors of one value of a dimension over a window of days.' })
export class BreakdownRow {
  @Field()
  value!: string;

  @Field(() => Int)
  views!: number;

  @Field(() => Int, { description: 'Distinct visitors over the whole window (HyperLogLog: standard error 0.81%); 0 for bots.' })
  uniqueVisitors!: number;
}

@ObjectType({ description: 'One step of a funnel.' })
export class FunnelStep {
  @Field()
  page!: string;

  @Field(() => Int, { description: 'Visitors who reached this step after every earlier one, in order.' })
  visitors!: number;
}
