/** The statistics behind experiment reports, against textbook values. */
import {
  betaRegularized,
  chanceToBeat,
  chiSquareSurvival,
  lnGamma,
  meanAndVariance,
  normalCdf,
  sampleRatioPValue,
  studentTwoSided,
  twoProportionPValue,
  welchTTest,
  type RevenueSample,
} from '../../src/services/analytics/experiment.stats';
import { buildReport } from '../../src/services/analytics/experiment.report';

test('normal CDF and log-gamma match tables', () => {
  expect(normalCdf(0)).toBeCloseTo(0.5, 7);
  expect(normalCdf(1.959963985)).toBeCloseTo(0.975, 6);
  expect(normalCdf(-3)).toBeCloseTo(0.0013499, 6);
  expect(lnGamma(5)).toBeCloseTo(Math.log(24), 10);
  expect(lnGamma(0.5)).toBeCloseTo(Math.log(Math.sqrt(Math.PI)), 10);
  // ln(1000!)
  expect(lnGamma(1001)).toBeCloseTo(5912.128178939938, 6);
});

test('chi-square upper tail at the usual critical values', () => {
  expect(chiSquareSurvival(3.841458820694124, 1)).toBeCloseTo(0.05, 6);
  expect(chiSquareSurvival(5.991464547107979, 2)).toBeCloseTo(0.05, 6);
  // df = 3 has a closed form: erfc(√(x/2)) + √(2x/π)·e^(−x/2).
  expect(chiSquareSurvival(20, 3)).toBeCloseTo(1.6974244e-4, 9);
  expect(chiSquareSurvival(0.5, 4)).toBeCloseTo(0.973500699, 6);
});

test('two-proportion z-test: 10% vs 13% of 1000 each gives p ≈ 0.0355', () => {
  expect(twoProportionPValue({ exposures: 1000, conversions: 100 }, { exposures: 1000, conversions: 130 })).toBeCloseTo(0.03549, 4);
  expect(twoProportionPValue({ exposures: 500, conversions: 50 }, { exposures: 500, conversions: 50 })).toBeCloseTo(1, 10);
  expect(twoProportionPValue({ exposures: 0, conversions: 0 }, { exposures: 10, conversions: 1 })).toBeNull();
  expect(twoProportionPValue({ exposures: 10, conversions: 0 }, { exposures: 10, conversions: 0 })).toBe(1);
});

test('chance to beat control: symmetric, agrees with simulation, continuous at the exact/approximate switch', () => {
  expect(chanceToBeat({ exposures: 200, conversions: 20 }, { exposures: 200, conversions: 20 })).toBeCloseTo(0.5, 6);
  const better = chanceToBeat({ exposures: 1000, conversions: 100 }, { exposures: 1000, conversions: 130 });
  const worse = chanceToBeat({ exposures: 1000, conversions: 130 }, { exposures: 1000, conversions: 100 });
  expect(better + worse).toBeCloseTo(1, 6);
  // Monte Carlo with Beta draws via sums of exponentials would be slow; the normal approximation is a good referee here.
  const z = (131 / 1002 - 101 / 1002) / Math.sqrt((101 * 901) / (1002 ** 2 * 1003) + (131 * 871) / (1002 ** 2 * 1003));
  expect(better).toBeCloseTo(normalCdf(z), 2);
  const exact = chanceToBeat({ exposures: 100_000, conversions: 5000 }, { exposures: 100_000, conversions: 5000 });
  const approx = chanceToBeat({ exposures: 100_000, conversions: 5001 }, { exposures: 100_000, conversions: 5001 });
  expect(exact).toBeCloseTo(0.5, 3);
  expect(approx).toBeCloseTo(0.5, 3);
});

test('sample-ratio p-value: fits the weights, flags a skew, abstains on tiny samples', () => {
  expect(sampleRatioPValue([500, 500], [1, 1])).toBeCloseTo(1, 10);
  expect(sampleRatioPValue([250, 750], [1, 3])).toBeCloseTo(1, 10);
  expect(sampleRatioPValue([5000, 5300], [1, 1])).toBeLessThan(0.01);
  expect(sampleRatioPValue([3, 4], [1, 1])).toBeNull();
  expect(sampleRatioPValue([0, 0], [1, 1])).toBeNull();
});

test('a report flags mismatch, small samples and unattributed conversions, and corrects for several comparisons', () => {
  const r = buildReport({
    key: 'x',
    variants: ['a', 'b', 'c'],
    weights: [1, 1, 1],
    createdAt: 1,
    stoppedAt: null,
    winner: null,
    revenueSpread: true,
    counters: {
      'a:exposures': '1000',
      'b:exposures': '1300',
      'c:exposures': '50',
      'a:conversions': '100',
      'b:conversions': '165',
      'c:conversions': '9',
      '!unexposed': '2',
    },
  });
  expect(r.sampleRatioMismatch).toBe(true);
  expect(r.warnings.map((w) => w.slice(0, 20))).toEqual(['Sample ratio mismatc', 'A variant has fewer ', '2 conversion(s) name', '2 comparisons with c']);
  const b = r.variants[1];
  expect(b.upliftVsControl).toBeCloseTo(165 / 1300 / 0.1 - 1, 10);
  // p ≈ 0.045: significant at 0.05, not at the Bonferroni 0.025.
  expect(b.pValue).toBeGreaterThan(0.025);
  expect(b.pValue).toBeLessThan(0.05);
  expect(b.significant).toBe(false);
  expect(r.variants[0]).toMatchObject({ name: 'a', pValue: null, chanceToBeatControl: null, upliftVsControl: null, significant: false, weight: 1 / 3 });
});

// Reference values below are from SciPy 1.17 (scipy.special.betainc, 2 * scipy.stats.t.sf,
// scipy.stats.ttest_ind(variant, control, equal_var=False)) on the same numbers.

test('regularized incomplete beta against closed forms and SciPy', () => {
  // With whole a and b it is a binomial tail: I_x(2, 3) = P(Binomial(4, x) >= 2) = 1 - (1-x)⁴ - 4x(1-x)³.
  const x = 0.4;
  expect(betaRegularized(2, 3, x)).toBeCloseTo(1 - (1 - x) ** 4 - 4 * x * (1 - x) ** 3, 12);
  expect(betaRegularized(2, 3, x)).toBeCloseTo(0.5248, 12);
  // I_x(1/2, 1/2) = (2/π) asin(√x).
  expect(betaRegularized(0.5, 0.5, 0.3)).toBeCloseTo((2 / Math.PI) * Math.asin(Math.sqrt(0.3)), 10);
  expect(betaRegularized(0.5, 0.5, 0.3)).toBeCloseTo(0.36901011956554536, 10);
  expect(betaRegularized(50, 0.5, 0.99)).toBeCloseTo(0.3173043978741973, 9);
  expect(betaRegularized(5e5, 0.5, 0.999998)).toBeCloseTo(0.15729910327878688, 5);
  expect(betaRegularized(3, 4, 0)).toBe(0);
  expect(betaRegularized(3, 4, 1)).toBe(1);
});

test("Student's t two-sided p-values: textbook critical values, closed forms and SciPy", () => {
  // t(10) 97.5% quantile; a huge df is the normal distribution.
  expect(studentTwoSided(2.228138851986, 10)).toBeCloseTo(0.05, 10);
  expect(studentTwoSided(1.959963985, 1e7)).toBeCloseTo(0.05, 6);
  // df = 1 is Cauchy: p = 1 - (2/π) atan|t|.
  expect(studentTwoSided(1, 1)).toBeCloseTo(0.5, 12);
  expect(studentTwoSided(3, 1)).toBeCloseTo(1 - (2 / Math.PI) * Math.atan(3), 12);
  // df = 2 has a closed form too: p = 1 - |t| / √(2 + t²).
  expect(studentTwoSided(1.5, 2)).toBeCloseTo(1 - 1.5 / Math.sqrt(2 + 1.5 ** 2), 12);
  for (const [t, df, p] of [
    [2.0, 5, 0.10193947882985835],
    [3.0, 2.5, 0.07257609554903183],
    [0.5, 1000, 0.6171850808338747],
    [10, 3, 0.0021283990584141503],
  ]) {
    expect(studentTwoSided(t, df)).toBeCloseTo(p, 10);
    expect(studentTwoSided(-t, df)).toBeCloseTo(p, 10);
  }
  expect(studentTwoSided(0, 7)).toBe(1);
});

/** What Redis keeps for a list of per-visitor revenues. */
const sample = (revenues: number[]): RevenueSample => ({
  n: revenues.length,
  sum: revenues.reduce((s, r) => s + r, 0),
  sumSquares: revenues.reduce((s, r) => s + r * r, 0),
});

test("Welch's t-test from sums and sums of squares equals the textbook test on the raw values", () => {
  const control = [0, 0, 0, 0, 0, 0, 0, 1200, 3400, 500];
  const variant = [0, 0, 0, 0, 0, 2500, 900, 4100, 0, 1800, 2600, 700];
  // By hand from the definitions, on the raw values.
  const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
  const variance = (xs: number[]) => xs.reduce((s, x) => s + (x - mean(xs)) ** 2, 0) / (xs.length - 1);
  const a = variance(control) / control.length;
  const b = variance(variant) / variant.length;
  const t = (mean(variant) - mean(control)) / Math.sqrt(a + b);
  const df = (a + b) ** 2 / (a ** 2 / (control.length - 1) + b ** 2 / (variant.length - 1));
  const r = welchTTest(sample(control), sample(variant))!;
  expect(r.t).toBeCloseTo(t, 10);
  expect(r.df).toBeCloseTo(df, 10);
  // SciPy: statistic 1.0234360721062525, df 19.949666643459047, p 0.31835258064499466.
  expect(r.t).toBeCloseTo(1.0234360721062525, 10);
  expect(r.df).toBeCloseTo(19.949666643459047, 9);
  expect(r.pValue).toBeCloseTo(0.31835258064499466, 9);
  expect(meanAndVariance(sample(control))).toEqual({ mean: 510, variance: expect.closeTo(1087.7601859887234 ** 2, 6) });
});

test("Welch's t-test on shop-sized arms, on degenerate ones, and abstaining below two visitors", () => {
  // 5,000 visitors each: 200 × $25 and 100 × $40 against 260 × $25 and 110 × $40 (sums as Redis keeps them).
  const control = { n: 5000, sum: 900_000, sumSquares: 2_850_000_000 };
  const variant = { n: 5000, sum: 1_090_000, sumSquares: 3_385_000_000 };
  const r = welchTTest(control, variant)!;
  expect(r.t).toBeCloseTo(2.4869989154511107, 9);
  expect(r.df).toBeCloseTo(9936.420544308356, 6);
  expect(r.pValue).toBeCloseTo(0.012898863681119688, 8);
  // Swapping the arms flips the sign, not the p-value.
  expect(welchTTest(variant, control)!.t).toBeCloseTo(-r.t, 10);
  expect(welchTTest(variant, control)!.pValue).toBeCloseTo(r.pValue, 12);
  // No revenue anywhere: nothing to tell apart.
  expect(welchTTest(sample([0, 0, 0]), sample([0, 0]))!.pValue).toBe(1);
  // Every visitor the same within each arm, the arms differing: certain.
  expect(welchTTest(sample([100, 100]), sample([200, 200]))!.pValue).toBe(0);
  expect(welchTTest(sample([100]), sample([200, 200]))).toBeNull();
  expect(welchTTest({ n: 0, sum: 0, sumSquares: 0 }, sample([1, 2]))).toBeNull();
});

test('a report carries revenue per visitor with its own test beside the conversion rate, and says when it cannot test it', () => {
  const control = { n: 5000, sum: 900_000, sumSquares: 2_850_000_000 };
  const variant = { n: 5000, sum: 1_090_000, sumSquares: 3_385_000_000 };
  const raw = {
    key: 'rev',
    variants: ['a', 'b'],
    weights: [1, 1],
    createdAt: 1,
    stoppedAt: null,
    winner: null,
    revenueSpread: true,
    counters: {
      'a:exposures': '5000',
      'b:exposures': '5000',
      'a:conversions': '300',
      'b:conversions': '370',
      'a:revenue': '900000',
      'b:revenue': '1090000',
      'a:revenueSq': '2850000000',
      'b:revenueSq': '3385000000',
    },
  };
  const [a, b] = buildReport(raw).variants;
  expect(a).toMatchObject({ revenuePerVisitor: 180, revenueUpliftVsControl: null, revenuePValue: null, revenueSignificant: false });
  expect(a.revenuePerVisitorStdDev).toBeCloseTo(Math.sqrt(meanAndVariance(control)!.variance), 10);
  expect(b.revenuePerVisitor).toBe(218);
  expect(b.revenueUpliftVsControl).toBeCloseTo(218 / 180 - 1, 12);
  expect(b.revenuePValue).toBeCloseTo(welchTTest(control, variant)!.pValue, 12);
  expect(b.revenuePValue).toBeCloseTo(0.012898863681119688, 8);
  expect(b.revenueSignificant).toBe(true);
  // The conversion-rate test is its own: 6% against 7.4%.
  expect(b.pValue).toBeCloseTo(twoProportionPValue({ exposures: 5000, conversions: 300 }, { exposures: 5000, conversions: 370 })!, 12);

  const old = buildReport({ ...raw, revenueSpread: false });
  expect(old.variants[1]).toMatchObject({ revenuePerVisitor: 218, revenuePerVisitorStdDev: null, revenuePValue: null, revenueSignificant: false });
  expect(old.warnings.join(' ')).toMatch(/no significance test for revenue per visitor/);
  expect(buildReport(raw).warnings.join(' ')).not.toMatch(/revenue per visitor/);
});
