/** Tracking and admin reads through the real gateway: exact counts under concurrency, uniques, series, journeys, bounds. */
import { buildRequestContext } from '../../src/services/context';
import { registerUser, startTestApp, ADMIN_ENV, adminToken, type TestApp } from '../helpers/app';
import { ANALYTICS, BROWSER, ok, pool, TRACK_CONVERSION, TRACK_VIEW, UA } from '../helpers/analytics';

let t: TestApp;
let admin: string;
beforeAll(async () => {
  // Every visitor here comes from one address: the daily budget of new visitor keys is raised to fit them all.
  t = await startTestApp({ ...ADMIN_ENV, ANALYTICS_MAX_PAGES: '50', ANALYTICS_VISITOR_KEYS_PER_DAY: '100000' });
  admin = await adminToken(t);
});
afterAll(() => t.close());

// From a browser: page views from a script's User-Agent count as bots (analytics-collect.test.ts).
const view = (input: Record<string, unknown>, token?: string, headers: Record<string, string> = BROWSER) => t.gql(TRACK_VIEW, { input }, { token, headers });
const asAdmin = <T = Record<string, any>>(query: string, variables?: Record<string, unknown>) => t.gql<T>(query, variables, { token: admin });

test('page views counted exactly under concurrency: totals, per page, ranking and series agree', async () => {
  const pages = ['/c/a', '/c/b', '/c/c', '/c/d'];
  // 1000 views from 40 concurrent clients: page i%4 gets 250 each, except skew /c/a +100.
  await pool(1100, 40, async (i) => {
    const page = i >= 1000 ? '/c/a' : pages[i % 4];
    ok(await view({ page: `${page}?utm=${i}#frag`, visitorId: `cv-${i % 300}` }));
  });
  const stats = ok(
    await asAdmin(`{ a: pageStats(page: "/c/a") { page views uniqueVisitors } b: pageStats(page: "/c/b") { views uniqueVisitors }
    s: pageViewSeries(minutes: 5) { at count } sa: pageViewSeries(page: "/c/a", minutes: 5) { count } analytics { totalPageViews topPages(limit: 2) { page views } } }`),
  );
  expect(stats.a).toEqual({ page: '/c/a', views: 350, uniqueVisitors: expect.any(Number) });
  expect(stats.b.views).toBe(250);
  // /c/b was seen by visitors with i%300 where i%4==1: exactly 300/4... within HyperLogLog error.
  expect(Math.abs(stats.b.uniqueVisitors - 75)).toBeLessThanOrEqual(2);
  expect(stats.analytics.topPages[0]).toEqual({ page: '/c/a', views: 350 });
  const sum = (pts: Array<{ count: number }>) => pts.reduce((s, p) => s + p.count, 0);
  expect(stats.s).toHaveLength(5);
  // Other tests in this file track too, but none has run yet: the series is exactly these views.
  expect(sum(stats.s)).toBe(stats.analytics.totalPageViews);
  expect(sum(stats.sa)).toBe(350);
  const ats = stats.s.map((p: { at: string }) => Date.parse(p.at));
  expect(ats[4] - ats[0]).toBe(4 * 60_000);
  expect(ats[4]).toBeLessThanOrEqual(Date.now());
});

test('conversions counted exactly with revenue per type under concurrency', async () => {
  const before = ok(await asAdmin(ANALYTICS)).analytics;
  // Revenue is what an admin (a server-side reporter) sends; see analytics-bounds.test.ts for anyone else.
  await pool(600, 30, async (i) => {
    const input = i % 3 === 0 ? { type: 'signup' } : { type: 'purchase', valueCents: 1000 + (i % 7) };
    ok(await t.gql(TRACK_CONVERSION, { input }, { token: admin }));
  });
  let expectedRevenue = 0;
  for (let i = 0; i < 600; i++) if (i % 3) expectedRevenue += 1000 + (i % 7);
  const after = ok(await asAdmin(ANALYTICS)).analytics;
  expect(after.totalConversions - before.totalConversions).toBe(600);
  expect(after.totalRevenueCents - before.totalRevenueCents).toBe(expectedRevenue);
  const byType = Object.fromEntries(after.conversionsByType.map((c: { type: string }) => [c.type, c]));
  expect(byType.purchase).toEqual({ type: 'purchase', conversions: 400, revenueCents: expectedRevenue });
  expect(byType.signup).toEqual({ type: 'signup', conversions: 200, revenueCents: 0 });
});

test('unique visitors within 2% for 10,000 visitors, per page and overall', async () => {
  const before = ok(await asAdmin(ANALYTICS)).analytics.uniqueVisitors;
  // Through the service (the same script the mutation runs) to keep the file fast; 10,000 HTTP calls add nothing here.
  const ctx = buildRequestContext(t.app.services, t.app.log, { ip: '127.0.0.1', secure: false, token: null });
  await pool(10_000, 64, (i) => t.app.services.analytics.trackPageView(ctx, { page: '/uv', visitorId: `uv-visitor-${i}` }));
  // Seen again: repeats must not count.
  await pool(2000, 64, (i) => t.app.services.analytics.trackPageView(ctx, { page: '/uv', visitorId: `uv-visitor-${i}` }));
  const res = ok(await asAdmin('{ pageStats(page: "/uv") { views uniqueVisitors } analytics { uniqueVisitors } }'));
  expect(res.pageStats.views).toBe(12_000);
  expect(Math.abs(res.pageStats.uniqueVisitors - 10_000) / 10_000).toBeLessThan(0.02);
  expect(Math.abs(res.analytics.uniqueVisitors - before - 10_000) / 10_000).toBeLessThan(0.02);
});

test('anyone may track; the visitor defaults to the user, else the session, else a hash of IP and user agent', async () => {
  // Signed in from the browser that tracks (a session is bound to its browser family).
  const fromBrowser: typeof t = { ...t, gql: (q, v, o) => t.gql(q, v, { ...o, headers: { ...BROWSER, ...o?.headers } }) };
  const u = await registerUser(fromBrowser);
  const guest = ok(
    await fromBrowser.gql<{ startGuestSession: { token: string; session: { id: string } } }>('mutation { startGuestSession { token session { id } } }'),
  ).startGuestSession;
  ok(await view({ page: '/who/user' }, u.token));
  ok(await view({ page: '/who/guest' }, guest.token));
  ok(await view({ page: '/who/anon1' }, undefined, { 'user-agent': UA.firefoxDesktop }));
  ok(await view({ page: '/who/anon2' }, undefined, { 'user-agent': UA.firefoxDesktop }));
  ok(await view({ page: '/who/other' }, undefined, { 'user-agent': UA.safariIphone }));
  ok(await view({ page: '/who/explicit', visitorId: 'app-cookie-123' }, u.token));
  const journey = (v: string) =>
    asAdmin<{ visitorJourney: string[] }>('query J($v: String!) { visitorJourney(visitorId: $v) }', { v }).then((r) => ok(r).visitorJourney);
  expect(await journey(`user:${u.userId}`)).toEqual(['/who/user']);
  expect(await journey(`session:${guest.session.id}`)).toEqual(['/who/guest']);
  expect(await journey('app-cookie-123')).toEqual(['/who/explicit']);
  // Same IP and user agent: one anonymous visitor across requests; another agent is another visitor.
  const anon = await t.app.services.visitors.anonymousId({ ip: '127.0.0.1', userAgent: UA.firefoxDesktop, uaFamily: 'firefox' });
  expect(anon).toMatch(/^[A-Za-z0-9_-]{22}$/);
  expect(await journey(`anon:${anon}`)).toEqual(['/who/anon2', '/who/anon1']);
  const stats = ok(await asAdmin('{ pageStats(page: "/who/anon1") { uniqueVisitors } }'));
  expect(stats.pageStats.uniqueVisitors).toBe(1);
});

test('a journey keeps the last 50 pages, newest first', async () => {
  for (let i = 0; i < 60; i++) ok(await view({ page: `/j/${i}`, visitorId: 'journey-visitor' }));
  const j = ok(await asAdmin<{ visitorJourney: string[] }>('{ visitorJourney(visitorId: "journey-visitor") }')).visitorJourney;
  expect(j).toHaveLength(50);
  expect(j[0]).toBe('/j/59');
  expect(j[49]).toBe('/j/10');
});

test('input is validated and bounded', async () => {
  const bad = async (input: Record<string, unknown>, mutation = TRACK_VIEW) => {
    const res = await t.gql(mutation, { input });
    expect(res.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    return res.errors![0];
  };
  await bad({ page: 'no-slash' });
  await bad({ page: '/has space' });
  await bad({ page: `/${'x'.repeat(300)}` });
  await bad({ page: '/ok', referrer: 'javascript:alert(1)' });
  await bad({ page: '/ok', referrer: 'not a url' });
  await bad({ page: '/ok', visitorId: 'spaces are not ok' });
  await bad({ page: '/ok', visitorId: 'x'.repeat(129) });
  await bad({ type: 'purchase', valueCents: -1 }, TRACK_CONVERSION);
  await bad({ type: 'purchase', valueCents: 100_000_001 }, TRACK_CONVERSION);
  await bad({ type: 'has space' }, TRACK_CONVERSION);
  ok(await view({ page: '/ok', referrer: 'https://example.com/from?q=1' }));
  const res = await t.gql(TRACK_CONVERSION, { input: { type: 'purchase', experiment: 'no-such-experiment' } });
  expect(res.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
});

test('past ANALYTICS_MAX_PAGES distinct pages, new pages count as "(other)"', async () => {
  const q = '{ analytics { trackedPages } other: pageStats(page: "(other)") { views } }';
  const before = ok(await asAdmin(q));
  const ownBefore = before.analytics.trackedPages - (before.other.views > 0 ? 1 : 0);
  await pool(80, 10, async (i) => ok(await view({ page: `/many/${i}` })));
  const after = ok(await asAdmin(q));
  // 50 pages one by one, plus "(other)" for the rest.
  expect(after.analytics.trackedPages).toBe(51);
  expect(after.other.views - before.other.views).toBe(80 - Math.max(0, 50 - ownBefore));
});

test('reads are for admins only', async () => {
  const u = await registerUser(t);
  const reads = [
    '{ analytics { totalPageViews } }',
    '{ pageStats(page: "/") { views } }',
    '{ pageViewSeries { count } }',
    '{ visitorJourney(visitorId: "x") }',
    '{ experiment(key: "x") { key } }',
    '{ experiments { key } }',
  ];
  for (const q of reads) {
    expect((await t.gql(q)).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect((await t.gql(q, {}, { token: u.token })).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect((await asAdmin(q)).errors).toBeUndefined();
  }
});

test('pageViewSeries: per minute up to the retention, per hour beyond it, bounded by the history', async () => {
  expect((await asAdmin('{ pageViewSeries(minutes: 0) { count } }')).errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  expect((await asAdmin(`{ pageViewSeries(minutes: ${90 * 1440 + 1}) { count } }`)).errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  // Past the 24 h retention, the hourly rollups: the 25 or 26 hours the window touches (analytics-history.test.ts).
  const hourly = ok(await asAdmin<{ pageViewSeries: Array<{ at: string }> }>('{ pageViewSeries(minutes: 1441) { at count } }')).pageViewSeries;
  expect([25, 26]).toContain(hourly.length);
  for (const p of hourly) expect(Date.parse(p.at) % 3_600_000).toBe(0);
  expect(ok(await asAdmin('{ pageViewSeries(minutes: 1440) { count } }')).pageViewSeries).toHaveLength(1440);
  expect(ok(await asAdmin('{ pageViewSeries { count } }')).pageViewSeries).toHaveLength(60);
});

test('revenue sums past what GraphQL Int carries saturate at 2147483647 instead of failing the read', async () => {
  const sep = await startTestApp(ADMIN_ENV);
  try {
    const a = await adminToken(sep);
    for (let i = 0; i < 22; i++) ok(await sep.gql(TRACK_CONVERSION, { input: { type: 'whale', valueCents: 100_000_000, visitorId: `w-${i}` } }, { token: a }));
    const res = await sep.gql('{ analytics { totalConversions totalRevenueCents conversionsByType { type conversions revenueCents } } }', {}, { token: a });
    expect(res.errors).toBeUndefined();
    expect(res.data?.analytics).toEqual({
      totalConversions: 22,
      totalRevenueCents: 2_147_483_647,
      conversionsByType: [{ type: 'whale', conversions: 22, revenueCents: 2_147_483_647 }],
    });
  } finally {
    await sep.close();
  }
});
