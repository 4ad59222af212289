/**
 * Cross-origin browsers in a real headless Chromium (Debian's /usr/bin/chromium
 * driven by playwright-core). The gateway runs on one local port with
 * CORS_ORIGINS naming an SPA served from a second port
 * (test/e2e/fixtures/cors-spa, with graphql-ws's browser build from
 * node_modules: no CDN). In the SPA: `register` with credentials: 'include',
 * `me` with the cookie alone, and a subscription over graphql-ws. A page on a
 * third, unlisted port (nothing else reachable is used: no CDN): its fetch fails with a CORS error before the mutation
 * is sent, and its WebSocket is refused (403) although the browser sent the
 * session cookie along (localhost ports are one site, so SameSite=Lax lets it
 * through: the origin check is what stops it).
 */
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { startTestApp, type TestApp } from '../helpers/app';
import { CHROMIUM, CHROMIUM_ARGS as ARGS } from '../helpers/browser';

const ROOT = path.join(__dirname, '..', '..');
const SPA_DIR = path.join(__dirname, 'fixtures', 'cors-spa');

interface Answer {
  status: number;
  requestId: string | null;
  rateLimit: string | null;
  rateLimitPolicy: string | null;
  body: { data?: Record<string, any> | null; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> };
}
/** What the fixture's app.js puts on `window.spa` (page.evaluate callbacks run in the browser). */
declare const spa: {
  gql(query: string, variables?: Record<string, unknown>): Promise<Answer>;
  tryGql(query: string): Promise<{ ok: true; result: Answer } | { ok: false; error: string }>;
  subscribe(
    query: string,
    variables: Record<string, unknown>,
    untilState: string,
  ): Promise<{ events: Array<{ data?: any; errors?: unknown[] }>; error?: string }>;
  probeSocket(): Promise<{ opened: boolean; code: number }>;
};

const FILES: Record<string, { file: string; type: string }> = {
  '/': { file: path.join(SPA_DIR, 'index.html'), type: 'text/html; charset=utf-8' },
  '/app.js': { file: path.join(SPA_DIR, 'app.js'), type: 'text/javascript; charset=utf-8' },
  '/graphql-ws.js': { file: path.join(ROOT, 'node_modules', 'graphql-ws', 'umd', 'graphql-ws.min.js'), type: 'text/javascript; charset=utf-8' },
};

/** A static file server on an ephemeral port, standing for an SPA's dev server or CDN. */
async function staticServer(): Promise<{ server: Server; origin: string }> {
  const server = createServer((req, res) => {
    const hit = FILES[new URL(req.url ?? '/', 'http://x').pathname];
    if (!hit) return void res.writeHead(404).end();
    res.writeHead(200, { 'Content-Type': hit.type, 'Cache-Control': 'no-store' }).end(readFileSync(hit.file));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, origin: `http://localhost:${(server.address() as AddressInfo).port}` };
}

interface Seen {
  method: string;
  url: string;
  origin?: string;
  cookie: boolean;
}

let t: TestApp;
let gateway: string;
let shop: { server: Server; origin: string };
let evil: { server: Server; origin: string };
let browser: Browser;
let context: BrowserContext;
const foreign: string[] = [];
/** Requests and upgrades as the gateway received them. */
const requests: Seen[] = [];
const upgrades: Seen[] = [];
const seen = (req: IncomingMessage): Seen => ({
  method: req.method ?? '',
  url: req.url ?? '',
  origin: req.headers.origin,
  cookie: /\bgw_session=/.test(req.headers.cookie ?? ''),
});

/** Opens a page of the static server at `origin`, pointed at the gateway; collects its console errors. */
async function open(origin: string, consoleErrors: string[]): Promise<Page> {
  const page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('pageerror', (err) => consoleErrors.push(err.message));
  const res = await page.goto(`${origin}/?gateway=${encodeURIComponent(gateway)}`, { waitUntil: 'load' });
  expect(res?.status()).toBe(200);
  await page.locator('#status', { hasText: 'ready' }).waitFor({ timeout: 10_000 });
  return page;
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: install Debian's Chromium with \`apt-get install -y chromium\``);
  [shop, evil] = await Promise.all([staticServer(), staticServer()]);
  t = await startTestApp({ CORS_ORIGINS: shop.origin, WORKER: '1', RATE_LIMIT_DEFAULT: '1000/1m' });
  // `localhost`, as the SPA's: both are then one site and the SameSite=Lax cookie goes along.
  gateway = `http://localhost:${new URL(t.url).port}`;
  t.app.httpServer.on('request', (req: IncomingMessage) => requests.push(seen(req)));
  t.app.httpServer.on('upgrade', (req: IncomingMessage) => upgrades.push(seen(req)));
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
  context = await browser.newContext();
  const ours = new Set([new URL(gateway).host, new URL(shop.origin).host, new URL(evil.origin).host]);
  // Watched, not routed: Playwright's request interception answers CORS preflights itself, which
  // would let the unlisted page's POST through and test Playwright instead of the gateway.
  context.on('request', (req) => {
    if (!ours.has(new URL(req.url()).host)) foreign.push(req.url());
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await t?.close();
  await Promise.all([shop, evil].filter(Boolean).map((s) => new Promise((r) => s.server.close(r))));
});

describe('an SPA on a listed origin', () => {
  const errors: string[] = [];
  let page: Page;
  let userId: string;
  let email: string;

  beforeAll(async () => {
    page = await open(shop.origin, errors);
  });

  test('registers with credentials: "include", reads the answer and its exposed headers, and gets the HttpOnly cookie', async () => {
    email = `spa-${Date.now()}@example.com`;
    const reg = await page.evaluate(
      ([e]) =>
        spa.gql('mutation R($input: RegisterInput!) { register(input: $input) { user { id email } } }', {
          input: { email: e, password: 'correct-horse-42', name: 'Spa User' },
        }),
      [email],
    );
    expect(reg.status).toBe(200);
    expect(reg.body.errors).toBeUndefined();
    expect(reg.body.data?.register.user.email).toBe(email);
    userId = reg.body.data?.register.user.id;
    // Exposed through Access-Control-Expose-Headers, else null to the script.
    expect(reg.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(reg.rateLimit).toMatch(/"default";r=\d+/);
    expect(reg.rateLimitPolicy).toMatch(/"default";q=1000/);
    const cookies = await context.cookies(gateway);
    expect(cookies.find((c) => c.name === 'gw_session')).toMatchObject({ httpOnly: true, sameSite: 'Lax', secure: false });
    // The cross-origin POST was preflighted, and the preflight named the SPA's origin.
    const preflights = requests.filter((r) => r.method === 'OPTIONS' && r.origin === shop.origin);
    expect(preflights.length).toBeGreaterThan(0);
  }, 30_000);

  test('`me` answers with the cookie alone', async () => {
    const me = await page.evaluate(() => spa.gql('{ me { id email } }'));
    expect(me.body.data?.me?.id).toBe(userId);
    const posts = requests.filter((r) => r.method === 'POST' && r.origin === shop.origin);
    expect(posts.at(-1)?.cookie).toBe(true);
  });

  test('a subscription over graphql-ws from the SPA receives events', async () => {
    // A customer's email.send goes to their own address only.
    const job = await page.evaluate(
      ([to]) =>
        spa.gql('mutation E($input: EnqueueJobInput!) { enqueueJob(input: $input) { id state } }', {
          input: { type: 'email.send', data: { to, subject: 'hi', body: 'from the SPA' }, delayMs: 1500 },
        }),
      [email],
    );
    const id = job.body.data?.enqueueJob.id as string;
    expect(id).toBeTruthy();
    const sub = await page.evaluate(
      ([jobId]) => spa.subscribe('subscription J($id: ID!) { jobUpdated(id: $id) { id state progress } }', { id: jobId }, 'COMPLETED'),
      [id],
    );
    expect(sub.error).toBeUndefined();
    const states = sub.events.map((e) => e.data?.jobUpdated?.state);
    // The state as it is now (still delayed), then its changes up to COMPLETED.
    expect(states[0]).toBe('DELAYED');
    expect(states.at(-1)).toBe('COMPLETED');
    expect(sub.events.every((e) => !e.errors)).toBe(true);
    // The socket was opened from the SPA's origin, with the cookie (the job's owner is known by it).
    expect(upgrades.filter((u) => u.origin === shop.origin && u.cookie).length).toBeGreaterThan(0);
    expect(errors).toEqual([]);
    expect(foreign).toEqual([]);
  }, 30_000);
});

describe('a page on an unlisted origin, in the same browser', () => {
  const errors: string[] = [];
  let page: Page;

  beforeAll(async () => {
    page = await open(evil.origin, errors);
  });

  test('its fetch fails with a CORS error, and the mutation is never sent', async () => {
    const before = requests.length;
    const r = await page.evaluate(() => spa.tryGql('mutation { logout }'));
    expect(r).toEqual({ ok: false, error: expect.stringMatching(/^TypeError: Failed to fetch/) });
    expect(errors.some((e) => e.includes(`from origin '${evil.origin}' has been blocked by CORS policy`))).toBe(true);
    // Only the preflight reached the gateway: it named no origin, so the browser stopped there.
    expect(requests.slice(before).map((q) => `${q.method} ${q.origin}`)).toEqual([`OPTIONS ${evil.origin}`]);
  });

  test('its WebSocket does not open: 403 at the upgrade, though the session cookie came along', async () => {
    const before = upgrades.length;
    const r = await page.evaluate(() => spa.probeSocket());
    expect(r).toEqual({ opened: false, code: 1006 });
    expect(upgrades.slice(before)).toEqual([{ method: 'GET', url: '/graphql', origin: evil.origin, cookie: true }]);
    expect(errors.some((e) => /WebSocket connection to .* failed.*403/.test(e))).toBe(true);
  });

  test('the user is still signed in on the SPA: nothing the other page tried took effect', async () => {
    const shopPage = await open(shop.origin, []);
    const me = await shopPage.evaluate(() => spa.gql('{ me { id } }'));
    expect(me.body.data?.me?.id).toBeTruthy();
    expect(foreign).toEqual([]);
  });
});
