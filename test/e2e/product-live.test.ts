/**
 * productUpdated over real graphql-ws clients: anyone (anonymous, guest, signed in) follows the
 * stock and price of up to 100 products; changes made on another instance (upsert, adjustStock,
 * checkout, cancel) arrive; ids are bounded and checked; unknown ids are accepted and silent until
 * the product exists. Subscribers with the same selection share one execution per change whoever
 * they are and whatever ids they watch, and a socket that stops reading is closed, not buffered.
 */
import type { Client } from 'graphql-ws';
import WebSocket from 'ws';
import { registerUser, type TestApp } from '../helpers/app';
import { addToCart, checkout, guestToken, upsert } from '../helpers/commerce';
import { twoInstances } from '../helpers/instances';
import { record, sleep, waitFor } from '../helpers/jobs';
import { rawRedis, testRedisMode, uniquePrefix } from '../helpers/redis';
import { wsClient } from '../helpers/ws';
import { ProductResolver } from '../../src/resolvers/commerce/product.resolver';

let a: TestApp; // subscribers
let b: TestApp; // changes
let admin: string;
const prefix = uniquePrefix('product-live');
const clients: Client[] = [];
const two = twoInstances({ KEY_PREFIX: prefix }, { admin: true });
beforeAll(async () => {
  ({ a, b, admin } = two);
  await upsert(b, admin, { id: 'pl-tee', name: 'Tee', priceCents: 1900, stock: 10 });
  await upsert(b, admin, { id: 'pl-mug', name: 'Mug', priceCents: 1200, stock: 5 });
  // On a Cluster a message crosses the cluster bus: let these two arrive before anyone subscribes.
  if (testRedisMode() === 'cluster') await sleep(300);
});
afterAll(async () => {
  await Promise.all(clients.map(async (c) => c.dispose()));
});

const ws = (token?: string): Client => {
  const c = wsClient(a.url, { token });
  clients.push(c);
  return c;
};
const WATCH = 'subscription P($ids: [ID!]!) { productUpdated(ids: $ids) { id name priceCents currency stock } }';
type P = { productUpdated: { id: string; name: string; priceCents: number; currency: string; stock: number } };
/** Waits until instance A has `n` watchers of the product: a subscription is live once it is indexed. */
const watchers = (id: string, n: number): Promise<boolean> => waitFor(`${n} watchers of ${id}`, async () => a.app.services.productUpdates.watching(id) >= n);

test('anonymous, guest and signed-in subscribers on one instance get every stock and price change made on another', async () => {
  const u = await registerUser(a);
  const guest = await guestToken(a);
  const anon = record<P>(ws(), WATCH, { ids: ['pl-tee', 'pl-mug'] });
  const signed = record<P>(ws(u.token), WATCH, { ids: ['pl-tee'] });
  const asGuest = record<P>(ws(guest), WATCH, { ids: ['pl-mug', 'pl-tee', 'pl-tee'] });
  await watchers('pl-tee', 3);

  await upsert(b, admin, { id: 'pl-tee', name: 'Tee', priceCents: 1700, stock: 10 }); // price
  await b.gql('mutation { adjustStock(productId: "pl-tee", delta: 5) { stock } }', {}, { token: admin }); // 15
  const buyer = await registerUser(b);
  await addToCart(b, buyer.token, 'pl-tee', 2);
  await addToCart(b, buyer.token, 'pl-mug', 1);
  const order = (await checkout(b, buyer.token)).data?.checkout; // tee 13, mug 4
  await b.gql('mutation C($id: ID!) { cancelOrder(id: $id) { status } }', { id: order.id }, { token: buyer.token }); // tee 15, mug 5

  const tee = ['1700:10', '1700:15', '1700:13', '1700:15'];
  const mug = ['1200:4', '1200:5'];
  const seen = (rec: typeof anon, id: string): string[] =>
    rec.events.filter((e) => e.data.productUpdated.id === id).map((e) => `${e.data.productUpdated.priceCents}:${e.data.productUpdated.stock}`);
  await anon.until(() => seen(anon, 'pl-tee').length >= 4 && seen(anon, 'pl-mug').length >= 2);
  await signed.until(() => seen(signed, 'pl-tee').length >= 4);
  await asGuest.until(() => seen(asGuest, 'pl-tee').length >= 4 && seen(asGuest, 'pl-mug').length >= 2);
  await sleep(200);
  for (const rec of [anon, signed, asGuest]) expect(rec.errors).toEqual([]);
  expect([seen(anon, 'pl-tee'), seen(anon, 'pl-mug')]).toEqual([tee, mug]);
  expect([seen(signed, 'pl-tee'), seen(signed, 'pl-mug')]).toEqual([tee, []]);
  expect([seen(asGuest, 'pl-tee'), seen(asGuest, 'pl-mug')]).toEqual([tee, mug]);
  expect(anon.events[0].data.productUpdated).toEqual({ id: 'pl-tee', name: 'Tee', priceCents: 1700, currency: 'USD', stock: 10 });
  for (const rec of [anon, signed, asGuest]) rec.stop();
});

test('subscribers with the same selection share one execution per change, whoever they are and whatever ids they watch', async () => {
  const spy = jest.spyOn(ProductResolver.prototype, 'productUpdated');
  try {
    const u = await registerUser(a);
    const same = [
      record<P>(ws(), WATCH, { ids: ['pl-mug'] }),
      record<P>(ws(u.token), WATCH, { ids: ['pl-mug', 'pl-tee'] }),
      record<P>(ws(), 'subscription Other($list: [ID!]!) { productUpdated(ids: $list) { id name priceCents currency stock } }', { list: ['pl-mug', 'x-1'] }),
    ];
    const other = record<{ productUpdated: { stock: number } }>(ws(u.token), 'subscription { productUpdated(ids: ["pl-mug"]) { stock } }');
    await watchers('pl-mug', 4);
    spy.mockClear();
    await b.gql('mutation { adjustStock(productId: "pl-mug", delta: 1) { stock } }', {}, { token: admin });
    for (const rec of [...same, other]) await rec.until((ev) => ev.length >= 1);
    // Two selections: two executions for four subscribers.
    expect(spy).toHaveBeenCalledTimes(2);
    const texts = same.map((rec) => JSON.stringify(rec.events[0].data));
    expect(new Set(texts).size).toBe(1);
    expect(other.events[0].data).toEqual({ productUpdated: { stock: same[0].events[0].data.productUpdated.stock } });
    for (const rec of [...same, other]) rec.stop();
  } finally {
    spy.mockRestore();
  }
});

test('1 to 100 well-formed ids: BAD_USER_INPUT otherwise, naming the bad one; the same for anonymous callers', async () => {
  const ids100 = Array.from({ length: 100 }, (_, i) => `p-${i}`);
  const cases: Array<[unknown, RegExp]> = [
    [[], /1 to 100 product ids, not 0/],
    [[...ids100, 'p-100'], /1 to 100 product ids, not 101/],
    [['pl-tee', '../etc'], /ids\[1\] is not a product id/],
    [['{catalog}'], /ids\[0\] is not a product id/],
    [['a:b'], /ids\[0\] is not a product id/],
    [['x'.repeat(65)], /ids\[0\] is not a product id/],
    [["'); redis.call('FLUSHALL') --"], /ids\[0\] is not a product id/],
  ];
  for (const [ids, message] of cases) {
    const rec = record<P>(ws(), WATCH, { ids });
    await rec.until(() => false, 2000).catch(() => undefined);
    expect(rec.errors.map((e) => e.extensions?.code)).toEqual(['BAD_USER_INPUT']);
    expect(rec.errors[0].message).toMatch(message);
  }
  const ok = record<P>(ws(), WATCH, { ids: ids100 });
  await sleep(300);
  expect(ok.errors).toEqual([]);
  ok.stop();
});

test('an unknown id is accepted and silent until a product with it exists; other products are not sent', async () => {
  const rec = record<P>(ws(), WATCH, { ids: ['pl-soon'] });
  await watchers('pl-soon', 1);
  await b.gql('mutation { adjustStock(productId: "pl-tee", delta: 1) { stock } }', {}, { token: admin });
  await sleep(300);
  expect(rec.events).toEqual([]);
  await upsert(b, admin, { id: 'pl-soon', name: 'Soon', priceCents: 900, stock: 3 });
  expect((await rec.until((ev) => ev.length >= 1))[0]).toEqual({ productUpdated: { id: 'pl-soon', name: 'Soon', priceCents: 900, currency: 'USD', stock: 3 } });
  rec.stop();
});

test('a socket that stops reading is closed (1013) once its unsent messages pile up; the others get everything', async () => {
  const reader = record<P>(ws(), WATCH, { ids: ['pl-flood'] });
  const stalled = new WebSocket(a.url.replace(/^http/, 'ws') + '/graphql', 'graphql-transport-ws');
  const closed = new Promise<number>((resolve) => stalled.once('close', (code) => resolve(code)));
  await new Promise<void>((resolve) => stalled.once('open', () => resolve()));
  stalled.send(JSON.stringify({ type: 'connection_init' }));
  await new Promise<void>((resolve) => stalled.once('message', () => resolve()));
  stalled.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: WATCH, variables: { ids: ['pl-flood'] } } }));
  await watchers('pl-flood', 2);
  // The client stops reading: the server's writes back up into its buffer.
  (stalled as unknown as { _socket: { pause(): void } })._socket.pause();
  const r = rawRedis();
  // Large messages, so that the socket's buffers (kernel ones included) fill within a few publishes.
  const name = 'n'.repeat(8000);
  let sent = 0;
  try {
    // Published as the scripts publish (one message, many products), to make megabytes quickly.
    const gaveUp = Date.now() + 30_000;
    // The server lets go of the stalled subscription (the reader's stays).
    while (a.app.services.productUpdates.watching('pl-flood') > 1 && Date.now() < gaveUp) {
      const products = Array.from({ length: 200 }, (_, i) => ({ id: 'pl-flood', name, priceCents: 100, currency: 'USD', stock: sent + i }));
      await r.publish(`${prefix}:ch:product.updated`, JSON.stringify({ products }));
      sent += 200;
      await sleep(50);
    }
    expect(a.app.services.productUpdates.watching('pl-flood')).toBe(1);
    // Once the client reads again, what was sent arrives, then the close: 1013, try again later.
    (stalled as unknown as { _socket: { resume(): void } })._socket.resume();
    expect(await closed).toBe(1013);
  } finally {
    r.disconnect();
    stalled.terminate();
  }
  await reader.until((ev) => ev.length >= sent, 30_000);
  expect(reader.events.map((e) => e.data.productUpdated.stock)).toEqual(Array.from({ length: sent }, (_, i) => i));
  reader.stop();
}, 60_000);
