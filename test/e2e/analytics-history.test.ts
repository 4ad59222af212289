/**
 * Questions past the live day, answered from the rollups: breakdown (views and unique visitors
 * per value of a dimension over days), funnel (visitors who reached each page of a list, in
 * order, with visitors who skip steps, go back, or cross midnight), and pageViewSeries past the
 * retention. Admins only, over HTTP and WebSocket alike. Earlier days are written into Redis the
 * way the tracking script writes them (the clock cannot be moved).
 */
import type Redis from 'ioredis';
import type { Client } from 'graphql-ws';
import { Keys } from '../../src/redis/keys';
import { valueDigest } from '../../src/services/analytics/page-view-facts';
import { ADMIN_ENV, adminToken, registerUser, startTestApp, type TestApp } from '../helpers/app';
import { BREAKDOWN, BROWSER, FUNNEL, ok, TRACK_VIEWS, UA } from '../helpers/analytics';
import { rawRedis } from '../helpers/redis';
import { execute, wsClient } from '../helpers/ws';

type Row = { value: string; views: number; uniqueVisitors: number };
type Step = { page: string; visitors: number };

const DAY = 86_400_000;
let t: TestApp;
let admin: string;
let r: Redis;
let keys: Keys;
const clients: Client[] = [];
beforeAll(async () => {
  t = await startTestApp({ ...ADMIN_ENV, ANALYTICS_VISITOR_KEYS_PER_DAY: '100000', ANALYTICS_HISTORY: '40d' });
  admin = await adminToken(t);
  r = rawRedis();
  keys = new Keys(t.prefix);
});
afterAll(async () => {
  await Promise.all(clients.map(async (c) => c.dispose()));
  r.disconnect();
  await t.close();
});

const today = () => Math.floor(Date.now() / DAY);
const track = (inputs: unknown[], ua = UA.chromeDesktop) => t.gql(TRACK_VIEWS, { inputs }, { headers: { 'user-agent': ua } }).then(ok);
/** One visitor's views, in order, in one request (one script call keeps their order). */
const visit = (visitorId: string, pages: string[], ua?: string) =>
  track(
    pages.map((page) => ({ page, visitorId })),
    ua,
  );
const breakdown = async (dimension: string, days?: number, limit = 100): Promise<Record<string, Row>> => {
  const rows = ok(await t.gql<{ breakdown: Row[] }>(BREAKDOWN, { dimension, days, limit }, { token: admin })).breakdown;
  return Object.fromEntries(rows.map((x) => [x.value, x]));
};
const funnel = async (steps: string[], days?: number): Promise<number[]> =>
  ok(await t.gql<{ funnel: Step[] }>(FUNNEL, { steps, days }, { token: admin })).funnel.map((s) => s.visitors);

/** Writes views of `value` by `visitors` into a past day's rollup of one dimension, as the script does. */
async function pastDay(day: number, dim: 'page' | 'src', value: string, views: number, visitors: string[]): Promise<void> {
  await r.zincrby(keys.anDayValues(day, dim), views, value);
  await r.pfadd(keys.anDayUniques(day, dim, valueDigest(value)), ...visitors);
  await r.expire(keys.anDayValues(day, dim), 3600);
  await r.expire(keys.anDayUniques(day, dim, valueDigest(value)), 3600);
}

describe('breakdown', () => {
  test('views and unique visitors per value, most viewed first, limit honoured', async () => {
    await visit('bd-1', ['/bd/a?utm_source=ads', '/bd/a', '/bd/b']);
    await visit('bd-2', ['/bd/a?utm_source=ads', '/bd/c?utm_source=social']);
    await visit('bd-3', ['/bd/a'], UA.safariIphone);
    const rows = ok(await t.gql<{ breakdown: Row[] }>(BREAKDOWN, { dimension: 'PAGE', days: 1, limit: 2 }, { token: admin })).breakdown;
    expect(rows).toEqual([
      { value: '/bd/a', views: 4, uniqueVisitors: 3 },
      // Ties in reverse order of the value, as Redis ranks them.
      { value: '/bd/c', views: 1, uniqueVisitors: 1 },
    ]);
    const src = await breakdown('UTM_SOURCE', 1);
    expect(src.ads).toEqual({ value: 'ads', views: 2, uniqueVisitors: 2 });
    expect(src.social).toEqual({ value: 'social', views: 1, uniqueVisitors: 1 });
    expect(src['(none)']).toEqual({ value: '(none)', views: 3, uniqueVisitors: 2 });
  });

  test('over several days: views summed, a visitor seen on several days counted once', async () => {
    const d = today();
    await pastDay(d - 1, 'page', '/bd/a', 10, ['bd-1', 'old-1', 'old-2']);
    await pastDay(d - 6, 'page', '/bd/a', 5, ['old-1', 'old-3']);
    // Outside a 7-day window.
    await pastDay(d - 7, 'page', '/bd/a', 1000, ['older']);
    expect((await breakdown('PAGE', 1))['/bd/a']).toEqual({ value: '/bd/a', views: 4, uniqueVisitors: 3 });
    expect((await breakdown('PAGE', 2))['/bd/a']).toEqual({ value: '/bd/a', views: 14, uniqueVisitors: 5 });
    // The default window is 7 days.
    const week = ok(await t.gql<{ breakdown: Row[] }>('{ breakdown(dimension: PAGE) { value views uniqueVisitors } }', {}, { token: admin })).breakdown;
    expect(week.find((x) => x.value === '/bd/a')).toEqual({ value: '/bd/a', views: 19, uniqueVisitors: 6 });
    expect((await breakdown('PAGE', 8))['/bd/a'].views).toBe(1019);
    // A past day's value that today does not have still shows.
    await pastDay(d - 2, 'src', 'old-campaign', 7, ['x', 'y']);
    expect((await breakdown('UTM_SOURCE', 3))['old-campaign']).toEqual({ value: 'old-campaign', views: 7, uniqueVisitors: 2 });
    expect((await breakdown('UTM_SOURCE', 2))['old-campaign']).toBeUndefined();
  });

  test('days from 1 to ANALYTICS_HISTORY, limit from 1 to 100', async () => {
    for (const [days, limit] of [
      [0, 10],
      [41, 10],
      [7, 0],
      [7, 101],
    ]) {
      const res = await t.gql(BREAKDOWN, { dimension: 'PAGE', days, limit }, { token: admin });
      expect([days, limit, res.errors?.[0]?.extensions?.code]).toEqual([days, limit, 'BAD_USER_INPUT']);
    }
    expect(ok(await t.gql(BREAKDOWN, { dimension: 'DEVICE', days: 40, limit: 100 }, { token: admin })).breakdown.length).toBeGreaterThan(0);
  });
});

describe('funnel', () => {
  const STEPS = ['/f/1', '/f/2', '/f/3'];

  test('in order: skipping a step stops the visitor there, going back counts only once the page is seen again after', async () => {
    await visit('all-three', ['/f/1', '/f/2', '/f/3']);
    await visit('skips-two', ['/f/1', '/f/3']);
    await visit('backwards', ['/f/2', '/f/1', '/f/3']);
    await visit('back-then-forward', ['/f/2', '/f/1', '/f/2', '/f/3']);
    await visit('detours', ['/f/1', '/elsewhere', '/f/1', '/f/2?utm_source=x', '/elsewhere']);
    await visit('never-starts', ['/f/3', '/f/2']);
    await visit('repeats', ['/f/1', '/f/1', '/f/2', '/f/2']);
    // Separate requests keep their order too.
    await visit('two-requests', ['/f/1']);
    await visit('two-requests', ['/f/2', '/f/3']);
    // Bots are no visitors.
    await visit('crawler', ['/f/1', '/f/2', '/f/3'], UA.googlebot);
    // step 1: every visitor who saw /f/1; step 2: a /f/2 after it; step 3: a /f/3 after that /f/2.
    expect(await funnel(STEPS, 1)).toEqual([7, 5, 3]);
    const res = ok(await t.gql<{ funnel: Step[] }>(FUNNEL, { steps: ['/f/1?from=mail', '/f/2#top', '/f/3'], days: 1 }, { token: admin })).funnel;
    expect(res).toEqual([
      { page: '/f/1', visitors: 7 },
      { page: '/f/2', visitors: 5 },
      { page: '/f/3', visitors: 3 },
    ]);
  });

  test('one view reaches one step: a page listed twice needs two views, the second after the step between', async () => {
    await visit('loop-done', ['/g/1', '/g/2', '/g/1']);
    await visit('loop-short', ['/g/1', '/g/1', '/g/2']);
    await visit('loop-once', ['/g/1', '/g/2']);
    expect(await funnel(['/g/1', '/g/2', '/g/1'], 1)).toEqual([3, 3, 1]);
    expect(await funnel(['/g/1', '/g/1'], 1)).toEqual([3, 2]);
  });

  test('a page never tracked stops everyone at its step; only steps from the list count', async () => {
    expect(await funnel(['/f/1', '/never-tracked', '/f/3'], 1)).toEqual([7, 0, 0]);
    expect(await funnel(['/never-tracked', '/f/1'], 1)).toEqual([0, 0]);
    expect(await funnel(['/f/2'], 1)).toEqual([7]);
  });

  test("across midnight: yesterday's views come before today's", async () => {
    // "overnight" saw /h/1 yesterday (written as the script writes it) and /h/2, /h/3 today.
    await visit('page-ids', ['/h/1', '/h/2', '/h/3']);
    const ids = await r.hmget(keys.anPageIds(), '/h/1', '/h/2', '/h/3');
    const field = async (v: string) => (await t.app.services.visitors.visitorKey(v)).slice(0, 12);
    await r.hset(keys.anDay(today() - 1, 'seq'), await field('overnight'), `${ids[0]}`, await field('late-start'), `${ids[2]}`);
    await r.expire(keys.anDay(today() - 1, 'seq'), 3600);
    await visit('overnight', ['/h/2', '/h/3']);
    await visit('late-start', ['/h/1', '/h/2']);
    // Today alone: only page-ids and late-start saw /h/1.
    expect(await funnel(['/h/1', '/h/2', '/h/3'], 1)).toEqual([2, 2, 1]);
    // Two days: overnight reached every step; late-start's /h/3 yesterday came before its /h/1.
    expect(await funnel(['/h/1', '/h/2', '/h/3'], 2)).toEqual([3, 3, 2]);
  });

  test("a visitor's sequence keeps its first 200 views of the day", async () => {
    await visit(
      'busy',
      Array.from({ length: 100 }, () => '/cap/a'),
    );
    await visit('busy', [...Array.from({ length: 99 }, () => '/cap/a'), '/cap/b']);
    await visit('busy', ['/cap/c', '/cap/d']);
    await visit('calm', ['/cap/a', '/cap/b', '/cap/c', '/cap/d']);
    // busy's 200th view was /cap/b; /cap/c and /cap/d came later and are not in its sequence.
    expect(await funnel(['/cap/a', '/cap/b', '/cap/c', '/cap/d'], 1)).toEqual([2, 2, 1, 1]);
    // Every view still counts everywhere else.
    expect(ok(await t.gql('{ pageStats(page: "/cap/d") { views } }', {}, { token: admin })).pageStats.views).toBe(2);
  });

  test('steps and days are bounded', async () => {
    const bad = async (steps: unknown, days?: number) => {
      const res = await t.gql(FUNNEL, { steps, days }, { token: admin });
      expect([steps, days, res.errors?.[0]?.extensions?.code]).toEqual([steps, days, 'BAD_USER_INPUT']);
    };
    await bad([]);
    await bad(Array.from({ length: 11 }, (_, i) => `/s/${i}`));
    await bad(['no-slash']);
    await bad(['/has space']);
    await bad([`/${'x'.repeat(300)}`]);
    await bad(['/f/1'], 0);
    await bad(['/f/1'], 32);
    expect(await funnel(['/f/1'], 31)).toEqual([expect.any(Number)]);
  });
});

describe('pageViewSeries past the retention', () => {
  test('one point per hour for all pages, per day for one page; the hourly rollup holds earlier hours', async () => {
    const hour = Math.floor(Date.now() / 3_600_000);
    await r.hincrby(keys.anHour(hour - 30), '*', 42);
    await r.expire(keys.anHour(hour - 30), 3600);
    await pastDay(today() - 2, 'page', '/series', 9, ['s']);
    await track([{ page: '/series', visitorId: 's' }, { page: '/series' }]);
    type Point = { at: string; count: number };
    const res = ok(
      await t.gql<{ all: Point[]; one: Point[] }>(
        '{ all: pageViewSeries(minutes: 4320) { at count } one: pageViewSeries(page: "/series", minutes: 4320) { at count } }',
        {},
        { token: admin },
      ),
    );
    // 72 hours touch 73 hourly buckets (the running one last), each at a whole hour.
    expect(res.all).toHaveLength(73);
    expect(Date.parse(res.all[72].at)).toBe(hour * 3_600_000);
    expect(res.all[72 - 30]).toEqual({ at: new Date((hour - 30) * 3_600_000).toISOString(), count: 42 });
    const views = ok(await t.gql('{ analytics { totalPageViews } }', {}, { token: admin })).analytics.totalPageViews;
    // Everything tracked in this file happened in this hour or the last (no minute of it is older).
    expect(res.all[72].count + res.all[71].count).toBe(views);
    // One page: a point per UTC day, today's last.
    expect(res.one.map((p) => p.count).slice(-3)).toEqual([9, 0, 2]);
    expect(Date.parse(res.one[res.one.length - 1].at)).toBe(today() * DAY);
  });
});

describe('who may read', () => {
  const reads = [
    { query: '{ breakdown(dimension: REFERRER) { value } }', field: 'breakdown' },
    { query: '{ funnel(steps: ["/f/1"]) { visitors } }', field: 'funnel' },
  ];

  test('admins only, over HTTP and WebSocket alike', async () => {
    const u = await registerUser(t);
    for (const { query, field } of reads) {
      expect((await t.gql(query)).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      expect((await t.gql(query, {}, { token: u.token })).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      const anon = wsClient(t.url);
      const user = wsClient(t.url, { token: u.token });
      const adm = wsClient(t.url, { token: admin });
      clients.push(anon, user, adm);
      expect((await execute(anon, query)).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      expect((await execute(user, query)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      const overWs = await execute(adm, query);
      expect(overWs.data?.[field]).toEqual(ok(await t.gql(query, {}, { token: admin }))[field]);
    }
  });

  test('a browser that tracked can read nothing back', async () => {
    const res = await t.gql(BREAKDOWN, { dimension: 'PAGE' }, { headers: BROWSER });
    expect(res.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });
});
