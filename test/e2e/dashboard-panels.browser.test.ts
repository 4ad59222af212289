/**
 * The dashboard's stopped-experiments and feature-flags panels in a real headless Chromium
 * (test/helpers/browser.ts): stopped experiments show apart from running ones with the winner
 * every visitor now gets, and move there live when stopped; flags show with their rollout, an
 * admin edits, adds and deletes them from the page, and a change made through the API shows
 * without a reload. Screenshot: test-artifacts/dashboard-panels.png.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { buildRequestContext } from '../../src/services/context';
import { ADMIN, ADMIN_ENV, adminToken, startTestApp, type TestApp } from '../helpers/app';
import { ok } from '../helpers/analytics';
import { launchChromium, openDashboard, signIn } from '../helpers/browser';
import { waitFor } from '../helpers/jobs';

const ARTIFACTS = path.join(__dirname, '..', '..', 'test-artifacts');

let t: TestApp;
let browser: Browser;
let admin: string;
const problems: string[] = [];

beforeAll(async () => {
  t = await startTestApp(ADMIN_ENV);
  admin = await adminToken(t);
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await t?.close();
});

async function signedIn(): Promise<Page> {
  const page = await openDashboard(browser, t, problems);
  await signIn(page, ADMIN.email, ADMIN.password);
  await page.locator('#status', { hasText: 'Live' }).waitFor({ timeout: 10_000 });
  return page;
}

type FlagT = { key: string; enabled: boolean; rolloutPercent: number };
const settings = async (): Promise<FlagT[]> => ok(await t.gql('{ flagSettings { key enabled rolloutPercent } }', {}, { token: admin })).flagSettings;
const setting = async (key: string) => (await settings()).find((f) => f.key === key);
/** Polls the API until `check` holds (3 s at most). */
const eventually = (check: () => Promise<boolean>): Promise<boolean> => waitFor('the API to show the change', check, 3000);

test('stopped experiments show apart, with their winner; one stopped while the page is open moves there', async () => {
  const ctx = buildRequestContext(t.app.services, t.app.log, { ip: '127.0.0.1', secure: false, token: null });
  for (const key of ['exp-done', 'exp-running']) {
    ok(await t.gql('mutation X($k: String!) { createExperiment(input: { key: $k, variants: ["blue", "green"] }) { key } }', { k: key }, { token: admin }));
    for (let i = 0; i < 30; i++) await t.app.services.experiments.assign(ctx, key, `${key}-${i}`);
  }
  ok(await t.gql('mutation { stopExperiment(key: "exp-done", winner: "green") { key } }', {}, { token: admin }));

  const page = await signedIn();
  const stopped = page.locator('#stopped-experiments');
  await stopped.locator('.experiment', { hasText: 'exp-done' }).waitFor({ timeout: 5000 });
  expect(await stopped.locator('.experiment', { hasText: 'exp-done' }).locator('.winner').textContent()).toBe('winner: green');
  expect(await stopped.locator('tr.served').textContent()).toContain('green ★');
  await page.locator('#experiments', { hasText: 'exp-running' }).waitFor({ timeout: 5000 });
  expect(await page.locator('#experiments').textContent()).not.toContain('exp-done');
  expect(await page.locator('#experiments').textContent()).toContain('Revenue / visitor');

  // Stopped without a winner, through the API: the control is served, and the page follows at liveStats' next push.
  ok(await t.gql('mutation { stopExperiment(key: "exp-running") { key } }', {}, { token: admin }));
  await stopped.locator('.experiment', { hasText: 'exp-running' }).waitFor({ timeout: 3000 });
  expect(await stopped.locator('.experiment', { hasText: 'exp-running' }).locator('.winner').textContent()).toBe('winner: blue (control, none named)');
  await page.locator('#experiments', { hasText: 'No running experiments' }).waitFor({ timeout: 3000 });
  expect(problems).toEqual([]);
  await page.context().close();
}, 60_000);

test('feature flags: shown with their rollout, edited, added and deleted from the page; API changes show without a reload', async () => {
  ok(
    await t.gql(
      'mutation { a: setFlag(input: { key: "checkout-v2", enabled: true, rolloutPercent: 25 }) { key } b: setFlag(input: { key: "dark-mode", enabled: false }) { key } }',
      {},
      { token: admin },
    ),
  );
  const page = await signedIn();
  const row = (key: string) => page.locator(`#flags-rows tr[data-key="${key}"]`);
  await row('checkout-v2').waitFor({ timeout: 5000 });
  expect(await row('checkout-v2').locator('.rollout').inputValue()).toBe('25');
  expect(await row('checkout-v2').locator('.enabled').isChecked()).toBe(true);
  expect(await row('dark-mode').locator('.enabled').isChecked()).toBe(false);
  expect(await row('dark-mode').locator('.rollout').inputValue()).toBe('100');

  // Edit the rollout, then the switch.
  await row('checkout-v2').locator('.rollout').fill('60');
  await row('checkout-v2').locator('.save').click();
  await eventually(async () => (await setting('checkout-v2'))?.rolloutPercent === 60);
  await row('dark-mode').locator('.enabled').check();
  await eventually(async () => (await setting('dark-mode'))?.enabled === true);

  // Changed elsewhere (another admin, a script): flagsUpdated redraws the panel.
  ok(await t.gql('mutation { setFlag(input: { key: "checkout-v2", enabled: true, rolloutPercent: 80 }) { key } }', {}, { token: admin }));
  await page.waitForFunction(
    () => (document.querySelector('#flags-rows tr[data-key="checkout-v2"] .rollout') as { value: string } | null)?.value === '80',
    undefined,
    {
      timeout: 2000,
    },
  );

  // Add one through the form; a key the server refuses is reported as text, never inserted as markup.
  await page.fill('#flag-new-key', '<img src=x id=injected>');
  await page.click('#flag-add button[type=submit]');
  await page.locator('#flags-error', { hasText: 'key' }).waitFor({ timeout: 3000 });
  expect(await page.locator('#injected').count()).toBe(0);
  await page.fill('#flag-new-key', 'new-search');
  await page.check('#flag-new-enabled');
  await page.fill('#flag-new-rollout', '10');
  await page.click('#flag-add button[type=submit]');
  await eventually(async () => JSON.stringify(await setting('new-search')) === JSON.stringify({ key: 'new-search', enabled: true, rolloutPercent: 10 }));
  await row('new-search').waitFor({ timeout: 2000 });
  expect(await page.locator('#flags-error').textContent()).toBe('');

  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-panels.png'), fullPage: true });

  await row('new-search').locator('.delete').click();
  await eventually(async () => !(await setting('new-search')));
  await row('new-search').waitFor({ state: 'detached', timeout: 2000 });
  expect(problems).toEqual([]);
  await page.context().close();
}, 60_000);

// page.waitForFunction callbacks run in the browser; the project compiles without the DOM library.
declare const document: { querySelector(selector: string): unknown };
