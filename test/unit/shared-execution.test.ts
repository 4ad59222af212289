/** Shared subscription execution: identical subscribers share one execution per event; nothing crosses share keys. */
import { GraphQLObjectType, GraphQLSchema, GraphQLString, parse, type ExecutionResult } from 'graphql';
import { shareKeyOf, shareResultsBy, sharedSubscribe } from '../../src/ws/shared-execution';

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
