/** Shared by the analytics tests: GraphQL documents and a bounded-concurrency runner. */
export const TRACK_VIEW = 'mutation V($input: PageViewInput!) { trackPageView(input: $input) }';
export const TRACK_CONVERSION = 'mutation C($input: ConversionInput!) { trackConversion(input: $input) }';
export const ASSIGN = 'mutation A($e: String!, $v: String) { assignVariant(experiment: $e, visitorId: $v) }';
export const CREATE_EXPERIMENT = 'mutation X($input: ExperimentInput!) { createExperiment(input: $input) { key control variants { name weight exposures } } }';
export const EXPERIMENT = `query E($key: String!) { experiment(key: $key) {
  key control totalExposures unattributedConversions sampleRatioPValue sampleRatioMismatch warnings
  variants { name weight exposures conversions conversionRate conversionEvents revenueCents upliftVsControl pValue chanceToBeatControl significant } } }`;
export const ANALYTICS = `{ analytics { totalPageViews totalConversions totalRevenueCents uniqueVisitors trackedPages
  topPages(limit: 5) { page views uniqueVisitors } conversionsByType { type conversions revenueCents } } }`;

/** Runs `fn(i)` for i in [0, n) with at most `concurrency` calls in flight; rejects on the first failure. */
export async function pool(n: number, concurrency: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) await fn(next++);
  };
  await Promise.all(Array.from({ length: Math.min(n, concurrency) }, worker));
}

/** Fails the test with the GraphQL errors when a call did not succeed. */
export function ok<R extends { data?: unknown; errors?: unknown[] }>(res: R): NonNullable<R['data']> {
  if (res.errors?.length || !res.data) throw new Error(`GraphQL errors: ${JSON.stringify(res.errors)}`);
  return res.data;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
