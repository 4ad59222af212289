/** Carts: ownership, line operations, stock and size limits, idle expiry, guest merge at sign-in. */
import { loginAs, registerUser, startTestApp, ADMIN_ENV, adminToken, type TestApp } from '../helpers/app';
import { addToCart, cart, code, guestToken, lines, setQuantity, upsert } from '../helpers/commerce';
import { rawRedis } from '../helpers/redis';

let t: TestApp;
let admin: string;

beforeAll(async () => {
  t = await startTestApp({ ...ADMIN_ENV, CART_IDLE_TTL: '2s' });
  admin = await adminToken(t);
  await upsert(t, admin, { id: 'mug', name: 'Mug', priceCents: 1200, stock: 5 });
  await upsert(t, admin, { id: 'tea', name: 'Tea', priceCents: 450, stock: 100 });
  await upsert(t, admin, { id: 'euro', name: 'Euro thing', priceCents: 100, stock: 100, currency: 'EUR' });
});
afterAll(() => t.close());

test('without a session the cart asks the client to start a guest session', async () => {
  const anonymous = [
    await cart(t, null),
    await addToCart(t, null, 'mug', 1),
    await setQuantity(t, null, 'mug', 1),
    await t.gql('mutation { removeFromCart(productId: "mug") { itemCount } }'),
    await t.gql('mutation { clearCart { itemCount } }'),
  ];
  for (const res of anonymous) {
    expect(code(res)).toBe('UNAUTHENTICATED');
    expect(res.errors?.[0].message).toMatch(/guest session/);
  }
});

test('a guest adds, sets, removes and clears lines at current prices', async () => {
  const g = await guestToken(t);
  expect((await cart(t, g)).data?.cart).toEqual({ items: [], itemCount: 0, subtotalCents: 0, currency: null });
  await addToCart(t, g, 'tea', 2);
  const added = (await addToCart(t, g, 'mug', 1)).data?.addToCart;
  expect(added).toMatchObject({ itemCount: 3, subtotalCents: 2100, currency: 'USD' });
  expect(added.items[0]).toEqual({ product: { id: 'mug', name: 'Mug', priceCents: 1200, currency: 'USD', stock: 5 }, quantity: 1, lineTotalCents: 1200 });
  expect(lines((await addToCart(t, g, 'tea', 3)).data?.addToCart)).toEqual({ mug: 1, tea: 5 });
  expect(lines((await setQuantity(t, g, 'tea', 1)).data?.setCartItemQuantity)).toEqual({ mug: 1, tea: 1 });

  await upsert(t, admin, { id: 'tea', name: 'Tea', priceCents: 500, stock: 100 });
  expect((await cart(t, g)).data?.cart.subtotalCents).toBe(1700);

  expect(lines((await setQuantity(t, g, 'tea', 0)).data?.setCartItemQuantity)).toEqual({ mug: 1 });
  const removed = await t.gql('mutation { removeFromCart(productId: "mug") { itemCount items { quantity } } }', {}, { token: g });
  expect(removed.data?.removeFromCart).toEqual({ itemCount: 0, items: [] });
  await addToCart(t, g, 'tea', 1);
  expect((await t.gql('mutation { clearCart { itemCount } }', {}, { token: g })).data?.clearCart.itemCount).toBe(0);
  expect((await cart(t, g)).data?.cart.items).toEqual([]);
});

test('adding more than the stock is refused with what is available', async () => {
  const g = await guestToken(t);
  await addToCart(t, g, 'mug', 4);
  const res = await addToCart(t, g, 'mug', 2);
  expect(code(res)).toBe('OUT_OF_STOCK');
  expect(res.errors?.[0].extensions).toMatchObject({ productId: 'mug', available: 5, inCart: 4 });
  expect(res.errors?.[0].message).toBe('Only 5 of mug are available and 4 are already in your cart');
  expect(code(await setQuantity(t, g, 'mug', 6))).toBe('OUT_OF_STOCK');
  expect(lines((await cart(t, g)).data?.cart)).toEqual({ mug: 4 });
});

test('quantities, lines, products and currencies are bounded', async () => {
  const g = await guestToken(t);
  const zero = await addToCart(t, g, 'tea', 0);
  expect(zero.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', fields: { quantity: ['must be at least 1'] } });
  expect((await addToCart(t, g, 'tea', 100)).errors?.[0].extensions?.fields).toEqual({ quantity: ['must be at most 99'] });
  expect((await setQuantity(t, g, 'tea', -1)).errors?.[0].extensions?.fields).toEqual({ quantity: ['must not be negative'] });
  expect((await addToCart(t, g, 'no such!', 1)).errors?.[0].extensions?.fields.productId[0]).toMatch(/letters, digits/);
  expect(code(await addToCart(t, g, 'missing', 1))).toBe('NOT_FOUND');

  await addToCart(t, g, 'tea', 90);
  const over = await addToCart(t, g, 'tea', 10);
  expect(code(over)).toBe('BAD_USER_INPUT');
  expect(over.errors?.[0].message).toMatch(/At most 99 units/);

  const mixed = await addToCart(t, g, 'euro', 1);
  expect(code(mixed)).toBe('BAD_USER_INPUT');
  expect(mixed.errors?.[0].message).toMatch(/in USD/);
  expect(lines((await cart(t, g)).data?.cart)).toEqual({ tea: 90 });
});

test('a cart holds at most 50 different products', async () => {
  await Promise.all(Array.from({ length: 51 }, (_, i) => upsert(t, admin, { id: `many-${String(i).padStart(2, '0')}`, stock: 5 })));
  const g = await guestToken(t);
  for (let i = 0; i < 50; i++) expect((await addToCart(t, g, `many-${String(i).padStart(2, '0')}`, 1)).errors).toBeUndefined();
  const res = await addToCart(t, g, 'many-50', 1);
  expect(code(res)).toBe('BAD_USER_INPUT');
  expect(res.errors?.[0].message).toMatch(/at most 50 different products/);
  expect((await cart(t, g)).data?.cart.items).toHaveLength(50);
});

test('concurrent adds never overshoot the stock', async () => {
  await upsert(t, admin, { id: 'scarce', stock: 10 });
  const g = await guestToken(t);
  const results = await Promise.all(Array.from({ length: 30 }, () => addToCart(t, g, 'scarce', 1)));
  expect(results.filter((r) => !r.errors).length).toBe(10);
  expect(results.filter((r) => code(r) === 'OUT_OF_STOCK').length).toBe(20);
  expect(lines((await cart(t, g)).data?.cart)).toEqual({ scarce: 10 });
});

test("a signed-in user's cart is the same on every device", async () => {
  const u = await registerUser(t);
  const other = await loginAs(t, u.email, u.password);
  await addToCart(t, u.token, 'tea', 2);
  expect(lines((await cart(t, other)).data?.cart)).toEqual({ tea: 2 });
  const stranger = await registerUser(t);
  expect((await cart(t, stranger.token)).data?.cart.items).toEqual([]);
});

test('carts expire after the idle lifetime, and use keeps them alive', async () => {
  const res = await t.gql('mutation { startGuestSession { token session { id } } }');
  const { token: g, session } = res.data!.startGuestSession;
  await addToCart(t, g, 'tea', 1);
  const key = `${t.prefix}:cart:{catalog}:g:${session.id}`;
  const r = rawRedis();
  try {
    const fresh = await r.pttl(key);
    expect(fresh).toBeGreaterThan(0);
    expect(fresh).toBeLessThanOrEqual(2000);
    await new Promise((done) => setTimeout(done, 1200));
    const aged = await r.pttl(key);
    expect(lines((await cart(t, g)).data?.cart)).toEqual({ tea: 1 }); // reading slides the lifetime
    expect(await r.pttl(key)).toBeGreaterThan(aged + 500);
  } finally {
    r.disconnect();
  }
  await new Promise((done) => setTimeout(done, 2300));
  expect((await cart(t, g)).data?.cart.items).toEqual([]);
}, 15_000);

describe('guest merge at sign-in', () => {
  test('login carrying a guest session adds its lines, capped by stock, and ends the guest session', async () => {
    const u = await registerUser(t);
    await addToCart(t, u.token, 'mug', 3);
    const g = await guestToken(t);
    await addToCart(t, g, 'mug', 4);
    await addToCart(t, g, 'tea', 2);
    const res = await t.gql(
      'mutation L($input: LoginInput!) { login(input: $input) { token } }',
      { input: { email: u.email, password: u.password } },
      { token: g },
    );
    const token = res.data?.login.token;
    expect(lines((await cart(t, token)).data?.cart)).toEqual({ mug: 5, tea: 2 });
    expect(lines((await cart(t, u.token)).data?.cart)).toEqual({ mug: 5, tea: 2 });
    expect(code(await cart(t, g))).toBe('UNAUTHENTICATED');
  });

  test('register carrying a guest session takes the guest cart', async () => {
    const g = await guestToken(t);
    await addToCart(t, g, 'tea', 3);
    const u = await registerUser(t, { token: g });
    expect(lines((await cart(t, u.token)).data?.cart)).toEqual({ tea: 3 });
    expect(code(await cart(t, g))).toBe('UNAUTHENTICATED');
  });

  test('lines in another currency than the user cart stay out', async () => {
    const u = await registerUser(t);
    await addToCart(t, u.token, 'tea', 1);
    const g = await guestToken(t);
    await addToCart(t, g, 'euro', 1);
    const res = await t.gql(
      'mutation L($input: LoginInput!) { login(input: $input) { token } }',
      { input: { email: u.email, password: u.password } },
      { token: g },
    );
    expect(lines((await cart(t, res.data?.login.token)).data?.cart)).toEqual({ tea: 1 });
  });
});

test("a cart's subtotal stays within what GraphQL's Int carries; a price rise past it makes checkout refuse, not fail", async () => {
  await upsert(t, admin, { id: 'yacht', name: 'Yacht', priceCents: 97_000_000, stock: 99 });
  const u = await registerUser(t);
  expect((await addToCart(t, u.token, 'yacht', 22)).data?.addToCart.subtotalCents).toBe(2_134_000_000);
  const over = await addToCart(t, u.token, 'yacht', 1);
  expect(code(over)).toBe('BAD_USER_INPUT');
  expect(over.errors?.[0].message).toMatch(/at most 2147483647 cents/);
  expect(lines((await cart(t, u.token)).data?.cart)).toEqual({ yacht: 22 });
  // The admin raises the price: the stored cart now reads as saturated, and checkout refuses it with nothing sold.
  await upsert(t, admin, { id: 'yacht', name: 'Yacht', priceCents: 100_000_000, stock: 99 });
  expect((await cart(t, u.token)).data?.cart.subtotalCents).toBe(2_147_483_647);
  const res = await t.gql('mutation { checkout { id } }', {}, { token: u.token });
  expect(code(res)).toBe('BAD_USER_INPUT');
  expect(res.errors?.[0].message).toMatch(/An order may total at most/);
  expect((await t.gql('{ product(id: "yacht") { stock } }')).data?.product.stock).toBe(99);
  expect(lines((await cart(t, u.token)).data?.cart)).toEqual({ yacht: 22 });
});
