/**
 * The dashboard in a real headless Chromium (Debian's /usr/bin/chromium driven
 * by playwright-core), every request outside the gateway blocked: an admin signs
 * in through the form, a page view tracked through the API shows within two
 * seconds, and a screenshot lands in test-artifacts/dashboard.png.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { buildRequestContext } from '../../src/services/context';
import { ADMIN, registerUser, startTestApp, ADMIN_ENV, adminToken, type TestApp } from '../helpers/app';
import { ok, pool, TRACK_VIEW } from '../helpers/analytics';
import { launchChromium, openDashboard as open, signIn } from '../helpers/browser';

const ARTIFACTS = path.join(__dirname, '..', '..', 'test-artifacts');

let t: TestApp;
let browser: Browser;
const problems: string[] = [];

beforeAll(async () => {
  // Chromium's user agent differs from the API client's: the session UA check stays on.
  t = await startTestApp(ADMIN_ENV);
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await t?.close();
});

const openDashboard = (): Promise<Page> => open(browser, t, problems);

async function seed(): Promise<void> {
  const admin = await adminToken(t);
  ok(await t.gql('mutation { createExperiment(input: { key: "checkout-button", variants: ["blue", "green"] }) { key } }', {}, { token: admin }));
  const ctx = buildRequestContext(t.app.services, t.app.log, { ip: '127.0.0.1', secure: false, token: null });
  const pages = ['/', '/products', '/products/espresso', '/products/grinder', '/cart', '/checkout', '/about'];
  await pool(400, 16, async (i) => {
    const visitorId = `seed-${i % 120}`;
    await t.app.services.analytics.trackPageView(ctx, { page: pages[Math.floor(Math.abs(Math.sin(i)) * pages.length)], visitorId });
    if (i % 4 === 0) await t.app.services.experiments.assign(ctx, 'checkout-button', visitorId);
    if (i % 9 === 0)
      await t.app.services.analytics.trackConversion(ctx, { type: 'purchase', valueCents: 1299 + (i % 5) * 500, experiment: 'checkout-button', visitorId });
    if (i % 13 === 0) await t.app.services.analytics.trackConversion(ctx, { type: 'signup', visitorId });
  });
}

test('a non-admin is turned away at sign-in', async () => {
  const u = await registerUser(t);
  const page = await openDashboard();
  await signIn(page, u.email, u.password);
  await page.locator('#login-error', { hasText: 'not an admin' }).waitFor({ timeout: 5000 });
  expect(await page.locator('#dash').isHidden()).toBe(true);
  await page.context().close();
});

test('an admin signs in; a page view tracked through the API shows within two seconds', async () => {
  await seed();
  const page = await openDashboard();
  await signIn(page, ADMIN.email, ADMIN.password);
  await page.locator('#status', { hasText: 'Live' }).waitFor({ timeout: 10_000 });
  // The first paint comes from the analytics query over the socket.
  await page.locator('#top-pages', { hasText: '/products' }).waitFor({ timeout: 5000 });
  // Subscriptions are listening once the live feed shows an event; then measure a fresh one.
  const probe = `/dashboard-probe-${Date.now()}`;
  const deadline = Date.now() + 10_000;
  while (!(await page.locator('#events', { hasText: '/warm-up' }).count())) {
    if (Date.now() > deadline) throw new Error(`no live event reached the page: ${problems.join('; ')}`);
    ok(await t.gql(TRACK_VIEW, { input: { page: '/warm-up' } }));
    await page.waitForTimeout(150);
  }
  const sent = Date.now();
  ok(await t.gql(TRACK_VIEW, { input: { page: probe, visitorId: 'browser-probe' } }));
  await page.locator('#events', { hasText: probe }).waitFor({ timeout: 2000 });
  const inFeed = Date.now() - sent;
  // liveStats carries it into the tables and totals at its next (at most once a second) push.
  await page.locator('#top-pages, #kpi-views').first().waitFor();
  const totalViews = ok(await t.gql<{ analytics: { totalPageViews: number } }>('{ analytics { totalPageViews } }', {}, { token: await adminToken(t) }))
    .analytics.totalPageViews;
  await page.locator('#kpi-views', { hasText: new Intl.NumberFormat('en-US').format(totalViews) }).waitFor({ timeout: 2000 });
  const inTotals = Date.now() - sent;
  expect(inFeed).toBeLessThan(2000);
  expect(inTotals).toBeLessThan(2000);
  // Panels fed by the other capabilities' subscriptions either work or say they are not available.
  await page.locator('#queue .count, #queue .unavailable').first().waitFor({ timeout: 5000 });
  await page.locator('#rejections li, #rejections .unavailable').first().waitFor({ timeout: 5000 });
  await page.locator('#experiments', { hasText: 'checkout-button' }).waitFor({ timeout: 5000 });
  expect(await page.locator('#experiments').textContent()).toContain('P(beats control)');
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard.png'), fullPage: true });
  expect(problems).toEqual([]);
  await page.context().close();
}, 60_000);
