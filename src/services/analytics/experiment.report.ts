/** Turns an experiment's raw counters into the report a careful analyst can trust (or is warned not to). */
import { chanceToBeat, meanAndVariance, sampleRatioPValue, twoProportionPValue, welchTTest, type Arm, type RevenueSample } from './experiment.stats';

/** Below this p-value the exposures do not fit the weights: the usual SRM alarm threshold. */
export const SRM_ALPHA = 0.001;
export const ALPHA = 0.05;
/** Fewer exposures than this in any variant and the report says it is too early. */
export const MIN_EXPOSURES = 100;

export interface RawExperiment {
  key: string;
  variants: string[];
  weights: number[];
  createdAt: number;
  /** When it was stopped (ms), or null while it runs. */
  stoppedAt: number | null;
  /** The variant served to everyone once stopped; null when none was named (the control is served). */
  winner: string | null;
  /**
   * Whether the sum of squares of revenue per visitor was kept from the start (experiments created
   * before it was kept have none, and get no revenue test).
   */
  revenueSpread: boolean;
  /** `<variant>:exposures|conversions|events|revenue|revenueSq` and `!unexposed` -> count. */
  counters: Record<string, string>;
}

export type ExperimentStatus = 'RUNNING' | 'STOPPED';

export interface VariantReport {
  name: string;
  weight: number;
  exposures: number;
  conversions: number;
  conversionRate: number;
  conversionEvents: number;
  revenueCents: number;
  upliftVsControl: number | null;
  pValue: number | null;
  chanceToBeatControl: number | null;
  significant: boolean;
  /** revenueCents over exposures: every exposed visitor counts, those who paid nothing as 0. */
  revenuePerVisitor: number;
  /** Sample standard deviation of revenue per visitor; null below two exposures or without the spread. */
  revenuePerVisitorStdDev: number | null;
  /** Relative change of revenue per visitor against control; null for control or while control has no revenue. */
  revenueUpliftVsControl: number | null;
  /** Two-sided p-value of Welch's t-test on revenue per visitor against control; null for control, below two exposures or without the spread. */
  revenuePValue: number | null;
  /** revenuePValue below the same Bonferroni threshold as `significant`. */
  revenueSignificant: boolean;
}

/** JSON-safe (times in ms): it travels inside the liveStats payload. */
export interface ExperimentReport {
  key: string;
  control: string;
  createdAt: number;
  status: ExperimentStatus;
  winner: string | null;
  stoppedAt: number | null;
  variants: VariantReport[];
  totalExposures: number;
  unattributedConversions: number;
  sampleRatioPValue: number | null;
  sampleRatioMismatch: boolean;
  warnings: string[];
}

const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;

export function buildReport(raw: RawExperiment): ExperimentReport {
  const n = (name: string): number => Number(raw.counters[name] ?? 0);
  const totalWeight = raw.weights.reduce((s, w) => s + w, 0);
  const arms: Arm[] = raw.variants.map((v) => ({ exposures: n(`${v}:exposures`), conversions: n(`${v}:conversions`) }));
  const control = arms[0];
  const comparisons = Math.max(1, raw.variants.length - 1);
  const revenue: RevenueSample[] = raw.variants.map((v) => ({ n: n(`${v}:exposures`), sum: n(`${v}:revenue`), sumSquares: n(`${v}:revenueSq`) }));
  const perVisitor = (s: RevenueSample): number => (s.n ? s.sum / s.n : 0);
  const variants = raw.variants.map((name, i): VariantReport => {
    const arm = arms[i];
    const rate = arm.exposures ? arm.conversions / arm.exposures : 0;
    const controlRate = control.exposures ? control.conversions / control.exposures : 0;
    const pValue = i === 0 ? null : twoProportionPValue(control, arm);
    const spread = raw.revenueSpread ? meanAndVariance(revenue[i]) : null;
    const revenuePValue = i === 0 || !raw.revenueSpread ? null : (welchTTest(revenue[0], revenue[i])?.pValue ?? null);
    const controlPerVisitor = perVisitor(revenue[0]);
    return {
      name,
      weight: raw.weights[i] / totalWeight,
      exposures: arm.exposures,
      conversions: arm.conversions,
      conversionRate: rate,
      conversionEvents: n(`${name}:events`),
      revenueCents: n(`${name}:revenue`),
      upliftVsControl: i === 0 || controlRate === 0 ? null : rate / controlRate - 1,
      pValue,
      chanceToBeatControl: i === 0 ? null : chanceToBeat(control, arm),
      significant: pValue !== null && pValue < ALPHA / comparisons,
      revenuePerVisitor: perVisitor(revenue[i]),
      revenuePerVisitorStdDev: spread ? Math.sqrt(spread.variance) : null,
      revenueUpliftVsControl: i === 0 || controlPerVisitor === 0 ? null : perVisitor(revenue[i]) / controlPerVisitor - 1,
      revenuePValue,
      revenueSignificant: revenuePValue !== null && revenuePValue < ALPHA / comparisons,
    };
  });
  const srm = sampleRatioPValue(
    arms.map((a) => a.exposures),
    raw.weights,
  );
  const mismatch = srm !== null && srm < SRM_ALPHA;
  const unattributed = n('!unexposed');
  const warnings: string[] = [];
  if (mismatch) {
    const shares = variants
      .map(
        (v) =>
          `${v.name} ${pct(
            v.exposures /
              Math.max(
                1,
                arms.reduce((s, a) => s + a.exposures, 0),
              ),
          )} (expected ${pct(v.weight)})`,
      )
      .join(', ');
    warnings.push(`Sample ratio mismatch (p = ${srm.toExponential(1)}): ${shares}. Check assignment and exposure logging before trusting any result.`);
  }
  if (arms.some((a) => a.exposures < MIN_EXPOSURES)) warnings.push(`A variant has fewer than ${MIN_EXPOSURES} exposures: too early to judge.`);
  if (unattributed > 0) warnings.push(`${unattributed} conversion(s) named this experiment from viewers never exposed to it; they count in no variant.`);
  if (!raw.revenueSpread && revenue.some((r) => r.sum > 0))
    warnings.push('Created before the spread of revenue per visitor was kept: no significance test for revenue per visitor.');
  if (raw.variants.length > 2) warnings.push(`${comparisons} comparisons with control: significance uses alpha ${ALPHA}/${comparisons} (Bonferroni).`);
  return {
    key: raw.key,
    control: raw.variants[0],
    createdAt: raw.createdAt,
    status: raw.stoppedAt === null ? 'RUNNING' : 'STOPPED',
    winner: raw.winner,
    stoppedAt: raw.stoppedAt,
    variants,
    totalExposures: arms.reduce((s, a) => s + a.exposures, 0),
    unattributedConversions: unattributed,
    sampleRatioPValue: srm,
    sampleRatioMismatch: mismatch,
    warnings,
  };
}
