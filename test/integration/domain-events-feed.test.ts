/**
 * The domainEvents delivery through the events service, against real Redis: a subscriber that
 * stops taking events leaves the feed once its queue is full and later gets every event from the
 * streams at its own pace; equal ids in two streams get cursors that resume between them; entries
 * other services append are shown as they are; a subscriber left behind by trimming gets
 * CURSOR_EXPIRED. What clients see over WebSocket is in test/e2e/domain-events.test.ts.
 */
import type Redis from 'ioredis';
import { cursorExpired, eventView } from '../../src/services/events/domain-events.service';
import { FEED_LIMITS, type SubscriptionMessage } from '../../src/services/events/event-feed';
import { compareMerged, mergedStreams, orderData } from '../helpers/events';
import { rawRedis } from '../helpers/redis';
import { startServices, type ServicesHandle } from '../helpers/services';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

let t: ServicesHandle;
let r: Redis;
beforeAll(async () => {
  t = await startServices({ EVENT_STREAM_MAXLEN: '100000' });
  r = rawRedis();
});
afterAll(async () => {
  r.disconnect();
  await t.close();
});

/** Takes `n` messages (or fewer when the subscription ends), failing after `timeoutMs`. */
async function take(it: AsyncIterator<SubscriptionMessage>, n: number, timeoutMs = 20_000): Promise<SubscriptionMessage[]> {
  const out: SubscriptionMessage[] = [];
  const end = Date.now() + timeoutMs;
  while (out.length < n) {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), Math.max(0, end - Date.now()))));
    const next = await Promise.race([it.next(), timeout]);
    clearTimeout(timer);
    if (next === 'timeout') throw new Error(`only ${out.length} of ${n} messages within ${timeoutMs} ms`);
    if (next.done) break;
    out.push(next.value);
  }
  return out;
}

const view = (m: SubscriptionMessage) => {
  if ('expired' in m) throw cursorExpired(m.expired);
  return eventView(m.entry, m.tied);
};

test('a subscriber that stops taking events leaves the feed once its queue is full, then gets all of them, in order, from the streams', async () => {
  const events = t.app.services.domainEvents;
  const sub = await events.subscribe(['order.placed'], null);
  expect(events.feed.size).toBe(1);
  const first = await events.append('order.placed', orderData(0));
  const n = FEED_LIMITS.queue + 500;
  for (let i = 1; i < n; i++) await events.append('order.placed', orderData(i));
  // Nothing was taken: the queue is dropped and the subscriber reads the streams itself from now on.
  const end = Date.now() + 10_000;
  while (events.feed.size > 0 && Date.now() < end) await sleep(20);
  expect(events.feed.size).toBe(0);

  const got = (await take(sub, n)).map(view);
  const want = (await mergedStreams(r, t.prefix)).filter((e) => e.type === 'order.placed' && compareMerged(e, { id: first, domain: 'users' }) >= 0);
  expect(want).toHaveLength(n);
  expect(got.map((e) => e.cursor)).toEqual(want.map((e) => e.id));
  expect(got.map((e) => e.data.orderId)).toEqual(Array.from({ length: n }, (_, i) => `o${i}`));
  // Caught up again: asked for more, it rejoins the feed and gets the next live event from it.
  const next = sub.next();
  while (events.feed.size === 0 && Date.now() < end + 10_000) await sleep(20);
  expect(events.feed.size).toBe(1);
  const live = await events.append('order.placed', orderData(n));
  expect(view((await next).value as SubscriptionMessage).cursor).toBe(live);
  await sub.return!();
  expect(events.feed.size).toBe(0);
});

describe('on a prefix of its own', () => {
  let own: ServicesHandle;
  beforeAll(async () => {
    own = await startServices({ EVENT_STREAM_MAXLEN: '100' });
  });
  afterAll(() => own.close());

  test('equal ids in two streams: the first names its stream, and resuming after either cursor gets exactly what follows', async () => {
    const events = own.app.services.domainEvents;
    const [users, orders] = [events.stream('users'), events.stream('orders')];
    const env = (type: string, data: object) => JSON.stringify({ id: type, type, version: 1, occurredAt: '2025-01-01T00:00:00.000Z', source: 'test', data });
    await r.xadd(users, '5000-0', 'type', 'user.registered', 'event', env('user.registered', { userId: 'a' }));
    await r.xadd(orders, '5000-0', 'type', 'order.placed', 'event', env('order.placed', { orderId: 'b' }));
    await r.xadd(orders, '5000-1', 'type', 'order.placed', 'event', env('order.placed', { orderId: 'c' }));
    await r.xadd(users, '5001-0', 'type', 'user.registered', 'event', env('user.registered', { userId: 'd' }));
    const from = async (after: string, n: number) => {
      const sub = await events.subscribe(['user.registered', 'order.placed'], after);
      const got = (await take(sub, n)).map(view);
      await sub.return!();
      return got.map((e) => [e.cursor, (e.data.userId ?? e.data.orderId) as string]);
    };
    expect(await from('0-0', 4)).toEqual([
      ['5000-0/users', 'a'],
      ['5000-0', 'b'],
      ['5000-1', 'c'],
      ['5001-0', 'd'],
    ]);
    expect(await from('5000-0/users', 3)).toEqual([
      ['5000-0', 'b'],
      ['5000-1', 'c'],
      ['5001-0', 'd'],
    ]);
    expect(await from('5000-0', 2)).toEqual([
      ['5000-1', 'c'],
      ['5001-0', 'd'],
    ]);
    // Only users: nothing ties, so the cursor is the plain id.
    const sub = await events.subscribe(['user.registered'], '0-0');
    expect((await take(sub, 2)).map(view).map((e) => e.cursor)).toEqual(['5000-0', '5001-0']);
    await sub.return!();
    // One key at a time: in a Cluster the two streams are in different slots.
    await r.del(users);
    await r.del(orders);
  });

  test("another service's entries reach subscribers of every type as they are; typed subscribers do not see them", async () => {
    const events = own.app.services.domainEvents;
    const users = events.stream('users');
    const all = await events.subscribe(null, null);
    const typed = await events.subscribe(['user.registered'], null);
    const ids = [
      await r.xadd(users, '*', 'type', 'billing.invoice_sent', 'event', JSON.stringify({ occurredAt: '2025-02-03T04:05:06.000Z', data: { invoice: 'i-1' } })),
      await r.xadd(users, '*', 'type', 'crm.note', 'event', '{not json'),
      await r.xadd(users, '*', 'note', 'no type, no envelope'),
    ];
    const own1 = await events.append('user.registered', { userId: 'u9', email: 'u9@example.com', name: 'U' });
    const got = (await take(all, 4)).map(view);
    expect(got.map((e) => [e.cursor, e.type, e.data])).toEqual([
      [ids[0], 'billing.invoice_sent', { invoice: 'i-1' }],
      [ids[1], 'crm.note', {}],
      [ids[2], '', {}],
      [own1, 'user.registered', { userId: 'u9', email: 'u9@example.com', name: 'U' }],
    ]);
    expect(got[0].at.toISOString()).toBe('2025-02-03T04:05:06.000Z');
    expect(got[1].at.getTime()).toBe(Number(ids[1]!.split('-')[0]));
    expect((await take(typed, 1)).map(view).map((e) => e.cursor)).toEqual([own1]);
    await all.return!();
    await typed.return!();
  });

  test('a subscriber the streams were trimmed past while it took nothing gets CURSOR_EXPIRED, and the subscription ends', async () => {
    const events = own.app.services.domainEvents;
    const sub = await events.subscribe(['order.placed'], null);
    for (let i = 0; i < FEED_LIMITS.queue + 1000; i++) await events.append('order.placed', orderData(i));
    const messages = await take(sub, 2);
    expect(messages).toHaveLength(1);
    expect('expired' in messages[0]).toBe(true);
    expect(() => view(messages[0])).toThrow(/orders stream no longer holds every event after this cursor/);
    expect(events.feed.size).toBe(0);
  });
});
