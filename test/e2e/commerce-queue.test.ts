/** With workers running, the order.process job that checkout enqueues completes the order. */
import { registerUser, startTestApp, ADMIN_ENV, adminToken, type TestApp } from '../helpers/app';
import { addToCart, checkout, upsert } from '../helpers/commerce';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ ...ADMIN_ENV, WORKER: '1' });
});
afterAll(() => t.close());

test('checkout -> order.process job -> COMPLETED', async () => {
  await upsert(t, await adminToken(t), { id: 'queued', stock: 5 });
  const u = await registerUser(t);
  await addToCart(t, u.token, 'queued', 2);
  const id = (await checkout(t, u.token, 'once')).data?.checkout.id;
  let status = 'PENDING';
  for (let i = 0; i < 100 && status !== 'COMPLETED'; i++) {
    await new Promise((done) => setTimeout(done, 50));
    status = (await t.gql('query O($id: ID!) { order(id: $id) { status } }', { id }, { token: u.token })).data?.order.status;
  }
  expect(status).toBe('COMPLETED');
  expect((await t.gql('{ product(id: "queued") { stock } }')).data?.product.stock).toBe(3);
});

describe('when every attempt fails on a passing error', () => {
  let f: TestApp;
  beforeAll(async () => {
    f = await startTestApp({ ...ADMIN_ENV, WORKER: '1', JOB_MAX_ATTEMPTS: '2', JOB_BACKOFF: '50ms' });
    let calls = 0;
    f.app.services.orders.useFulfiller(async () => {
      calls++;
      throw new Error(`warehouse timeout ${calls}`);
    });
  });
  afterAll(() => f.close());

  test('the order ends FAILED with its stock released instead of staying PROCESSING', async () => {
    await upsert(f, await adminToken(f), { id: 'flaky', stock: 5 });
    const u = await registerUser(f);
    await addToCart(f, u.token, 'flaky', 2);
    const id = (await checkout(f, u.token, 'flaky-once')).data?.checkout.id;
    expect((await f.gql('{ product(id: "flaky") { stock } }')).data?.product.stock).toBe(3);
    let status = 'PENDING';
    for (let i = 0; i < 200 && status !== 'FAILED'; i++) {
      await new Promise((done) => setTimeout(done, 50));
      status = (await f.gql('query O($id: ID!) { order(id: $id) { status } }', { id }, { token: u.token })).data?.order.status;
    }
    expect(status).toBe('FAILED');
    expect((await f.gql('{ product(id: "flaky") { stock } }')).data?.product.stock).toBe(5);
  });
});
