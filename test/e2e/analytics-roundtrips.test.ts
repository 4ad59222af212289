/** One page view, one conversion, one assignment: one Redis round trip each, counted by the app's client and by Redis itself. */
import { ADMIN_ENV, adminToken } from '../helpers/app';
import { ASSIGN, CREATE_EXPERIMENT, ok, TRACK_CONVERSION, TRACK_VIEW } from '../helpers/analytics';
import { countingSetup } from '../helpers/roundtrips';

const s = countingSetup(ADMIN_ENV);
const cost = s.cost;

const N = 20;
const repeat = async (fn: (i: number) => Promise<unknown>) => {
  for (let i = 0; i < N; i++) await fn(i);
};

test('a page view is one EVALSHA that does every write and the PUBLISH', async () => {
  ok(await s.t.gql(TRACK_VIEW, { input: { page: '/warm', visitorId: 'w' } })); // loads the script
  const { sent, redis } = await cost(() => repeat((i) => s.t.gql(TRACK_VIEW, { input: { page: `/rt/${i % 3}`, visitorId: `rt-${i}` } }).then(ok)));
  expect(sent).toEqual({ evalsha: N });
  expect(redis.evalsha).toBe(N);
  expect(redis.publish).toBe(N);
  expect(redis.pfadd).toBe(2 * N);
});

test('an anonymous page view without visitorId is still one round trip once the salt is loaded', async () => {
  ok(await s.t.gql(TRACK_VIEW, { input: { page: '/warm' } }));
  const { sent } = await cost(() => repeat(() => s.t.gql(TRACK_VIEW, { input: { page: '/anon' } }).then(ok)));
  expect(sent).toEqual({ evalsha: N });
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
