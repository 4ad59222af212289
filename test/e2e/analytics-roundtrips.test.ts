/**
 * One page view, a batch of 100 page views, one conversion, one assignment: one Redis round trip
 * each, counted by the app's client and by Redis itself.
 */
import { ADMIN_ENV, adminToken } from '../helpers/app';
import { ASSIGN, BROWSER, CREATE_EXPERIMENT, ok, TRACK_CONVERSION, TRACK_VIEW, TRACK_VIEWS, UA } from '../helpers/analytics';
import { countingSetup } from '../helpers/roundtrips';

const s = countingSetup(ADMIN_ENV);
const cost = s.cost;

const N = 20;
const repeat = async (fn: (i: number) => Promise<unknown>) => {
  for (let i = 0; i < N; i++) await fn(i);
};

const browser = { headers: BROWSER };

test('a page view is one EVALSHA that does every write and the PUBLISH', async () => {
  ok(await s.t.gql(TRACK_VIEW, { input: { page: '/warm', visitorId: 'w' } }, browser)); // loads the script
  const { sent, redis } = await cost(() => repeat((i) => s.t.gql(TRACK_VIEW, { input: { page: `/rt/${i % 3}`, visitorId: `rt-${i}` } }, browser).then(ok)));
  expect(sent).toEqual({ evalsha: N });
  expect(redis.evalsha).toBe(N);
  expect(redis.publish).toBe(N);
  // Visitors: all, the page's, and today's (all, and per value of the 6 dimensions).
  expect(redis.pfadd).toBe(9 * N);
});

test("an anonymous page view without visitorId is still one round trip once the salt is loaded; a bot's too", async () => {
  ok(await s.t.gql(TRACK_VIEW, { input: { page: '/warm' } }, browser));
  const { sent } = await cost(() => repeat(() => s.t.gql(TRACK_VIEW, { input: { page: '/anon' } }, browser).then(ok)));
  expect(sent).toEqual({ evalsha: N });
  const bots = await cost(() => repeat(() => s.t.gql(TRACK_VIEW, { input: { page: '/anon' } }, { headers: { 'user-agent': UA.googlebot } }).then(ok)));
  expect(bots.sent).toEqual({ evalsha: N });
  expect(bots.redis.pfadd ?? 0).toBe(0);
});

test('a batch of 100 page views is one EVALSHA, whoever sends it, by GraphQL or POST /collect', async () => {
  const batch = (tag: string) => Array.from({ length: 100 }, (_, i) => ({ page: `/rt-batch/${i % 7}?utm_source=s${i % 3}`, visitorId: `${tag}-${i % 40}` }));
  ok(await s.t.gql(TRACK_VIEWS, { inputs: batch('warm') }, browser));
  const http = await cost(async () => expect(ok(await s.t.gql(TRACK_VIEWS, { inputs: batch('http') }, browser)).trackPageViews).toBe(100));
  expect(http.sent).toEqual({ evalsha: 1 });
  expect(http.redis.evalsha).toBe(1);
  expect(http.redis.publish).toBe(100);
  const beacon = await cost(async () => {
    const res = await fetch(`${s.t.url}/collect`, {
      method: 'POST',
      headers: { ...BROWSER, 'content-type': 'text/plain' },
      body: JSON.stringify({ inputs: batch('beacon') }),
    });
    expect(await res.json()).toEqual({ recorded: 100 });
  });
  expect(beacon.sent).toEqual({ evalsha: 1 });
  // A signed-in caller: the session check (a script of its own) and the one batch script; a
  // User-Agent that is not a browser's adds the read of the user that tells whether it is an admin.
  // Within 800 ms of the warm-up the instance holds both (docs/caching.md): the batch script alone.
  const admin = await adminToken(s.t);
  ok(await s.t.gql(TRACK_VIEWS, { inputs: batch('admin-warm') }, { token: admin }));
  const held = await cost(async () => ok(await s.t.gql(TRACK_VIEWS, { inputs: batch('admin') }, { token: admin })));
  expect(held.sent).toEqual({ evalsha: 1 });
  await new Promise((r) => setTimeout(r, 900));
  const signedIn = await cost(async () => ok(await s.t.gql(TRACK_VIEWS, { inputs: batch('admin-cold') }, { token: admin })));
  expect(signedIn.sent).toEqual({ evalsha: 2, hgetall: 1 });
});

test('a conversion naming an experiment and an assignment are one round trip each', async () => {
  const admin = await adminToken(s.t);
  ok(await s.t.gql(CREATE_EXPERIMENT, { input: { key: 'rt', variants: ['a', 'b'] } }, { token: admin }));
  ok(await s.t.gql(ASSIGN, { e: 'rt', v: 'warm' }));
  ok(await s.t.gql(TRACK_CONVERSION, { input: { type: 'warm', experiment: 'rt', visitorId: 'warm' } }));
  const assign = await cost(() => repeat((i) => s.t.gql(ASSIGN, { e: 'rt', v: `v${i}` }).then(ok)));
  expect(assign.sent).toEqual({ evalsha: N });
  const convert = await cost(() =>
    repeat((i) => s.t.gql(TRACK_CONVERSION, { input: { type: 'buy', valueCents: 5, experiment: 'rt', visitorId: `v${i}` } }).then(ok)),
  );
  expect(convert.sent).toEqual({ evalsha: N });
  expect(convert.redis.publish).toBe(N);
});
