/** GatewayPubSub across instances: two gateways sharing a key prefix see each other's events; other prefixes do not. */
import { Cluster, type Redis } from 'ioredis';
import { uniquePrefix } from '../helpers/redis';
import { startServices, type ServicesHandle } from '../helpers/services';

let a: ServicesHandle;
let b: ServicesHandle;
let other: ServicesHandle;

beforeAll(async () => {
  const prefix = uniquePrefix('pubsub');
  [a, b, other] = await Promise.all([startServices({ KEY_PREFIX: prefix }), startServices({ KEY_PREFIX: prefix }), startServices()]);
});
afterAll(async () => {
  await Promise.all([a?.close(), b?.close(), other?.close()]);
});

/** Takes up to `n` events from an iterable within `ms`. */
async function take<T>(iterable: AsyncIterable<unknown>, n: number, ms = 1500): Promise<T[]> {
  const it = iterable[Symbol.asyncIterator]();
  const out: T[] = [];
  const deadline = Date.now() + ms;
  try {
    while (out.length < n) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      let timer: NodeJS.Timeout | undefined;
      const r = await Promise.race([it.next(), new Promise<null>((res) => (timer = setTimeout(() => res(null), left)))]);
      clearTimeout(timer);
      if (!r || r.done) break;
      out.push(r.value as T);
    }
  } finally {
    await it.return?.();
  }
  return out;
}

/** Subscribers on `channel`, summed over every node (in a cluster each node counts only its own). */
async function numsub(app: ServicesHandle, channel: string): Promise<number> {
  const r = app.app.redis;
  const nodes: Array<Redis | Cluster> = r instanceof Cluster ? r.nodes('all') : [r];
  let n = 0;
  for (const node of nodes) n += Number(((await node.call('PUBSUB', 'NUMSUB', channel)) as [string, number])[1]);
  return n;
}

/** Subscribing is asynchronous (SUBSCRIBE round trip): wait until Redis reports the subscribers on the channel. */
async function subscribed(app: ServicesHandle, channel: string, count: number): Promise<void> {
  for (let i = 0; i < 50; i++) {
    if ((await numsub(app, channel)) >= count) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`no subscriber on ${channel}`);
}

test('an event published on one instance reaches subscribers on every instance sharing the prefix', async () => {
  const onA = take<{ n: number }>(a.app.services.pubsub.subscribe('orders'), 2);
  const onB = take<{ n: number }>(b.app.services.pubsub.subscribe('orders'), 2);
  await subscribed(a, a.app.services.keys.channel('orders'), 2);
  a.app.services.pubsub.publish('orders', { n: 1 });
  await b.app.services.pubsub.publishAsync('orders', { n: 2 });
  // Two publishers on two instances: on a Cluster their messages travel different nodes, so only the set is promised.
  const byN = (xs: Array<{ n: number }>): Array<{ n: number }> => [...xs].sort((x, y) => x.n - y.n);
  expect(byN(await onA)).toEqual([{ n: 1 }, { n: 2 }]);
  expect(byN(await onB)).toEqual([{ n: 1 }, { n: 2 }]);
});

test('topics with a dynamic id reach only that id (TypeGraphQL publish(topic, id, payload))', async () => {
  const job1 = take(b.app.services.pubsub.subscribe('job', 'j1'), 1);
  const job2 = take(b.app.services.pubsub.subscribe('job', 'j2'), 1, 500);
  await subscribed(b, `${b.app.services.keys.channel('job')}:j1`, 1);
  await subscribed(b, `${b.app.services.keys.channel('job')}:j2`, 1);
  a.app.services.pubsub.publish('job', 'j1', { progress: 50 });
  expect(await job1).toEqual([{ progress: 50 }]);
  expect(await job2).toEqual([]);
});

test('another deployment (another prefix) on the same Redis does not receive the events', async () => {
  const elsewhere = take(other.app.services.pubsub.subscribe('orders'), 1, 500);
  const here = take(b.app.services.pubsub.subscribe('orders'), 1);
  await subscribed(other, other.app.services.keys.channel('orders'), 1);
  // b's subscription too: an event published before its SUBSCRIBE reached Redis would be missed.
  await subscribed(b, b.app.services.keys.channel('orders'), 1);
  await a.app.services.pubsub.publishAsync('orders', { n: 3 });
  expect(await here).toEqual([{ n: 3 }]);
  expect(await elsewhere).toEqual([]);
});

test('listen() delivers to a callback on another instance, and its unsubscribe stops delivery', async () => {
  const got: unknown[] = [];
  const stop = await b.app.services.pubsub.listen<{ v: number }>('cache.invalidate', (p) => got.push(p));
  await a.app.services.pubsub.publishAsync('cache.invalidate', { v: 1 });
  for (let i = 0; i < 50 && got.length < 1; i++) await new Promise((r) => setTimeout(r, 20));
  expect(got).toEqual([{ v: 1 }]);
  stop();
  await new Promise((r) => setTimeout(r, 50));
  await a.app.services.pubsub.publishAsync('cache.invalidate', { v: 2 });
  await new Promise((r) => setTimeout(r, 200));
  expect(got).toEqual([{ v: 1 }]);
});

test('payloads keep their JSON shape (dates travel as ISO strings)', async () => {
  const ev = take<Record<string, unknown>>(b.app.services.pubsub.subscribe('shape'), 1);
  await subscribed(b, b.app.services.keys.channel('shape'), 1);
  await a.app.services.pubsub.publishAsync('shape', { s: 'x', n: 1.5, list: [1, 2], nested: { ok: true }, at: new Date(0) });
  expect(await ev).toEqual([{ s: 'x', n: 1.5, list: [1, 2], nested: { ok: true }, at: '1970-01-01T00:00:00.000Z' }]);
});
