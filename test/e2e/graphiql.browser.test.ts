/**
 * GraphiQL in a real headless Chromium (Debian's /usr/bin/chromium driven by
 * playwright-core) with every request to anything but the gateway blocked:
 * the page loads, a query typed into the editor answers in the result pane,
 * and a subscription streams events into it over graphql-ws.
 */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { isObjectType } from 'graphql';
import { buildGatewaySchema } from '../../src/app/schema';
import { ADMIN, startTestApp, ADMIN_ENV, adminToken, type TestApp } from '../helpers/app';
import { CHROMIUM, CHROMIUM_ARGS as ARGS } from '../helpers/browser';

// page.evaluate callbacks run in the browser; the project compiles without the DOM library.
declare const document: { querySelector(selector: string): unknown };
/** The element CodeMirror 5 (GraphiQL's editor) mounts on, with its API. */
type CodeMirrorHost = { CodeMirror?: { getValue(): string } } | null;

const ARTIFACTS = path.join(__dirname, '..', '..', 'test-artifacts');

/** How to make a subscription field of the schema emit, from outside the browser. */
interface SubscriptionPlan {
  field: string;
  query: string;
  /** Something the result pane shows once an event arrived. */
  expect: string;
  env?: Record<string, string>;
  /** Prepares state before subscribing; returns the query to run (with ids filled in). */
  prepare?(t: TestApp, adminToken: string): Promise<string>;
  /** Makes an event happen; called repeatedly until the pane shows it. */
  trigger(t: TestApp, adminToken: string): Promise<void>;
}

const PAGE = '/graphiql-browser-test';
const trackView = async (t: TestApp, token: string): Promise<void> => {
  const res = await t.gql('mutation T($input: PageViewInput!) { trackPageView(input: $input) }', { input: { page: PAGE } }, { token });
  if (res.errors) throw new Error(`trackPageView failed: ${JSON.stringify(res.errors)}`);
};

const PLANS: SubscriptionPlan[] = [
  { field: 'analyticsEvents', query: 'subscription { analyticsEvents { type page } }', expect: PAGE, trigger: trackView },
  { field: 'liveStats', query: 'subscription { liveStats { totalPageViews } }', expect: '"totalPageViews"', trigger: trackView },
  {
    field: 'jobUpdated',
    query: '',
    expect: '"COMPLETED"',
    env: { WORKER: '1' },
    async prepare(t, token) {
      const res = await t.gql<{ enqueueJob: { id: string } }>(
        'mutation E($input: EnqueueJobInput!) { enqueueJob(input: $input) { id } }',
        { input: { type: 'email.send', data: { to: 'someone@example.com', subject: 'hi', body: 'from GraphiQL' }, delayMs: 1500 } },
        { token },
      );
      if (!res.data) throw new Error(`enqueueJob failed: ${JSON.stringify(res.errors)}`);
      return `subscription { jobUpdated(id: "${res.data.enqueueJob.id}") { id state progress } }`;
    },
    trigger: async () => {},
  },
];

let t: TestApp;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let plan: SubscriptionPlan | undefined;
let subscriptionFields: string[] = [];
const foreign: string[] = [];
const consoleErrors: string[] = [];
const sockets: string[] = [];
let landing: Awaited<ReturnType<Page['goto']>>;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: install Debian's Chromium with \`apt-get install -y chromium\``);
  const subscription = (await buildGatewaySchema()).getSubscriptionType();
  subscriptionFields = subscription && isObjectType(subscription) ? Object.keys(subscription.getFields()) : [];
  plan = PLANS.find((p) => subscriptionFields.includes(p.field));
  t = await startTestApp({ ...ADMIN_ENV, ...plan?.env });
  const gateway = new URL(t.url).host;
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
  context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  // Anything not served by the gateway is refused and counted: the page must need no CDN.
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (new URL(url).host === gateway) return route.continue();
    foreign.push(url);
    return route.abort('blockedbyclient');
  });
  await context.routeWebSocket(/.*/, (ws) => {
    if (new URL(ws.url()).host === gateway) {
      ws.connectToServer();
      return;
    }
    foreign.push(ws.url());
    void ws.close();
  });
  page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('pageerror', (err) => consoleErrors.push(err.message));
  page.on('websocket', (ws) => sockets.push(ws.url()));
  landing = await page.goto(`${t.url}/graphql`, { waitUntil: 'load' });
  await editor(page).waitFor({ state: 'visible', timeout: 15_000 });
}, 60_000);

afterAll(async () => {
  if (page) {
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'graphiql.png'), fullPage: true }).catch(() => {});
  }
  await browser?.close();
  await t?.close();
});

const editor = (p: Page) => p.locator('.graphiql-query-editor .CodeMirror');
const resultText = (p: Page): Promise<string> =>
  p.evaluate(() => {
    const el = document.querySelector('.result-window .CodeMirror') as CodeMirrorHost;
    return el?.CodeMirror?.getValue() ?? '';
  });

/** Replaces the editor's text by typing it, the way a user would. */
async function typeQuery(p: Page, query: string): Promise<void> {
  await editor(p).click();
  await p.keyboard.press('Control+A');
  await p.keyboard.press('Delete');
  await p.keyboard.type(query);
  await p.keyboard.press('Escape'); // closes an autocomplete popup, if one opened
  const typed = await p.evaluate(() => (document.querySelector('.graphiql-query-editor .CodeMirror') as CodeMirrorHost)?.CodeMirror?.getValue());
  // Auto-closed brackets are typed over, so what is in the editor must be exactly what was typed.
  expect(typed).toBe(query);
  // GraphiQL re-parses the editor (operation name, variables) on a short debounce; a person pauses at least this long.
  await p.waitForTimeout(400);
}

/** Polls the result pane until it contains `needle` (or times out), and returns its text. */
async function resultContaining(p: Page, needle: string | RegExp, timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let text = '';
  while (Date.now() < deadline) {
    text = await resultText(p);
    if (typeof needle === 'string' ? text.includes(needle) : needle.test(text)) return text;
    await p.waitForTimeout(100);
  }
  return text;
}

async function run(p: Page): Promise<void> {
  await p.locator('.graphiql-execute-button').click();
}

test('GraphiQL loads from the gateway alone', async () => {
  expect(landing?.status()).toBe(200);
  expect(landing?.headers()['content-type']).toContain('text/html');
  await page.locator('.graphiql-execute-button').waitFor({ state: 'visible' });
  // The schema arrived by introspection: the docs explorer can show the root types.
  await page.locator('.graphiql-sidebar button[aria-label="Show Documentation Explorer"]').click();
  await page.locator('.graphiql-doc-explorer').getByText('Query', { exact: true }).first().waitFor({ timeout: 10_000 });
  expect(foreign).toEqual([]);
  expect(consoleErrors).toEqual([]);
}, 30_000);

test('a query typed into GraphiQL answers in the result pane', async () => {
  await typeQuery(page, 'mutation { startGuestSession { session { id } user { id } } }');
  await run(page);
  expect(await resultContaining(page, '"startGuestSession"')).toContain('"startGuestSession"');
  const result = JSON.parse(await resultText(page)) as { data: { startGuestSession: { session: { id: string }; user: null } } };
  expect(result.data.startGuestSession.session.id).toMatch(/\S{8,}/);
  expect(result.data.startGuestSession.user).toBeNull();

  await typeQuery(page, '{ me { id } }');
  await run(page);
  expect(await resultContaining(page, /"me":\s*null/)).toMatch(/"me":\s*null/);
  expect(foreign).toEqual([]);
}, 30_000);

test('signing in through GraphiQL sets the session cookie that later queries carry', async () => {
  await typeQuery(page, `mutation { login(input: { email: "${ADMIN.email}", password: "${ADMIN.password}" }) { user { email } } }`);
  await run(page);
  expect(await resultContaining(page, ADMIN.email)).toContain(ADMIN.email);
  await typeQuery(page, '{ me { email roles } }');
  await run(page);
  expect(await resultContaining(page, '"ADMIN"')).toContain('"ADMIN"');
  expect(foreign).toEqual([]);
}, 30_000);

test('a subscription run in GraphiQL streams events over graphql-ws', async () => {
  if (!plan) {
    throw new Error(
      `the schema has no subscription this test knows how to drive (has: ${subscriptionFields.join(', ') || 'no Subscription type'}; ` +
        `knows: ${PLANS.map((p) => p.field).join(', ')})`,
    );
  }
  const admin = await adminToken(t);
  const query = plan.prepare ? await plan.prepare(t, admin) : plan.query;
  await typeQuery(page, query);
  await run(page);
  // The subscription starts asynchronously; keep making events until one shows up.
  const deadline = Date.now() + 15_000;
  let shown = '';
  while (Date.now() < deadline) {
    await plan.trigger(t, admin);
    await page.waitForTimeout(250);
    shown = await resultText(page);
    if (shown.includes(plan.expect)) break;
  }
  expect(shown).toContain(plan.expect);
  expect(JSON.parse(shown)).not.toHaveProperty('errors');
  expect(sockets.length).toBeGreaterThan(0);
  for (const s of sockets) expect(new URL(s).host).toBe(new URL(t.url).host);
  expect(foreign).toEqual([]);
  expect(consoleErrors).toEqual([]);
}, 40_000);
