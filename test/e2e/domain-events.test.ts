/**
 * The domainEvents subscription over a real graphql-ws client: admins only (over WebSocket;
 * HTTP refuses every subscription), types and cursors checked, live events from any instance,
 * and a client whose socket is killed mid-stream under load that resumes with its last cursor
 * and ends up with exactly what XRANGE holds: in order, no gap, no duplicate. A cursor the
 * streams were trimmed past is refused with the oldest one still complete.
 */
import type Redis from 'ioredis';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { ADMIN_ENV, adminToken, registerUser, startTestApp, type TestApp } from '../helpers/app';
import { addToCart, checkout, upsert } from '../helpers/commerce';
import { compareMerged, cursorId, DOMAIN_EVENTS, mergedStreams, orderData, type DomainEventMsg, type MergedEntry } from '../helpers/events';
import { twoInstances } from '../helpers/instances';
import { sleep } from '../helpers/jobs';
import { rawRedis } from '../helpers/redis';
import { execute, wsClient } from '../helpers/ws';

const two = twoInstances({}, { admin: true });
let r: Redis;
beforeAll(() => {
  r = rawRedis();
});
afterAll(() => r.disconnect());

/** A graphql-ws client whose socket the test can kill (a TCP reset, no close handshake). */
function killable(url: string, token: string): { client: Client; kill(): void; pause(): void; resume(): void } {
  let socket: WebSocket | null = null;
  class Captured extends WebSocket {
    constructor(address: string, protocols?: string | string[]) {
      super(address, protocols, { headers: { 'user-agent': 'node-test' } });
      // eslint-disable-next-line @typescript-eslint/no-this-alias -- the test keeps the socket to kill it
      socket = this;
    }
  }
  const client = createClient({
    url: url.replace(/^http/, 'ws') + '/graphql',
    webSocketImpl: Captured,
    connectionParams: { authorization: `Bearer ${token}` },
    retryAttempts: 0,
    lazy: true,
  });
  // ws keeps its TCP socket in `_socket`: pausing it stops reading, as a client that does not keep up.
  const tcp = (): { pause(): void; resume(): void } => (socket as unknown as { _socket: { pause(): void; resume(): void } })._socket;
  return { client, kill: () => socket?.terminate(), pause: () => tcp().pause(), resume: () => tcp().resume() };
}

interface Session {
  events: DomainEventMsg[];
  errors: Array<{ message?: string; extensions?: Record<string, any> }>;
  /** Resolves when the subscription ends: completed, errored, or its socket died. */
  ended: Promise<void>;
  stop(): void;
}

function subscribe(client: Client, variables: Record<string, unknown>, onEvent?: (e: DomainEventMsg) => void): Session {
  const s = { events: [], errors: [] } as unknown as Session;
  s.ended = new Promise<void>((resolve) => {
    s.stop = client.subscribe<{ domainEvents: DomainEventMsg }>(
      { query: DOMAIN_EVENTS, variables },
      {
        next: (v) => {
          if (v.errors) s.errors.push(...(v.errors as Session['errors']));
          if (v.data?.domainEvents) {
            s.events.push(v.data.domainEvents);
            onEvent?.(v.data.domainEvents);
          }
        },
        error: (e) => {
          s.errors.push(...(Array.isArray(e) ? e : [{ message: String((e as Error)?.message ?? (e as { code?: number })?.code ?? e) }]));
          resolve();
        },
        complete: () => resolve(),
      },
    );
  });
  return s;
}

async function until(what: string, pred: () => boolean, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await sleep(20);
  }
}

/** What the subscription sent, in the terms XRANGE shows: entry id and type. */
const asEntries = (events: DomainEventMsg[]): Array<[string, string]> => events.map((e) => [cursorId(e.cursor), e.type]);
const fromXrange = (entries: MergedEntry[]): Array<[string, string]> => entries.map((e) => [e.id, e.type]);

describe('who may subscribe', () => {
  test('anonymous callers get UNAUTHENTICATED and customers FORBIDDEN over WebSocket; HTTP refuses the subscription for anyone', async () => {
    const { a } = two;
    const customer = await registerUser(a);
    const anon = wsClient(a.url);
    const cust = wsClient(a.url, { token: customer.token });
    try {
      expect((await execute(anon, DOMAIN_EVENTS)).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      expect((await execute(cust, DOMAIN_EVENTS)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      // A refused caller learns nothing from a resume either.
      expect((await execute(cust, DOMAIN_EVENTS, { after: '0-0' })).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    } finally {
      await anon.dispose();
      await cust.dispose();
    }
    for (const token of [undefined, customer.token, two.admin]) {
      const res = await a.gql(DOMAIN_EVENTS, { after: '0-0' }, { token });
      expect(res.status).toBe(400);
      expect(res.errors?.[0]?.extensions?.code).toBe('BAD_REQUEST');
      expect(res.errors?.[0]?.message).toMatch(/WebSocket/);
    }
  });
});

describe('arguments', () => {
  test.each([
    ['an unknown type', { types: ['order.shipped'] }, /Unknown event type "order\.shipped"; the types are user\.registered, order\.placed/],
    ['a type shaped like code', { types: ["'); redis.call('FLUSHALL') --"] }, /Unknown event type/],
    ['a key separator in a type', { types: ['order.placed:{catalog}'] }, /Unknown event type/],
    ['too many types', { types: Array.from({ length: 21 }, () => 'order.placed') }, /types holds at most 20 event types/],
    ['a cursor that is not an entry id', { after: 'latest' }, /after must be a cursor: <ms>-<seq>/],
    ['a cursor with three parts', { after: '1-2-3' }, /after must be a cursor/],
    ['a cursor naming no stream', { after: '1-2/carts' }, /after must be a cursor/],
    ['a cursor with a key', { after: '1-0/{catalog}' }, /after must be a cursor/],
    ['a cursor past 64 bits', { after: '18446744073709551616-0' }, /after must be a cursor/],
    ['a huge cursor', { after: `${'9'.repeat(10_000)}-0` }, /after must be a cursor/],
    ['an empty cursor', { after: '' }, /after must be a cursor/],
    ['a negative cursor', { after: '-1-0' }, /after must be a cursor/],
  ])('%s is BAD_USER_INPUT', async (_what, variables, message) => {
    const c = wsClient(two.b.url, { token: two.admin });
    try {
      const res = await execute(c, DOMAIN_EVENTS, variables);
      expect(res.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(res.errors?.[0]?.message).toMatch(message);
    } finally {
      await c.dispose();
    }
  });
});

test('live events of any instance reach subscribers of another, filtered by type, with the stream entry id as cursor', async () => {
  const { a, b, admin, prefix } = two;
  const c = wsClient(b.url, { token: admin });
  try {
    const all = subscribe(c, {});
    const users = subscribe(c, { types: ['user.registered'] });
    const orders = subscribe(c, { types: ['order.placed', 'order.completed'] });
    await until('the subscriptions are live', () => b.app.services.domainEvents.feed.size === 3);
    await upsert(a, admin, { id: 'de-1', priceCents: 700, stock: 50, currency: 'EUR' });
    const u = await registerUser(a);
    await addToCart(a, u.token, 'de-1', 3);
    const order = (await checkout(a, u.token)).data?.checkout as { id: string };
    await until('the events arrive', () => all.events.length >= 2 && users.events.length >= 1 && orders.events.length >= 1);
    await sleep(300);

    expect(users.events.map((e) => [e.type, e.data])).toEqual([['user.registered', { userId: u.userId, email: u.email, name: 'Test User' }]]);
    expect(orders.events.map((e) => [e.type, e.data.orderId, e.data.status, e.data.totalCents])).toEqual([['order.placed', order.id, 'PENDING', 2100]]);
    expect(all.events.map((e) => e.type)).toEqual(['user.registered', 'order.placed']);
    const xr = (await mergedStreams(r, prefix)).slice(-2);
    expect(all.events.map((e) => e.cursor)).toEqual(xr.map((e) => e.id));
    for (const e of all.events) expect(Math.abs(Date.parse(e.at) - Date.now())).toBeLessThan(10_000);
    all.stop();
    users.stop();
    orders.stop();
    await until('the feed has no listener left', () => b.app.services.domainEvents.feed.size === 0, 5000);
  } finally {
    await c.dispose();
  }
});

test('a client whose socket is killed mid-stream under load resumes with its last cursor: equal to XRANGE, in order, no duplicates', async () => {
  const { a, b, admin, prefix } = two;
  // Load from instance a: direct appends from 8 producers (10 at a time each) into two streams, and HTTP checkouts.
  await upsert(a, admin, { id: 'de-load', priceCents: 100, stock: 100_000, currency: 'EUR' });
  const buyers = await Promise.all(Array.from({ length: 10 }, () => registerUser(a)));
  let producing = true;
  let produced = 0;
  const startedAt = Date.now();
  const producers = [
    ...Array.from({ length: 8 }, async (_, p) => {
      for (let n = 0; Date.now() - startedAt < 3000; n += 10) {
        await Promise.all(
          Array.from({ length: 10 }, (_, k) =>
            (n + k) % 2
              ? a.app.services.domainEvents.append('order.completed', orderData(p * 1_000_000 + n + k, 'COMPLETED'))
              : a.app.services.domainEvents.append('user.registered', { userId: `u${p}-${n + k}`, email: `u${p}-${n + k}@example.com`, name: 'Load' }),
          ),
        );
        produced += 10;
      }
    }),
    ...buyers.map(async (u) => {
      for (let n = 0; Date.now() - startedAt < 3000; n++) {
        await addToCart(a, u.token, 'de-load', 1);
        expect((await checkout(a, u.token)).errors).toBeUndefined();
        produced += 1;
      }
    }),
  ];
  const production = Promise.all(producers).then(() => {
    producing = false;
    return Date.now() - startedAt;
  });

  const received: DomainEventMsg[] = [];
  const errors: Session['errors'] = [];
  let kills = 0;
  let resumedBehind = 0;
  let after = '0-0';
  const firstSubscribeAt = Date.now();
  // Kill the socket 300 ms into each session (once it got some events) while production goes on, at most
  // 5 times; then a last session to the end.
  for (let session = 0; ; session++) {
    const conn = killable(b.url, admin);
    const killing = producing && kills < 5;
    const sessionStart = Date.now();
    const firstOfSession = received.length;
    const s = subscribe(conn.client, { after }, (e) => {
      received.push(e);
      if (killing && received.length - firstOfSession >= 20 && Date.now() - sessionStart >= 300) conn.kill();
    });
    if (!killing) {
      const duration = await production;
      const total = (await mergedStreams(r, prefix)).length;
      await until(`all ${total} events arrive (got ${received.length})`, () => received.length >= total || s.errors.length > 0, 60_000);
      await sleep(300); // anything extra (a duplicate) would arrive now
      s.stop();
      await conn.client.dispose();
      errors.push(...s.errors);
      const elapsed = Date.now() - firstSubscribeAt;
      console.log(
        `domainEvents resume under load: ${total} events (${produced} from the producers in ${duration} ms: ${Math.round((produced * 1000) / duration)}/s), ` +
          `delivered in ${elapsed} ms (${Math.round((received.length * 1000) / elapsed)}/s) over ${session + 1} sessions, ${kills} socket kills, ` +
          `${resumedBehind} events behind at the reconnects (summed)`,
      );
      break;
    }
    await s.ended;
    await conn.client.dispose();
    // The kill ends the subscription with a socket error; nothing else may.
    expect(s.errors.map((e) => e.extensions?.code).filter(Boolean)).toEqual([]);
    kills++;
    after = received.at(-1)!.cursor;
    await sleep(150); // events keep coming while the client is away
    resumedBehind += (await mergedStreams(r, prefix)).length - received.length;
  }

  expect(errors).toEqual([]);
  expect(kills).toBeGreaterThanOrEqual(2);
  expect(resumedBehind).toBeGreaterThan(0);
  const xr = await mergedStreams(r, prefix);
  const got = asEntries(received);
  const cursors = received.map((e) => e.cursor);
  expect(new Set(cursors).size).toBe(cursors.length);
  const gaps = xr.filter((e) => !got.some(([id, type]) => id === e.id && type === e.type)).length;
  const dupes = got.length - new Set(got.map(([id, type]) => `${id} ${type}`)).size;
  console.log(`domainEvents resume: ${gaps} gaps, ${dupes} duplicates, ${cursors.filter((c) => c.includes('/')).length} tied cursors`);
  expect({ gaps, dupes }).toEqual({ gaps: 0, dupes: 0 });
  expect(got).toEqual(fromXrange(xr));
}, 120_000);

test('a client that stops reading its socket makes the gateway hold no more: its subscription leaves the feed, and it still gets everything in order once it reads again', async () => {
  const { b, admin, prefix } = two;
  const events = b.app.services.domainEvents;
  const conn = killable(b.url, admin);
  const s = subscribe(conn.client, { types: ['order.placed'] });
  await until('the subscription is live', () => events.feed.size === 1);
  const start = (await mergedStreams(r, prefix)).at(-1)!;
  conn.pause();
  // 4 KB events until the socket's buffers are full, graphql-ws stops taking events, and the feed's queue
  // for the subscription fills and is dropped (the gateway then holds nothing for it).
  const big = 'x'.repeat(4000);
  const appendedAt = Date.now();
  let n = 0;
  while (events.feed.size > 0 && n < 30_000) {
    await Promise.all(Array.from({ length: 200 }, (_, j) => events.append('order.placed', { ...orderData(n + j), reason: big })));
    n += 200;
  }
  await until('the subscription leaves the feed', () => events.feed.size === 0, 5000);
  const pausedFor = Date.now() - appendedAt;
  conn.resume();
  await until(`all ${n} events arrive (got ${s.events.length})`, () => s.events.length >= n, 60_000);
  await sleep(200);
  s.stop();
  await conn.client.dispose();
  console.log(`domainEvents slow client: off the feed after ${n} events of 4 KB (${pausedFor} ms after pausing), all delivered once it read again`);
  const want = (await mergedStreams(r, prefix)).filter((e) => e.type === 'order.placed' && compareMerged(e, start) > 0);
  expect(want).toHaveLength(n);
  expect(s.errors).toEqual([]);
  expect(asEntries(s.events)).toEqual(fromXrange(want));
}, 90_000);

test('a cursor the streams were trimmed past is NOT_FOUND (CURSOR_EXPIRED) with the oldest complete cursor, which resumes from there', async () => {
  const t: TestApp = await startTestApp({ EVENT_STREAM_MAXLEN: '100', ...ADMIN_ENV });
  const c = wsClient(t.url, { token: await adminToken(t) });
  try {
    const first = await t.app.services.domainEvents.append('order.placed', orderData(0));
    for (let n = 1; n < 500; n++) await t.app.services.domainEvents.append('order.placed', orderData(n));
    const res = await execute(c, DOMAIN_EVENTS, { after: first });
    expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'NOT_FOUND', reason: 'CURSOR_EXPIRED' });
    expect(res.errors?.[0]?.message).toMatch(/orders stream no longer holds every event after this cursor/);
    const oldest = res.errors![0].extensions!.oldestCursor as string;
    const xr = await mergedStreams(r, t.prefix);
    const orders = xr.filter((e) => e.domain === 'orders');
    // The oldest complete cursor is just before the oldest order event held.
    expect(orders.length).toBeLessThan(500);
    const [ms, seq] = orders[0].id.split('-').map(Number);
    expect(oldest).toBe(seq > 0 ? `${ms}-${seq - 1}` : `${ms - 1}-18446744073709551615`);

    // Accepting the loss: resume after it, and get every event XRANGE still holds after it.
    const s = subscribe(c, { after: oldest });
    const want = xr.filter((e) => compareMerged(e, { id: oldest, domain: 'instances' }) > 0);
    expect(want[0]).toEqual(orders[0]);
    await until('the held events arrive', () => s.events.length >= orders.length);
    await sleep(200);
    s.stop();
    expect(s.errors).toEqual([]);
    expect(asEntries(s.events)).toEqual(fromXrange(want));
  } finally {
    await c.dispose();
    await t.close();
  }
});
