/**
 * A guest's cart lives as long as its guest session, plus a small grace: it stays while the
 * guest keeps browsing (without touching the cart), goes soon after the session ends (idle or
 * absolute), at once at logout, and still merges into the user's cart at sign-in.
 */
import type Redis from 'ioredis';
import { registerUser, startTestApp, ADMIN_ENV, adminToken, type TestApp } from '../helpers/app';
import { sleep } from '../helpers/analytics';
import { addToCart, cart, code, lines, upsert } from '../helpers/commerce';
import { rawRedis } from '../helpers/redis';

// Idle 2 s, absolute 6 s, grace 1 s: a guest cart may outlive its session by at most a second.
const ENV = { ...ADMIN_ENV, SESSION_IDLE_TTL: '2s', SESSION_MAX_AGE: '6s', GUEST_CART_GRACE: '1s' };
let t: TestApp;
let r: Redis;

beforeAll(async () => {
  t = await startTestApp(ENV);
  r = rawRedis();
  await upsert(t, await adminToken(t), { id: 'tea', name: 'Tea', priceCents: 450, stock: 1000 });
});
afterAll(async () => {
  r.disconnect();
  await t.close();
});

async function guest(): Promise<{ token: string; key: string }> {
  const res = await t.gql('mutation { startGuestSession { token session { id } } }');
  const { token, session } = res.data!.startGuestSession;
  return { token, key: t.app.services.keys.cart(`g:${session.id}`) };
}

/** Requests that need the session but never the cart, every `everyMs` for `forMs`. */
async function browse(token: string, forMs: number, everyMs = 300): Promise<void> {
  const end = Date.now() + forMs;
  while (Date.now() < end) {
    expect((await t.gql('{ me { id } }', {}, { token })).errors).toBeUndefined();
    await sleep(everyMs);
  }
}

test('the cart of a guest who keeps browsing stays, however long since the cart was last used', async () => {
  const g = await guest();
  await addToCart(t, g.token, 'tea', 2);
  await browse(g.token, 4500);
  expect(lines((await cart(t, g.token)).data?.cart)).toEqual({ tea: 2 });
}, 20_000);

test('a guest cart goes within the grace after its session idles out', async () => {
  const g = await guest();
  await addToCart(t, g.token, 'tea', 1);
  const added = Date.now();
  const pttl = await r.pttl(g.key);
  // Never beyond the session's idle lifetime plus the grace.
  expect(pttl).toBeGreaterThan(0);
  expect(pttl).toBeLessThanOrEqual(3000);
  await sleep(Math.max(0, added + 3300 - Date.now()));
  expect(await r.exists(g.key)).toBe(0);
}, 20_000);

test('a guest cart goes within the grace after its session reaches its absolute end', async () => {
  const g = await guest();
  const started = Date.now();
  await addToCart(t, g.token, 'tea', 1);
  await browse(g.token, 5000);
  // The session ends 6 s after it started; the cart at most a second later.
  await sleep(Math.max(0, started + 7300 - Date.now()));
  expect(code(await cart(t, g.token))).toBe('UNAUTHENTICATED');
  expect(await r.exists(g.key)).toBe(0);
}, 20_000);

test('logging a guest out deletes its cart', async () => {
  const g = await guest();
  await addToCart(t, g.token, 'tea', 1);
  expect(await r.exists(g.key)).toBe(1);
  expect((await t.gql('mutation { logout }', {}, { token: g.token })).data?.logout).toBe(true);
  expect(await r.exists(g.key)).toBe(0);
});

test('signing in still takes the guest cart into the user cart', async () => {
  const g = await guest();
  await addToCart(t, g.token, 'tea', 3);
  const u = await registerUser(t, { token: g.token });
  expect(lines((await cart(t, u.token)).data?.cart)).toEqual({ tea: 3 });
  expect(await r.exists(g.key)).toBe(0);
});
