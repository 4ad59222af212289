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
