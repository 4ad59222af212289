/** Turns an experiment's raw counters into the report a careful analyst can trust (or is warned not to). */
import { chanceToBeat, sampleRatioPValue, twoProportionPValue, type Arm } from './experiment.stats';

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
  /** `<variant>:exposures|conversions|events|revenue` and `!unexposed` -> count. */
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
  const variants = raw.variants.map((name, i): VariantReport => {
    const arm = arms[i];
    const rate = arm.exposures ? arm.conversions / arm.exposures : 0;
    const controlRate = control.exposures ? control.conversions / control.exposures : 0;
    const pValue = i === 0 ? null : twoProportionPValue(control, arm);
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
