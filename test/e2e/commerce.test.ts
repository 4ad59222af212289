/** A shopper's journey over HTTP with cookies: browse, guest cart, sign up (cart kept), check out, order completes. */
import { gqlRequest, startTestApp, ADMIN_ENV, adminToken, type TestApp } from '../helpers/app';
import { CART_FIELDS, ORDER_FIELDS, lines, upsert } from '../helpers/commerce';

let t: TestApp;

beforeAll(async () => {
  t = await startTestApp(ADMIN_ENV);
  const admin = await adminToken(t);
  await upsert(t, admin, { id: 'e2e-kettle', name: 'Kettle', priceCents: 4500, stock: 3 });
  await upsert(t, admin, { id: 'e2e-tea', name: 'Green tea', priceCents: 800, stock: 40 });
  await upsert(t, admin, { id: 'e2e-cups', name: 'Cups', priceCents: 1600, stock: 12 });
});
afterAll(() => t.close());

/** A browser: keeps the session cookie the gateway sets. */
function browser() {
  let cookie = '';
  return async (query: string, variables?: Record<string, unknown>) => {
    const res = await gqlRequest(t.url, query, variables, { cookie });
    const set = res.headers.get('set-cookie');
    const m = set && /gw_session=([^;]*)/.exec(set);
    if (m) cookie = `gw_session=${m[1]}`;
    return res;
  };
}

test('browse as a guest, sign up keeping the cart, check out once, and the order completes', async () => {
  const gql = browser();
  const catalog = await gql('{ products { id name priceCents stock } }');
  expect(catalog.data?.products.map((p: { id: string }) => p.id)).toEqual(['e2e-cups', 'e2e-kettle', 'e2e-tea']);

  expect((await gql('mutation { startGuestSession { user { id } } }')).data?.startGuestSession.user).toBeNull();
  await gql('mutation { addToCart(input: { productId: "e2e-kettle", quantity: 1 }) { itemCount } }');
  const guestCart = await gql(`mutation { addToCart(input: { productId: "e2e-tea", quantity: 2 }) { ${CART_FIELDS} } }`);
  expect(guestCart.data?.addToCart).toMatchObject({ itemCount: 3, subtotalCents: 6100 });

  const email = `shopper-${Date.now()}@example.com`;
  const reg = await gql('mutation R($i: RegisterInput!) { register(input: $i) { user { email } } }', {
    i: { email, password: 'shopping-1234', name: 'Shopper' },
  });
  expect(reg.data?.register.user.email).toBe(email);
  const mine = await gql(`{ cart { ${CART_FIELDS} } }`);
  expect(lines(mine.data?.cart)).toEqual({ 'e2e-kettle': 1, 'e2e-tea': 2 });

  const key = 'checkout-attempt-1';
  const first = await gql(`mutation C($k: String) { checkout(idempotencyKey: $k) { ${ORDER_FIELDS} } }`, { k: key });
  const retry = await gql(`mutation C($k: String) { checkout(idempotencyKey: $k) { id } }`, { k: key });
  expect(first.data?.checkout).toMatchObject({ totalCents: 6100, currency: 'USD' });
  expect(retry.data?.checkout.id).toBe(first.data?.checkout.id);
  expect((await gql('{ cart { itemCount } }')).data?.cart.itemCount).toBe(0);
  expect((await gql('{ product(id: "e2e-kettle") { stock } }')).data?.product.stock).toBe(2);

  // No worker runs in this app (WORKER=0): processing is what the order.process job would do.
  const orderId = first.data?.checkout.id;
  expect((await gql('query O($id: ID!) { order(id: $id) { status } }', { id: orderId })).data?.order.status).toBe('PENDING');
  await t.app.services.orders.process(orderId);
  expect((await gql('query O($id: ID!) { order(id: $id) { status } }', { id: orderId })).data?.order.status).toBe('COMPLETED');
  expect((await gql('{ myOrders { id status } }')).data?.myOrders).toEqual([{ id: orderId, status: 'COMPLETED' }]);

  const recs = await gql('{ recommendations(productId: "e2e-kettle", limit: 2) { id } }');
  expect(recs.data?.recommendations).toEqual([{ id: 'e2e-tea' }, { id: 'e2e-cups' }]);
});
