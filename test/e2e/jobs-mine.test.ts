/**
 * myJobs(state, limit): the caller's own jobs, newest first, in one state or any; nobody else's;
 * a bounded limit with a clear error. Over HTTP and WebSocket alike, on two instances.
 */
import type { Client } from 'graphql-ws';
import { ADMIN_ENV, adminToken, registerUser, startTestApp, type TestApp } from '../helpers/app';
import { addToCart, checkout, code, upsert } from '../helpers/commerce';
import { twoInstances } from '../helpers/instances';
import { CANCEL, ENQUEUE, ENQUEUE_MANY, enqueue, quotaOf } from '../helpers/jobs';
import { uniquePrefix } from '../helpers/redis';
import { execute, wsClient } from '../helpers/ws';

let a: TestApp;
let b: TestApp;
const two = twoInstances({ KEY_PREFIX: uniquePrefix('jobs-mine') });
beforeAll(() => ({ a, b } = two));

const MINE = 'query M($s: JobState, $l: Int) { myJobs(state: $s, limit: $l) { id type state data } }';
type Mine = Array<{ id: string; type: string; state: string; data: Record<string, unknown> }>;
const mail = (to: string, subject: string, delayMs?: number) => ({ type: 'email.send', data: { to, subject, body: 'hi' }, ...(delayMs ? { delayMs } : {}) });

test("the caller sees its own jobs newest first, batches in their order, in one state or any; never anyone else's", async () => {
  const ann = await registerUser(a);
  const bob = await registerUser(b);
  const first = await enqueue(a, ann.token, mail(ann.email, 'one'));
  const second = await enqueue(b, ann.token, mail(ann.email, 'two', 600_000));
  const batch = await a.gql(ENQUEUE_MANY, { inputs: [mail(ann.email, 'b1'), mail(ann.email, 'b2', 600_000), mail(ann.email, 'b3')] }, { token: ann.token });
  const batchIds = (batch.data?.enqueueJobs as Array<{ id: string }>).map((j) => j.id);
  const bobs = await enqueue(a, bob.token, mail(bob.email, 'bob'));

  const all = (await b.gql(MINE, {}, { token: ann.token })).data?.myJobs as Mine;
  expect(all.map((j) => j.id)).toEqual([...[...batchIds].reverse(), second.id, first.id]);
  expect(all.map((j) => j.data.subject)).toEqual(['b3', 'b2', 'b1', 'two', 'one']);
  expect(all.map((j) => j.id)).not.toContain(bobs.id);
  expect(((await a.gql(MINE, {}, { token: bob.token })).data?.myJobs as Mine).map((j) => j.id)).toEqual([bobs.id]);

  const delayed = (await a.gql(MINE, { s: 'DELAYED' }, { token: ann.token })).data?.myJobs as Mine;
  expect(delayed.map((j) => j.data.subject)).toEqual(['b2', 'two']);
  const waiting = (await a.gql(MINE, { s: 'WAITING', l: 2 }, { token: ann.token })).data?.myJobs as Mine;
  expect(waiting.map((j) => j.data.subject)).toEqual(['b3', 'b1']);
  expect((await a.gql(MINE, { s: 'COMPLETED' }, { token: ann.token })).data?.myJobs).toEqual([]);

  // A cancelled job is gone from the list.
  expect((await a.gql(CANCEL, { id: second.id }, { token: ann.token })).data?.cancelJob).toBe(true);
  expect(((await a.gql(MINE, { l: 3 }, { token: ann.token })).data?.myJobs as Mine).map((j) => j.data.subject)).toEqual(['b3', 'b2', 'b1']);
  expect(((await a.gql(MINE, { l: 100 }, { token: ann.token })).data?.myJobs as Mine).map((j) => j.data.subject)).toEqual(['b3', 'b2', 'b1', 'one']);
});

test('limit is 1 to 100 (BAD_USER_INPUT naming it otherwise); signed-in callers only; the same over WebSocket', async () => {
  const u = await registerUser(a);
  await enqueue(a, u.token, mail(u.email, 'ws'));
  for (const l of [0, -1, 101, 2 ** 31 - 1]) {
    const res = await a.gql(MINE, { l }, { token: u.token });
    expect([l, code(res)]).toEqual([l, 'BAD_USER_INPUT']);
    expect(res.errors?.[0]?.extensions?.fields).toHaveProperty('limit');
  }
  expect(code(await a.gql(MINE, { s: 'NOPE' }, { token: u.token }))).toMatch(/BAD_USER_INPUT|GRAPHQL_VALIDATION_FAILED/);
  expect(code(await a.gql(MINE, {}))).toBe('UNAUTHENTICATED');
  const c: Client = wsClient(b.url, { token: u.token });
  const anon: Client = wsClient(b.url);
  try {
    expect(((await execute(c, MINE, {})).data?.myJobs as Mine).map((j) => j.data.subject)).toEqual(['ws']);
    expect((await execute(c, MINE, { l: 101 })).errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect((await execute(anon, MINE, {})).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  } finally {
    await Promise.all([c, anon].map(async (x) => x.dispose()));
  }
});

test("an order's job counts in its buyer's quota but is never refused by it; a cancel frees its place", async () => {
  const t = await startTestApp({ ...ADMIN_ENV, JOB_MAX_PENDING_PER_USER: '2' });
  try {
    const admin = await adminToken(t);
    await upsert(t, admin, { id: 'quota-mug', stock: 5 });
    const u = await registerUser(t);
    await enqueue(t, u.token, mail(u.email, 'q1', 600_000));
    await enqueue(t, u.token, mail(u.email, 'q2', 600_000));
    expect(code(await t.gql(ENQUEUE, { input: mail(u.email, 'q3') }, { token: u.token }))).toBe('QUOTA_EXCEEDED');
    await addToCart(t, u.token, 'quota-mug', 1);
    const order = await checkout(t, u.token);
    expect(order.data?.checkout.status).toBe('PENDING');
    expect((await quotaOf(t, u.token)).pending).toBe(3);
    expect(((await t.gql(MINE, { s: 'WAITING' }, { token: u.token })).data?.myJobs as Mine).map((j) => j.id)).toEqual([`order-${order.data?.checkout.id}`]);
    await t.gql('mutation C($id: ID!) { cancelOrder(id: $id) { status } }', { id: order.data?.checkout.id }, { token: u.token });
    expect((await quotaOf(t, u.token)).pending).toBe(2);
  } finally {
    await t.close();
  }
});
