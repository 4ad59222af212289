/**
 * Domain events on Redis Streams: registration appends user.registered, order
 * events go to their own stream, every event matches schema/events.schema.json,
 * and a consumer group reads them at-least-once (XREADGROUP, XACK, XAUTOCLAIM).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type Redis from 'ioredis';
import type { DomainEvent, OrderEventData } from '../../src/services/events/domain-events.service';
import { registerUser, startTestApp, ADMIN_ENV, adminToken, type TestApp } from '../helpers/app';
import { addToCart, checkout, upsert } from '../helpers/commerce';
import { FulfilmentRefused } from '../../src/services/commerce/order.service';
import { validate, type Schema } from '../helpers/json-schema';
import { rawRedis } from '../helpers/redis';

const schema = JSON.parse(readFileSync(path.join(__dirname, '..', '..', 'schema', 'events.schema.json'), 'utf8')) as Schema;

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

type Entry = [id: string, fields: string[]];
type ReadReply = Array<[stream: string, entries: Entry[]]> | null;

/** The `event` JSON of each entry, checked against the committed schema and the `type` field. */
function events(entries: Entry[]): DomainEvent[] {
  return entries.map(([, fields]) => {
    const f: Record<string, string> = {};
    for (let i = 0; i < fields.length; i += 2) f[fields[i]] = fields[i + 1];
    const event = JSON.parse(f.event) as DomainEvent;
    expect(validate(schema, event)).toEqual([]);
    expect(f.type).toBe(event.type);
    return event;
  });
}

const readGroup = async (stream: string, group: string, consumer: string, count = 100): Promise<Entry[]> => {
  const reply = (await r.xreadgroup('GROUP', group, consumer, 'COUNT', count, 'BLOCK', 1000, 'STREAMS', stream, '>')) as ReadReply;
  return reply?.[0]?.[1] ?? [];
};

const order = (n: number, status: OrderEventData['status'] = 'PENDING'): OrderEventData => ({
  orderId: `o${n}`,
  userId: 'u1',
  status,
  items: [{ productId: 'p1', quantity: 2, unitPriceCents: 1250 }],
  totalCents: 2500,
  currency: 'EUR',
  reason: status === 'FAILED' ? 'payment declined' : null,
});

test('each registration appends one user.registered event that a consumer group reads and acknowledges', async () => {
  const stream = t.app.services.domainEvents.stream('users');
  expect(stream).toBe(`${t.prefix}:events:{users}`);
  await r.xgroup('CREATE', stream, 'mailer', '$', 'MKSTREAM');
  const users = await Promise.all([0, 1, 2].map(() => registerUser(t)));

  const entries = await readGroup(stream, 'mailer', 'm1');
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
  expect(await readGroup(stream, 'mailer', 'm1')).toEqual([]);
});

test('at-least-once: an event a consumer took but never acknowledged is claimed by another', async () => {
  const stream = t.app.services.domainEvents.stream('orders');
  await r.xgroup('CREATE', stream, 'billing', '$', 'MKSTREAM');
  await t.app.services.domainEvents.append('order.placed', order(1));
  const [taken] = await readGroup(stream, 'billing', 'crashes');
  expect(events([taken])[0].data).toEqual(order(1));
  // "crashes" dies without XACK; the entry stays pending and another consumer claims it.
  const [, claimed] = (await r.xautoclaim(stream, 'billing', 'survivor', 0, '0-0', 'COUNT', 10)) as [string, Entry[]];
  expect(claimed.map(([id]) => id)).toEqual([taken[0]]);
  expect(events(claimed)[0]).toEqual(events([taken])[0]);
  expect(await r.xack(stream, 'billing', taken[0])).toBe(1);
});

test('consumers of one group share the work: each event goes to exactly one', async () => {
  const stream = t.app.services.domainEvents.stream('orders');
  await r.xgroup('CREATE', stream, 'shipping', '$', 'MKSTREAM');
  for (let n = 10; n < 30; n++) await t.app.services.domainEvents.append(n % 2 ? 'order.completed' : 'order.failed', order(n, n % 2 ? 'COMPLETED' : 'FAILED'));
  const first = await readGroup(stream, 'shipping', 'c1', 7);
  const second = await readGroup(stream, 'shipping', 'c2', 100);
  const ids = [...first, ...second].map(([, f]) => (JSON.parse(f[3]) as DomainEvent).data as OrderEventData).map((d) => d.orderId);
  expect(first).toHaveLength(7);
  expect(ids.sort()).toEqual(Array.from({ length: 20 }, (_, i) => `o${i + 10}`).sort());
  events([...first, ...second]);
});

test('streams are trimmed to about EVENT_STREAM_MAXLEN entries', async () => {
  for (let n = 0; n < 1000; n++) void t.app.services.domainEvents.append('order.placed', order(n));
  await t.app.services.domainEvents.append('order.placed', order(1000));
  const len = await r.xlen(t.app.services.domainEvents.stream('orders'));
  // MAXLEN ~ trims whole stream nodes (100 entries by default): at least 100 kept, far fewer than 1000.
  expect(len).toBeGreaterThanOrEqual(100);
  expect(len).toBeLessThan(300);
});

test('a deterministic id marks a re-appended event as the same event', async () => {
  const stream = t.app.services.domainEvents.stream('orders');
  await r.xgroup('CREATE', stream, 'dedupe', '$', 'MKSTREAM');
  await t.app.services.domainEvents.append('order.completed', order(7, 'COMPLETED'), { id: 'order.completed:o7' });
  await t.app.services.domainEvents.append('order.completed', order(7, 'COMPLETED'), { id: 'order.completed:o7' });
  const got = events(await readGroup(stream, 'dedupe', 'd1'));
  expect(got.map((e) => e.id)).toEqual(['order.completed:o7', 'order.completed:o7']);
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

  const got = events(await readGroup(stream, 'ledger', 'l1'));
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

test('the schema rejects what it should', () => {
  const good: DomainEvent = { id: 'x', type: 'order.placed', version: 1, occurredAt: new Date().toISOString(), source: 's', data: order(1) };
  expect(validate(schema, good)).toEqual([]);
  expect(validate(schema, { ...good, data: { userId: 'u', email: 'a@b.c', name: 'n' } })).not.toEqual([]);
  expect(validate(schema, { ...good, version: 2 })).not.toEqual([]);
  expect(validate(schema, { ...good, extra: 1 })).not.toEqual([]);
});
