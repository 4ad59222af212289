/**
 * What anonymous (and other non-admin) callers can leave behind in Redis through analytics and
 * experiments: a daily budget of new visitor keys per caller, a lifetime on every key they create,
 * caller text never in a key name, and client-sent values that are not revenue. Over HTTP and
 * WebSocket alike, across instances.
 */
import type Redis from 'ioredis';
import type { Client } from 'graphql-ws';
import { registerUser, startTestApp, type TestApp } from '../helpers/app';
import { twoInstances } from '../helpers/instances';
import { ANALYTICS, ASSIGN, BROWSER, CREATE_EXPERIMENT, EXPERIMENT, ok, TRACK_CONVERSION, TRACK_VIEW } from '../helpers/analytics';
import { addToCart, checkout, upsert } from '../helpers/commerce';
import { rawRedis } from '../helpers/redis';
import { wsClient } from '../helpers/ws';

const BUDGET = 20;
let t: TestApp;
let t2: TestApp;
let admin: string;
let r: Redis;
const clients: Client[] = [];

const two = twoInstances({ ANALYTICS_VISITOR_KEYS_PER_DAY: String(BUDGET), SESSION_UA_CHECK: '0' }, { admin: true });
beforeAll(() => {
  ({ a: t, b: t2, admin } = two);
  r = rawRedis();
});
afterAll(async () => {
  await Promise.all(clients.map(async (c) => c.dispose()));
  r.disconnect();
});

/** Every key under the prefix. */
async function allKeys(): Promise<string[]> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await r.scan(cursor, 'MATCH', `${t.prefix}:*`, 'COUNT', 1000);
    cursor = next;
    out.push(...keys);
  } while (cursor !== '0');
  return out;
}

/** One operation over graphql-ws (mutations travel on the socket too). */
function overWs(
  client: Client,
  query: string,
  variables: Record<string, unknown>,
): Promise<{ data?: Record<string, any> | null; errors?: Array<{ extensions?: Record<string, unknown> }> }> {
  return new Promise((resolve, reject) => {
    let result: { data?: Record<string, any> | null; errors?: Array<{ extensions?: Record<string, unknown> }> } = {};
    client.subscribe({ query, variables }, { next: (v) => (result = v as typeof result), error: reject, complete: () => resolve(result) });
  });
}

const ws = (token?: string): Client => {
  const c = wsClient(t.url, { token });
  clients.push(c);
  return c;
};

const report = async (key: string) => ok(await t.gql(EXPERIMENT, { key }, { token: admin })).experiment;

/**
 * Keys nobody's request creates per visitor: the global counters of analytics, experiment
 * definitions and counters, users and their e-mail index, and the capped event streams.
 */
const GLOBAL_WITHOUT_TTL = [
  // page-ids: one small id per ranked page, as bounded as the ranking (ANALYTICS_MAX_PAGES).
  /:an:\{an\}:(totals|pages|uv|conv:count|conv:revenue|dirty|salt|exps|page-ids)$/,
  /:an:\{an\}:uv:\//,
  /:an:\{an\}:exp:[A-Za-z0-9_-]+:(def|stats)$/,
  /:user:\{u:[^}]+\}(:sessions|:session-ids)?$/,
  /:user-email:/,
  /:events:/,
  /:registry:\{registry\}:/,
  // The admin audit log: one stream for the deployment, trimmed to AUDIT_LOG_MAXLEN.
  /:audit:\{audit\}$/,
  // The job queue's own bookkeeping (BullMQ).
  /:\{jobs\}:meta$/,
];

test('an anonymous address creates at most the daily budget of visitor keys, each with a lifetime; answers stay right past it', async () => {
  ok(await t.gql(CREATE_EXPERIMENT, { input: { key: 'bounded', variants: ['a', 'b'] } }, { token: admin }));
  const before = new Set(await allKeys());
  const N = 60;
  const variants: string[] = [];
  for (let i = 0; i < N; i++) {
    const v = `fresh-${i}`;
    // A browser's User-Agent: views from HTTP libraries count as bots and make no journey.
    ok(await t.gql(TRACK_VIEW, { input: { page: '/bounded', visitorId: v } }, { headers: BROWSER }));
    variants.push(ok(await t.gql<{ assignVariant: string }>(ASSIGN, { e: 'bounded', v })).assignVariant);
    ok(await t.gql(TRACK_CONVERSION, { input: { type: 'signup', experiment: 'bounded', visitorId: v } }));
  }
  // The same address over WebSocket shares the budget.
  const socket = ws();
  for (let i = N; i < N + 10; i++) {
    expect((await overWs(socket, TRACK_VIEW, { input: { page: '/bounded', visitorId: `fresh-${i}` } })).data?.trackPageView).toBe(true);
    expect(['a', 'b']).toContain((await overWs(socket, ASSIGN, { e: 'bounded', v: `fresh-${i}` })).data?.assignVariant);
  }

  // The first tracking of the file also makes the global counters; they are not the caller's.
  const created = (await allKeys()).filter((k) => !before.has(k) && !GLOBAL_WITHOUT_TTL.some((re) => re.test(k)));
  // Besides the visitor keys: this minute's bucket (two if the loop crossed a minute) and the caller's own daily counter.
  // The hour's and the day's rollups are per hour and per value of a dimension, bounded whoever sends (analytics-collect.test.ts).
  const perCaller = created.filter((k) => !/:an:\{an\}:(hour|day):/.test(k));
  expect(perCaller.length <= BUDGET + 3 ? [] : perCaller).toEqual([]);
  for (const key of created) expect([key, (await r.pttl(key)) > 0]).toEqual([key, true]);

  // Past the budget the caller still gets its variant, the same one on every instance.
  for (let i = 0; i < N; i += 7) expect(ok(await t2.gql<{ assignVariant: string }>(ASSIGN, { e: 'bounded', v: `fresh-${i}` })).assignVariant).toBe(variants[i]);

  // Statistics are exact for what was recorded: every recorded viewer converted once; the others count apart.
  const rep = await report('bounded');
  expect(rep.totalExposures).toBeGreaterThan(0);
  expect(rep.totalExposures).toBeLessThanOrEqual(BUDGET);
  expect(rep.variants.reduce((s: number, v: { conversions: number }) => s + v.conversions, 0)).toBe(rep.totalExposures);
  expect(rep.unattributedConversions).toBe(N - rep.totalExposures);

  // Admins (server-side integrations) are not held to it.
  for (let i = 0; i < 5; i++) ok(await t.gql(ASSIGN, { e: 'bounded', v: `by-admin-${i}` }, { token: admin }));
  expect((await report('bounded')).totalExposures).toBe(rep.totalExposures + 5);
});

test('a signed-in caller has a budget of its own; its assignments are its own whatever ids it sends', async () => {
  ok(await t.gql(CREATE_EXPERIMENT, { input: { key: 'own-budget', variants: ['a', 'b'] } }, { token: admin }));
  const u = await registerUser(t);
  const before = new Set(await allKeys());
  // The session decides the viewer of an assignment: fresh ids from a signed-in caller are one viewer, one record.
  for (let i = 0; i < 10; i++) ok(await t.gql(ASSIGN, { e: 'own-budget', v: `u-fresh-${i}` }, { token: u.token }));
  expect((await report('own-budget')).totalExposures).toBe(1);
  // Page views name their visitor as sent: new journeys are charged to the user, up to the budget.
  for (let i = 0; i < BUDGET + 10; i++)
    ok(await t.gql(TRACK_VIEW, { input: { page: '/own-budget', visitorId: `u-fresh-${i}` } }, { token: u.token, headers: BROWSER }));
  const created = (await allKeys()).filter((k) => !before.has(k) && !GLOBAL_WITHOUT_TTL.some((re) => re.test(k)));
  expect(created.filter((k) => k.includes(':an:{an}:journey:')).length).toBe(BUDGET - 1);
  // The hour's and the day's rollups are per hour and per value of a dimension, bounded whoever sends.
  expect(created.filter((k) => !/:an:\{an\}:(hour|day):/.test(k)).length).toBeLessThanOrEqual(BUDGET + 2);
});

test('no key without a lifetime but the documented global ones', async () => {
  const lasting: string[] = [];
  for (const key of await allKeys()) if ((await r.pttl(key)) === -1 && !GLOBAL_WITHOUT_TTL.some((re) => re.test(key))) lasting.push(key);
  expect(lasting).toEqual([]);
});

test('hostile visitor ids never appear in a key name', async () => {
  ok(await t.gql(CREATE_EXPERIMENT, { input: { key: 'hostile', variants: ['a', 'b'] } }, { token: admin }));
  const ids = ['hx:sep:id', 'hx{an}y', 'hx{', 'hx}', 'hx.@-_:', `hx-${'x'.repeat(10_240)}`, 'hxünïcødé', 'hx😀', 'hx\u0000nul', 'hx/../..', 'hx*?[]'];
  for (const visitorId of ids) {
    for (const res of [
      await t.gql(TRACK_VIEW, { input: { page: '/hostile', visitorId } }, { token: admin }),
      await t.gql(ASSIGN, { e: 'hostile', v: visitorId }, { token: admin }),
      await t.gql(TRACK_CONVERSION, { input: { type: 'signup', experiment: 'hostile', visitorId } }, { token: admin }),
    ]) {
      if (res.errors) expect(res.errors[0].extensions?.code).toBe('BAD_USER_INPUT');
    }
  }
  // Accepted ones are still readable by the admin, through the same hashing.
  expect(ok(await t.gql('query J($v: String!) { visitorJourney(visitorId: $v) }', { v: 'hx:sep:id' }, { token: admin })).visitorJourney).toEqual(['/hostile']);
  const keys = await allKeys();
  for (const visitorId of ids) for (const key of keys) expect(key.includes(visitorId) ? [key, visitorId] : null).toBeNull();
});

test('a value sent with a conversion is revenue only from an admin', async () => {
  const u = await registerUser(t);
  const totals = async () => ok(await t.gql(ANALYTICS, {}, { token: admin })).analytics;
  const start = await totals();
  ok(await t.gql(TRACK_CONVERSION, { input: { type: 'claimed', valueCents: 100_000_000 } }));
  ok(await overWs(ws(), TRACK_CONVERSION, { input: { type: 'claimed', valueCents: 100_000_000 } }));
  ok(await t.gql(TRACK_CONVERSION, { input: { type: 'claimed', valueCents: 100_000_000 } }, { token: u.token }));
  const afterOthers = await totals();
  expect(afterOthers.totalConversions - start.totalConversions).toBe(3);
  expect(afterOthers.totalRevenueCents).toBe(start.totalRevenueCents);
  ok(await t.gql(TRACK_CONVERSION, { input: { type: 'claimed', valueCents: 2500 } }, { token: admin }));
  const afterAdmin = await totals();
  expect(afterAdmin.totalRevenueCents - start.totalRevenueCents).toBe(2500);
  expect(afterAdmin.conversionsByType.find((c: { type: string }) => c.type === 'claimed')).toEqual({ type: 'claimed', conversions: 4, revenueCents: 2500 });
});

test("a completed order is revenue, once, and a conversion for the buyer's experiments", async () => {
  await upsert(t, admin, { id: 'rev-mug', name: 'Mug', priceCents: 1250, stock: 10 });
  ok(await t.gql(CREATE_EXPERIMENT, { input: { key: 'buyers', variants: ['a', 'b'] } }, { token: admin }));
  const u = await registerUser(t);
  const variant = ok(await t.gql<{ assignVariant: string }>(ASSIGN, { e: 'buyers' }, { token: u.token })).assignVariant;
  const start = ok(await t.gql(ANALYTICS, {}, { token: admin })).analytics;
  await addToCart(t, u.token, 'rev-mug', 2);
  const order = (await checkout(t, u.token)).data?.checkout;
  expect(order.totalCents).toBe(2500);
  await t.app.services.orders.process(order.id);
  await t2.app.services.orders.process(order.id); // a re-run (a retried job) counts nothing twice
  const after = ok(await t.gql(ANALYTICS, {}, { token: admin })).analytics;
  expect(after.totalRevenueCents - start.totalRevenueCents).toBe(2500);
  expect(after.totalConversions - start.totalConversions).toBe(1);
  expect(after.conversionsByType.find((c: { type: string }) => c.type === '(order)')).toMatchObject({ conversions: 1, revenueCents: 2500 });
  const v = (await report('buyers')).variants.find((x: { name: string }) => x.name === variant);
  expect(v).toMatchObject({ exposures: 1, conversions: 1, conversionEvents: 1, revenueCents: 2500 });
  // Nobody else can report under the orders' type.
  expect((await t.gql(TRACK_CONVERSION, { input: { type: '(order)' } }, { token: admin })).errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
});

test('a visitor keeps its variant across instances and restarts; assignments stored before are honoured', async () => {
  ok(await t.gql(CREATE_EXPERIMENT, { input: { key: 'sticky', variants: ['a', 'b', 'c'] } }, { token: admin }));
  const first: string[] = [];
  for (let i = 0; i < 12; i++)
    first.push(ok(await t.gql<{ assignVariant: string }>(ASSIGN, { e: 'sticky', v: `sticky-${i}` }, { token: admin })).assignVariant);
  const restarted = await startTestApp({ KEY_PREFIX: t.prefix, ANALYTICS_VISITOR_KEYS_PER_DAY: '0' });
  try {
    // A fresh process with no budget left for anyone: the answers are the same.
    for (let i = 0; i < 12; i++)
      expect(ok(await restarted.gql<{ assignVariant: string }>(ASSIGN, { e: 'sticky', v: `sticky-${i}` })).assignVariant).toBe(first[i]);
  } finally {
    await restarted.app.close();
  }
  // An assignment in the format of earlier releases (visitor -> variant, no lifetime) still decides.
  const legacy = t.app.services.keys.experiment('sticky', 'assign');
  await r.hset(legacy, 'old-visitor-1', 'c', 'old-visitor-2', 'b');
  await r.sadd(t.app.services.keys.experiment('sticky', 'converted'), 'old-visitor-2');
  const exposures = (await report('sticky')).totalExposures;
  expect(ok(await t.gql<{ assignVariant: string }>(ASSIGN, { e: 'sticky', v: 'old-visitor-1' })).assignVariant).toBe('c');
  expect(ok(await t2.gql<{ assignVariant: string }>(ASSIGN, { e: 'sticky', v: 'old-visitor-2' })).assignVariant).toBe('b');
  expect((await report('sticky')).totalExposures).toBe(exposures);
  // Converting counts once per viewer, across the old and the new records.
  for (const v of ['old-visitor-1', 'old-visitor-1', 'old-visitor-2'])
    ok(await t.gql(TRACK_CONVERSION, { input: { type: 'signup', experiment: 'sticky', visitorId: v } }));
  const rep = (await report('sticky')).variants;
  expect(rep.find((x: { name: string }) => x.name === 'c')).toMatchObject({ conversions: 1, conversionEvents: 2 });
  expect(rep.find((x: { name: string }) => x.name === 'b')).toMatchObject({ conversions: 0, conversionEvents: 1 });
  // Nothing new goes into the old records.
  expect(await r.hlen(legacy)).toBe(2);
});
