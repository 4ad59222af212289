/**
 * The dashboard's history panels in a real headless Chromium (/usr/bin/chromium via
 * playwright-core, every request outside the gateway blocked): the date range (a day, 7 days,
 * 30 days) and its chart, sources (referrers, UTM), devices and browsers, and the funnel builder,
 * each showing what the API answers for the same range. A screenshot lands in
 * test-artifacts/dashboard-history.png.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type Redis from 'ioredis';
import { chromium, type Browser, type Page } from 'playwright-core';
import { Keys } from '../../src/redis/keys';
import { buildRequestContext } from '../../src/services/context';
import { ADMIN, ADMIN_ENV, adminToken, startTestApp, type TestApp } from '../helpers/app';
import { BREAKDOWN, FUNNEL, ok, UA } from '../helpers/analytics';
import { rawRedis } from '../helpers/redis';

const ARTIFACTS = path.join(__dirname, '..', '..', 'test-artifacts');
const ARGS = [
  '--no-sandbox',
  '--headless',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

let t: TestApp;
let admin: string;
let browser: Browser;
let r: Redis;
let page: Page;
const problems: string[] = [];
/** Views tracked in this file (the hour key written 3 days back comes on top). */
let tracked = 0;

/** Visitors through the service (the script the mutation runs), each from its own browser. */
async function seed(): Promise<void> {
  const visit = async (ua: string, visitorId: string, pages: string[], referrer?: string) => {
    const ctx = buildRequestContext(t.app.services, t.app.log, { ip: '127.0.0.1', userAgent: ua, secure: false, token: null });
    tracked += await t.app.services.analytics.trackPageViews(
      ctx,
      pages.map((p, i) => ({ page: p, visitorId, referrer: i === 0 ? (referrer ?? null) : null })),
    );
  };
  for (let i = 0; i < 12; i++)
    await visit(
      UA.chromeDesktop,
      `desk-${i}`,
      ['/?utm_source=newsletter&utm_campaign=spring', '/products', ...(i % 2 ? ['/checkout'] : [])],
      'https://news.example.com/post',
    );
  for (let i = 0; i < 6; i++) await visit(UA.safariIphone, `phone-${i}`, ['/', ...(i % 3 ? ['/products'] : [])], 'https://social.example.org/');
  await visit(UA.safariIpad, 'tablet-0', ['/products', '/']);
  // Page paths are text, never HTML.
  await visit(UA.firefoxDesktop, 'html-0', ['/<b>bold</b>']);
  // Bots count apart: views but no visitors.
  const botCtx = buildRequestContext(t.app.services, t.app.log, { ip: '127.0.0.1', userAgent: UA.googlebot, secure: false, token: null });
  await t.app.services.analytics.trackPageViews(botCtx, [{ page: '/' }, { page: '/products' }]);
  // 50 views three days ago, written into that hour's rollup as the script writes it: in the 7- and 30-day ranges only.
  const hour = Math.floor(Date.now() / 3_600_000) - 72;
  const keys = new Keys(t.prefix);
  await r.hincrby(keys.anHour(hour), '*', 50);
  await r.expire(keys.anHour(hour), 3600);
}

beforeAll(async () => {
  t = await startTestApp(ADMIN_ENV);
  admin = await adminToken(t);
  r = rawRedis();
  await seed();
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ARGS });
  const context = await browser.newContext({ viewport: { width: 1440, height: 1000 } });
  const origin = new URL(t.url).origin;
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(origin) || url.startsWith(origin.replace('http', 'ws'))) return route.continue();
    problems.push(`blocked request to ${url}`);
    return route.abort();
  });
  page = await context.newPage();
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console error: ${msg.text()}`);
  });
  const res = await page.goto(`${t.url}/dashboard`);
  expect(res?.headers()['content-security-policy']).toContain("script-src 'self'");
  await page.fill('#email', ADMIN.email);
  await page.fill('#password', ADMIN.password);
  await page.click('#signin');
  await page.locator('#status', { hasText: 'Live' }).waitFor({ timeout: 10_000 });
}, 60_000);
afterAll(async () => {
  await browser?.close();
  r?.disconnect();
  await t?.close();
});

const fmt = (n: number) => new Intl.NumberFormat('en-US').format(n);
const api = async <T>(query: string, variables: Record<string, unknown>) => ok(await t.gql<T>(query, variables, { token: admin }));
/** The tests compile without the DOM library: the little of it the page functions use. */
type Cell = { textContent: string | null };
type RowEl = { querySelectorAll(selector: string): ArrayLike<Cell> };
const rowsOf = (id: string) =>
  page.locator(`#${id} tr`).evaluateAll((trs: RowEl[]) => trs.map((tr) => Array.from(tr.querySelectorAll('td')).map((td) => (td.textContent ?? '').trim())));

test('the range chooses a day, 7 days or 30 days; the chart shows the page views of that range', async () => {
  await page.locator('#range button[aria-pressed="true"]', { hasText: '7 days' }).waitFor();
  await page.locator('#history-total', { hasText: `${fmt(tracked + 50)} views` }).waitFor({ timeout: 5000 });
  await page.click('#range button[data-days="1"]');
  await page.locator('#history-total', { hasText: `${fmt(tracked)} views` }).waitFor({ timeout: 5000 });
  expect(await page.locator('#range button[aria-pressed="true"]').textContent()).toBe('Day');
  await page.click('#range button[data-days="30"]');
  await page.locator('#history-total', { hasText: `${fmt(tracked + 50)} views` }).waitFor({ timeout: 5000 });
  // The chart drew bars: Chart.js keeps its data on the canvas's chart instance.
  const bars = await page.evaluate<number>(
    "Chart.getChart(document.getElementById('history-chart')).data.datasets[0].data.reduce(function (s, x) { return s + x; }, 0)",
  );
  expect(bars).toBe(tracked + 50);
  await page.click('#range button[data-days="7"]');
});

test('sources: referrer hosts, UTM sources and campaigns with views and visitors, as the API answers', async () => {
  await page.locator('#sources-referrers', { hasText: 'news.example.com' }).waitFor({ timeout: 5000 });
  const want = await api<{ breakdown: Array<{ value: string; views: number; uniqueVisitors: number }> }>(BREAKDOWN, {
    dimension: 'REFERRER',
    days: 7,
    limit: 10,
  });
  expect(await rowsOf('sources-referrers')).toEqual(want.breakdown.map((x) => [x.value, fmt(x.views), fmt(x.uniqueVisitors)]));
  expect(await rowsOf('sources-utm-source')).toContainEqual(['newsletter', '12', '12']);
  expect(await rowsOf('sources-utm-campaign')).toContainEqual(['spring', '12', '12']);
  expect(await page.locator('#sources-status').textContent()).toBe('last 7 days');
  // Another range reloads it.
  await page.click('#range button[data-days="1"]');
  await page.locator('#sources-status', { hasText: 'today (UTC)' }).waitFor({ timeout: 5000 });
  await page.click('#range button[data-days="7"]');
  await page.locator('#sources-status', { hasText: 'last 7 days' }).waitFor({ timeout: 5000 });
});

test('devices and browsers: bots have views and no visitors', async () => {
  await page.locator('#devices-device', { hasText: 'mobile' }).waitFor({ timeout: 5000 });
  const devices = await rowsOf('devices-device');
  expect(devices).toContainEqual(['desktop', fmt(12 * 2 + 6 + 1), '13']);
  expect(devices).toContainEqual(['mobile', fmt(6 + 4), '6']);
  expect(devices).toContainEqual(['tablet', '2', '1']);
  expect(devices).toContainEqual(['bot', '2', '–']);
  const browsers = await rowsOf('devices-browser');
  expect(browsers).toContainEqual(['Mobile Safari', fmt(12), '7']);
  expect(browsers).toContainEqual(['Chrome', fmt(30), '12']);
  expect(browsers.map((row) => row[0])).not.toContain('bot');
});

test('funnel builder: steps in order, the visitors at each as the API counts them; bad steps refused; text stays text', async () => {
  await page.locator('#funnel-steps .funnel-input').first().waitFor();
  expect(await page.locator('#funnel-steps .funnel-input').count()).toBe(2);
  await page.locator('#funnel-steps .funnel-input').nth(1).fill('/products');
  await page.click('#funnel-add');
  await page.locator('#funnel-steps .funnel-input').nth(2).fill('/checkout');
  await page.click('#funnel-run');
  await page.locator('#funnel-result tr', { hasText: '/checkout' }).waitFor({ timeout: 5000 });
  const want = await api<{ funnel: Array<{ page: string; visitors: number }> }>(FUNNEL, { steps: ['/', '/products', '/checkout'], days: 7 });
  // Desktop visitors saw / then /products (12), half of them /checkout; phones saw /products after / (4); the tablet in the wrong order.
  expect(want.funnel.map((s) => s.visitors)).toEqual([19, 16, 6]);
  const rows = await rowsOf('funnel-result');
  expect(rows.map((row) => row.slice(0, 3))).toEqual([
    ['1. /', '19', '100.0%'],
    ['2. /products', '16', '84.2%'],
    ['3. /checkout', '6', '31.6%'],
  ]);
  expect(rows[2][3]).toBe('−62.5%');
  // A step that is not a path is refused before anything is sent.
  await page.locator('#funnel-steps .funnel-input').nth(2).fill('checkout');
  await page.click('#funnel-run');
  await page.locator('#funnel-error', { hasText: 'starting with "/"' }).waitFor();
  // A page path with markup shows as text.
  await page.locator('#funnel-steps .funnel-input').nth(2).fill('/<b>bold</b>');
  await page.locator('#funnel-steps .funnel-input').nth(0).fill('/<b>bold</b>');
  await page.locator('#funnel-steps .funnel-remove').nth(1).click();
  await page.click('#funnel-run');
  await page.locator('#funnel-result', { hasText: '1. /<b>bold</b>' }).waitFor({ timeout: 5000 });
  expect(await page.locator('#funnel-result b').count()).toBe(0);
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-history.png'), fullPage: true });
  expect(problems).toEqual([]);
});
