/**
 * The dashboard's Orders panel in a real headless Chromium, against two gateway instances: an admin
 * signs in on instance A; an order processed on instance B turns COMPLETED on the page live; a
 * cancel dismissed at the confirmation changes nothing; a confirmed cancel makes the order
 * CANCELLED, which instance B then shows (its API and its own dashboard), with the stock back.
 */
import { chromium, type Browser, type Page } from 'playwright-core';
import { ADMIN, registerUser, type TestApp } from '../helpers/app';
import { addToCart, checkout, product, upsert } from '../helpers/commerce';
import { twoInstances } from '../helpers/instances';
import { uniquePrefix } from '../helpers/redis';

const ARGS = [
  '--no-sandbox',
  '--headless',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

let a: TestApp;
let b: TestApp;
let admin: string;
let browser: Browser;
const problems: string[] = [];
const two = twoInstances({ KEY_PREFIX: uniquePrefix('dash-orders') }, { admin: true });
beforeAll(async () => {
  ({ a, b, admin } = two);
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ARGS });
});
afterAll(async () => {
  await browser?.close();
});

async function dashboard(t: TestApp): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  const origin = new URL(t.url).origin;
  // Everything is served by the gateway: any other request fails the test.
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
  expect((await page.goto(`${t.url}/dashboard`))?.status()).toBe(200);
  await page.locator('#login-form').waitFor({ state: 'visible' });
  await page.fill('#email', ADMIN.email);
  await page.fill('#password', ADMIN.password);
  await page.click('#signin');
  await page.locator('#status', { hasText: 'Live' }).waitFor({ timeout: 10_000 });
  // The panel is a tab of the operator's console.
  await page.click('#console-nav [data-panel="orders"]');
  await page.locator('#panel-orders').waitFor({ state: 'visible' });
  return page;
}

const statusCell = (page: Page, orderId: string) => page.locator(`#orders tr[data-order="${orderId}"] .order-status`);
const cancelButton = (page: Page, orderId: string) => page.locator(`#orders tr[data-order="${orderId}"] .order-cancel`);

test('the Orders panel lists the latest orders live, and a confirmed cancel shows through the other instance', async () => {
  await upsert(a, admin, { id: 'dash-lamp', name: 'Lamp', priceCents: 4500, stock: 10 });
  const buyer = await registerUser(a);
  const ids: string[] = [];
  for (const n of [2, 3]) {
    await addToCart(a, buyer.token, 'dash-lamp', n);
    ids.push((await checkout(a, buyer.token)).data?.checkout.id);
  }
  const [toCancel, toComplete] = ids;
  expect((await product(b, 'dash-lamp')).data?.product.stock).toBe(5);

  const page = await dashboard(a);
  await statusCell(page, toCancel).waitFor({ timeout: 5000 });
  expect(await statusCell(page, toCancel).textContent()).toBe('PENDING');
  expect(await page.locator(`#orders tr[data-order="${toComplete}"]`).textContent()).toContain('135.00 USD');

  // Processed on instance B: the page on A follows it to COMPLETED, and its cancel button goes.
  await b.app.services.orders.process(toComplete);
  await page.locator(`#orders tr[data-order="${toComplete}"] .order-status[data-status="COMPLETED"]`).waitFor({ timeout: 5000 });
  expect(await cancelButton(page, toComplete).isHidden()).toBe(true);

  // Dismissed at the confirmation: nothing happens.
  page.once('dialog', (d) => void d.dismiss());
  await cancelButton(page, toCancel).click();
  await page.waitForTimeout(300);
  expect(await statusCell(page, toCancel).textContent()).toBe('PENDING');
  expect((await b.gql('query O($id: ID!) { order(id: $id) { status } }', { id: toCancel }, { token: admin })).data?.order.status).toBe('PENDING');

  // Confirmed: CANCELLED on the page, and through instance B.
  let asked = '';
  page.once('dialog', (d) => {
    asked = d.message();
    void d.accept();
  });
  await cancelButton(page, toCancel).click();
  await page.locator(`#orders tr[data-order="${toCancel}"] .order-status[data-status="CANCELLED"]`).waitFor({ timeout: 5000 });
  expect(asked).toContain(`Cancel order ${toCancel.slice(0, 8)}?`);
  expect(await cancelButton(page, toCancel).isHidden()).toBe(true);
  expect((await b.gql('query O($id: ID!) { order(id: $id) { status } }', { id: toCancel }, { token: admin })).data?.order.status).toBe('CANCELLED');
  expect((await product(b, 'dash-lamp')).data?.product.stock).toBe(7);

  const other = await dashboard(b);
  await other.locator(`#orders tr[data-order="${toCancel}"] .order-status[data-status="CANCELLED"]`).waitFor({ timeout: 5000 });
  await other.locator(`#orders tr[data-order="${toComplete}"] .order-status[data-status="COMPLETED"]`).waitFor({ timeout: 5000 });
  expect(problems).toEqual([]);
  await page.context().close();
  await other.context().close();
}, 60_000);
