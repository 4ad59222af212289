/**
 * Collecting page views in batches: trackPageViews (HTTP and WebSocket) and POST /collect (the
 * sendBeacon endpoint), what each view is counted under (referrer host, UTM values, browser,
 * device; bots apart), the bounds on what callers can make Redis hold (distinct values per day,
 * visitor-key budgets, hostile values never in key names), and rate limits that count views;
 * concurrent batches on two instances.
 */
import type Redis from 'ioredis';
import type { Client } from 'graphql-ws';
import { ADMIN_ENV, adminToken, registerUser, startTestApp, type GqlResult, type TestApp } from '../helpers/app';
import { ANALYTICS, BREAKDOWN, BROWSER, ok, TRACK_VIEWS, UA } from '../helpers/analytics';
import { twoInstances } from '../helpers/instances';
import { rawRedis } from '../helpers/redis';
import { collect, execute, wsClient } from '../helpers/ws';

type Row = { value: string; views: number; uniqueVisitors: number };

let r: Redis;
const apps: TestApp[] = [];
const clients: Client[] = [];
beforeAll(() => {
  r = rawRedis();
});
afterAll(async () => {
  await Promise.all(clients.map(async (c) => c.dispose()));
  await Promise.all(apps.map((a) => a.close()));
  r.disconnect();
});

async function app(env: Record<string, string> = {}): Promise<TestApp> {
  const t = await startTestApp({ ...ADMIN_ENV, ...env });
  apps.push(t);
  return t;
}

function ws(t: TestApp, opts: { token?: string; headers?: Record<string, string> } = {}): Client {
  const c = wsClient(t.url, opts);
  clients.push(c);
  return c;
}

/** Every key under the prefix. */
async function allKeys(t: TestApp): Promise<string[]> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await r.scan(cursor, 'MATCH', `${t.prefix}:*`, 'COUNT', 1000);
    cursor = next;
    out.push(...keys);
  } while (cursor !== '0');
  return out;
}

/** POST /collect as a browser's sendBeacon would. */
async function beacon(t: TestApp, body: string, headers: Record<string, string> = { 'content-type': 'text/plain;charset=UTF-8' }): Promise<Response> {
  return fetch(`${t.url}/collect`, { method: 'POST', headers: { ...BROWSER, ...headers }, body });
}

const views = <T>(n: number, f: (i: number) => T): T[] => Array.from({ length: n }, (_, i) => f(i));

async function breakdown(t: TestApp, admin: string, dimension: string, days = 2): Promise<Record<string, Row>> {
  const rows = ok(await t.gql<{ breakdown: Row[] }>(BREAKDOWN, { dimension, days, limit: 100 }, { token: admin })).breakdown;
  return Object.fromEntries(rows.map((x) => [x.value, x]));
}

describe('trackPageViews and POST /collect', () => {
  let t: TestApp;
  let admin: string;
  beforeAll(async () => {
    t = await app({ ANALYTICS_VISITOR_KEYS_PER_DAY: '100000', ANALYTICS_MAX_VALUES_PER_DAY: '10' });
    admin = await adminToken(t);
  });
  const totals = async () => ok(await t.gql(ANALYTICS, {}, { token: admin })).analytics;
  const pageViews = async (page: string) =>
    ok(await t.gql('query P($p: String!) { pageStats(page: $p) { views } }', { p: page }, { token: admin })).pageStats.views;
  const journey = async (v: string) => ok(await t.gql('query J($v: String!) { visitorJourney(visitorId: $v) }', { v }, { token: admin })).visitorJourney;

  test('100 views in one request, each recorded as trackPageView records it, one event each', async () => {
    const before = await totals();
    const feed = collect<{ analyticsEvents: { page: string } }>(
      ws(t, { token: admin }),
      'subscription { analyticsEvents(types: [PAGE_VIEW]) { page } }',
      {},
      1000,
      10_000,
    );
    // The subscription is live once a probe arrives.
    let probes = 0;
    while (!feed.events.length && probes < 50) {
      ok(await t.gql(TRACK_VIEWS, { inputs: [{ page: '/probe' }] }, { headers: BROWSER }));
      probes++;
      await new Promise((res) => setTimeout(res, 100));
    }
    const res = await t.gql<{ trackPageViews: number }>(
      TRACK_VIEWS,
      { inputs: views(100, (i) => ({ page: `/batch/${i % 4}?x=${i}`, visitorId: `batch-${i % 10}` })) },
      { headers: BROWSER },
    );
    expect(ok(res).trackPageViews).toBe(100);
    const after = await totals();
    expect(after.totalPageViews - before.totalPageViews).toBe(100 + probes);
    expect(await pageViews('/batch/0')).toBe(25);
    expect(await pageViews('/batch/3')).toBe(25);
    // A visitor's journey holds its views in the batch's order, newest first.
    // batch-1 sent i = 1, 11, ..., 91: pages /batch/(i % 4).
    expect(await journey('batch-1')).toEqual(views(10, (j) => `/batch/${(91 - 10 * j) % 4}`));
    const batch = () => feed.events.filter((e) => e.analyticsEvents.page.startsWith('/batch/'));
    for (let i = 0; i < 50 && batch().length < 100; i++) await new Promise((res) => setTimeout(res, 100));
    feed.stop();
    expect(batch().map((e) => e.analyticsEvents.page)).toEqual(views(100, (i) => `/batch/${i % 4}`));
  });

  test('one invalid input refuses the batch and records nothing; 1 to 100 inputs', async () => {
    const before = (await totals()).totalPageViews;
    const bad = async (inputs: unknown[]) => {
      const res = await t.gql(TRACK_VIEWS, { inputs }, { headers: BROWSER });
      expect(res.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    };
    await bad([{ page: '/fine' }, { page: 'no-slash' }]);
    await bad([{ page: '/fine' }, { page: '/fine', referrer: 'javascript:alert(1)' }]);
    await bad([{ page: '/fine' }, { page: `/${'x'.repeat(300)}` }]);
    await bad([{ page: '/fine' }, { page: '/fine', visitorId: 'has space' }]);
    await bad([]);
    await bad(views(101, () => ({ page: '/fine' })));
    expect((await totals()).totalPageViews).toBe(before);
  });

  test('over WebSocket too', async () => {
    const socket = ws(t, { headers: BROWSER });
    const res = await execute<{ trackPageViews: number }>(socket, TRACK_VIEWS, { inputs: views(30, (i) => ({ page: '/ws-batch', visitorId: `wsb-${i}` })) });
    expect(res.data?.trackPageViews).toBe(30);
    expect(await pageViews('/ws-batch')).toBe(30);
    const bad = await execute(socket, TRACK_VIEWS, { inputs: [] });
    expect(bad.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  test('POST /collect takes the same JSON as text/plain (sendBeacon), JSON or untyped', async () => {
    const body = (page: string, n: number) => JSON.stringify({ inputs: views(n, (i) => ({ page, visitorId: `beacon-${i}` })) });
    let res = await beacon(t, body('/beacon/plain', 3));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ recorded: 3 });
    res = await beacon(t, body('/beacon/json', 2), { 'content-type': 'application/json' });
    expect(await res.json()).toEqual({ recorded: 2 });
    res = await fetch(`${t.url}/collect`, { method: 'POST', headers: BROWSER, body: new Uint8Array(Buffer.from(body('/beacon/untyped', 1))) });
    expect([res.status, await res.json()]).toEqual([200, { recorded: 1 }]);
    // The bare array, as a client that batches may keep it.
    res = await beacon(t, JSON.stringify([{ page: '/beacon/array' }, { page: '/beacon/array' }]));
    expect(await res.json()).toEqual({ recorded: 2 });
    expect([await pageViews('/beacon/plain'), await pageViews('/beacon/json'), await pageViews('/beacon/untyped'), await pageViews('/beacon/array')]).toEqual([
      3, 2, 1, 2,
    ]);
  });

  test('POST /collect refuses what is not a batch, with the status that says why', async () => {
    const before = (await totals()).totalPageViews;
    const status = async (res: Response) => [res.status, ((await res.json()) as { errors: Array<{ extensions: { code: string } }> }).errors[0].extensions.code];
    expect(await status(await fetch(`${t.url}/collect`, { headers: BROWSER }))).toEqual([405, 'METHOD_NOT_ALLOWED']);
    expect(await status(await beacon(t, 'page=/x', { 'content-type': 'application/x-www-form-urlencoded' }))).toEqual([415, 'UNSUPPORTED_MEDIA_TYPE']);
    expect(await status(await beacon(t, '{"inputs": [', {}))).toEqual([400, 'BAD_REQUEST']);
    expect(await status(await beacon(t, '{"page": "/x"}'))).toEqual([400, 'BAD_REQUEST']);
    expect(await status(await beacon(t, JSON.stringify({ inputs: [{ page: 'no-slash' }] })))).toEqual([400, 'BAD_USER_INPUT']);
    expect(await status(await beacon(t, JSON.stringify({ inputs: [{ page: 1 }] })))).toEqual([400, 'BAD_USER_INPUT']);
    expect(await status(await beacon(t, JSON.stringify({ inputs: views(101, () => ({ page: '/x' })) })))).toEqual([400, 'BAD_USER_INPUT']);
    // 64 KiB at most: a larger body is not read.
    const big = JSON.stringify({ inputs: views(100, (i) => ({ page: `/${'p'.repeat(700)}`, visitorId: `big-${i}` })) });
    expect(Buffer.byteLength(big)).toBeGreaterThan(64 * 1024);
    expect(await status(await beacon(t, big))).toEqual([413, 'PAYLOAD_TOO_LARGE']);
    expect((await totals()).totalPageViews).toBe(before);
  });

  test('POST /collect reads no credentials: a cookie or token is ignored, the view is anonymous', async () => {
    const u = await registerUser({ gql: (q, v, o) => t.gql(q, v, { ...o, headers: { ...BROWSER, ...o?.headers } }) });
    const res = await beacon(t, JSON.stringify({ inputs: [{ page: '/beacon/creds' }] }), {
      'content-type': 'text/plain',
      authorization: `Bearer ${u.token}`,
      cookie: `gw_session=${u.token}; __Host-gw_session=${u.token}`,
    });
    expect(await res.json()).toEqual({ recorded: 1 });
    expect(await journey(`user:${u.userId}`)).toEqual([]);
    const anon = await t.app.services.visitors.anonymousId({ ip: '127.0.0.1', userAgent: UA.chromeDesktop, uaFamily: 'chrome' });
    expect((await journey(`anon:${anon}`))[0]).toBe('/beacon/creds');
  });

  test('bots are counted apart: under the bot device only, with no visitors; an admin reporting from a server is no bot', async () => {
    const before = await totals();
    const deviceBefore = await breakdown(t, admin, 'DEVICE');
    const bot = { 'user-agent': UA.googlebot };
    expect(ok(await t.gql(TRACK_VIEWS, { inputs: views(7, (i) => ({ page: '/crawled', visitorId: `bot-${i}` })) }, { headers: bot })).trackPageViews).toBe(7);
    expect((await beacon(t, JSON.stringify([{ page: '/crawled' }]), { 'content-type': 'text/plain', ...bot })).status).toBe(200);
    // Scripts count as bots too (isbot's list): this is the test client's own User-Agent.
    ok(await t.gql(TRACK_VIEWS, { inputs: [{ page: '/crawled', visitorId: 'script' }] }, { headers: { 'user-agent': 'node-test' } }));
    const after = await totals();
    expect(after.totalPageViews).toBe(before.totalPageViews);
    expect(after.uniqueVisitors).toBe(before.uniqueVisitors);
    expect(await pageViews('/crawled')).toBe(0);
    expect(await journey('bot-1')).toEqual([]);
    const device = await breakdown(t, admin, 'DEVICE');
    expect(device.bot).toEqual({ value: 'bot', views: (deviceBefore.bot?.views ?? 0) + 9, uniqueVisitors: 0 });
    // An admin is a trusted reporter (a shop's server tracking for its visitors): counted, whatever its User-Agent.
    ok(await t.gql(TRACK_VIEWS, { inputs: [{ page: '/reported', visitorId: 'server-side' }] }, { token: admin, headers: { 'user-agent': 'node-test' } }));
    expect(await pageViews('/reported')).toBe(1);
  });

  test('referrer host, UTM source and campaign, browser and device, each with its visitors', async () => {
    const from = (ua: string, inputs: unknown[]) => t.gql(TRACK_VIEWS, { inputs }, { headers: { 'user-agent': ua } }).then(ok);
    await from(UA.safariIphone, [
      { page: '/land?utm_source=Newsletter&utm_campaign=Spring%20Sale', referrer: 'https://Mail.Example.com/inbox?id=1', visitorId: 'dim-1' },
      { page: '/land?utm_source=newsletter', referrer: 'https://mail.example.com/', visitorId: 'dim-1' },
      { page: '/land?utm_source=newsletter', visitorId: 'dim-2' },
    ]);
    await from(UA.safariIpad, [{ page: '/land?utm_campaign=spring_sale', referrer: 'http://search.example:8080/q', visitorId: 'dim-3' }]);
    await from(UA.firefoxDesktop, [{ page: '/land', referrer: 'https://search.example/', visitorId: 'dim-4' }]);
    const ref = await breakdown(t, admin, 'REFERRER');
    expect(ref['mail.example.com']).toEqual({ value: 'mail.example.com', views: 2, uniqueVisitors: 1 });
    expect(ref['search.example']).toEqual({ value: 'search.example', views: 2, uniqueVisitors: 2 });
    expect(ref['(direct)'].views).toBeGreaterThanOrEqual(1);
    const src = await breakdown(t, admin, 'UTM_SOURCE');
    expect(src.newsletter).toEqual({ value: 'newsletter', views: 3, uniqueVisitors: 2 });
    const cmp = await breakdown(t, admin, 'UTM_CAMPAIGN');
    expect(cmp.spring_sale).toEqual({ value: 'spring_sale', views: 2, uniqueVisitors: 2 });
    const browser = await breakdown(t, admin, 'BROWSER');
    expect(browser['Mobile Safari'].views).toBeGreaterThanOrEqual(4);
    expect(browser.Firefox.views).toBeGreaterThanOrEqual(1);
    expect(browser.bot).toBeUndefined();
    const device = await breakdown(t, admin, 'DEVICE');
    expect(device.mobile).toEqual({ value: 'mobile', views: 3, uniqueVisitors: 2 });
    expect(device.tablet).toEqual({ value: 'tablet', views: 1, uniqueVisitors: 1 });
    expect(device.desktop.views).toBeGreaterThan(100);
  });

  test('a day keeps ANALYTICS_MAX_VALUES_PER_DAY values per dimension; the rest count as (other)', async () => {
    const before = await breakdown(t, admin, 'UTM_SOURCE', 1);
    // Placeholders such as (none) take a place like any value, and are always kept under their own name.
    const kept = Object.keys(before).filter((v) => v !== '(other)').length;
    await t.gql(TRACK_VIEWS, { inputs: views(40, (i) => ({ page: `/flood?utm_source=flood-${i}`, visitorId: `flood-${i}` })) }, { headers: BROWSER }).then(ok);
    const after = await breakdown(t, admin, 'UTM_SOURCE', 1);
    const values = Object.keys(after);
    expect(values.filter((v) => v !== '(other)')).toHaveLength(10);
    const flooded = values.filter((v) => v.startsWith('flood-')).length;
    expect(flooded).toBe(10 - kept);
    expect(after['(other)'].views - (before['(other)']?.views ?? 0)).toBe(40 - flooded);
    // (other) counts its own visitors too.
    expect(Math.abs(after['(other)'].uniqueVisitors - (before['(other)']?.uniqueVisitors ?? 0) - (40 - flooded))).toBeLessThanOrEqual(1);
    // Full: a placeholder still counts under its name.
    await t.gql(TRACK_VIEWS, { inputs: [{ page: '/flood', visitorId: 'flood-none' }] }, { headers: BROWSER }).then(ok);
    expect((await breakdown(t, admin, 'UTM_SOURCE', 1))['(none)'].views).toBe((after['(none)']?.views ?? 0) + 1);
  });

  test('hostile values are bounded and never reach a key name; every rollup key has a lifetime', async () => {
    const hostile = ['a:b', '{an}', '}{', '*?[]', 'x'.repeat(300), '%00nul', '😀', '\u202eevil', '../..', 'EVIL'];
    await t
      .gql(
        TRACK_VIEWS,
        {
          inputs: hostile.map((h, i) => ({
            page: `/hostile-${i}?utm_source=${encodeURIComponent(h)}&utm_campaign=${encodeURIComponent(h)}`,
            referrer: `https://evil-${i}.example/${encodeURIComponent(h)}`,
            visitorId: `hostile-${i}`,
          })),
        },
        { headers: { 'user-agent': `Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) {an}:EVIL*/1.0 Chrome/124.0 Safari/537.36` } },
      )
      .then(ok);
    const keys = await allKeys(t);
    for (const key of keys) expect(/evil|\{an\}.*\{an\}|\*|\?|😀|\.\.|:a:b/i.test(key.slice(t.prefix.length)) ? key : null).toBeNull();
    const an = `${t.prefix}:an:{an}:`;
    for (const key of keys.filter((k) => k.startsWith(`${an}hour:`) || k.startsWith(`${an}day:`))) {
      expect(key.slice(an.length)).toMatch(/^(hour:\d+|day:\d+:(tot|uv|seq|v:(page|ref|src|cmp|br|dev)|uv:(page|ref|src|cmp|br|dev):[A-Za-z0-9_-]{16}))$/);
      expect([key, (await r.pttl(key)) > 0]).toEqual([key, true]);
    }
    for (const dim of ['UTM_SOURCE', 'UTM_CAMPAIGN', 'REFERRER', 'BROWSER']) {
      for (const value of Object.keys(await breakdown(t, admin, dim))) {
        expect(value.length).toBeLessThanOrEqual(253);
        expect(value).toMatch(/^(\([a-z]+\)|[A-Za-z0-9 ._:[\]-]+)$/);
      }
    }
  });
});

describe('bounds per caller and rate limits, counted in page views', () => {
  const BUDGET = 5;
  let t: TestApp;
  let admin: string;
  beforeAll(async () => {
    // Addresses come from X-Forwarded-For (the test speaks through a trusted proxy); 127.0.0.1 itself
    // is never limited, so that the budget test can send more than a minute's page views from one address.
    t = await app({
      RATE_LIMIT_DEFAULT: '600/1m',
      RATE_LIMIT_ALLOW: 'ip:127.0.0.1',
      TRUSTED_PROXIES: '127.0.0.1',
      ANALYTICS_VISITOR_KEYS_PER_DAY: String(BUDGET),
      SESSION_UA_CHECK: '0',
    });
    admin = await adminToken(t);
  });
  const journeys = async () => (await allKeys(t)).filter((k) => k.includes(':an:{an}:journey:')).length;
  const sequences = async () => {
    let n = 0;
    for (const k of (await allKeys(t)).filter((x) => /:day:\d+:seq$/.test(x))) n += await r.hlen(k);
    return n;
  };
  const from = (ip: string): Record<string, string> => ({ ...BROWSER, 'x-forwarded-for': ip });

  test('visitor-key budgets hold for batches: per address (HTTP, WebSocket, /collect), per user, none for admins', async () => {
    // 100 fresh visitors in one request from one address: journeys (and funnel sequences) for the budget only.
    expect(
      ok(await t.gql(TRACK_VIEWS, { inputs: views(100, (i) => ({ page: '/fresh', visitorId: `fresh-${i}` })) }, { headers: BROWSER })).trackPageViews,
    ).toBe(100);
    expect(await journeys()).toBe(BUDGET);
    // The same address again, by /collect and over WebSocket: nothing more.
    expect((await beacon(t, JSON.stringify({ inputs: views(20, (i) => ({ page: '/fresh', visitorId: `beacon-fresh-${i}` })) }))).status).toBe(200);
    expect(
      (await execute(ws(t, { headers: BROWSER }), TRACK_VIEWS, { inputs: views(10, (i) => ({ page: '/fresh', visitorId: `ws-fresh-${i}` })) })).data,
    ).toEqual({ trackPageViews: 10 });
    expect(await journeys()).toBe(BUDGET);
    expect(await sequences()).toBe(BUDGET);
    // The views themselves all count.
    expect(ok(await t.gql('{ pageStats(page: "/fresh") { views } }', {}, { token: admin })).pageStats.views).toBe(130);
    // A signed-in user has its own budget, checked for the whole batch at once.
    const u = await registerUser({ gql: (q, v, o) => t.gql(q, v, { ...o, headers: { ...from('203.0.113.20'), ...o?.headers } }) });
    await t
      .gql(TRACK_VIEWS, { inputs: views(20, (i) => ({ page: '/fresh', visitorId: `user-fresh-${i}` })) }, { token: u.token, headers: from('203.0.113.20') })
      .then(ok);
    expect(await journeys()).toBe(2 * BUDGET);
    // Admins (server-side reporters) are exempt.
    await t.gql(TRACK_VIEWS, { inputs: views(20, (i) => ({ page: '/fresh', visitorId: `admin-fresh-${i}` })) }, { token: admin }).then(ok);
    expect(await journeys()).toBe(2 * BUDGET + 20);
  }, 20_000);

  test('a batch of 100 costs 100 points of the page-view policy, over HTTP, /collect and WebSocket alike', async () => {
    const ip = '198.51.100.7';
    const first = await t.gql(TRACK_VIEWS, { inputs: views(100, () => ({ page: '/limited' })) }, { headers: from(ip) });
    expect(ok(first).trackPageViews).toBe(100);
    expect(first.headers.get('ratelimit')).toMatch(/"page-view";r=0;/);
    expect(first.headers.get('ratelimit-policy')).toMatch(/"page-view";q=120;w=60;burst=100/);
    // The bucket is empty: one more view is refused, whichever way it comes.
    const refused: GqlResult = await t.gql(TRACK_VIEWS, { inputs: [{ page: '/limited' }] }, { headers: from(ip) });
    expect([refused.status, refused.errors?.[0]?.extensions?.code, refused.errors?.[0]?.extensions?.policy]).toEqual([429, 'RATE_LIMITED', 'page-view']);
    const viaBeacon = await beacon(t, JSON.stringify([{ page: '/limited' }]), { 'content-type': 'text/plain', 'x-forwarded-for': ip });
    expect(viaBeacon.status).toBe(429);
    expect(Number(viaBeacon.headers.get('retry-after'))).toBeGreaterThan(0);
    const viaWs = await execute(ws(t, { headers: from(ip) }), TRACK_VIEWS, { inputs: [{ page: '/limited' }] });
    expect(viaWs.errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
    // Another address has its own bucket; a single trackPageView costs one point of the same policy.
    const other = await t.gql('mutation { trackPageView(input: { page: "/limited" }) }', {}, { headers: from('198.51.100.8') });
    expect(other.headers.get('ratelimit')).toMatch(/"page-view";r=99;/);
    expect(ok(await t.gql('{ pageStats(page: "/limited") { views } }', {}, { token: admin })).pageStats.views).toBe(101);
  });
});

describe('two instances, concurrent batches', () => {
  const BUDGET = 30;
  const two = twoInstances({ ANALYTICS_MAX_VALUES_PER_DAY: '10', ANALYTICS_MAX_PAGES: '20', ANALYTICS_VISITOR_KEYS_PER_DAY: String(BUDGET) }, { admin: true });

  test('counts stay exact and every bound holds however batches interleave', async () => {
    const { a, b, admin } = two;
    // 40 batches of 50 at once, half through each instance: 2,000 views, 60 distinct sources, 50 pages, 200 visitors.
    const batches = Array.from({ length: 40 }, (_, n) =>
      views(50, (i) => ({ page: `/race/${(n * 50 + i) % 50}?utm_source=race-${(n + i) % 60}`, visitorId: `race-${(n * 7 + i) % 200}` })),
    );
    const answers = await Promise.all(batches.map((inputs, n) => (n % 2 ? a : b).gql(TRACK_VIEWS, { inputs }, { headers: BROWSER }).then(ok)));
    expect(answers.every((x) => x.trackPageViews === 50)).toBe(true);
    const read = async (dimension: string) => {
      const rows = ok(await a.gql<{ breakdown: Row[] }>(BREAKDOWN, { dimension, days: 2, limit: 100 }, { token: admin })).breakdown;
      return Object.fromEntries(rows.map((x) => [x.value, x]));
    };
    const sources = await read('UTM_SOURCE');
    // Exactly ANALYTICS_MAX_VALUES_PER_DAY named sources, whichever won; the rest under (other); nothing lost.
    expect(Object.keys(sources).filter((v) => v.startsWith('race-'))).toHaveLength(10);
    expect(Object.values(sources).reduce((s, x) => s + x.views, 0)).toBe(2000);
    const pages = await read('PAGE');
    expect(Object.keys(pages).filter((v) => v.startsWith('/race/'))).toHaveLength(20);
    expect(Object.values(pages).reduce((s, x) => s + x.views, 0)).toBe(2000);
    const totals = ok(await b.gql('{ analytics { totalPageViews trackedPages } }', {}, { token: admin })).analytics;
    expect(totals).toEqual({ totalPageViews: 2000, trackedPages: 21 });
    // Every visitor came from one address: its budget of new journeys held across both instances.
    const journeys = (await allKeys(a)).filter((k) => k.includes(':an:{an}:journey:')).length;
    expect(journeys).toBe(BUDGET);
  }, 30_000);
});
