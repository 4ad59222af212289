/**
 * orderUpdated over a real graphql-ws client: the subscriber is on instance A, every status change
 * happens on instance B (process, cancel). The owner and admins get the order as it is now, then
 * one message per status change, and the subscription completes after a final status; anyone else,
 * anonymous included, gets NOT_FOUND, the same answer as for an id that does not exist.
 * Also: the order's order.process job belongs to its buyer, who can watch it with jobUpdated.
 */
import type { Client } from 'graphql-ws';
import { registerUser, type TestApp } from '../helpers/app';
import { addToCart, checkout, upsert } from '../helpers/commerce';
import { startInstances, twoInstances } from '../helpers/instances';
import { JOB_FIELDS, record, sleep, waitFor, type JobView } from '../helpers/jobs';
import { uniquePrefix } from '../helpers/redis';
import { execute, wsClient } from '../helpers/ws';

let a: TestApp; // subscribers
let b: TestApp; // where orders change
let admin: string;
const clients: Client[] = [];
const two = twoInstances({ KEY_PREFIX: uniquePrefix('order-live') }, { admin: true });
beforeAll(async () => {
  ({ a, b, admin } = two);
  await upsert(a, admin, { id: 'live-mug', priceCents: 1200, stock: 100 });
});
afterAll(async () => {
  await Promise.all(clients.map(async (c) => c.dispose()));
});

const ws = (t: TestApp, token?: string): Client => {
  const c = wsClient(t.url, { token });
  clients.push(c);
  return c;
};

const WATCH = 'subscription W($id: ID!) { orderUpdated(id: $id) { id status totalCents items { productId quantity } createdAt updatedAt } }';
type Update = { orderUpdated: { id: string; status: string; totalCents: number; items: Array<{ productId: string; quantity: number }>; updatedAt: string } };

async function buy(token: string, quantity = 1): Promise<string> {
  await addToCart(a, token, 'live-mug', quantity);
  const res = await checkout(a, token);
  if (!res.data?.checkout) throw new Error(JSON.stringify(res.errors));
  return res.data.checkout.id;
}

test('the owner gets the order now, then each status change made on another instance, then completion', async () => {
  const u = await registerUser(a);
  const orderId = await buy(u.token, 2);
  const rec = record<Update>(ws(a, u.token), WATCH, { id: orderId });
  await rec.until((ev) => ev.length >= 1);
  // Changes made on instance B: both steps of the processing.
  await b.app.services.orders.process(orderId);
  const events = await rec.until((ev) => ev.some((e) => e.orderUpdated.status === 'COMPLETED'));
  expect(rec.errors).toEqual([]);
  expect(events.map((e) => e.orderUpdated.status)).toEqual(['PENDING', 'PROCESSING', 'COMPLETED']);
  expect(events[0].orderUpdated).toMatchObject({ id: orderId, totalCents: 2400, items: [{ productId: 'live-mug', quantity: 2 }] });
  // Each message is the order at that step: its updatedAt moves on.
  const times = events.map((e) => Date.parse(e.orderUpdated.updatedAt));
  expect(times[2]).toBeGreaterThanOrEqual(times[1]);
  await waitFor('the subscription to complete', async () => rec.completed);
  // Nothing after the final status.
  await sleep(200);
  expect(rec.events).toHaveLength(3);
});

test('an admin may watch any order; a cancel on another instance is its last message', async () => {
  const u = await registerUser(b);
  const orderId = await buy(u.token);
  const owner = record<Update>(ws(a, u.token), WATCH, { id: orderId });
  const byAdmin = record<Update>(ws(a, admin), WATCH, { id: orderId });
  await owner.until((ev) => ev.length >= 1);
  await byAdmin.until((ev) => ev.length >= 1);
  const res = await b.gql('mutation C($id: ID!) { cancelOrder(id: $id) { status } }', { id: orderId }, { token: u.token });
  expect(res.data?.cancelOrder.status).toBe('CANCELLED');
  for (const rec of [owner, byAdmin]) {
    const events = await rec.until((ev) => ev.some((e) => e.orderUpdated.status === 'CANCELLED'));
    expect(events.map((e) => e.orderUpdated.status)).toEqual(['PENDING', 'CANCELLED']);
    await waitFor('completion', async () => rec.completed);
  }
});

test('a finished order is sent once as it is, and the subscription completes', async () => {
  const u = await registerUser(a);
  const orderId = await buy(u.token);
  await b.app.services.orders.process(orderId);
  const rec = record<Update>(ws(a, u.token), WATCH, { id: orderId });
  await waitFor('completion', async () => rec.completed);
  expect(rec.events.map((e) => e.data.orderUpdated.status)).toEqual(['COMPLETED']);
});

test('anyone else, anonymous included, gets NOT_FOUND: the same error as for an order that does not exist', async () => {
  const owner = await registerUser(a);
  const orderId = await buy(owner.token);
  const stranger = await registerUser(a);
  const answers = [];
  for (const [client, id] of [
    [ws(a, stranger.token), orderId],
    [ws(a), orderId],
    [ws(a, stranger.token), 'f'.repeat(32)],
    [ws(a), 'f'.repeat(32)],
    [ws(a, stranger.token), '../{catalog}:x'],
    [ws(a, stranger.token), 'x'.repeat(5000)],
  ] as const) {
    const rec = record<Update>(client, WATCH, { id });
    await rec.until(() => false, 3000).catch(() => undefined);
    answers.push({ events: rec.events.length, errors: rec.errors.map((e) => ({ code: e.extensions?.code, message: e.message })) });
  }
  for (const answer of answers) expect(answer).toEqual({ events: 0, errors: [{ code: 'NOT_FOUND', message: 'Order not found' }] });
  // The owner's own subscription still works after all that.
  const mine = record<Update>(ws(a, owner.token), WATCH, { id: orderId });
  expect((await mine.until((ev) => ev.length >= 1))[0].orderUpdated.status).toBe('PENDING');
  mine.stop();
});

test('a subscriber that stops leaves nothing behind on the instance', async () => {
  const u = await registerUser(a);
  const orderId = await buy(u.token);
  const rec = record<Update>(ws(a, u.token), WATCH, { id: orderId });
  await rec.until((ev) => ev.length >= 1);
  rec.stop();
  await waitFor('the watcher to go', async () => (a.app.services.orderUpdates as unknown as { byOrder: Map<string, unknown> }).byOrder.size === 0);
});

describe('the order.process job belongs to the buyer', () => {
  test('jobUpdated("order-<id>") works for the owner (worker on another instance) and is NOT_FOUND for others; job and myJobs show it', async () => {
    const pair = await startInstances({ KEY_PREFIX: uniquePrefix('order-job') }, { admin: true, a: { WORKER: '0' }, b: { WORKER: '1' } });
    try {
      let release: () => void = () => {};
      const gate = new Promise<void>((r) => (release = r));
      pair.b.app.services.orders.useFulfiller(() => gate);
      await upsert(pair.a, pair.admin, { id: 'job-mug', stock: 5 });
      const u = await registerUser(pair.a);
      const stranger = await registerUser(pair.a);
      await addToCart(pair.a, u.token, 'job-mug', 1);
      const orderId = (await checkout(pair.a, u.token)).data?.checkout.id as string;
      const jobId = `order-${orderId}`;
      const c = wsClient(pair.a.url, { token: u.token });
      const c2 = wsClient(pair.a.url, { token: stranger.token });
      try {
        const rec = record<{ jobUpdated: JobView }>(c, `subscription J($id: ID!) { jobUpdated(id: $id) { ${JOB_FIELDS} } }`, { id: jobId });
        await rec.until((ev) => ev.some((e) => e.jobUpdated.state === 'ACTIVE'), 10_000);
        release();
        const events = await rec.until((ev) => ev.some((e) => e.jobUpdated.state === 'COMPLETED'), 10_000);
        expect(rec.errors).toEqual([]);
        expect(events.at(-1)?.jobUpdated).toMatchObject({
          id: jobId,
          type: 'order.process',
          state: 'COMPLETED',
          data: { orderId },
          result: { orderId, status: 'COMPLETED' },
        });
        rec.stop();

        const other = record(c2, `subscription J($id: ID!) { jobUpdated(id: $id) { id } }`, { id: jobId });
        await other.until(() => false, 2000).catch(() => undefined);
        expect(other.errors.map((e) => e.extensions?.code)).toEqual(['NOT_FOUND']);

        expect((await pair.a.gql('query J($id: ID!) { job(id: $id) { id state } }', { id: jobId }, { token: u.token })).data?.job).toEqual({
          id: jobId,
          state: 'COMPLETED',
        });
        expect((await pair.a.gql('query J($id: ID!) { job(id: $id) { id } }', { id: jobId }, { token: stranger.token })).data?.job).toBeNull();
        const mine = await execute(c, '{ myJobs { id type state } }');
        expect(mine.data?.myJobs).toEqual([{ id: jobId, type: 'order.process', state: 'COMPLETED' }]);
        expect((await execute(c2, '{ myJobs { id } }')).data?.myJobs).toEqual([]);
      } finally {
        release();
        await c.dispose();
        await c2.dispose();
      }
    } finally {
      await pair.close();
    }
  }, 60_000);
});
