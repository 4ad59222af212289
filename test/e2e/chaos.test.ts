/**
 * Faults under steady load, with real processes:
 * 1. Redis (AOF, `appendfsync always`) SIGKILLed and restarted under load: every
 *    request meanwhile answers 503 SERVICE_UNAVAILABLE within a bound, the
 *    gateway serves without errors again soon after, every acknowledged write
 *    (session, cart line, order, job) survives, and a subscription opened before
 *    the kill delivers events tracked after recovery without resubscribing.
 * 2. The pub/sub connection dropped (`CLIENT KILL TYPE pubsub`): a subscriber
 *    receives events again within seconds.
 * 3. A gateway process SIGKILLed under load: every write it acknowledged is
 *    visible through another instance.
 * Measured numbers are printed for the README.
 */
import { rmSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Client } from 'graphql-ws';
import Redis from 'ioredis';
import { gqlRequest, startTestApp, testEnv, ADMIN_ENV, adminToken, type GqlResult, type TestApp } from '../helpers/app';
import { pool, TRACK_VIEW } from '../helpers/analytics';
import { lines, upsert } from '../helpers/commerce';
import { spawnGateway, type GatewayProcess } from '../helpers/gateway-process';
import { record, sleep, type Recording } from '../helpers/jobs';
import { ownRedis, uniquePrefix, type OwnRedis } from '../helpers/redis';
import { wsClient } from '../helpers/ws';
import { startRedisServer } from '../../src/redis/embedded';

jest.setTimeout(60_000);

/**
 * Shoppers log in again and again; past SESSIONS_PER_USER (10) their oldest sessions would be
 * evicted by design, and the check of acknowledged writes would count those as lost.
 */
const CHAOS_ENV = { ...ADMIN_ENV, SESSIONS_PER_USER: '1000' };
const ROOT = path.join(__dirname, '..', '..');
const PRODUCTS = ['chaos-a', 'chaos-b', 'chaos-c'];
/** Each load loop starts a step at most this often: 4 loops make about 80 requests a second. */
const PACE_MS = 50;
const LOOPS = 4;

const REGISTER = 'mutation R($input: RegisterInput!) { register(input: $input) { token user { id } } }';
const LOGIN = 'mutation L($input: LoginInput!) { login(input: $input) { token } }';
const ADD = 'mutation A($input: AddToCartInput!) { addToCart(input: $input) { items { product { id } quantity } } }';
const CHECKOUT = 'mutation { checkout { id } }';
const ENQUEUE = 'mutation E($input: EnqueueJobInput!) { enqueueJob(input: $input) { id } }';
const ME = '{ me { id } }';
const CART = '{ cart { items { product { id } quantity } } }';
const ORDER = 'query O($id: ID!) { order(id: $id) { id } }';
const JOB = 'query J($id: ID!) { job(id: $id) { id state } }';
const EVENTS = 'subscription { analyticsEvents { type page visitorId } }';

type Outcome = 'ok' | 'unavailable' | 'network' | 'other';

interface Call {
  op: string;
  start: number;
  end: number;
  outcome: Outcome;
  detail?: string;
}

interface Shopper {
  email: string;
  password: string;
  userId: string;
  token: string;
  /** The cart as the last acknowledged cart write returned it. */
  cart: Record<string, number>;
  /** Quantities of adds that failed since then: each may or may not have been applied. */
  unsure: Record<string, number>;
  /** A checkout failed since the last acknowledged add: it may have emptied the cart, so the cart is not checked. */
  checkoutUnsure: boolean;
}

const rnd = (n: number): number => Math.floor(Math.random() * n);

/** Writes against one gateway from a few paced loops, recording every call and every acknowledged write. */
class Load {
  readonly calls: Call[] = [];
  readonly sessions: Array<{ token: string; userId: string }> = [];
  readonly shoppers: Shopper[] = [];
  readonly orders: Array<{ id: string; token: string }> = [];
  readonly jobs: Array<{ id: string; token: string }> = [];
  acknowledgedAdds = 0;
  private running = false;
  private loops: Array<Promise<void>> = [];
  private seq = 0;

  constructor(
    private readonly url: string,
    private readonly tag: string,
  ) {}

  start(loops: number): void {
    this.running = true;
    this.loops = Array.from({ length: loops }, () => this.loop());
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  /** One GraphQL call, classified; resolves the root field's value when acknowledged, else null. */
  async call<T = any>(op: string, query: string, variables: Record<string, unknown>, token: string | null, field: string): Promise<T | null> {
    const start = performance.now();
    let res: GqlResult | undefined;
    let failure: unknown;
    try {
      res = await gqlRequest(this.url, query, variables, { token });
    } catch (err) {
      failure = err;
    }
    const end = performance.now();
    const value = res?.data?.[field];
    let outcome: Outcome;
    let detail: string | undefined;
    if (!res) {
      outcome = 'network';
      detail = String((failure as Error)?.cause ?? failure);
    } else if (res.status === 200 && !res.errors?.length && value !== undefined && value !== null) {
      outcome = 'ok';
    } else if (res.status === 503 && res.errors?.length && res.errors.every((e) => e.extensions?.code === 'SERVICE_UNAVAILABLE')) {
      outcome = 'unavailable';
    } else {
      outcome = 'other';
      detail = `${res.status} ${JSON.stringify(res.errors)}`;
    }
    this.calls.push({ op, start, end, outcome, detail });
    return outcome === 'ok' ? (value as T) : null;
  }

  private async loop(): Promise<void> {
    let me: Shopper | null = null;
    while (this.running) {
      const started = performance.now();
      me = await this.step(me);
      const rest = PACE_MS - (performance.now() - started);
      if (rest > 0) await sleep(rest);
    }
  }

  private async step(me: Shopper | null): Promise<Shopper | null> {
    if (!me) return this.register();
    // Now and then a new shopper takes over; while registering fails the current one carries on.
    if (Math.random() < 0.05) return (await this.register()) ?? me;
    const r = Math.random();
    if (r < 0.5) await this.add(me);
    else if (r < 0.65) await this.enqueue(me);
    else if (r < 0.75) await this.login(me);
    else if (Object.keys(me.cart).length) await this.checkout(me);
    else await this.add(me);
    return me;
  }

  private async register(): Promise<Shopper | null> {
    const email = `chaos-${this.tag}-${process.pid}-${this.seq++}-${Date.now()}@example.com`;
    const password = 'chaos-password-1';
    const r = await this.call<{ token: string; user: { id: string } }>('register', REGISTER, { input: { email, password, name: 'Chaos' } }, null, 'register');
    if (!r) return null;
    this.sessions.push({ token: r.token, userId: r.user.id });
    const me: Shopper = { email, password, userId: r.user.id, token: r.token, cart: {}, unsure: {}, checkoutUnsure: false };
    this.shoppers.push(me);
    return me;
  }

  private async login(me: Shopper): Promise<void> {
    const r = await this.call<{ token: string }>('login', LOGIN, { input: { email: me.email, password: me.password } }, null, 'login');
    if (r) this.sessions.push({ token: r.token, userId: me.userId });
  }

  private async add(me: Shopper): Promise<void> {
    const productId = PRODUCTS[rnd(PRODUCTS.length)];
    const quantity = 1 + rnd(3);
    const r = await this.call<{ items: Array<{ product: { id: string }; quantity: number }> }>(
      'addToCart',
      ADD,
      { input: { productId, quantity } },
      me.token,
      'addToCart',
    );
    if (r) {
      // The answer is the whole cart, with whatever earlier unacknowledged writes did to it.
      me.cart = lines(r);
      me.unsure = {};
      me.checkoutUnsure = false;
      this.acknowledgedAdds++;
    } else {
      me.unsure[productId] = (me.unsure[productId] ?? 0) + quantity;
    }
  }

  private async checkout(me: Shopper): Promise<void> {
    const r = await this.call<{ id: string }>('checkout', CHECKOUT, {}, me.token, 'checkout');
    if (r) {
      this.orders.push({ id: r.id, token: me.token });
      me.cart = {};
      me.unsure = {};
    } else {
      // Nothing to check out is known until an acknowledged add shows the cart again.
      me.checkoutUnsure = true;
      me.cart = {};
      me.unsure = {};
    }
  }

  private async enqueue(me: Shopper): Promise<void> {
    const input = { type: 'email.send', data: { to: me.email, subject: `chaos ${this.seq++}`, body: 'Hello' } };
    const r = await this.call<{ id: string }>('enqueueJob', ENQUEUE, { input }, me.token, 'enqueueJob');
    if (r) this.jobs.push({ id: r.id, token: me.token });
  }
}

interface Checked {
  sessions: number;
  carts: number;
  cartLines: number;
  orders: number;
  jobs: number;
  jobStates: Record<string, number>;
  problems: string[];
}

/** Reads back every acknowledged write through `url`; `problems` lists each one missing or wrong. */
async function checkAcknowledged(url: string, load: Load): Promise<Checked> {
  const problems: string[] = [];
  const q = (query: string, variables: Record<string, unknown>, token: string): Promise<GqlResult> => gqlRequest(url, query, variables, { token });
  await pool(load.sessions.length, 8, async (i) => {
    const s = load.sessions[i];
    const res = await q(ME, {}, s.token);
    if (res.data?.me?.id !== s.userId) problems.push(`session of ${s.userId}: ${res.status} ${JSON.stringify(res.data ?? res.errors)}`);
  });
  const shoppers = load.shoppers.filter((s) => !s.checkoutUnsure);
  let cartLines = 0;
  await pool(shoppers.length, 8, async (i) => {
    const s = shoppers[i];
    const res = await q(CART, {}, s.token);
    if (!res.data?.cart) return void problems.push(`cart of ${s.userId}: ${res.status} ${JSON.stringify(res.errors)}`);
    const now = lines(res.data.cart);
    for (const p of new Set([...Object.keys(now), ...Object.keys(s.cart), ...Object.keys(s.unsure)])) {
      const low = s.cart[p] ?? 0;
      const high = low + (s.unsure[p] ?? 0);
      const have = now[p] ?? 0;
      if (low) cartLines++;
      if (have < low || have > high) problems.push(`cart of ${s.userId}, ${p}: ${have}, acknowledged ${low} (+${s.unsure[p] ?? 0} unacknowledged)`);
    }
  });
  await pool(load.orders.length, 8, async (i) => {
    const o = load.orders[i];
    const res = await q(ORDER, { id: o.id }, o.token);
    if (res.data?.order?.id !== o.id) problems.push(`order ${o.id}: ${res.status} ${JSON.stringify(res.data ?? res.errors)}`);
  });
  const jobs = await checkJobs(url, load.jobs);
  problems.push(...jobs.problems);
  return {
    sessions: load.sessions.length,
    carts: shoppers.length,
    cartLines,
    orders: load.orders.length,
    jobs: load.jobs.length,
    jobStates: jobs.states,
    problems,
  };
}

/** Reads every acknowledged job back; counts them by state. */
async function checkJobs(url: string, jobs: Load['jobs']): Promise<{ states: Record<string, number>; problems: string[] }> {
  const states: Record<string, number> = {};
  const problems: string[] = [];
  await pool(jobs.length, 8, async (i) => {
    const j = jobs[i];
    const res = await gqlRequest(url, JOB, { id: j.id }, { token: j.token });
    const state = res.data?.job?.state;
    if (res.data?.job?.id !== j.id) problems.push(`job ${j.id}: ${res.status} ${JSON.stringify(res.data ?? res.errors)}`);
    else states[state] = (states[state] ?? 0) + 1;
  });
  return { states, problems };
}

const countBy = (calls: Call[]): Record<string, number> => calls.reduce<Record<string, number>>((m, c) => ((m[c.outcome] = (m[c.outcome] ?? 0) + 1), m), {});
const summary = (calls: Call[]): string[] => calls.slice(0, 10).map((c) => `${c.op} ${c.outcome} ${Math.round(c.end - c.start)} ms ${c.detail ?? ''}`);

/** A graphql-ws client that records every (re)connection and close, so a dropped socket cannot go unnoticed. */
function watchedClient(url: string, token: string): { client: Client; connects: number[]; closes: string[] } {
  const w = { client: wsClient(url, { token }), connects: [] as number[], closes: [] as string[] };
  w.client.on('connected', () => w.connects.push(performance.now()));
  w.client.on('closed', (e) => {
    const ev = e as { code?: number; reason?: string };
    w.closes.push(`${ev.code} ${ev.reason}`);
  });
  return w;
}

type EventsRecording = Recording<{ analyticsEvents: { type: string; page: string; visitorId: string } }>;

/** Tracks page views until `rec` has one for `visitorPrefix`; resolves when it arrived (performance.now()). */
async function trackUntilSeen(track: (visitorId: string) => Promise<unknown>, rec: EventsRecording, visitorPrefix: string, timeoutMs: number): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  const seen = (): number | undefined => rec.events.find((e) => e.data.analyticsEvents.visitorId.startsWith(visitorPrefix))?.at;
  for (let n = 0; ; n++) {
    const at = seen();
    if (at !== undefined) return performance.now() - (Date.now() - at);
    if (performance.now() > deadline)
      throw new Error(`no ${visitorPrefix} event within ${timeoutMs} ms; errors ${JSON.stringify(rec.errors)}, completed ${rec.completed}`);
    await track(`${visitorPrefix}${n}`);
    await sleep(100);
  }
}

describe('Redis SIGKILLed and restarted under load (AOF, appendfsync always)', () => {
  // The base arguments of startRedisServer already give --appendonly yes --save ''.
  const ARGS = ['--appendfsync', 'always'];
  let dir: string;
  let server: Awaited<ReturnType<typeof startRedisServer>> | undefined;
  let t: TestApp | undefined;
  let watched: ReturnType<typeof watchedClient> | undefined;

  afterAll(async () => {
    await watched?.client.dispose();
    await t?.close();
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('outage requests fail fast with 503, errors stop after recovery, no acknowledged write is lost, subscriptions carry on', async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'gw-chaos-redis-'));
    server = await startRedisServer(dir, ARGS);
    const port = server.port;
    const probe = new Redis(server.url);
    expect(await probe.config('GET', 'appendfsync')).toEqual(['appendfsync', 'always']);
    expect(await probe.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
    probe.disconnect();

    t = await startTestApp({ REDIS_URL: server.url, WORKER: '1', ...CHAOS_ENV });
    const admin = await adminToken(t);
    for (const id of PRODUCTS) await upsert(t, admin, { id, stock: 1_000_000 });

    watched = watchedClient(t.url, admin);
    const rec: EventsRecording = record(watched.client, EVENTS);
    const track = (load: Load, visitorId: string): Promise<unknown> =>
      load.call('trackPageView', TRACK_VIEW, { input: { page: '/chaos', visitorId } }, null, 'trackPageView');

    const load = new Load(t.url, 'redis');
    // The subscription is live before the load starts (its warm-up events go through the same recorder).
    await trackUntilSeen((v) => track(load, v), rec, 'before-', 5000);
    load.calls.length = 0;

    const began = performance.now();
    load.start(LOOPS);
    await sleep(3000);

    const exited = new Promise((resolve) => server!.child.once('exit', resolve));
    const killing = performance.now();
    server.child.kill('SIGKILL');
    await exited;
    const killed = performance.now();
    await sleep(2000);
    const restarting = performance.now();
    server = await startRedisServer(dir, ARGS, port);
    const back = performance.now();

    // An event tracked after recovery reaches the subscription opened before the kill.
    const seenAt = await trackUntilSeen((v) => track(load, v), rec, 'after-', 8000);
    await sleep(Math.max(0, back + 7000 - performance.now()));
    await load.stop();
    const ended = performance.now();

    const calls = load.calls;
    const beforeKill = calls.filter((c) => c.end < killing);
    const during = calls.filter((c) => c.start >= killed && c.start < restarting);
    const withinOutage = during.filter((c) => c.end < restarting);
    const afterBack = calls.filter((c) => c.end >= back);
    const settled = calls.filter((c) => c.start >= back + 5000);
    const firstOk = Math.min(...afterBack.filter((c) => c.outcome === 'ok').map((c) => c.end));
    const lastFailure = Math.max(back, ...afterBack.filter((c) => c.outcome !== 'ok').map((c) => c.end));
    const outageMax = Math.max(...during.map((c) => c.end - c.start));
    const byOp = during.reduce<Record<string, number>>((m, c) => ((m[c.op] = (m[c.op] ?? 0) + 1), m), {});

    console.log(
      [
        `redis kill: ${calls.length} requests in ${((ended - began) / 1000).toFixed(1)} s (${Math.round(calls.length / ((ended - began) / 1000))} req/s), outcomes ${JSON.stringify(countBy(calls))}`,
        `  before the kill: ${beforeKill.length} requests, ${JSON.stringify(countBy(beforeKill))}`,
        `  during the ${Math.round(restarting - killed)} ms outage: ${during.length} requests ${JSON.stringify(byOp)}, outcomes ${JSON.stringify(countBy(during))}, slowest answer ${Math.round(outageMax)} ms`,
        `  redis back ${Math.round(back - restarting)} ms after its restart began; first success ${Math.round(firstOk - back)} ms after that, last failure ${Math.round(lastFailure - back)} ms after`,
        `  from 5 s after recovery: ${settled.length} requests, ${JSON.stringify(countBy(settled))}`,
        `  subscription: event tracked after recovery arrived ${Math.round(seenAt - back)} ms after redis was back; connections ${watched.connects.length}, closes ${JSON.stringify(watched.closes)}`,
      ].join('\n'),
    );

    // Every acknowledged write is read back before anything is asserted, so a loss is reported as such.
    const checked = await checkAcknowledged(t.url, load);
    // With WORKER=1 the jobs run; give those caught by the outage a moment before counting states.
    let finalJobs = await checkJobs(t.url, load.jobs);
    for (const deadline = performance.now() + 5000; (finalJobs.states.COMPLETED ?? 0) < load.jobs.length && performance.now() < deadline;) {
      await sleep(250);
      finalJobs = await checkJobs(t.url, load.jobs);
    }
    console.log(
      `  acknowledged and read back: ${checked.sessions} sessions, ${checked.carts} carts (${load.acknowledgedAdds} acknowledged adds, ${checked.cartLines} lines), ${checked.orders} orders, ${checked.jobs} jobs (states after up to 5 s: ${JSON.stringify(finalJobs.states)}); problems ${checked.problems.length + finalJobs.problems.length}`,
    );

    // (c) Every acknowledged write is still there.
    expect(checked.problems).toEqual([]);
    expect(finalJobs.problems).toEqual([]);
    expect(checked.sessions).toBeGreaterThan(10);
    expect(checked.orders).toBeGreaterThan(0);
    expect(checked.jobs).toBeGreaterThan(0);
    expect(load.acknowledgedAdds).toBeGreaterThan(10);
    // No error of any other kind, at any time; only 503s, and none before the kill.
    expect(summary(calls.filter((c) => c.outcome === 'other' || c.outcome === 'network'))).toEqual([]);
    expect(summary(calls.filter((c) => c.outcome !== 'ok' && c.end < killing))).toEqual([]);
    // (a) The load kept running through the outage, and every request failed fast with 503.
    expect(withinOutage.length).toBeGreaterThan(40);
    expect(summary(withinOutage.filter((c) => c.outcome !== 'unavailable'))).toEqual([]);
    expect(outageMax).toBeLessThan(1500);
    // (b) Five seconds after Redis is back nothing fails.
    expect(settled.length).toBeGreaterThan(40);
    expect(summary(settled.filter((c) => c.outcome !== 'ok'))).toEqual([]);
    // (d) The subscription from before the kill delivered without a new connection or subscribe.
    expect(seenAt - back).toBeLessThan(5000);
    expect(watched.connects).toHaveLength(1);
    expect(watched.closes).toEqual([]);
    expect(rec.errors).toEqual([]);
    expect(rec.completed).toBe(false);
  });
});

describe('pub/sub connection dropped', () => {
  let redis: OwnRedis | undefined;
  let t: TestApp | undefined;
  let watched: ReturnType<typeof watchedClient> | undefined;
  afterAll(async () => {
    await watched?.client.dispose();
    await t?.close();
    await redis?.destroy();
  });

  test('after CLIENT KILL TYPE pubsub a subscriber receives events again within 5 s, on the same socket', async () => {
    redis = await ownRedis();
    t = await startTestApp({ REDIS_URL: redis.url, ...CHAOS_ENV });
    const admin = await adminToken(t);
    watched = watchedClient(t.url, admin);
    const rec: EventsRecording = record(watched.client, EVENTS);
    const track = (visitorId: string): Promise<unknown> => t!.gql(TRACK_VIEW, { input: { page: '/pubsub', visitorId } });
    await trackUntilSeen(track, rec, 'before-', 5000);

    const raw = new Redis(redis.url);
    const killedClients = Number(await raw.call('CLIENT', 'KILL', 'TYPE', 'pubsub'));
    const killed = performance.now();
    raw.disconnect();
    expect(killedClients).toBeGreaterThan(0);

    const seenAt = await trackUntilSeen(track, rec, 'after-', 5000);
    console.log(`pubsub kill: ${killedClients} subscriber connection(s) killed; events delivered again ${Math.round(seenAt - killed)} ms later`);
    expect(seenAt - killed).toBeLessThan(5000);
    expect(watched.connects).toHaveLength(1);
    expect(watched.closes).toEqual([]);
    expect(rec.errors).toEqual([]);
  });
});

describe('a gateway process SIGKILLed under load', () => {
  let gw: GatewayProcess | undefined;
  let survivor: TestApp | undefined;
  afterAll(async () => {
    gw?.kill('SIGKILL');
    await survivor?.close();
  });

  test('every write the killed instance acknowledged is visible through another instance', async () => {
    const prefix = uniquePrefix('chaos-gw');
    survivor = await startTestApp({ KEY_PREFIX: prefix, ...CHAOS_ENV });
    const admin = await adminToken(survivor);
    for (const id of PRODUCTS) await upsert(survivor, admin, { id, stock: 1_000_000 });

    // The TypeScript sources run directly (transpiled on the fly), as the worker tests do.
    const entry = path.join(ROOT, 'src', 'index.ts');
    gw = spawnGateway(
      entry,
      // The survivor's Redis target, whichever it is (the shared test Redis, or the Cluster under npm run test:cluster).
      { ...testEnv({ KEY_PREFIX: prefix, ...CHAOS_ENV }), LOG_LEVEL: 'info' },
      { command: process.execPath, args: ['-r', path.join(ROOT, 'test/helpers/ts-register.js'), entry] },
    );
    const url = String((await gw.waitFor((l) => l.msg === 'gateway listening', 30_000)).url);

    const load = new Load(url, 'gw');
    load.start(LOOPS);
    await sleep(3000);
    gw.kill('SIGKILL');
    const exit = await gw.exited;
    const killed = performance.now();
    await sleep(300);
    await load.stop();
    expect(exit.signal).toBe('SIGKILL');

    const calls = load.calls;
    const before = calls.filter((c) => c.end < killed);
    const after = calls.filter((c) => c.start >= killed);
    console.log(`gateway kill: ${calls.length} requests, before the kill ${JSON.stringify(countBy(before))}, after ${JSON.stringify(countBy(after))}`);
    // Until the kill every request succeeded; afterwards only the connection fails.
    expect(summary(calls.filter((c) => c.outcome !== 'ok' && c.outcome !== 'network'))).toEqual([]);
    expect(summary(calls.filter((c) => c.outcome === 'network' && c.end < killed - 100))).toEqual([]);

    const checked = await checkAcknowledged(survivor.url, load);
    console.log(
      `  acknowledged by the killed instance, read back through the survivor: ${checked.sessions} sessions, ${checked.carts} carts (${load.acknowledgedAdds} acknowledged adds, ${checked.cartLines} lines), ${checked.orders} orders, ${checked.jobs} jobs (states ${JSON.stringify(checked.jobStates)}); problems ${checked.problems.length}`,
    );
    expect(checked.problems).toEqual([]);
    expect(checked.sessions).toBeGreaterThan(10);
    expect(checked.orders).toBeGreaterThan(0);
    expect(checked.jobs).toBeGreaterThan(0);
  });
});
