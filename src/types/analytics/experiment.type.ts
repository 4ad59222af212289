import { Field, Float, Int, ObjectType, registerEnumType } from 'type-graphql';
import { ListSize } from '../list-size';

export enum ExperimentStatus {
  RUNNING = 'RUNNING',
  STOPPED = 'STOPPED',
}
registerEnumType(ExperimentStatus, {
  name: 'ExperimentStatus',
  description: 'RUNNING assigns and records; STOPPED serves the winner to everyone and records nothing.',
});

@ObjectType({ description: 'One arm of an experiment. Rates count each viewer once: converting viewers over exposed viewers.' })
export class VariantStats {
  @Field()
  name!: string;

  @Field(() => Float, { description: 'Expected share of exposures, 0 to 1, from the weights.' })
  weight!: number;

  @Field(() => Int, { description: 'Viewers assigned to this variant (each once).' })
  exposures!: number;

  @Field(() => Int, { description: 'Exposed viewers who converted at least once.' })
  conversions!: number;

  @Field(() => Float)
  conversionRate!: number;

  @Field(() => Int, { description: 'Every conversion of exposed viewers, repeats included.' })
  conversionEvents!: number;

  @Field(() => Int)
  revenueCents!: number;

  @Field(() => Float, {
    nullable: true,
    description: 'Relative change of the rate against control (0.1 = +10%); null for control or while control has no conversions.',
  })
  upliftVsControl!: number | null;

  @Field(() => Float, {
    nullable: true,
    description: 'Two-sided p-value of a pooled two-proportion z-test against control; null for control or without exposures.',
  })
  pValue!: number | null;

  @Field(() => Float, { nullable: true, description: 'Posterior probability that this rate beats control (Beta(1,1) priors); null for control.' })
  chanceToBeatControl!: number | null;

  @Field({ description: 'pValue below 0.05 divided by the number of comparisons with control (Bonferroni).' })
  significant!: boolean;

  @Field(() => Float, { description: 'revenueCents over exposures: every exposed viewer counts, those who paid nothing as 0 (cents).' })
  revenuePerVisitor!: number;

  @Field(() => Float, {
    nullable: true,
    description: 'Sample standard deviation of revenue per visitor (cents); null below two exposures or for experiments created before it was kept.',
  })
  revenuePerVisitorStdDev!: number | null;

  @Field(() => Float, { nullable: true, description: 'Relative change of revenue per visitor against control; null for control or while control has none.' })
  revenueUpliftVsControl!: number | null;

  @Field(() => Float, {
    nullable: true,
    description:
      "Two-sided p-value of Welch's t-test of revenue per visitor against control; null for control, below two exposures, or for experiments created before the spread was kept.",
  })
  revenuePValue!: number | null;

  @Field({ description: 'revenuePValue below the same threshold as `significant` (0.05 over the comparisons with control).' })
  revenueSignificant!: boolean;
}

@ObjectType()
export class Experiment {
  @Field()
  key!: string;

  // createExperiment takes 2 to 10 variants.
  @ListSize({ max: 10 })
  @Field(() => [VariantStats], { description: 'In creation order; the first is the control.' })
  variants!: VariantStats[];

  @Field()
  control!: string;

  @Field(() => Date)
  createdAt!: Date;

  @Field(() => ExperimentStatus)
  status!: ExperimentStatus;

  @Field(() => String, { nullable: true, description: 'Set when stopped with a winner: every visitor then gets this variant.' })
  winner!: string | null;

  @Field(() => Date, { nullable: true, description: 'When it was stopped; null while it runs.' })
  stoppedAt!: Date | null;

  @Field(() => Int)
  totalExposures!: number;

  @Field(() => Int, { description: 'Conversions that named this experiment from viewers never exposed to it: not counted in any variant.' })
  unattributedConversions!: number;

  @Field(() => Float, { nullable: true, description: 'Chi-square test of exposures against the weights; null while any expected count is below 5.' })
  sampleRatioPValue!: number | null;

  @Field({ description: 'True when sampleRatioPValue < 0.001: assignment or logging is broken, do not trust the results.' })
  sampleRatioMismatch!: boolean;

  // One per kind of warning experiment.report.ts writes.
  @ListSize({ max: 5 })
  @Field(() => [String], { description: 'What a careful reader should know before trusting the numbers.' })
  warnings!: string[];
}
