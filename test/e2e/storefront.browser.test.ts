/**
 * The storefront example (examples/storefront/) end to end in a real headless Chromium: its own
 * static server on its own origin (started here), two gateway instances with CORS_ORIGINS set to
 * that origin (HTTP to one, subscriptions to the other) and a worker process that runs the orders.
 * A shopper creates an account, sees the stock change live when an admin restocks, fills the cart,
 * checks out and follows the order to COMPLETED, while the stock it bought leaves the page live.
 * Every request the page makes goes to the storefront or the gateways: nothing from a CDN.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { testEnv } from '../helpers/app';
import { product, upsert } from '../helpers/commerce';
import { startInstances, type Instances } from '../helpers/instances';
import { spawnWorker, waitFor, type WorkerProcess } from '../helpers/jobs';
import { uniquePrefix } from '../helpers/redis';
import { freePort } from '../../src/redis/embedded';

const ROOT = path.join(__dirname, '..', '..');
const ARTIFACTS = path.join(ROOT, 'test-artifacts');
const ARGS = [
  '--no-sandbox',
  '--headless',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

let two: Instances;
let worker: WorkerProcess;
let shop: ChildProcess;
let shopUrl: string;
let browser: Browser;

beforeAll(async () => {
  const port = await freePort();
  shopUrl = `http://127.0.0.1:${port}`;
  const prefix = uniquePrefix('storefront');
  two = await startInstances({ KEY_PREFIX: prefix, CORS_ORIGINS: shopUrl, WORKER: '0' }, { admin: true });
  worker = await spawnWorker({ ...testEnv({ KEY_PREFIX: prefix }), WORKER: undefined, PORT: undefined, LOG_LEVEL: 'info' });
  shop = spawn(
    process.execPath,
    [path.join(ROOT, 'examples/storefront/server.mjs'), '--port', String(port), '--gateway', two.a.url, '--gateway-ws', two.b.url.replace(/^http/, 'ws')],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('storefront server did not start')), 10_000);
    shop.stdout!.on('data', (b: Buffer) => {
      if (b.toString().includes('storefront on')) {
        clearTimeout(timer);
        resolve();
      }
    });
    shop.once('exit', (code) => reject(new Error(`storefront server exited with ${code}`)));
  });
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ARGS });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  shop?.kill();
  worker?.child.kill('SIGKILL');
  await two?.close();
});

test('a shopper signs up, watches stock live, fills the cart, checks out and follows the order to COMPLETED', async () => {
  const { a, b, admin } = two;
  await upsert(a, admin, { id: 'sf-mug', name: 'Enamel mug', priceCents: 1200, stock: 6 });
  await upsert(a, admin, { id: 'sf-tote', name: 'Canvas tote', priceCents: 1800, stock: 2 });

  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const allowed = [shopUrl, a.url, b.url, b.url.replace(/^http/, 'ws'), a.url.replace(/^http/, 'ws')];
  const problems: string[] = [];
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (allowed.some((o) => url.startsWith(o))) return route.continue();
    problems.push(`blocked request to ${url}`);
    return route.abort();
  });
  const page = await context.newPage();
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console error: ${msg.text()}`);
  });
  const sockets: string[] = [];
  page.on('websocket', (ws) => sockets.push(ws.url()));
  const res = await page.goto(shopUrl);
  expect(res?.headers()['content-security-policy']).toContain("script-src 'self' 'sha256-");

  // Sign up.
  await page.fill('#email', `shopper-${Date.now()}@example.com`);
  await page.fill('#password', 'correct-horse-42');
  await page.fill('#name', 'Sam Shopper');
  await page.click('#register');
  const mug = page.locator('li[data-product="sf-mug"]');
  await mug
    .locator('.stock', { hasText: '6' })
    .waitFor({ timeout: 10_000 })
    .catch(async (err: Error) => {
      throw new Error(`${err.message}\nsign-in: ${await page.locator('#signin-error').textContent()}\n${problems.join('\n')}`);
    });
  await page.locator('#live', { hasText: 'live' }).waitFor({ timeout: 10_000 });

  // An admin restocks on instance A: the page, subscribed on instance B, shows it.
  await waitFor('the stock subscription to be live', async () => b.app.services.productUpdates.watching('sf-mug') >= 1);
  expect((await a.gql('mutation { adjustStock(productId: "sf-mug", delta: 3) { stock } }', {}, { token: admin })).data?.adjustStock.stock).toBe(9);
  await mug.locator('.stock', { hasText: '9' }).waitFor({ timeout: 3000 });

  // Fill the cart and check out.
  await mug.locator('button.add').click();
  await page.locator('#cart-lines li[data-product="sf-mug"]', { hasText: '1 × Enamel mug' }).waitFor({ timeout: 5000 });
  await mug.locator('button.add').click();
  await page.locator('#cart-lines li[data-product="sf-mug"]', { hasText: '2 × Enamel mug' }).waitFor({ timeout: 5000 });
  await page.locator('li[data-product="sf-tote"] button.add').click();
  await page.locator('#subtotal', { hasText: '42.00 USD' }).waitFor({ timeout: 5000 });
  await page.click('#checkout');

  // The worker process runs the order; the page follows it to COMPLETED over the socket.
  await page.locator('#order-status', { hasText: 'COMPLETED' }).waitFor({ timeout: 15_000 });
  const orderId = (await page.locator('#order-id').textContent())!;
  const steps = await page.locator('#order-steps li').allTextContents();
  expect(steps[0]).toBe('PENDING');
  expect(steps.at(-1)).toBe('COMPLETED');
  expect(steps.filter((s) => s === 'COMPLETED')).toHaveLength(1);
  // The units bought left the page's stock live; the cart is empty.
  await mug.locator('.stock', { hasText: '7' }).waitFor({ timeout: 3000 });
  await page.locator('li[data-product="sf-tote"] .stock', { hasText: '1' }).waitFor({ timeout: 3000 });
  expect(await page.locator('#cart-lines li').count()).toBe(0);
  expect(await page.locator('#checkout').isDisabled()).toBe(true);

  // What the gateways hold agrees.
  expect((await b.gql('query O($id: ID!) { order(id: $id) { status totalCents } }', { id: orderId }, { token: admin })).data?.order).toEqual({
    status: 'COMPLETED',
    totalCents: 4200,
  });
  expect((await product(a, 'sf-mug')).data?.product.stock).toBe(7);
  // Subscriptions went to instance B, HTTP to A (the page's requests were all allowed ones).
  expect(sockets.every((u) => u.startsWith(b.url.replace(/^http/, 'ws')))).toBe(true);
  expect(sockets.length).toBeGreaterThan(0);
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, 'storefront.png'), fullPage: true });
  expect(problems).toEqual([]);
  await context.close();
}, 90_000);
