/** Order processing: PENDING -> PROCESSING -> COMPLETED, or FAILED with stock released; idempotent; the job handler. */
import { registerUser, startTestApp, ADMIN_ENV, adminToken, type TestApp } from '../helpers/app';
import { addToCart, checkout, code, product, upsert } from '../helpers/commerce';
import { FulfilmentRefused, ORDER_UPDATED_TOPIC, type InternalQueue, type OrderUpdatedEvent } from '../../src/services/commerce/order.service';
import orderProcess from '../../src/services/jobs/handlers/order-process';

let t: TestApp;
let admin: string;

beforeAll(async () => {
  t = await startTestApp(ADMIN_ENV);
  admin = await adminToken(t);
});
afterEach(() => t.app.services.orders.useFulfiller(async () => {}));
afterAll(() => t.close());

/** A signed-in user who just bought `n` units of a fresh product with `stock` units. */
async function freshOrder(id: string, n = 2, stock = 10): Promise<{ orderId: string; token: string }> {
  await upsert(t, admin, { id, stock });
  const u = await registerUser(t);
  await addToCart(t, u.token, id, n);
  const res = await checkout(t, u.token);
  if (!res.data?.checkout) throw new Error(JSON.stringify(res.errors));
  return { orderId: res.data.checkout.id, token: u.token };
}

const statusOf = async (orderId: string, token: string): Promise<string> =>
  (await t.gql('query O($id: ID!) { order(id: $id) { status } }', { id: orderId }, { token })).data?.order.status;

test('processing completes an order, reports progress and announces every step; running it again changes nothing', async () => {
  const events: OrderUpdatedEvent[] = [];
  const stop = await t.app.services.pubsub.listen<OrderUpdatedEvent>(ORDER_UPDATED_TOPIC, (e) => events.push(e));
  const { orderId, token } = await freshOrder('p-ok');
  const progress: number[] = [];
  const order = await t.app.services.orders.process(orderId, (p) => {
    progress.push(p);
  });
  expect(order.status).toBe('COMPLETED');
  expect(progress).toEqual([50, 100]);
  expect(await statusOf(orderId, token)).toBe('COMPLETED');

  const again = await t.app.services.orders.process(orderId);
  expect(again.status).toBe('COMPLETED');
  expect(again.updatedAt).toBe(order.updatedAt);
  await new Promise((done) => setTimeout(done, 100));
  stop();
  expect(events.filter((e) => e.orderId === orderId).map((e) => e.status)).toEqual(['PENDING', 'PROCESSING', 'COMPLETED']);
  expect(events.find((e) => e.orderId === orderId)?.userId).toEqual(expect.any(String));
  expect((await product(t, 'p-ok')).data?.product.stock).toBe(8);
});

test('a refused fulfilment fails the order and gives its stock back exactly once', async () => {
  const { orderId, token } = await freshOrder('p-fail', 3, 5);
  expect((await product(t, 'p-fail')).data?.product.stock).toBe(2);
  t.app.services.orders.useFulfiller(async () => {
    throw new FulfilmentRefused('payment declined');
  });
  const order = await t.app.services.orders.process(orderId);
  expect(order).toMatchObject({ status: 'FAILED', reason: 'payment declined' });
  expect(await statusOf(orderId, token)).toBe('FAILED');
  expect((await product(t, 'p-fail')).data?.product.stock).toBe(5);

  await t.app.services.orders.process(orderId);
  await t.app.services.orders.fail(orderId, 'again');
  expect((await product(t, 'p-fail')).data?.product.stock).toBe(5);
});

test('a passing fulfilment error leaves the order PROCESSING for the next attempt', async () => {
  const { orderId, token } = await freshOrder('p-retry');
  let calls = 0;
  t.app.services.orders.useFulfiller(async () => {
    if (++calls === 1) throw new Error('payment provider timed out');
  });
  await expect(t.app.services.orders.process(orderId)).rejects.toThrow('timed out');
  expect(await statusOf(orderId, token)).toBe('PROCESSING');
  expect((await t.app.services.orders.process(orderId)).status).toBe('COMPLETED');
  expect(calls).toBe(2);
  expect((await product(t, 'p-retry')).data?.product.stock).toBe(8);
});

test('concurrent processing of one order moves it once and releases stock once', async () => {
  const done = await freshOrder('p-race');
  const failed = await freshOrder('p-race-fail', 4, 10);
  const events: OrderUpdatedEvent[] = [];
  const stop = await t.app.services.pubsub.listen<OrderUpdatedEvent>(ORDER_UPDATED_TOPIC, (e) => events.push(e));
  await Promise.all(Array.from({ length: 5 }, () => t.app.services.orders.process(done.orderId)));
  t.app.services.orders.useFulfiller(async () => {
    throw new FulfilmentRefused('address unknown');
  });
  await Promise.all(Array.from({ length: 5 }, () => t.app.services.orders.process(failed.orderId)));
  await new Promise((resolve) => setTimeout(resolve, 100));
  stop();
  // What processing published. The checkout's own PENDING came before the listener, but on a Cluster
  // it crosses the cluster bus and may reach the new subscription after all: it is not processing's.
  const moves = (orderId: string): string[] => events.filter((e) => e.orderId === orderId && e.status !== 'PENDING').map((e) => e.status);
  expect(moves(done.orderId)).toEqual(['PROCESSING', 'COMPLETED']);
  expect(moves(failed.orderId)).toEqual(['PROCESSING', 'FAILED']);
  expect((await product(t, 'p-race')).data?.product.stock).toBe(8);
  expect((await product(t, 'p-race-fail')).data?.product.stock).toBe(10);
});

describe('the order.process job handler', () => {
  test('is internal and accepts only an order id', () => {
    expect(orderProcess).toMatchObject({ type: 'order.process', internal: true });
    expect(() => orderProcess.validate({}, t.app.services, { kind: 'internal' })).toThrow('order.process needs an order id');
    expect(() => orderProcess.validate({ orderId: '../x' }, t.app.services, { kind: 'internal' })).toThrow();
    expect(orderProcess.validate({ orderId: 'a'.repeat(32) }, t.app.services, { kind: 'internal' })).toEqual({ orderId: 'a'.repeat(32) });
  });

  test('runs the order to COMPLETED and reports progress; a rerun of the job is harmless', async () => {
    const { orderId, token } = await freshOrder('p-job');
    const progress: number[] = [];
    const job = { id: 'job-1', data: { orderId }, attempt: 1, updateProgress: async (p: number) => void progress.push(p) };
    expect(await orderProcess.run(job, t.app.services)).toEqual({ orderId, status: 'COMPLETED' });
    expect(await orderProcess.run({ ...job, attempt: 2 }, t.app.services)).toEqual({ orderId, status: 'COMPLETED' });
    expect(progress).toEqual([50, 100]);
    expect(await statusOf(orderId, token)).toBe('COMPLETED');
  });
});

test('checkout hands each new order to the queue once per order id, owned by the buyer', async () => {
  const calls: Array<{ type: string; data: Record<string, unknown>; jobId?: string; owner?: string | null }> = [];
  const queue: InternalQueue = {
    async enqueueInternal(type, data, opts) {
      calls.push({ type, data, jobId: opts?.jobId, owner: opts?.owner });
      return { id: opts?.jobId ?? 'x' };
    },
    removePending: async () => false,
  };
  t.app.services.orders.useQueue(() => queue);
  try {
    await upsert(t, admin, { id: 'p-queue', stock: 5 });
    const u = await registerUser(t);
    await addToCart(t, u.token, 'p-queue', 1);
    const first = await checkout(t, u.token, 'q-1');
    const retry = await checkout(t, u.token, 'q-1');
    const orderId = first.data?.checkout.id;
    expect(retry.data?.checkout.id).toBe(orderId);
    expect(calls).toEqual([
      { type: 'order.process', data: { orderId }, jobId: `order-${orderId}`, owner: `u:${u.userId}` },
      { type: 'order.process', data: { orderId }, jobId: `order-${orderId}`, owner: `u:${u.userId}` },
    ]);
    expect(code(await checkout(t, u.token))).toBe('BAD_USER_INPUT');
    expect(calls).toHaveLength(2);
  } finally {
    t.app.services.orders.useQueue(() => undefined);
  }
});

describe('orders whose hand-off to the queue was lost', () => {
  test('requeueStale hands PENDING orders older than the limit to the queue, and only those', async () => {
    const calls: string[] = [];
    const recording: InternalQueue = {
      async enqueueInternal(_type, data, opts) {
        calls.push(`${String(data.orderId)}:${opts?.jobId}`);
        return { id: opts?.jobId ?? 'x' };
      },
      removePending: async () => false,
    };
    // Checkout with no queue: the hand-off is lost and the order stays PENDING.
    t.app.services.orders.useQueue(() => undefined);
    const { orderId, token } = await freshOrder('p-lost', 1);
    expect(await statusOf(orderId, token)).toBe('PENDING');
    t.app.services.orders.useQueue(() => recording);
    try {
      // Not old enough yet.
      expect(await t.app.services.orders.requeueStale(60_000)).toBe(0);
      expect(await t.app.services.orders.requeueStale(0)).toBeGreaterThanOrEqual(1);
      expect(calls).toContain(`${orderId}:order-${orderId}`);
      // Once it has left PENDING it is never handed over again.
      await t.app.services.orders.process(orderId);
      calls.length = 0;
      await t.app.services.orders.requeueStale(0);
      expect(calls.filter((c) => c.startsWith(orderId))).toEqual([]);
    } finally {
      t.app.services.orders.useQueue(() => undefined);
    }
  });

  test("a worker's recovery sweep completes an order whose checkout never reached the queue", async () => {
    const w = await startTestApp({ ...ADMIN_ENV, WORKER: '1', JOB_RECOVER_INTERVAL: '300ms', ORDER_REQUEUE_AFTER: '500ms' });
    try {
      const wAdmin = await adminToken(w);
      await upsert(w, wAdmin, { id: 'p-sweep', stock: 3 });
      const u = await registerUser(w);
      await addToCart(w, u.token, 'p-sweep', 2);
      const queue = () => (w.app.services as { jobs?: InternalQueue }).jobs;
      w.app.services.orders.useQueue(() => undefined);
      const res = await checkout(w, u.token);
      w.app.services.orders.useQueue(queue);
      const orderId = res.data?.checkout.id as string;
      expect(res.data?.checkout.status).toBe('PENDING');
      const deadline = Date.now() + 10_000;
      let status = 'PENDING';
      while (status !== 'COMPLETED' && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        status = (await w.gql('query O($id: ID!) { order(id: $id) { status } }', { id: orderId }, { token: u.token })).data?.order.status;
      }
      expect(status).toBe('COMPLETED');
      expect((await product(w, 'p-sweep')).data?.product.stock).toBe(1);
    } finally {
      await w.close();
    }
  });
});
