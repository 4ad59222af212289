/** Checkout: never oversells across instances, idempotent, atomic against cart edits; orders stay private. */
import { registerUser, type TestApp } from '../helpers/app';
import { twoInstances } from '../helpers/instances';
import { ORDER_FIELDS, addToCart, cart, checkout, code, guestToken, lines, product, upsert } from '../helpers/commerce';
import { rawRedis, uniquePrefix } from '../helpers/redis';
import { within } from '../helpers/eventually';

let a: TestApp;
let b: TestApp;
let admin: string;
const prefix = uniquePrefix('checkout');
const two = twoInstances({ KEY_PREFIX: prefix }, { admin: true });
beforeAll(() => ({ a, b, admin } = two));

const stockOf = async (id: string): Promise<number> => (await product(a, id)).data?.product.stock;

test('200 concurrent checkouts on two instances sell exactly the 50 units in stock', async () => {
  await upsert(a, admin, { id: 'hot', name: 'Hot item', priceCents: 999, stock: 200 });
  const users = await Promise.all(Array.from({ length: 200 }, (_, i) => registerUser(i % 2 ? a : b)));
  for (const u of users) expect((await addToCart(a, u.token, 'hot', 1)).errors).toBeUndefined();
  await upsert(a, admin, { id: 'hot', name: 'Hot item', priceCents: 999, stock: 50 });

  const r = rawRedis();
  let lowest = Infinity;
  let watching = true;
  const watcher = (async () => {
    while (watching) {
      lowest = Math.min(lowest, Number(await r.hget(`${prefix}:cat:{catalog}:stock`, 'hot')));
      await new Promise((done) => setImmediate(done));
    }
  })();
  const results = await Promise.all(users.map((u, i) => checkout(i % 2 ? b : a, u.token)));
  watching = false;
  await watcher;
  r.disconnect();

  const sold = results.filter((res) => res.data?.checkout);
  const refused = results.filter((res) => code(res) === 'OUT_OF_STOCK');
  expect(sold).toHaveLength(50);
  expect(refused).toHaveLength(150);
  expect(refused[0].errors?.[0].extensions?.lines).toEqual([{ productId: 'hot', requested: 1, available: 0 }]);
  expect(new Set(sold.map((res) => res.data?.checkout.id)).size).toBe(50);
  expect(sold.every((res) => res.data?.checkout.status === 'PENDING' && res.data.checkout.totalCents === 999)).toBe(true);
  expect(Number.isFinite(lowest)).toBe(true);
  expect(lowest).toBeGreaterThanOrEqual(0);
  expect(await stockOf('hot')).toBe(0);
  expect((await product(b, 'hot')).data?.product.stock).toBe(0);
  // Winners' carts are empty; the others keep theirs.
  const carts = await Promise.all(users.map((u) => cart(a, u.token)));
  expect(carts.filter((c) => c.data?.cart.itemCount === 0)).toHaveLength(50);
  expect(carts.filter((c) => c.data?.cart.itemCount === 1)).toHaveLength(150);
}, 60_000);

test('an order keeps names and prices at purchase time; the cart is emptied', async () => {
  await upsert(a, admin, { id: 'book', name: 'Book', priceCents: 2500, stock: 10 });
  await upsert(a, admin, { id: 'pen', name: 'Pen', priceCents: 150, stock: 10 });
  const u = await registerUser(a);
  await addToCart(a, u.token, 'book', 2);
  await addToCart(a, u.token, 'pen', 3);
  const order = (await checkout(b, u.token)).data?.checkout;
  expect(order).toMatchObject({
    status: 'PENDING',
    totalCents: 5450,
    currency: 'USD',
    items: [
      { productId: 'book', name: 'Book', unitPriceCents: 2500, quantity: 2 },
      { productId: 'pen', name: 'Pen', unitPriceCents: 150, quantity: 3 },
    ],
  });
  expect(Date.parse(order.createdAt)).toBeGreaterThan(Date.now() - 10_000);
  expect((await cart(a, u.token)).data?.cart.items).toEqual([]);
  expect([await stockOf('book'), await stockOf('pen')]).toEqual([8, 7]);

  await upsert(a, admin, { id: 'book', name: 'Book 2nd ed.', priceCents: 3000, stock: 8 });
  const again = await a.gql(`query O($id: ID!) { order(id: $id) { ${ORDER_FIELDS} } }`, { id: order.id }, { token: u.token });
  expect(again.data?.order).toEqual(order);
});

test('an empty cart is refused', async () => {
  const u = await registerUser(a);
  const res = await checkout(a, u.token);
  expect(code(res)).toBe('BAD_USER_INPUT');
  expect(res.errors?.[0].message).toBe('Your cart is empty');
});

test('a short line refuses the whole checkout, listing every short line, and changes nothing', async () => {
  await upsert(a, admin, { id: 's-1', stock: 5 });
  await upsert(a, admin, { id: 's-2', stock: 5 });
  await upsert(a, admin, { id: 's-3', stock: 5 });
  const u = await registerUser(a);
  await addToCart(a, u.token, 's-1', 2);
  await addToCart(a, u.token, 's-2', 4);
  await addToCart(a, u.token, 's-3', 5);
  await upsert(a, admin, { id: 's-2', stock: 3 });
  await upsert(a, admin, { id: 's-3', stock: 0 });
  const res = await checkout(a, u.token);
  expect(code(res)).toBe('OUT_OF_STOCK');
  expect(res.errors?.[0].extensions?.lines).toEqual([
    { productId: 's-2', requested: 4, available: 3 },
    { productId: 's-3', requested: 5, available: 0 },
  ]);
  expect([await stockOf('s-1'), await stockOf('s-2'), await stockOf('s-3')]).toEqual([5, 3, 0]);
  expect(lines((await cart(a, u.token)).data?.cart)).toEqual({ 's-1': 2, 's-2': 4, 's-3': 5 });
  expect((await a.gql('{ myOrders { id } }', {}, { token: u.token })).data?.myOrders).toEqual([]);
});

test('concurrent retries with one idempotency key make one order', async () => {
  await upsert(a, admin, { id: 'idem', stock: 10 });
  const u = await registerUser(a);
  await addToCart(a, u.token, 'idem', 2);
  const results = await Promise.all(Array.from({ length: 20 }, (_, i) => checkout(i % 2 ? a : b, u.token, 'key-1')));
  expect(results.every((res) => !res.errors)).toBe(true);
  const ids = new Set(results.map((res) => res.data?.checkout.id));
  expect(ids.size).toBe(1);
  expect(await stockOf('idem')).toBe(8);

  // Later retries, even with an empty cart, answer the same order; a new key buys anew.
  const late = await checkout(b, u.token, 'key-1');
  expect(late.data?.checkout.id).toBe([...ids][0]);
  expect(code(await checkout(b, u.token, 'key-2'))).toBe('BAD_USER_INPUT');
  expect((await a.gql('{ myOrders { id } }', {}, { token: u.token })).data?.myOrders).toHaveLength(1);

  // Keys are per user: another user's same key is another order.
  const v = await registerUser(a);
  await addToCart(a, v.token, 'idem', 1);
  const theirs = await checkout(a, v.token, 'key-1');
  expect(theirs.data?.checkout.id).not.toBe([...ids][0]);
  expect(await stockOf('idem')).toBe(7);
});

test('a cart edited while it is checked out ends consistent', async () => {
  await upsert(a, admin, { id: 'edit-a', priceCents: 100, stock: 1000 });
  await upsert(a, admin, { id: 'edit-b', priceCents: 10, stock: 1000 });
  let bought = { a: 0, b: 0 };
  for (let round = 0; round < 25; round++) {
    const u = await registerUser(a);
    await addToCart(a, u.token, 'edit-a', 2);
    const [order, edit] = await Promise.all([checkout(a, u.token), addToCart(b, u.token, 'edit-b', 1)]);
    expect(order.errors).toBeUndefined();
    expect(edit.errors).toBeUndefined();
    const items = lines({
      items: order.data?.checkout.items.map((i: { productId: string; quantity: number }) => ({ product: { id: i.productId }, quantity: i.quantity })),
    });
    const left = lines((await cart(a, u.token)).data?.cart);
    // Either the edit came first and was bought, or it came after and is all the cart holds.
    if (items['edit-b']) expect(left).toEqual({});
    else expect(left).toEqual({ 'edit-b': 1 });
    expect(items['edit-a']).toBe(2);
    bought = { a: bought.a + 2, b: bought.b + (items['edit-b'] ?? 0) };
  }
  expect([await stockOf('edit-a'), await stockOf('edit-b')]).toEqual([1000 - bought.a, 1000 - bought.b]);
}, 30_000);

test('checkout needs a signed-in user', async () => {
  await upsert(a, admin, { id: 'guesty', stock: 3 });
  const g = await guestToken(a);
  await addToCart(a, g, 'guesty', 1);
  const res = await checkout(a, g);
  expect(code(res)).toBe('UNAUTHENTICATED');
  expect(code(await checkout(a, null))).toBe('UNAUTHENTICATED');
  expect(await stockOf('guesty')).toBe(3);
});

test('orders are read by their owner and admins only', async () => {
  await upsert(a, admin, { id: 'private', stock: 5 });
  const owner = await registerUser(a);
  const other = await registerUser(a);
  await addToCart(a, owner.token, 'private', 1);
  const id = (await checkout(a, owner.token)).data?.checkout.id;
  const q = 'query O($id: ID!) { order(id: $id) { id status } }';
  expect((await b.gql(q, { id }, { token: owner.token })).data?.order).toEqual({ id, status: 'PENDING' });
  expect((await b.gql(q, { id }, { token: admin })).data?.order).toEqual({ id, status: 'PENDING' });
  const stranger = await b.gql(q, { id }, { token: other.token });
  expect(stranger.errors).toBeUndefined();
  expect(stranger.data?.order).toBeNull();
  expect((await b.gql(q, { id: 'f'.repeat(32) }, { token: other.token })).data?.order).toBeNull();
  expect(code(await b.gql(q, { id }))).toBe('UNAUTHENTICATED');
  expect((await b.gql('{ myOrders { id } }', {}, { token: owner.token })).data?.myOrders).toEqual([{ id }]);
  expect((await b.gql('{ myOrders { id } }', {}, { token: other.token })).data?.myOrders).toEqual([]);
  expect(code(await b.gql('{ myOrders { id } }'))).toBe('UNAUTHENTICATED');
  const g = await guestToken(a);
  expect(code(await b.gql('{ myOrders { id } }', {}, { token: g }))).toBe('UNAUTHENTICATED');
});

test('recommendations: bought together first, then best sellers; never itself, never out of stock', async () => {
  for (const id of ['r-a', 'r-b', 'r-c', 'r-d', 'r-e']) await upsert(a, admin, { id, stock: 100 });
  const buy = async (items: Record<string, number>): Promise<void> => {
    const u = await registerUser(a);
    for (const [id, n] of Object.entries(items)) await addToCart(a, u.token, id, n);
    expect((await checkout(a, u.token)).errors).toBeUndefined();
  };
  await buy({ 'r-a': 1, 'r-b': 1 });
  await buy({ 'r-a': 1, 'r-b': 1, 'r-c': 1 });
  await buy({ 'r-a': 1, 'r-c': 1 });
  await buy({ 'r-a': 1, 'r-b': 1 });
  await buy({ 'r-e': 90 });
  const recs = async (id: string, limit = 3): Promise<string[]> =>
    (await b.gql('query R($id: ID!, $n: Int) { recommendations(productId: $id, limit: $n) { id stock } }', { id, n: limit })).data?.recommendations.map(
      (p: { id: string }) => p.id,
    );
  expect(await recs('r-a')).toEqual(['r-b', 'r-c', 'r-e']);
  expect(await recs('r-c')).toEqual(['r-a', 'r-b', 'r-e']);
  // No co-purchases: best sellers (r-e sold 90), never r-d itself.
  expect((await recs('r-d', 2))[0]).toBe('r-e');
  expect(await recs('r-d', 20)).not.toContain('r-d');

  await upsert(a, admin, { id: 'r-b', stock: 0 });
  // b hears of the change within a second (across a Cluster, product.updated also crosses the cluster bus).
  expect(await within(1000, async () => !(await recs('r-a')).includes('r-b'))).toBeLessThan(1000);
  expect(await recs('r-a')).toEqual(['r-c', 'r-e', expect.any(String)]);
  expect(await recs('r-a', 20)).not.toContain('r-b');
  const bad = await b.gql('{ recommendations(productId: "r-a", limit: 21) { id } }');
  expect(bad.errors?.[0].extensions?.fields).toEqual({ limit: ['must be at most 20'] });
  // Text that can never be a product id has nothing beside it (and never reaches a key).
  for (const id of ['r-a:x', '{catalog}', '../r-a', 'r a', '', "'); redis.call('FLUSHALL') --"]) expect(await recs(id)).toEqual([]);
});
