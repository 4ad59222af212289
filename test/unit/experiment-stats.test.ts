/** The statistics behind experiment reports, against textbook values. */
import { chanceToBeat, chiSquareSurvival, lnGamma, normalCdf, sampleRatioPValue, twoProportionPValue } from '../../src/services/analytics/experiment.stats';
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
