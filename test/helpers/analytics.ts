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

export const TRACK_VIEWS = 'mutation Vs($inputs: [PageViewInput!]!) { trackPageViews(inputs: $inputs) }';
export const BREAKDOWN =
  'query B($dimension: AnalyticsDimension!, $days: Int, $limit: Int) { breakdown(dimension: $dimension, days: $days, limit: $limit) { value views uniqueVisitors } }';
export const FUNNEL = 'query F($steps: [String!]!, $days: Int) { funnel(steps: $steps, days: $days) { page visitors } }';

/** Real browsers' User-Agents: page views from anything else (node, curl, crawlers) count as bots. */
export const UA = {
  chromeDesktop: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
  firefoxDesktop: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0',
  chromeAndroid: 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36',
  safariIphone: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1',
  safariIpad: 'Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1',
  googlebot: 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
};
/** Request headers of a desktop Chrome. */
export const BROWSER = { 'user-agent': UA.chromeDesktop };
