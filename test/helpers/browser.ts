/**
 * The dashboard in a real headless Chromium: Debian's /usr/bin/chromium driven by playwright-core,
 * every request outside the gateway blocked and counted as a problem, as are page errors and
 * console errors.
 */
import { chromium, type Browser, type Page } from 'playwright-core';
import type { TestApp } from './app';

export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--headless',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export const launchChromium = (): Promise<Browser> => chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });

/** Opens /dashboard in a fresh context; whatever goes wrong in the page is pushed onto `problems`. */
export async function openDashboard(browser: Browser, t: TestApp, problems: string[]): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  const origin = new URL(t.url).origin;
  // No CDN, no internet: anything not served by the gateway fails the test.
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(origin) || url.startsWith(origin.replace('http', 'ws'))) return route.continue();
    problems.push(`blocked request to ${url}`);
    return route.abort();
  });
  const page = await context.newPage();
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console error: ${msg.text()}`);
  });
  const res = await page.goto(`${t.url}/dashboard`);
  expect(res?.status()).toBe(200);
  expect(res?.headers()['content-security-policy']).toContain("script-src 'self'");
  return page;
}

/** Signs in through the page's form. */
export async function signIn(page: Page, email: string, password: string): Promise<void> {
  await page.locator('#login-form').waitFor({ state: 'visible' });
  await page.fill('#email', email);
  await page.fill('#password', password);
  await page.click('#signin');
}
