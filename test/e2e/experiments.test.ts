/** A/B experiments through the gateway: admin-only creation, deterministic assignment, split, attribution, significance and SRM. */
import { registerUser, type TestApp } from '../helpers/app';
import { twoInstances } from '../helpers/instances';
import { ASSIGN, CREATE_EXPERIMENT, EXPERIMENT, ok, pool, TRACK_CONVERSION } from '../helpers/analytics';
import { guestToken } from '../helpers/commerce';
import { rawRedis } from '../helpers/redis';
import { execute, wsClient } from '../helpers/ws';
import { welchTTest } from '../../src/services/analytics/experiment.stats';

let t: TestApp;
let t2: TestApp;
let admin: string;
// Thousands of visitors from one address: the daily budget of new visitor keys is raised to fit them.
const two = twoInstances({ ANALYTICS_VISITOR_KEYS_PER_DAY: '100000' }, { admin: true });
beforeAll(() => ({ a: t, b: t2, admin } = two));

type Report = {
  key: string;
  control: string;
  totalExposures: number;
  unattributedConversions: number;
  sampleRatioPValue: number | null;
  sampleRatioMismatch: boolean;
  warnings: string[];
  variants: Array<{
    name: string;
    weight: number;
    exposures: number;
    conversions: number;
    conversionRate: number;
    conversionEvents: number;
    revenueCents: number;
    upliftVsControl: number | null;
    pValue: number | null;
    chanceToBeatControl: number | null;
    significant: boolean;
  }>;
};
const create = (input: Record<string, unknown>, token: string | null = admin) => t.gql(CREATE_EXPERIMENT, { input }, { token });
const report = async (key: string): Promise<Report> => ok(await t.gql<{ experiment: Report }>(EXPERIMENT, { key }, { token: admin })).experiment;
const assign = async (e: string, v?: string, app = t, token?: string): Promise<string> =>
  ok(await app.gql<{ assignVariant: string }>(ASSIGN, { e, v }, { token })).assignVariant;

test('only admins create experiments; input is validated; re-creating is idempotent, changing is refused', async () => {
  const u = await registerUser(t);
  expect((await create({ key: 'ab1', variants: ['a', 'b'] }, null)).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  expect((await create({ key: 'ab1', variants: ['a', 'b'] }, u.token)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  for (const bad of [
    { key: 'ab1', variants: ['only'] },
    { key: 'ab1', variants: ['a', 'a'] },
    { key: 'bad key', variants: ['a', 'b'] },
    { key: 'ab1', variants: ['a', 'b'], weights: [1] },
    { key: 'ab1', variants: ['a', 'b'], weights: [0, 1] },
  ]) {
    expect((await create(bad)).errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  }
  const made = ok(await create({ key: 'ab1', variants: ['control', 'green'], weights: [1, 3] })).createExperiment;
  expect(made).toEqual({
    key: 'ab1',
    control: 'control',
    variants: [
      { name: 'control', weight: 0.25, exposures: 0 },
      { name: 'green', weight: 0.75, exposures: 0 },
    ],
  });
  expect(ok(await create({ key: 'ab1', variants: ['control', 'green'], weights: [1, 3] })).createExperiment.key).toBe('ab1');
  expect((await create({ key: 'ab1', variants: ['control', 'blue'] })).errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  expect(ok(await t.gql('{ experiments { key } }', {}, { token: admin })).experiments.map((e: { key: string }) => e.key)).toContain('ab1');
  expect((await t.gql(ASSIGN, { e: 'no-such' })).errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
});

test('assignment is deterministic per viewer, on any instance, and counts one exposure per viewer', async () => {
  ok(await create({ key: 'det', variants: ['a', 'b', 'c'] }));
  const first: string[] = [];
  for (let i = 0; i < 30; i++) first.push(await assign('det', `det-${i}`));
  for (let i = 0; i < 30; i++) {
    expect(await assign('det', `det-${i}`, t2)).toBe(first[i]);
    expect(await assign('det', `det-${i}`)).toBe(first[i]);
  }
  // Concurrent first exposures of one viewer still count once.
  const results = await Promise.all(Array.from({ length: 20 }, (_, i) => assign('det', 'racer', i % 2 ? t : t2)));
  expect(new Set(results).size).toBe(1);
  const r = await report('det');
  expect(r.totalExposures).toBe(31);
  expect(r.variants.reduce((s, v) => s + v.exposures, 0)).toBe(31);
  // Without visitorId: the signed-in user, else the session, else IP and user agent.
  const u = await registerUser(t);
  const asUser = await assign('det', undefined, t, u.token);
  expect(await assign('det', undefined, t2, u.token)).toBe(asUser);
  // An admin (a server reporting for its visitors) may name a signed-in user's identity.
  expect(await assign('det', `user:${u.userId}`, t, admin)).toBe(asUser);
});

test('a caller with a session cannot steer its variant with visitor ids: the session decides, over HTTP and WebSocket', async () => {
  const variants = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
  ok(await create({ key: 'steer', variants }));
  const ids = Array.from({ length: 40 }, (_, i) => `steer-${i}`);
  // The same ids from an anonymous caller spread over the variants: each would have picked one.
  const anonymous = new Set<string>();
  for (const id of ids) anonymous.add(await assign('steer', id));
  expect(anonymous.size).toBeGreaterThan(4);

  const u = await registerUser(t);
  const mine = await assign('steer', undefined, t, u.token);
  const guest = await guestToken(t);
  const guests = await assign('steer', undefined, t2, guest);
  for (const [i, id] of ids.entries()) {
    expect(await assign('steer', id, i % 2 ? t : t2, u.token)).toBe(mine);
    expect(await assign('steer', id, i % 2 ? t2 : t, guest)).toBe(guests);
  }
  const ws = wsClient(t2.url, { token: u.token });
  try {
    for (const id of ids.slice(0, 10)) expect((await execute<{ assignVariant: string }>(ws, ASSIGN, { e: 'steer', v: id })).data?.assignVariant).toBe(mine);
  } finally {
    await ws.dispose();
  }
  // One exposure each for the user and the guest, whatever ids they sent.
  expect((await report('steer')).totalExposures).toBe(ids.length + 2);

  // A conversion naming another visitor counts for the caller's own variant, not for that visitor.
  ok(await t.gql(TRACK_CONVERSION, { input: { type: 'buy', experiment: 'steer', visitorId: 'steer-never-exposed' } }, { token: u.token }));
  const r = await report('steer');
  expect(r.unattributedConversions).toBe(0);
  expect(r.variants.find((v) => v.name === mine)!.conversions).toBe(1);

  // An anonymous caller may not pose as a signed-in user, a session or an anonymous hash.
  for (const v of [`user:${u.userId}`, 'session:x', 'anon:abc']) {
    expect((await t.gql(ASSIGN, { e: 'steer', v })).errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect((await t.gql(TRACK_CONVERSION, { input: { type: 'buy', experiment: 'steer', visitorId: v } })).errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  }
  expect((await report('steer')).variants.reduce((s, v) => s + v.conversionEvents, 0)).toBe(1);
});

test('the split follows the weights, with no sample-ratio mismatch', async () => {
  ok(await create({ key: 'split', variants: ['control', 'treat'], weights: [1, 3] }));
  await pool(1200, 32, (i) => assign('split', `split-${i}`));
  const r = await report('split');
  expect(r.totalExposures).toBe(1200);
  const share = r.variants[1].exposures / 1200;
  // 0.75 ± 4 standard errors (sd of the share is 0.0125 at n = 1200).
  expect(Math.abs(share - 0.75)).toBeLessThan(0.05);
  expect(r.sampleRatioMismatch).toBe(false);
  expect(r.sampleRatioPValue).toBeGreaterThan(0.001);
});

test("conversions count for the viewer's variant: once per viewer in the rate, every one in events and revenue", async () => {
  ok(await create({ key: 'attr', variants: ['a', 'b'] }));
  const variantOf: Record<string, string> = {};
  await pool(400, 32, async (i) => {
    variantOf[`attr-${i}`] = await assign('attr', `attr-${i}`);
  });
  // Every viewer in b converts, a quarter of a does; two conversions each for viewers 0..9.
  const converting = Object.keys(variantOf).filter((v) => variantOf[v] === 'b' || Number(v.slice(5)) % 4 === 0);
  // Reported by an admin (a server-side reporter), whose valueCents is revenue.
  await pool(converting.length, 32, (i) =>
    t.gql(TRACK_CONVERSION, { input: { type: 'purchase', valueCents: 500, experiment: 'attr', visitorId: converting[i] } }, { token: admin }).then(ok),
  );
  const repeaters = converting.slice(0, 10);
  await pool(10, 10, (i) =>
    t2.gql(TRACK_CONVERSION, { input: { type: 'purchase', valueCents: 500, experiment: 'attr', visitorId: repeaters[i] } }, { token: admin }).then(ok),
  );
  // A viewer never exposed converts: counted apart, and warned about.
  ok(await t.gql(TRACK_CONVERSION, { input: { type: 'purchase', experiment: 'attr', visitorId: 'stranger' } }));
  const r = await report('attr');
  for (const v of r.variants) {
    const exposed = Object.keys(variantOf).filter((x) => variantOf[x] === v.name);
    const conv = converting.filter((x) => variantOf[x] === v.name);
    const extra = repeaters.filter((x) => variantOf[x] === v.name).length;
    expect(v.exposures).toBe(exposed.length);
    expect(v.conversions).toBe(conv.length);
    expect(v.conversionEvents).toBe(conv.length + extra);
    expect(v.revenueCents).toBe(500 * (conv.length + extra));
    expect(v.conversionRate).toBeCloseTo(conv.length / exposed.length, 10);
  }
  expect(r.unattributedConversions).toBe(1);
  expect(r.warnings.join(' ')).toMatch(/never exposed/);
  const [a, b] = r.variants;
  expect(a.pValue).toBeNull();
  expect(a.chanceToBeatControl).toBeNull();
  // 100% against 25% on ~200 viewers each: overwhelming.
  expect(b.pValue).toBeLessThan(1e-6);
  expect(b.chanceToBeatControl).toBeGreaterThan(0.999);
  expect(b.significant).toBe(true);
  expect(b.upliftVsControl).toBeCloseTo(b.conversionRate / a.conversionRate - 1, 10);
});

test('revenue per visitor: exact sums of revenue and of its squares per viewer, repeats and concurrency included; its own test', async () => {
  ok(await create({ key: 'rpv', variants: ['a', 'b'] }));
  const variantOf: Record<string, string> = {};
  await pool(240, 32, async (i) => {
    variantOf[`rpv-${i}`] = await assign('rpv', `rpv-${i}`, i % 2 ? t : t2);
  });
  // Two viewers in three pay, 1 to 4 times each, b's payments larger: the per-viewer total is what is squared.
  const payments: Array<{ visitorId: string; valueCents: number }> = [];
  for (let i = 0; i < 240; i++) {
    if (i % 3 === 0) continue;
    const id = `rpv-${i}`;
    for (let k = 0; k <= i % 4; k++) payments.push({ visitorId: id, valueCents: 100 * (1 + ((i + k) % 5)) + (variantOf[id] === 'b' ? 500 : 0) });
  }
  // A viewer's payments run side by side, on both instances.
  await pool(payments.length, 32, (j) =>
    (j % 2 ? t : t2).gql(TRACK_CONVERSION, { input: { type: 'purchase', experiment: 'rpv', ...payments[j] } }, { token: admin }).then(ok),
  );
  const perViewer: Record<string, number> = Object.fromEntries(Object.keys(variantOf).map((id) => [id, 0]));
  for (const p of payments) perViewer[p.visitorId] += p.valueCents;
  const expected = (name: string) => {
    const totals = Object.keys(variantOf)
      .filter((id) => variantOf[id] === name)
      .map((id) => perViewer[id]);
    return { n: totals.length, sum: totals.reduce((s, x) => s + x, 0), sumSquares: totals.reduce((s, x) => s + x * x, 0) };
  };
  const REVENUE = `query E($key: String!) { experiment(key: $key) { warnings variants { name exposures revenueCents revenuePerVisitor
    revenuePerVisitorStdDev revenueUpliftVsControl revenuePValue revenueSignificant pValue } } }`;
  const r = ok(await t.gql(REVENUE, { key: 'rpv' }, { token: admin })).experiment;
  const [ea, eb] = [expected('a'), expected('b')];
  for (const [v, e] of [
    [r.variants[0], ea],
    [r.variants[1], eb],
  ] as const) {
    expect(v.exposures).toBe(e.n);
    expect(v.revenueCents).toBe(e.sum);
    expect(v.revenuePerVisitor).toBeCloseTo(e.sum / e.n, 9);
    expect(v.revenuePerVisitorStdDev).toBeCloseTo(Math.sqrt((e.sumSquares - (e.sum * e.sum) / e.n) / (e.n - 1)), 6);
  }
  expect(r.variants[0].revenuePValue).toBeNull();
  expect(r.variants[1].revenueUpliftVsControl).toBeCloseTo(eb.sum / eb.n / (ea.sum / ea.n) - 1, 9);
  expect(r.variants[1].revenuePValue).toBeCloseTo(welchTTest(ea, eb)!.pValue, 9);
  expect(r.variants[1].revenueSignificant).toBe(r.variants[1].revenuePValue < 0.05);
  // Who pays does not depend on the variant, how much does: b's revenue per visitor is about twice a's (t ≈ 6).
  expect(r.variants[1].revenuePValue).toBeLessThan(0.01);
  expect(r.warnings.join(' ')).not.toMatch(/revenue per visitor/);
});

test('a sample-ratio mismatch is reported as a warning', async () => {
  ok(await create({ key: 'srm', variants: ['a', 'b'] }));
  await pool(400, 32, (i) => assign('srm', `srm-${i}`));
  expect((await report('srm')).sampleRatioMismatch).toBe(false);
  // A logging bug outside the gateway: 300 exposures of b were recorded twice.
  const r = rawRedis();
  try {
    await r.hincrby(t.app.services.keys.experiment('srm', 'stats'), 'b:exposures', 300);
  } finally {
    r.disconnect();
  }
  const after = await report('srm');
  expect(after.sampleRatioMismatch).toBe(true);
  expect(after.sampleRatioPValue).toBeLessThan(0.001);
  expect(after.warnings[0]).toMatch(/Sample ratio mismatch/);
});

describe('stopExperiment', () => {
  const STOP =
    'mutation S($k: String!, $w: String) { stopExperiment(key: $k, winner: $w) { key status winner stoppedAt variants { name exposures conversions } } }';
  const stop = (k: string, w?: string | null, token: string | null = admin) => t.gql(STOP, { k, w }, { token });

  test('after a stop every visitor gets the winner, on every instance, and nothing more is recorded', async () => {
    ok(await create({ key: 'stop1', variants: ['a', 'b'] }));
    const before: string[] = [];
    for (let i = 0; i < 20; i++) before.push(await assign('stop1', `stop1-${i}`));
    expect(new Set(before)).toEqual(new Set(['a', 'b']));
    const stopped = ok(await stop('stop1', 'b')).stopExperiment;
    expect(stopped).toMatchObject({ key: 'stop1', status: 'STOPPED', winner: 'b' });
    expect(Date.now() - Date.parse(stopped.stoppedAt)).toBeLessThan(5000);
    const frozen = await report('stop1');
    for (let i = 0; i < 20; i++) expect(await assign('stop1', `stop1-${i}`, i % 2 ? t : t2)).toBe('b');
    for (let i = 0; i < 10; i++) expect(await assign('stop1', `stop1-new-${i}`, t2)).toBe('b');
    const u = await registerUser(t2);
    expect(await assign('stop1', undefined, t, u.token)).toBe('b');
    // No exposure is recorded: a visitor first seen after the stop has no exposure record at all.
    const r = rawRedis();
    try {
      const { keys, visitors } = t.app.services;
      for (const id of [...Array.from({ length: 10 }, (_, i) => `stop1-new-${i}`), `user:${u.userId}`]) {
        expect(await r.exists(keys.anVisitorExps(await visitors.visitorKey(id)))).toBe(0);
      }
    } finally {
      r.disconnect();
    }
    expect((await report('stop1')).totalExposures).toBe(frozen.totalExposures);
    // Conversions after the stop count in the totals but no longer in the experiment.
    ok(await t.gql(TRACK_CONVERSION, { input: { type: 'signup', visitorId: 'stop1-0', experiment: 'stop1' } }));
    expect((await report('stop1')).variants).toEqual(frozen.variants);
  });

  test('without a winner every visitor gets the control; the status shows on reads and listings', async () => {
    ok(await create({ key: 'stop2', variants: ['ctl', 'x', 'y'] }));
    const res = ok(await stop('stop2', null)).stopExperiment;
    expect(res).toMatchObject({ status: 'STOPPED', winner: null });
    for (let i = 0; i < 10; i++) expect(await assign('stop2', `stop2-${i}`)).toBe('ctl');
    ok(await create({ key: 'run1', variants: ['a', 'b'] }));
    const list = ok(await t.gql('{ experiments(limit: 100) { key status winner } }', {}, { token: admin })).experiments as Array<{
      key: string;
      status: string;
    }>;
    expect(list.find((e) => e.key === 'stop2')?.status).toBe('STOPPED');
    expect(list.find((e) => e.key === 'run1')?.status).toBe('RUNNING');
  });

  test('admins only; unknown experiments, unknown winners and a second stop with another winner are refused', async () => {
    const u = await registerUser(t);
    ok(await create({ key: 'stop3', variants: ['a', 'b'] }));
    expect((await stop('stop3', 'a', null)).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect((await stop('stop3', 'a', u.token)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect((await stop('no-such-exp', 'a')).errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect((await stop('stop3', 'zzz')).errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(ok(await stop('stop3', 'a')).stopExperiment.winner).toBe('a');
    // The same stop again is a no-op (safe to retry); another winner is refused.
    expect(ok(await stop('stop3', 'a')).stopExperiment.winner).toBe('a');
    expect((await stop('stop3', 'b')).errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  test('concurrent stops on two instances with different winners: exactly one wins', async () => {
    ok(await create({ key: 'stop4', variants: ['a', 'b', 'c'] }));
    const res = await Promise.all(['a', 'b', 'c', 'a', 'b', 'c'].map((w, i) => (i % 2 ? t2 : t).gql(STOP, { k: 'stop4', w }, { token: admin })));
    const winners = new Set(res.filter((r) => !r.errors).map((r) => r.data!.stopExperiment.winner));
    expect(winners.size).toBe(1);
    const w = [...winners][0];
    expect(await assign('stop4', 'someone')).toBe(w);
  });
});
