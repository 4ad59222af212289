/** Sets the soak up through the gateway: the catalog, then the actors, signed in. */
import { BUYERS, CART_USERS, GUESTS, LOGIN_USERS, PAGES, PASSWORD, PRODUCTS, STOCK, VISITORS, Pool, price, productId, type Cart } from './actors';
import { ADMIN } from './gateway';
import { Q } from './queries';
import { post } from './requests';
import { RESTOCK_MS, Workload } from './workload';

export async function setUp(url: string, log: (l: string) => void): Promise<Workload> {
  const admin = (await post(url, Q.login, { i: ADMIN })).login.token as string;
  for (let i = 0; i < PRODUCTS; i++) {
    await post(url, Q.upsert, { i: { id: productId(i), name: `Soak product ${i}`, priceCents: price(i), stock: STOCK } }, admin);
  }
  const register = async (tag: string, i: number): Promise<Cart> => {
    const email = `soak-${tag}-${i}@example.com`;
    const d = (await post(url, Q.register, { i: { email, password: PASSWORD, name: `Soak ${tag} ${i}` } })).register;
    return { token: d.token, id: d.user.id, model: new Map(), busy: false };
  };
  const batch = async <T>(n: number, make: (i: number) => Promise<T>): Promise<T[]> => {
    const out: T[] = [];
    for (let i = 0; i < n; i += 10) out.push(...(await Promise.all(Array.from({ length: Math.min(10, n - i) }, (_, j) => make(i + j)))));
    return out;
  };
  const carts = await batch(CART_USERS, (i) => register('cart', i));
  const buyers = await batch(BUYERS, (i) => register('buyer', i));
  const logins = await batch(LOGIN_USERS, async (i) => ({ email: `soak-login-${i}@example.com`, id: (await register('login', i)).id }));
  // Fill each signing-in user's sessions to SESSIONS_PER_USER (10) now: from the start, every sign-in evicts one.
  await batch(LOGIN_USERS * 9, (i) => post(url, Q.login, { i: { email: logins[i % LOGIN_USERS].email, password: PASSWORD } }));
  const guests = await batch(GUESTS, async () => {
    const d = (await post(url, Q.guest, {})).startGuestSession;
    return { token: d.token as string, id: d.session.id as string, model: new Map<number, number>(), busy: false };
  });
  log(
    `set up: ${PRODUCTS} products (stock ${STOCK.toLocaleString('en-US')} each, topped up every ${RESTOCK_MS / 1000} s), ${CART_USERS} shoppers, ${GUESTS} guests, ${BUYERS} buyers, ${LOGIN_USERS} users signing in, ${VISITORS} visitors over ${PAGES} pages`,
  );
  return new Workload(url, admin, new Pool(carts), new Pool(guests), new Pool(buyers), logins);
}
