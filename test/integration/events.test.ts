/**
 * Domain events on Redis Streams, through the events service: order events go to their own
 * stream, every event matches schema/events.schema.json, and a consumer group reads them
 * at-least-once (XREADGROUP, XACK, XAUTOCLAIM). What requests append is in test/e2e/events.test.ts.
 */
import type Redis from 'ioredis';
import type { DomainEvent, OrderEventData } from '../../src/services/events/domain-events.service';
import { eventSchema, events, orderData, readGroup, type Entry } from '../helpers/events';
import { validate } from '../helpers/json-schema';
import { rawRedis } from '../helpers/redis';
import { startServices, type ServicesHandle } from '../helpers/services';

let t: ServicesHandle;
let r: Redis;
beforeAll(async () => {
  t = await startServices({ EVENT_STREAM_MAXLEN: '100' });
  r = rawRedis();
});
afterAll(async () => {
  r.disconnect();
  await t.close();
});

test('at-least-once: an event a consumer took but never acknowledged is claimed by another', async () => {
  const stream = t.app.services.domainEvents.stream('orders');
  await r.xgroup('CREATE', stream, 'billing', '$', 'MKSTREAM');
  await t.app.services.domainEvents.append('order.placed', orderData(1));
  const [taken] = await readGroup(r, stream, 'billing', 'crashes');
  expect(events([taken])[0].data).toEqual(orderData(1));
  // "crashes" dies without XACK; the entry stays pending and another consumer claims it.
  const [, claimed] = (await r.xautoclaim(stream, 'billing', 'survivor', 0, '0-0', 'COUNT', 10)) as [string, Entry[]];
  expect(claimed.map(([id]) => id)).toEqual([taken[0]]);
  expect(events(claimed)[0]).toEqual(events([taken])[0]);
  expect(await r.xack(stream, 'billing', taken[0])).toBe(1);
});

test('consumers of one group share the work: each event goes to exactly one', async () => {
  const stream = t.app.services.domainEvents.stream('orders');
  await r.xgroup('CREATE', stream, 'shipping', '$', 'MKSTREAM');
  for (let n = 10; n < 30; n++)
    await t.app.services.domainEvents.append(n % 2 ? 'order.completed' : 'order.failed', orderData(n, n % 2 ? 'COMPLETED' : 'FAILED'));
  const first = await readGroup(r, stream, 'shipping', 'c1', 7);
  const second = await readGroup(r, stream, 'shipping', 'c2', 100);
  const ids = [...first, ...second].map(([, f]) => (JSON.parse(f[3]) as DomainEvent).data as OrderEventData).map((d) => d.orderId);
  expect(first).toHaveLength(7);
  expect(ids.sort()).toEqual(Array.from({ length: 20 }, (_, i) => `o${i + 10}`).sort());
  events([...first, ...second]);
});

test('streams are trimmed to about EVENT_STREAM_MAXLEN entries', async () => {
  for (let n = 0; n < 1000; n++) void t.app.services.domainEvents.append('order.placed', orderData(n));
  await t.app.services.domainEvents.append('order.placed', orderData(1000));
  const len = await r.xlen(t.app.services.domainEvents.stream('orders'));
  // MAXLEN ~ trims whole stream nodes (100 entries by default): at least 100 kept, far fewer than 1000.
  expect(len).toBeGreaterThanOrEqual(100);
  expect(len).toBeLessThan(300);
});

test('a deterministic id marks a re-appended event as the same event', async () => {
  const stream = t.app.services.domainEvents.stream('orders');
  await r.xgroup('CREATE', stream, 'dedupe', '$', 'MKSTREAM');
  await t.app.services.domainEvents.append('order.completed', orderData(7, 'COMPLETED'), { id: 'order.completed:o7' });
  await t.app.services.domainEvents.append('order.completed', orderData(7, 'COMPLETED'), { id: 'order.completed:o7' });
  const got = events(await readGroup(r, stream, 'dedupe', 'd1'));
  expect(got.map((e) => e.id)).toEqual(['order.completed:o7', 'order.completed:o7']);
});

test('the schema rejects what it should', () => {
  const good: DomainEvent = { id: 'x', type: 'order.placed', version: 1, occurredAt: new Date().toISOString(), source: 's', data: orderData(1) };
  expect(validate(eventSchema, good)).toEqual([]);
  expect(validate(eventSchema, { ...good, data: { userId: 'u', email: 'a@b.c', name: 'n' } })).not.toEqual([]);
  expect(validate(eventSchema, { ...good, version: 2 })).not.toEqual([]);
  expect(validate(eventSchema, { ...good, extra: 1 })).not.toEqual([]);
});
