/**
 * Domain events that requests append: registration appends user.registered, checkout
 * order.placed, processing order.completed or order.failed, each once and matching
 * schema/events.schema.json. The streams themselves are in test/integration/events.test.ts.
 */
import type Redis from 'ioredis';
import { FulfilmentRefused } from '../../src/services/commerce/order.service';
import { ADMIN_ENV, adminToken, registerUser, startTestApp, type TestApp } from '../helpers/app';
import { addToCart, checkout, upsert } from '../helpers/commerce';
import { events, readGroup } from '../helpers/events';
import { rawRedis } from '../helpers/redis';

let t: TestApp;
let r: Redis;
beforeAll(async () => {
  t = await startTestApp({ EVENT_STREAM_MAXLEN: '100', ...ADMIN_ENV });
  r = rawRedis();
});
afterAll(async () => {
  r.disconnect();
  await t.close();
});

test('each registration appends one user.registered event that a consumer group reads and acknowledges', async () => {
  const stream = t.app.services.domainEvents.stream('users');
  expect(stream).toBe(`${t.prefix}:events:{users}`);
  await r.xgroup('CREATE', stream, 'mailer', '$', 'MKSTREAM');
  const users = await Promise.all([0, 1, 2].map(() => registerUser(t)));

  const entries = await readGroup(r, stream, 'mailer', 'm1');
  const got = events(entries);
  expect(got.map((e) => e.data).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)))).toEqual(
    users.map((u) => ({ userId: u.userId, email: u.email, name: 'Test User' })).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
  );
  for (const e of got) {
    expect(e).toMatchObject({
      type: 'user.registered',
      version: 1,
      source: t.app.services.instances.id,
      id: `user.registered:${e.data && (e.data as { userId: string }).userId}`,
    });
    expect(Math.abs(Date.parse(e.occurredAt) - Date.now())).toBeLessThan(10_000);
  }
  expect(await r.xack(stream, 'mailer', ...entries.map(([id]) => id))).toBe(3);
  expect(((await r.xpending(stream, 'mailer')) as [number])[0]).toBe(0);
  // A failed registration (taken email) appends nothing.
  const dup = await t.gql('mutation($i: RegisterInput!) { register(input: $i) { token } }', {
    i: { email: users[0].email, password: 'correct-horse-42', name: 'X' },
  });
  expect(dup.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  expect(await readGroup(r, stream, 'mailer', 'm1')).toEqual([]);
});

test('checkout appends order.placed, processing order.completed or order.failed: once each, with the order as it is', async () => {
  const stream = t.app.services.domainEvents.stream('orders');
  // The order scripts append to it, so it shares their slot.
  expect(stream).toBe(`${t.prefix}:events:{catalog}:orders`);
  await r.xgroup('CREATE', stream, 'ledger', '$', 'MKSTREAM');
  const admin = await adminToken(t);
  await upsert(t, admin, { id: 'ev-1', priceCents: 1250, stock: 5, currency: 'EUR' });
  const buy = async (): Promise<{ id: string; userId: string }> => {
    const u = await registerUser(t);
    await addToCart(t, u.token, 'ev-1', 2);
    const res = await checkout(t, u.token, `key-${u.userId}`);
    // A retry with the same key returns the same order and appends nothing.
    expect((await checkout(t, u.token, `key-${u.userId}`)).data?.checkout.id).toBe(res.data?.checkout.id);
    return { id: res.data?.checkout.id as string, userId: u.userId };
  };
  const ok = await buy();
  const bad = await buy();
  await t.app.services.orders.process(ok.id);
  await t.app.services.orders.process(ok.id);
  t.app.services.orders.useFulfiller(async () => {
    throw new FulfilmentRefused('card declined');
  });
  try {
    await t.app.services.orders.process(bad.id);
  } finally {
    t.app.services.orders.useFulfiller(async () => {});
  }
  await t.app.services.orders.fail(bad.id, 'again');

  const got = events(await readGroup(r, stream, 'ledger', 'l1'));
  const line = [{ productId: 'ev-1', quantity: 2, unitPriceCents: 1250 }];
  const base = { items: line, totalCents: 2500, currency: 'EUR' };
  expect(got.map((e) => [e.type, e.id, e.data])).toEqual([
    ['order.placed', `order.placed:${ok.id}`, { orderId: ok.id, userId: ok.userId, status: 'PENDING', ...base, reason: null }],
    ['order.placed', `order.placed:${bad.id}`, { orderId: bad.id, userId: bad.userId, status: 'PENDING', ...base, reason: null }],
    ['order.completed', `order.completed:${ok.id}`, { orderId: ok.id, userId: ok.userId, status: 'COMPLETED', ...base, reason: null }],
    ['order.failed', `order.failed:${bad.id}`, { orderId: bad.id, userId: bad.userId, status: 'FAILED', ...base, reason: 'card declined' }],
  ]);
  for (const e of got) {
    expect(e.source).toBe(t.app.services.instances.id);
    expect(Math.abs(Date.parse(e.occurredAt) - Date.now())).toBeLessThan(10_000);
  }
});
