/**
 * The statistics behind experiment reports, dependency-free: a pooled
 * two-proportion z-test and the Bayesian chance to beat control for each
 * variant's conversion rate, Welch's t-test for its revenue per visitor, and a
 * chi-square goodness-of-fit test of exposures against the configured weights
 * (sample-ratio mismatch).
 */

/** Complementary error function; fractional error below 1.2e-7 everywhere (Numerical Recipes' erfcc). */
export function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}

/** Standard normal CDF. */
export const normalCdf = (z: number): number => 0.5 * erfc(-z / Math.SQRT2);

const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012,
  9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** ln Γ(x) for x > 0 (Lanczos, g = 7). */
export function lnGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lnGamma(1 - x);
  const y = x - 1;
  let a = LANCZOS[0];
  const t = y + 7.5;
  for (let i = 1; i < 9; i++) a += LANCZOS[i] / (y + i);
  return 0.5 * Math.log(2 * Math.PI) + (y + 0.5) * Math.log(t) - t + Math.log(a);
}

const lnBeta = (a: number, b: number): number => lnGamma(a) + lnGamma(b) - lnGamma(a + b);

/** Regularized upper incomplete gamma Q(a, x): series below a + 1, continued fraction above. */
export function gammaQ(a: number, x: number): number {
  if (x <= 0) return 1;
  const lnPre = -x + a * Math.log(x) - lnGamma(a);
  if (x < a + 1) {
    let sum = 1 / a;
    let term = sum;
    for (let n = 1; n < 1000 && Math.abs(term) > Math.abs(sum) * 1e-15; n++) {
      term *= x / (a + n);
      sum += term;
    }
    return Math.max(0, 1 - sum * Math.exp(lnPre));
  }
  // Modified Lentz.
  const tiny = 1e-300;
  let b = x + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 1000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-15) break;
  }
  return Math.min(1, Math.exp(lnPre) * h);
}

/**
 * Regularized incomplete beta I_x(a, b), by its continued fraction (modified Lentz), taken
 * directly below the mean and through the symmetry I_x(a, b) = 1 - I_(1-x)(b, a) above it,
 * where the fraction converges fast.
 */
export function betaRegularized(a: number, b: number, x: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  if (x > (a + 1) / (a + b + 2)) return 1 - betaRegularized(b, a, 1 - x);
  const front = Math.exp(a * Math.log(x) + b * Math.log(1 - x) - lnBeta(a, b));
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m < 1000; m++) {
    // Even step, then odd step of the fraction.
    for (const num of [(m * (b - m) * x) / ((a + 2 * m - 1) * (a + 2 * m)), (-(a + m) * (a + b + m) * x) / ((a + 2 * m) * (a + 2 * m + 1))]) {
      d = 1 + num * d;
      if (Math.abs(d) < tiny) d = tiny;
      c = 1 + num / c;
      if (Math.abs(c) < tiny) c = tiny;
      d = 1 / d;
      h *= d * c;
    }
    if (Math.abs(d * c - 1) < 1e-15) break;
  }
  return Math.min(1, Math.max(0, (front * h) / a));
}

/** Two-sided p-value of Student's t distribution with `df` (> 0, not necessarily whole) degrees of freedom. */
export const studentTwoSided = (t: number, df: number): number => betaRegularized(df / 2, 0.5, df / (df + t * t));

/** Upper tail of the chi-square distribution with `df` degrees of freedom. */
export const chiSquareSurvival = (x: number, df: number): number => gammaQ(df / 2, x / 2);

export interface Arm {
  exposures: number;
  conversions: number;
}

/** Two-sided p-value of a pooled two-proportion z-test; null while either arm has no exposures. */
export function twoProportionPValue(control: Arm, variant: Arm): number | null {
  if (control.exposures <= 0 || variant.exposures <= 0) return null;
  const p1 = control.conversions / control.exposures;
  const p2 = variant.conversions / variant.exposures;
  const pooled = (control.conversions + variant.conversions) / (control.exposures + variant.exposures);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / control.exposures + 1 / variant.exposures));
  if (se === 0) return 1;
  return Math.min(1, erfc(Math.abs(p2 - p1) / se / Math.SQRT2));
}

/** Exact sums get slow past this many conversions; the normal approximation is excellent there. */
const EXACT_LIMIT = 5000;

/**
 * P(rate of `variant` > rate of `control`) under independent Beta(1 + conversions,
 * 1 + non-conversions) posteriors (uniform priors). Exact closed form (a finite sum)
 * for small counts, normal approximation of the posteriors beyond.
 */
export function chanceToBeat(control: Arm, variant: Arm): number {
  const aA = 1 + control.conversions;
  const bA = 1 + Math.max(0, control.exposures - control.conversions);
  const aB = 1 + variant.conversions;
  const bB = 1 + Math.max(0, variant.exposures - variant.conversions);
  if (aB - 1 <= EXACT_LIMIT) {
    let total = 0;
    const base = lnBeta(aA, bA);
    for (let i = 0; i < aB; i++) total += Math.exp(lnBeta(aA + i, bA + bB) - Math.log(bB + i) - lnBeta(1 + i, bB) - base);
    return Math.min(1, Math.max(0, total));
  }
  const mean = (a: number, b: number): number => a / (a + b);
  const variance = (a: number, b: number): number => (a * b) / ((a + b) ** 2 * (a + b + 1));
  return normalCdf((mean(aB, bB) - mean(aA, bA)) / Math.sqrt(variance(aA, bA) + variance(aB, bB)));
}

/**
 * Chi-square goodness-of-fit p-value of observed exposures against the expected
 * split; null while there are no exposures or any expected count is below 5
 * (the test is unreliable there).
 */
export function sampleRatioPValue(exposures: number[], weights: number[]): number | null {
  const n = exposures.reduce((s, x) => s + x, 0);
  const w = weights.reduce((s, x) => s + x, 0);
  if (n === 0 || exposures.length < 2) return null;
  let chi = 0;
  for (let i = 0; i < exposures.length; i++) {
    const expected = (n * weights[i]) / w;
    if (expected < 5) return null;
    chi += (exposures[i] - expected) ** 2 / expected;
  }
  return chiSquareSurvival(chi, exposures.length - 1);
}

/** One arm's revenue per visitor as Redis keeps it: visitors, the sum of their revenue and the sum of its squares. */
export interface RevenueSample {
  /** Exposed visitors (those without revenue count as 0). */
  n: number;
  /** Sum over visitors of their revenue. */
  sum: number;
  /** Sum over visitors of their revenue squared. */
  sumSquares: number;
}

/** Sample mean and (n - 1) variance; null below two visitors. Rounding cannot make the variance negative. */
export function meanAndVariance(s: RevenueSample): { mean: number; variance: number } | null {
  if (s.n < 2) return null;
  const mean = s.sum / s.n;
  return { mean, variance: Math.max(0, (s.sumSquares - s.sum * mean) / (s.n - 1)) };
}

export interface WelchResult {
  /** (variant mean - control mean) / its standard error. */
  t: number;
  /** Welch–Satterthwaite degrees of freedom. */
  df: number;
  /** Two-sided. */
  pValue: number;
}

/**
 * Welch's unequal-variances t-test of the variant's mean against the control's; null while
 * either has fewer than two visitors. With no spread in either arm the means are certain:
 * p is 1 when they are equal and 0 when they differ.
 */
export function welchTTest(control: RevenueSample, variant: RevenueSample): WelchResult | null {
  const c = meanAndVariance(control);
  const v = meanAndVariance(variant);
  if (!c || !v) return null;
  const a = c.variance / control.n;
  const b = v.variance / variant.n;
  const diff = v.mean - c.mean;
  if (a + b === 0) return { t: diff === 0 ? 0 : Math.sign(diff) * Infinity, df: control.n + variant.n - 2, pValue: diff === 0 ? 1 : 0 };
  const t = diff / Math.sqrt(a + b);
  const df = (a + b) ** 2 / ((a * a) / (control.n - 1) + (b * b) / (variant.n - 1));
  return { t, df, pValue: studentTwoSided(t, df) };
}
