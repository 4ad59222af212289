/** With workers running, the order.process job that checkout enqueues completes the order. */
import { registerUser, startTestApp, type TestApp } from '../helpers/app';
import { ADMIN_ENV, addToCart, adminToken, checkout, upsert } from '../helpers/commerce';

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
