/** Shared subscription execution: identical subscribers share one execution per event; nothing crosses share keys; results the same for everyone are shared across viewers and written directly. */
import 'reflect-metadata';
import { GraphQLObjectType, GraphQLSchema, GraphQLString, getOperationAST, parse, type ExecutionResult } from 'graphql';
import { Ctx, Field, FieldResolver, ObjectType, Query, Resolver, Root, Subscription, buildSchema } from 'type-graphql';
import { buildGatewaySchema } from '../../src/app/schema';
import { SameForEveryone } from '../../src/types/same-for-everyone';
import { PushIterator } from '../../src/util/push-iterator';
import { MAX_BUFFERED_BYTES, everyoneShareKey, shareKeyOf, shareResultsBy, sharedSubscribe } from '../../src/ws/shared-execution';

/** A source every subscriber listens to, handing each the same payload object (as the pub/sub layer does). */
function broadcaster() {
  const queues: Array<{ values: unknown[]; wake?: () => void; ended: boolean }> = [];
  return {
    listeners: () => queues.filter((q) => !q.ended).length,
    push(value: unknown) {
      for (const q of queues) {
        q.values.push(value);
        q.wake?.();
      }
    },
    iterator(): AsyncIterableIterator<unknown> {
      const q: { values: unknown[]; wake?: () => void; ended: boolean } = { values: [], ended: false };
      queues.push(q);
      const self: AsyncIterableIterator<unknown> = {
        async next() {
          while (!q.values.length && !q.ended) await new Promise<void>((r) => (q.wake = r));
          return q.ended ? { done: true, value: undefined } : { done: false, value: q.values.shift() };
        },
        async return() {
          q.ended = true;
          q.wake?.();
          return { done: true, value: undefined };
        },
        [Symbol.asyncIterator]: () => self,
      };
      return self;
    },
  };
}

const source = broadcaster();
let executions = 0;
const Event = new GraphQLObjectType({
  name: 'Event',
  fields: {
    text: { type: GraphQLString },
    seenBy: {
      type: GraphQLString,
      resolve: (_e, _a, ctx: { viewer: string }) => {
        executions++;
        return ctx.viewer;
      },
    },
  },
});
const schema = new GraphQLSchema({
  query: new GraphQLObjectType({ name: 'Query', fields: { ok: { type: GraphQLString } } }),
  subscription: new GraphQLObjectType({
    name: 'Subscription',
    fields: { events: { type: Event, subscribe: () => source.iterator(), resolve: (e: unknown) => e } },
  }),
});

async function subscriber(viewer: string, query: string, share = true): Promise<AsyncIterableIterator<ExecutionResult>> {
  const contextValue = { viewer };
  if (share) shareResultsBy(contextValue, shareKeyOf(viewer, query, null, {}));
  return (await sharedSubscribe({ schema, document: parse(query), contextValue })) as AsyncIterableIterator<ExecutionResult>;
}

test('identical subscriptions of one viewer share an execution; other viewers and documents get their own', async () => {
  const q = 'subscription { events { text seenBy } }';
  const a1 = await subscriber('ann', q);
  const a2 = await subscriber('ann', q);
  const b = await subscriber('bob', q);
  const other = await subscriber('ann', 'subscription { events { seenBy } }');
  const unshared = await subscriber('ann', q, false);
  executions = 0;
  source.push({ text: 'hello' });
  const [r1, r2, rb, ro, ru] = await Promise.all([a1.next(), a2.next(), b.next(), other.next(), unshared.next()]);
  expect(r1.value).toEqual({ data: { events: { text: 'hello', seenBy: 'ann' } } });
  // The very same result object: executed once for both.
  expect(r2.value).toBe(r1.value);
  expect(rb.value).toEqual({ data: { events: { text: 'hello', seenBy: 'bob' } } });
  expect(ro.value).toEqual({ data: { events: { seenBy: 'ann' } } });
  expect(ru.value).not.toBe(r1.value);
  expect(ru.value).toEqual(r1.value);
  // ann (shared), bob, ann's other document, ann unshared: 4 executions for 5 subscribers.
  expect(executions).toBe(4);

  // A new payload object is executed afresh, even if equal.
  source.push({ text: 'hello' });
  const [n1, n2] = await Promise.all([a1.next(), a2.next()]);
  expect(n1.value).toBe(n2.value);
  expect(n1.value).not.toBe(r1.value);

  for (const it of [a1, a2, b, other, unshared]) await it.return!();
});

test('return() ends the source at once, without waiting for another event', async () => {
  const before = source.listeners();
  const it = await subscriber('carl', 'subscription { events { text } }');
  expect(source.listeners()).toBe(before + 1);
  const pending = it.next();
  await expect(it.return!()).resolves.toEqual({ done: true, value: undefined });
  expect(source.listeners()).toBe(before);
  await expect(pending).resolves.toEqual({ done: true, value: undefined });
});

test('a subscribe that fails is a result with errors, as with graphql-js', async () => {
  const res = await sharedSubscribe({ schema, document: parse('subscription { nope }'), contextValue: {} });
  expect(Symbol.asyncIterator in res).toBe(false);
  expect((res as ExecutionResult).errors?.[0]?.message).toMatch(/nope/);
});

describe('sharing for everyone (@SameForEveryone root fields)', () => {
  let gateway: GraphQLSchema;
  beforeAll(async () => {
    gateway = await buildGatewaySchema();
  });
  const keyOf = (schema: GraphQLSchema, query: string, variables: Record<string, unknown> = {}): string | null => {
    const document = parse(query);
    return everyoneShareKey(schema, document, getOperationAST(document)!, variables);
  };

  test('one key for one selection, whoever subscribes and whatever ids (or variable names) choose the events', () => {
    const one = keyOf(gateway, 'subscription A($ids: [ID!]!) { productUpdated(ids: $ids) { id stock } }', { ids: ['a'] });
    expect(one).not.toBeNull();
    expect(keyOf(gateway, 'subscription B($list: [ID!]!) { productUpdated(ids: $list) { id stock } }', { list: ['b', 'c'] })).toBe(one);
    expect(keyOf(gateway, 'subscription { productUpdated(ids: ["z"]) { id stock } }')).toBe(one);
    // Another selection, an alias, a variable read inside the selection: other keys.
    expect(keyOf(gateway, 'subscription { productUpdated(ids: ["z"]) { id stock priceCents } }')).not.toBe(one);
    expect(keyOf(gateway, 'subscription { p: productUpdated(ids: ["z"]) { id stock } }')).not.toBe(one);
    const withPrice = (price: boolean): string | null =>
      keyOf(gateway, 'subscription S($p: Boolean!) { productUpdated(ids: ["z"]) { id stock priceCents @include(if: $p) } }', { p: price });
    expect(withPrice(true)).not.toBe(withPrice(false));
    expect(withPrice(true)).toBe(withPrice(true));
  });

  test('none for other fields, a directive on the root field, or a query', () => {
    expect(keyOf(gateway, 'subscription { jobUpdated(id: "j1") { id } }')).toBeNull();
    expect(keyOf(gateway, 'subscription S($x: Boolean!) { productUpdated(ids: ["a"]) @include(if: $x) { id } }', { x: true })).toBeNull();
    expect(keyOf(gateway, '{ products { id } }')).toBeNull();
  });

  test('none when the selection reads a field with a resolver of its own (it could depend on the viewer)', async () => {
    @ObjectType()
    class Thing {
      @Field()
      name!: string;
    }
    @Resolver(() => Thing)
    class ThingResolver {
      @FieldResolver(() => String)
      seenBy(@Root() _t: Thing, @Ctx() ctx: { viewer: string }): string {
        return ctx.viewer;
      }
      @Query(() => String)
      ok(): string {
        return 'ok';
      }
      @SameForEveryone()
      @Subscription(() => Thing, { subscribe: () => new PushIterator<Thing>(() => {}) })
      things(@Root() t: Thing): Thing {
        return t;
      }
    }
    const schema = await buildSchema({
      resolvers: [ThingResolver],
      authChecker: () => true,
      pubSub: { publish() {}, subscribe: () => new PushIterator(() => {}) },
    });
    expect(keyOf(schema, 'subscription { things { name } }')).not.toBeNull();
    expect(keyOf(schema, 'subscription { things { name seenBy } }')).toBeNull();
    expect(keyOf(schema, 'subscription { things { ...F } } fragment F on Thing { seenBy }')).toBeNull();
  });

  test('subscribers of one key get one execution and one serialised message, written to their sockets', async () => {
    const feeds: Array<PushIterator<unknown>> = [];
    let runs = 0;
    const Item = new GraphQLObjectType({ name: 'Item', fields: { n: { type: GraphQLString } } });
    const sub = new GraphQLSchema({
      query: new GraphQLObjectType({ name: 'Query', fields: { ok: { type: GraphQLString } } }),
      subscription: new GraphQLObjectType({
        name: 'Subscription',
        fields: {
          items: {
            type: Item,
            subscribe: () => {
              const it = new PushIterator<unknown>(() => {});
              feeds.push(it);
              return it;
            },
            resolve: (p: unknown) => {
              runs++;
              return p;
            },
          },
        },
      }),
    });
    // ws's send (what a socket without ws's internals gets), and the frames written to the TCP socket under a ws socket.
    const socket = () => ({
      OPEN: 1,
      readyState: 1,
      bufferedAmount: 0,
      sent: [] as string[],
      send(t: Buffer) {
        this.sent.push(t.toString());
      },
      close: jest.fn(),
    });
    const wsSocket = () => {
      const s = socket();
      const frames: Buffer[] = [];
      return Object.assign(s, { frames, _sender: { _queue: [] }, _socket: { writable: true, write: (b: Buffer) => void frames.push(Buffer.from(b)) } });
    };
    const raw = wsSocket();
    const sockets = [raw, socket(), socket()];
    const its = [];
    for (const [i, s] of sockets.entries()) {
      const contextValue = {};
      shareResultsBy(contextValue, 'k', { socket: s as never, id: `s${i}`, format: (r) => r });
      its.push(
        (await sharedSubscribe({ schema: sub, document: parse('subscription { items { n } }'), contextValue })) as AsyncIterableIterator<ExecutionResult>,
      );
    }
    const payload = { n: 'x' };
    for (const f of feeds) f.push(payload);
    expect(runs).toBe(1);
    const message = (i: number): string => `{"id":"s${i}","type":"next","payload":{"data":{"items":{"n":"x"}}}}`;
    expect(sockets.slice(1).map((s) => s.sent)).toEqual([1, 2].map((i) => [message(i)]));
    // One unmasked text frame with FIN set, its length, then the message.
    expect(raw.sent).toEqual([]);
    expect(raw.frames).toHaveLength(1);
    expect([raw.frames[0][0], raw.frames[0][1]]).toEqual([0x81, Buffer.byteLength(message(0))]);
    expect(raw.frames[0].subarray(2).toString()).toBe(message(0));
    // Longer messages: a 16-bit, then a 64-bit length after the marker byte.
    for (const [n, marker, at] of [
      [300, 126, 4],
      [70_000, 127, 10],
    ] as const) {
      for (const f of feeds) f.push({ n: 'x'.repeat(n) });
      const frame = raw.frames.at(-1)!;
      const length = frame.length - at;
      expect([frame[0], frame[1], marker === 126 ? frame.readUInt16BE(2) : frame.readUInt32BE(6)]).toEqual([0x81, marker, length]);
      expect(JSON.parse(frame.subarray(at).toString())).toEqual({ id: 's0', type: 'next', payload: { data: { items: { n: 'x'.repeat(n) } } } });
    }
    // A socket whose unsent data piles up is closed, and its subscription ends.
    sockets[1].bufferedAmount = MAX_BUFFERED_BYTES + 1;
    const ended = its[1].next();
    for (const f of feeds) f.push({ n: 'y' });
    expect(sockets[1].close).toHaveBeenCalledWith(1013, expect.any(String));
    expect(sockets[1].sent).toHaveLength(3);
    expect(raw.frames).toHaveLength(4);
    expect(sockets[2].sent).toHaveLength(4);
    await expect(ended).resolves.toEqual({ done: true, value: undefined });
    for (const it of its) await it.return!();
  });
});
