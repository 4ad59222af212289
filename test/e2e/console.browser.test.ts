/**
 * The dashboard as the operator's console, in a real headless Chromium (/usr/bin/chromium driven
 * by playwright-core), every request outside the gateway blocked. The console is served by
 * instance A; each action clicked there (edit and reset a policy, block and unblock a client,
 * retry and purge dead letters, each after a confirmation) is checked through instance B's API,
 * and the audit log panel shows them. Screenshots land in test-artifacts/console-*.png.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ADMIN, registerUser } from '../helpers/app';
import { startInstances, type Instances } from '../helpers/instances';
import { waitFor, webhookReceiver, type Receiver } from '../helpers/jobs';

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
const ENQUEUE_MANY = 'mutation M($inputs: [EnqueueJobInput!]!) { enqueueJobs(inputs: $inputs) { id } }';
const STATS = '{ queueStats { waiting delayed active completed failed } }';

let two: Instances;
let browser: Browser;
let page: Page;
let receiver: Receiver;
let failing = true;
let user: { token: string; email: string };
const problems: string[] = [];

beforeAll(async () => {
  receiver = await webhookReceiver();
  receiver.respond = () => (failing ? { status: 500 } : {});
  // A port where nothing listens: email.send over SMTP fails there at once.
  const dead = await webhookReceiver();
  await dead.close();
  two = await startInstances(
    {
      RATE_LIMIT_DEFAULT: '1000/1m',
      TRUSTED_PROXIES: '127.0.0.1',
      WEBHOOK_ALLOWED_HOSTS: receiver.host,
      SMTP_URL: `smtp://${dead.host}`,
      JOB_MAX_ATTEMPTS: '1',
    },
    { admin: true, a: { WORKER: '1' } },
  );
  user = await registerUser(two.b);
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ARGS });
  page = await openConsole();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await two?.close();
  await receiver?.close();
});

async function openConsole(): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1440, height: 1000 } });
  const origin = new URL(two.a.url).origin;
  // No CDN, no internet: anything not served by the gateway fails the test.
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(origin) || url.startsWith(origin.replace('http', 'ws'))) return route.continue();
    problems.push(`blocked request to ${url}`);
    return route.abort();
  });
  const p = await context.newPage();
  p.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  p.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console error: ${msg.text()}`);
  });
  const res = await p.goto(`${two.a.url}/dashboard`);
  expect(res?.status()).toBe(200);
  await p.locator('#login-form').waitFor({ state: 'visible' });
  await p.fill('#email', ADMIN.email);
  await p.fill('#password', ADMIN.password);
  await p.click('#signin');
  await p.locator('#console-nav').waitFor({ state: 'visible', timeout: 10_000 });
  return p;
}

const onB = async <T = any>(
  query: string,
  variables?: Record<string, unknown>,
  headers?: Record<string, string>,
): Promise<{ status: number; data?: T; errors?: any[] }> => {
  const r = await two.b.gql<T>(query, variables, { token: two.admin, headers });
  return { status: r.status, data: r.data ?? undefined, errors: r.errors };
};
const policyOnB = async (name: string): Promise<{ points: number; windowSeconds: number; burst: number; overridden: boolean } | undefined> =>
  (
    await onB<{ rateLimitPolicies: Array<{ name: string; points: number; windowSeconds: number; burst: number; overridden: boolean }> }>(
      '{ rateLimitPolicies { name points windowSeconds burst overridden } }',
    )
  ).data!.rateLimitPolicies.find((p) => p.name === name);
const statsOnB = async (): Promise<Record<string, number>> => (await onB<{ queueStats: Record<string, number> }>(STATS)).data!.queueStats;
async function shot(name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, `console-${name}.png`), fullPage: true });
}
async function tab(name: string): Promise<void> {
  await page.click(`#console-nav [data-panel="${name}"]`);
  await page.locator(`#panel-${name}, [data-panel-part="${name}"]`).first().waitFor({ state: 'visible' });
}

test('the tabs switch between the analytics view and each panel; the orders panel has its place', async () => {
  const analytics = page.locator('[data-panel-part="analytics"]');
  expect(await analytics.first().isVisible()).toBe(true);
  for (const name of ['ratelimits', 'jobs', 'audit', 'orders']) {
    await tab(name);
    expect(await analytics.evaluateAll((parts) => parts.every((p) => p.hasAttribute('hidden')))).toBe(true);
    expect(new URL(page.url()).hash).toBe(`#${name}`);
  }
  expect(await page.locator('#panel-orders').count()).toBe(1);
  await tab('analytics');
  expect(await page.locator('#panel-ratelimits').isHidden()).toBe(true);
  expect(problems).toEqual([]);
});

test('editing a policy in the console changes it on instance B; Reset brings the configured values back', async () => {
  await tab('ratelimits');
  const row = page.locator('#rl-policies tr[data-policy="checkout"]');
  await row.locator('button.edit').click();
  await row.locator('input[name="points"]').fill('7');
  await row.locator('input[name="windowSeconds"]').fill('30');
  await row.locator('input[name="burst"]').fill('3');
  await row.locator('button.save').click();
  await page.locator('#panel-ratelimits .notice-ok', { hasText: 'checkout is now 7 per 30 s, burst 3' }).waitFor({ timeout: 5000 });
  await page.locator('#rl-policies tr[data-policy="checkout"].overridden').waitFor({ timeout: 5000 });
  expect(await page.locator('#rl-policies tr[data-policy="checkout"] .rate').textContent()).toBe('7 / 30 s');
  expect(await policyOnB('checkout')).toEqual({ name: 'checkout', points: 7, windowSeconds: 30, burst: 3, overridden: true });
  await shot('ratelimits');

  // A value out of range is refused with the server's message, and nothing changes.
  await row.locator('button.edit').click();
  await row.locator('input[name="points"]').fill('0');
  // Past the browser's own check (min="1"): the server's answer is what is shown.
  await row.locator('form').evaluate((form) => form.setAttribute('novalidate', ''));
  await row.locator('button.save').click();
  await page.locator('#panel-ratelimits .notice-error', { hasText: 'points' }).waitFor({ timeout: 5000 });
  await row.locator('button.cancel').click();
  expect((await policyOnB('checkout'))?.points).toBe(7);

  await page.locator('#rl-policies tr[data-policy="checkout"] button.reset').click();
  await page.locator('#rl-policies tr[data-policy="checkout"]:not(.overridden)').waitFor({ timeout: 5000 });
  expect(await policyOnB('checkout')).toEqual({ name: 'checkout', points: 10, windowSeconds: 60, burst: 5, overridden: false });
});

test('blocking a client in the console refuses it on instance B; Unblock lets it through', async () => {
  const ip = '203.0.113.77';
  const fromIp = { 'x-forwarded-for': ip };
  expect((await two.b.gql('{ __typename }', {}, { headers: fromIp })).status).toBe(200);
  await tab('ratelimits');
  await page.fill('#rl-block-identity', `ip:${ip}`);
  await page.fill('#rl-block-seconds', '600');
  await page.click('#rl-block');
  await page.locator('#rl-blocked tr[data-identity="ip:203.0.113.77"]').waitFor({ timeout: 5000 });
  const refused = await two.b.gql('{ __typename }', {}, { headers: fromIp });
  expect([refused.status, refused.errors?.[0]?.extensions?.policy]).toEqual([429, 'blocklist']);
  expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(590);
  // A malformed identity gets the server's explanation.
  await page.fill('#rl-block-identity', 'ip:not-an-address');
  await page.click('#rl-block');
  await page.locator('#panel-ratelimits .notice-error', { hasText: 'identity must be' }).waitFor({ timeout: 5000 });

  await page.locator('#rl-blocked tr[data-identity="ip:203.0.113.77"] button.unblock').click();
  await page.locator('#panel-ratelimits .notice-ok', { hasText: 'is unblocked' }).waitFor({ timeout: 5000 });
  await page.locator('#rl-blocked tr[data-identity="ip:203.0.113.77"]').waitFor({ state: 'detached', timeout: 5000 });
  expect((await two.b.gql('{ __typename }', {}, { headers: fromIp })).status).toBe(200);
});

test('retry and purge dead letters from the console, each after a confirmation; instance B sees the effect', async () => {
  const hooks = (n: number): Array<Record<string, unknown>> =>
    Array.from({ length: n }, (_, i) => ({ type: 'webhook.deliver', data: { url: `${receiver.url}/console`, payload: { i } } }));
  const enqueue = async (inputs: Array<Record<string, unknown>>): Promise<void> => {
    const r = await two.b.gql(ENQUEUE_MANY, { inputs }, { token: user.token });
    if (!r.data) throw new Error(JSON.stringify(r.errors));
  };
  const settled = (failed: number, completed?: number): Promise<unknown> =>
    waitFor(`queue with ${failed} failed`, async () => {
      const s = await statsOnB();
      return s.waiting + s.active + s.delayed === 0 && s.failed === failed && (completed === undefined || s.completed === completed);
    });

  failing = true;
  await enqueue(hooks(5));
  await settled(5);
  await tab('jobs');
  await page.locator('#jobs-counts [data-state="FAILED"]', { hasText: '5' }).waitFor({ timeout: 5000 });
  await page.locator('#jobs-list tr[data-job]').first().waitFor({ timeout: 5000 });
  expect(await page.locator('#jobs-list tr[data-job]').count()).toBe(5);
  const first = page.locator('#jobs-list tr[data-job]').first();
  expect(await first.locator('.attempts').textContent()).toBe('1 / 1');
  expect(await first.locator('.err').textContent()).toContain('500');
  expect(await first.locator('.data').textContent()).toContain('/console');
  await shot('jobs');

  // Cancelled: nothing happens.
  failing = false;
  await page.click('#jobs-retry');
  await page.click('#jobs-actions .confirm-no');
  expect(await page.locator('#jobs-actions .confirm').count()).toBe(0);
  expect((await statsOnB()).failed).toBe(5);
  // Confirmed: all five run again, and now succeed.
  await page.click('#jobs-retry');
  await page.locator('#jobs-actions .confirm', { hasText: 'Move every FAILED job back to waiting' }).waitFor();
  await page.click('#jobs-actions .confirm-yes');
  await page.locator('#panel-jobs .notice-ok', { hasText: '5 failed jobs moved back to waiting.' }).waitFor({ timeout: 5000 });
  await settled(0, 5);

  // Purge one type: only its jobs go.
  failing = true;
  // One subject is markup: the console shows it as text.
  const subjects = ['<img src=x onerror=window.__xss=1>', 's2'];
  await enqueue([...hooks(3), ...subjects.map((subject) => ({ type: 'email.send', data: { to: user.email, subject, body: 'b' } }))]);
  await settled(5);
  await page.locator('#jobs-counts [data-state="FAILED"]', { hasText: '5' }).waitFor({ timeout: 5000 });
  await page.locator('#jobs-list', { hasText: subjects[0] }).waitFor({ timeout: 5000 });
  expect(await page.locator('#jobs-list img').count()).toBe(0);
  expect(await page.evaluate(() => (globalThis as { __xss?: number }).__xss)).toBeUndefined();
  await page.selectOption('#jobs-type', 'webhook.deliver');
  await page.click('#jobs-purge');
  await page.locator('#jobs-actions .confirm', { hasText: 'Delete every FAILED webhook.deliver job for good?' }).waitFor();
  await page.click('#jobs-actions .confirm-yes');
  await page.locator('#panel-jobs .notice-ok', { hasText: '3 failed webhook.deliver jobs deleted.' }).waitFor({ timeout: 5000 });
  expect((await statsOnB()).failed).toBe(2);
  const left = (await onB<{ jobs: Array<{ type: string }> }>('{ jobs(state: FAILED, limit: 10) { type } }')).data!.jobs;
  expect(left.map((j) => j.type)).toEqual(['email.send', 'email.send']);
  await page.selectOption('#jobs-type', '');
  await page.click('#jobs-purge');
  await page.click('#jobs-actions .confirm-yes');
  await page.locator('#panel-jobs .notice-ok', { hasText: '2 failed jobs deleted.' }).waitFor({ timeout: 5000 });
  expect((await statsOnB()).failed).toBe(0);
  await page.locator('#jobs-list', { hasText: 'No failed jobs.' }).waitFor({ timeout: 5000 });
});

test('the audit log panel lists what was done, newest first', async () => {
  await tab('audit');
  await page.locator('#audit-list tr').first().waitFor({ timeout: 5000 });
  const rows = await page
    .locator('#audit-list tr')
    .evaluateAll((trs) => trs.map((tr) => [tr.querySelector('.action')?.textContent ?? '', tr.querySelector('.target')?.textContent ?? '']));
  expect(rows.slice(0, 7)).toEqual([
    ['purgeFailedJobs', 'every type: 2 deleted'],
    ['purgeFailedJobs', 'webhook.deliver: 3 deleted'],
    ['retryFailedJobs', 'every type: 5 moved'],
    ['unblockClient', 'ip:203.0.113.77'],
    ['blockClient', 'ip:203.0.113.77 for 600s'],
    ['resetRateLimitPolicy', 'checkout'],
    ['setRateLimitPolicy', 'checkout 7/30s burst 3'],
  ]);
  await shot('audit');
  expect(problems).toEqual([]);
});
