/**
 * cancelOrder: the owner while PENDING or PROCESSING, or an admin; the stock goes back exactly
 * once (retries and concurrent cancels on two instances), the order's job stops (removed while
 * waiting; if it runs, it does not complete the order); anyone else gets NOT_FOUND, a finished
 * order BAD_USER_INPUT. Over HTTP and over WebSocket alike.
 */
import type { Client } from 'graphql-ws';
import { registerUser, type TestApp } from '../helpers/app';
import { addToCart, checkout, code, product, upsert } from '../helpers/commerce';
import { events as domainEvents } from '../helpers/events';
import { startInstances, twoInstances } from '../helpers/instances';
import { jobOf, waitFor } from '../helpers/jobs';
import { uniquePrefix } from '../helpers/redis';
import { execute, wsClient } from '../helpers/ws';

let a: TestApp;
let b: TestApp;
let admin: string;
const two = twoInstances({ KEY_PREFIX: uniquePrefix('order-cancel') }, { admin: true });
beforeAll(() => ({ a, b, admin } = two));

const CANCEL = 'mutation C($id: ID!) { cancelOrder(id: $id) { id status totalCents items { productId quantity } } }';
const stockOf = async (t: TestApp, id: string): Promise<number> => (await product(t, id)).data?.product.stock;

async function buy(t: TestApp, token: string, lines: Record<string, number>): Promise<string> {
  for (const [id, n] of Object.entries(lines)) expect((await addToCart(t, token, id, n)).errors).toBeUndefined();
  const res = await checkout(t, token);
  if (!res.data?.checkout) throw new Error(JSON.stringify(res.errors));
  return res.data.checkout.id;
}

test('the owner cancels a PENDING order: CANCELLED, its units back to stock, its waiting job removed', async () => {
  await upsert(a, admin, { id: 'c-tee', stock: 10 });
  await upsert(a, admin, { id: 'c-cap', stock: 5 });
  const u = await registerUser(a);
  const orderId = await buy(a, u.token, { 'c-tee': 3, 'c-cap': 2 });
  expect([await stockOf(a, 'c-tee'), await stockOf(b, 'c-cap')]).toEqual([7, 3]);
  // No worker runs here: the job waits. Its owner sees it.
  expect((await jobOf(a, u.token, `order-${orderId}`))?.state).toBe('WAITING');

  const res = await b.gql(CANCEL, { id: orderId }, { token: u.token });
  expect(res.errors).toBeUndefined();
  expect(res.data?.cancelOrder).toMatchObject({ id: orderId, status: 'CANCELLED' });
  // Both instances see the stock back (their catalog caches were dropped in the same step).
  expect([await stockOf(a, 'c-tee'), await stockOf(b, 'c-tee'), await stockOf(a, 'c-cap'), await stockOf(b, 'c-cap')]).toEqual([10, 10, 5, 5]);
  expect((await a.gql('query O($id: ID!) { order(id: $id) { status } }', { id: orderId }, { token: u.token })).data?.order.status).toBe('CANCELLED');
  expect(await jobOf(a, u.token, `order-${orderId}`)).toBeNull();
  // The job no longer counts in the buyer's quota.
  expect((await a.gql('{ myJobQuota { pending } }', {}, { token: u.token })).data?.myJobQuota.pending).toBe(0);

  // A retry answers the cancelled order and gives nothing back twice.
  const again = await a.gql(CANCEL, { id: orderId }, { token: u.token });
  expect(again.data?.cancelOrder.status).toBe('CANCELLED');
  expect(await stockOf(a, 'c-tee')).toBe(10);
  // The recovery sweep does not hand it to the queue again.
  expect(await a.app.services.orders.requeueStale(0)).toBe(0);
});

test('concurrent cancels of one order on two instances put its stock back exactly once, and all answer CANCELLED', async () => {
  await upsert(a, admin, { id: 'c-race', stock: 100 });
  const u = await registerUser(a);
  for (let round = 0; round < 5; round++) {
    const orderId = await buy(a, u.token, { 'c-race': 7 });
    expect(await stockOf(a, 'c-race')).toBe(93);
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).gql(CANCEL, { id: orderId }, { token: u.token })));
    expect(results.map((r) => r.errors?.[0]?.message ?? r.data?.cancelOrder.status)).toEqual(Array(20).fill('CANCELLED'));
    expect(await stockOf(b, 'c-race')).toBe(100);
  }
  // One order.cancelled event per order, in the orders stream.
  const events = await a.app.redis.xrange(a.app.services.domainEvents.stream('orders'), '-', '+');
  const cancelled = domainEvents(events.filter(([, f]) => f[1] === 'order.cancelled' && f[3].includes('"c-race"')));
  expect(cancelled).toHaveLength(5);
  expect(new Set(cancelled.map((e) => e.id)).size).toBe(5);
  expect(cancelled[0]).toMatchObject({
    type: 'order.cancelled',
    data: { status: 'CANCELLED', userId: u.userId, items: [{ productId: 'c-race', quantity: 7 }], reason: null },
  });
});

test("an admin may cancel anyone's order; anyone else gets NOT_FOUND, as for an unknown id; anonymous callers must sign in", async () => {
  await upsert(a, admin, { id: 'c-other', stock: 10 });
  const owner = await registerUser(a);
  const stranger = await registerUser(b);
  const orderId = await buy(a, owner.token, { 'c-other': 1 });
  for (const id of [orderId, 'f'.repeat(32), '../x', '{catalog}', 'a:b', 'x'.repeat(10_000), "'); redis.call('FLUSHALL') --"]) {
    const res = await b.gql(CANCEL, { id }, { token: stranger.token });
    expect({ id: id.slice(0, 40), code: code(res), message: res.errors?.[0]?.message }).toEqual({
      id: id.slice(0, 40),
      code: 'NOT_FOUND',
      message: 'Order not found',
    });
  }
  expect(code(await a.gql(CANCEL, { id: orderId }))).toBe('UNAUTHENTICATED');
  expect(await stockOf(a, 'c-other')).toBe(9);
  const res = await a.gql(CANCEL, { id: orderId }, { token: admin });
  expect(res.data?.cancelOrder.status).toBe('CANCELLED');
  expect(await stockOf(a, 'c-other')).toBe(10);
  // The admin's cancel is in the audit log; owners' own cancels are not admin actions.
  const log = await a.gql('{ auditLog(limit: 50) { action target } }', {}, { token: admin });
  expect(log.data?.auditLog).toContainEqual({ action: 'cancelOrder', target: orderId });
  const own = await buy(a, owner.token, { 'c-other': 1 });
  expect((await a.gql(CANCEL, { id: own }, { token: owner.token })).data?.cancelOrder.status).toBe('CANCELLED');
  const after = await a.gql('{ auditLog(limit: 50) { action target } }', {}, { token: admin });
  expect(after.data?.auditLog).not.toContainEqual({ action: 'cancelOrder', target: own });
});

test('a COMPLETED or FAILED order cannot be cancelled (BAD_USER_INPUT saying why), by its owner or an admin', async () => {
  await upsert(a, admin, { id: 'c-done', stock: 10 });
  const u = await registerUser(a);
  const done = await buy(a, u.token, { 'c-done': 2 });
  await b.app.services.orders.process(done);
  const failed = await buy(a, u.token, { 'c-done': 1 });
  await b.app.services.orders.fail(failed, 'payment declined');
  expect(await stockOf(a, 'c-done')).toBe(8);
  for (const [id, status] of [
    [done, 'COMPLETED'],
    [failed, 'FAILED'],
  ]) {
    for (const token of [u.token, admin]) {
      const res = await a.gql(CANCEL, { id }, { token });
      expect(code(res)).toBe('BAD_USER_INPUT');
      expect(res.errors?.[0]?.message).toBe(`Order ${id} is ${status}: only a PENDING or PROCESSING order can be cancelled`);
    }
  }
  expect(await stockOf(a, 'c-done')).toBe(8);
});

test('over WebSocket: the same answers', async () => {
  await upsert(a, admin, { id: 'c-ws', stock: 4 });
  const u = await registerUser(a);
  const stranger = await registerUser(a);
  const orderId = await buy(a, u.token, { 'c-ws': 4 });
  const mine: Client = wsClient(a.url, { token: u.token });
  const theirs: Client = wsClient(b.url, { token: stranger.token });
  const anon: Client = wsClient(b.url);
  try {
    expect((await execute(theirs, CANCEL, { id: orderId })).errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect((await execute(anon, CANCEL, { id: orderId })).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect((await execute(mine, CANCEL, { id: orderId })).data?.cancelOrder.status).toBe('CANCELLED');
    expect(await stockOf(b, 'c-ws')).toBe(4);
    await a.app.services.orders.process(orderId);
    expect((await execute(mine, CANCEL, { id: orderId })).data?.cancelOrder.status).toBe('CANCELLED');
  } finally {
    await Promise.all([mine, theirs, anon].map(async (c) => c.dispose()));
  }
});

describe('with a worker', () => {
  test('a cancel while the job runs: the processor sees it and does not complete the order; the stock comes back once', async () => {
    const pair = await startInstances({ KEY_PREFIX: uniquePrefix('cancel-active') }, { admin: true, a: { WORKER: '0' }, b: { WORKER: '1' } });
    try {
      let release: () => void = () => {};
      const gate = new Promise<void>((r) => (release = r));
      let fulfilled = 0;
      pair.b.app.services.orders.useFulfiller(async () => {
        fulfilled++;
        await gate;
      });
      const revenue: string[] = [];
      pair.b.app.services.orders.onCompleted(async (o) => void revenue.push(o.id));
      await upsert(pair.a, pair.admin, { id: 'c-active', stock: 6 });
      const u = await registerUser(pair.a);
      const orderId = await buy(pair.a, u.token, { 'c-active': 2 });
      const jobId = `order-${orderId}`;
      await waitFor('the job to run', async () => (await jobOf(pair.a, u.token, jobId))?.state === 'ACTIVE');
      const res = await pair.a.gql(CANCEL, { id: orderId }, { token: u.token });
      expect(res.data?.cancelOrder.status).toBe('CANCELLED');
      expect(await stockOf(pair.a, 'c-active')).toBe(6);
      release();
      const job = await waitFor('the job to finish', async () => {
        const j = await jobOf(pair.a, u.token, jobId);
        return j?.state === 'COMPLETED' || j?.state === 'FAILED' ? j : null;
      });
      expect(job).toMatchObject({ state: 'COMPLETED', result: { orderId, status: 'CANCELLED' } });
      expect(fulfilled).toBe(1);
      expect(revenue).toEqual([]);
      expect((await pair.a.gql('query O($id: ID!) { order(id: $id) { status } }', { id: orderId }, { token: u.token })).data?.order.status).toBe('CANCELLED');
      expect(await stockOf(pair.a, 'c-active')).toBe(6);
    } finally {
      await pair.close();
    }
  }, 60_000);
});
