/**
 * Mass fan-out of `productUpdated`: one gateway process on a private redis-server (AOF on), and
 * in another process a load generator holding `--subscribers` WebSocket connections (one
 * subscription each; anonymous, guest and signed-in mixed; three different selections; each
 * watching the hot product and ten others, so no two watch the same list). This process changes
 * the hot product's stock `--rate` times a second by running the stockAdjust script against Redis
 * itself, as adjustStock does, and records when each write was sent. For every change:
 *
 * - latency: from the write to its last delivery (the arrival on the last of the sockets);
 *   p50/p99/max over the changes;
 * - the gateway's CPU time per delivery (its whole process, over the measured window), and the
 *   load generator's;
 * - commands the gateway sent to Redis during the window (a change costs it none: it arrives as
 *   one pub/sub message per instance).
 *
 * Baseline in the same run: the `analytics` bench's analyticsEvents fan-out (1,000 subscribers on
 * one shared token, 10 events/s), whose gateway CPU per delivery is the figure to beat; the ratio
 * is printed.
 *
 * Run: `npm run bench -- fanout [options]` (`--help` lists them).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import Redis from 'ioredis';
import type { AddressInfo } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { forkServer, type ChildServer } from './child';
import { parseOptions, type Bench } from './cli';
import { runAnalyticsBench } from './analytics';
import { startApp } from '../src/app/app';
import { loadConfig } from '../src/config';
import { startRedisServer } from '../src/redis/embedded';
import { Keys } from '../src/redis/keys';
import { runScript } from '../src/redis/scripts';
import { MAX_STOCK, PRODUCT_UPDATED_TOPIC } from '../src/services/commerce/catalog.service';

const ADMIN = { email: 'bench-admin@example.com', password: 'bench-admin-password-1' };
const UA = 'fanout-bench/1.0';
const PREFIX = 'bench-fan';
const HOT = 'fan-hot';
const OTHERS = 100;
const SELECTIONS = ['{ id stock }', '{ id stock priceCents }', '{ id name priceCents currency stock }'];
const QUERY = (sel: string): string => `subscription Watch($ids: [ID!]!) { productUpdated(ids: $ids) ${sel} }`;

const now = (): number => performance.timeOrigin + performance.now();
const round = (x: number, d = 1): number => Math.round(x * 10 ** d) / 10 ** d;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Options {
  subscribers: number;
  rate: number;
  seconds: number;
  baselineSubscribers: number;
  baselineRate: number;
  baselineSeconds: number;
  baseline: boolean;
  json: boolean;
}

/** One subscriber as the load generator opens it. */
interface Spec {
  token: string | null;
  query: string;
  ids: string[];
}

// ---- the gateway process
async function serveGateway(redisUrl: string): Promise<void> {
  const config = loadConfig({
    NODE_ENV: 'production',
    PORT: '0',
    HOST: '127.0.0.1',
    REDIS_URL: redisUrl,
    KEY_PREFIX: PREFIX,
    LOG_LEVEL: 'error',
    RATE_LIMIT_DEFAULT: 'off',
    SCRYPT_N: '1024',
    WORKER: '0',
    SAMPLE_CATALOG: '0',
    ADMIN_EMAIL: ADMIN.email,
    ADMIN_PASSWORD: ADMIN.password,
    SESSION_UA_CHECK: '0',
    // Every subscriber's socket comes from one address.
    WS_MAX_CONNECTIONS_PER_IP: '1000000',
  });
  const app = await startApp(config);
  const sent: Record<string, number> = {};
  const target = app.redis as unknown as { sendCommand: (cmd: { name: string }, ...rest: unknown[]) => unknown };
  const original = target.sendCommand.bind(app.redis);
  target.sendCommand = (cmd, ...rest) => {
    sent[cmd.name] = (sent[cmd.name] ?? 0) + 1;
    return original(cmd, ...rest);
  };
  let floor: WebSocketServer | null = null;
  process.on('message', (msg: string) => {
    if (msg === 'cpu') process.send!({ cpu: process.cpuUsage() });
    if (msg === 'sent') process.send!({ sent: { ...sent } });
    if (msg === 'watchers') process.send!({ watchers: app.services.productUpdates.watching(HOT) });
    if (msg === 'floor-open') {
      const server = (floor = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false }));
      server.once('listening', () => process.send!({ 'floor-open': `ws://127.0.0.1:${(server.address() as AddressInfo).port}` }));
    }
    if (msg.startsWith('floor-run:')) void floorRun(floor!, msg);
    if (msg === 'stop') void app.close().then(() => process.exit(0));
  });
  process.send!({ url: app.url });
}

/**
 * The floor: this process, as a bare `ws` server with no gateway around it, writes one message
 * like a delivery to every socket the load generator holds open to it, `count` times `intervalMs`
 * apart, and reports its CPU per write. What a socket write costs here, whatever the gateway does.
 */
async function floorRun(server: WebSocketServer, msg: string): Promise<void> {
  const [, count, intervalMs] = msg.split(':').map(Number);
  const text = `{"id":"${randomUUID()}","type":"next","payload":{"data":{"productUpdated":{"id":"${HOT}","stock":1234,"priceCents":1900}}}}`;
  const cpu0 = process.cpuUsage();
  let writes = 0;
  for (let k = 0; k < count; k++) {
    for (const socket of server.clients) {
      socket.send(text);
      writes++;
    }
    await sleep(intervalMs);
  }
  const cpu = process.cpuUsage(cpu0);
  process.send!({ [msg]: { writes, cpuUs: cpu.user + cpu.system, systemUs: cpu.system } });
  for (const socket of server.clients) socket.terminate();
  server.close();
}

// ---- the load generator process
/** Arrivals per stock value of the hot product: how many, and the last one's time. */
const arrivals = new Map<number, { n: number; last: number }>();
const STOCK = Buffer.from('"stock":');

function onNext(data: Buffer): void {
  const at = now();
  const i = data.indexOf(STOCK);
  if (i < 0) return;
  let stock = 0;
  for (let j = i + STOCK.length; j < data.length; j++) {
    const c = data[j];
    if (c < 48 || c > 57) break;
    stock = stock * 10 + (c - 48);
  }
  const a = arrivals.get(stock);
  if (a) {
    a.n++;
    a.last = at;
  } else arrivals.set(stock, { n: 1, last: at });
}

function open(url: string, spec: Spec, counts: { open: number; failed: number; errors: number }): Promise<void> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, 'graphql-transport-ws', { headers: { 'user-agent': UA }, perMessageDeflate: false });
    let settled = false;
    const done = (ok: boolean): void => {
      if (settled) return;
      settled = true;
      if (ok) counts.open++;
      else counts.failed++;
      resolve();
    };
    ws.on('open', () => ws.send(JSON.stringify({ type: 'connection_init', payload: spec.token ? { authorization: `Bearer ${spec.token}` } : {} })));
    ws.on('message', (data: Buffer) => {
      // `next` messages start with {"id": (written that way by the gateway); the rest are control messages.
      if (data[2] === 105 /* i */) return onNext(data);
      const msg = JSON.parse(data.toString('utf8')) as { type: string };
      if (msg.type === 'connection_ack') {
        // A fresh random id per subscription, as the graphql-ws client makes them: no two sockets get the same bytes.
        ws.send(JSON.stringify({ id: randomUUID(), type: 'subscribe', payload: { query: spec.query, variables: { ids: spec.ids } } }));
        done(true);
      } else if (msg.type === 'error') counts.errors++;
    });
    ws.on('error', () => done(false));
    ws.on('close', () => done(false));
  });
}

async function serveLoad(): Promise<void> {
  const counts = { open: 0, failed: 0, errors: 0 };
  let floorMessages = 0;
  process.on('message', (msg: { type: string; url?: string; specs?: Spec[]; stocks?: number[]; n?: number }) => {
    void (async () => {
      if (msg.type === 'open-floor') {
        let opened = 0;
        for (let i = 0; i < msg.n!; i += 100) {
          await Promise.all(
            Array.from(
              { length: Math.min(100, msg.n! - i) },
              () =>
                new Promise<void>((resolve) => {
                  const ws = new WebSocket(msg.url!, { perMessageDeflate: false });
                  ws.on('open', () => {
                    opened++;
                    resolve();
                  });
                  ws.on('message', () => floorMessages++);
                  ws.on('error', () => resolve());
                }),
            ),
          );
        }
        process.send!({ floorOpened: opened });
      } else if (msg.type === 'floor-count') process.send!({ floorCount: floorMessages });
      else if (msg.type === 'open') {
        const url = msg.url!.replace(/^http/, 'ws') + '/graphql';
        const specs = msg.specs!;
        for (let i = 0; i < specs.length; i += 100) {
          await Promise.all(specs.slice(i, i + 100).map((s) => open(url, s, counts)));
        }
        process.send!({ opened: { ...counts } });
      } else if (msg.type === 'cpu') process.send!({ cpu: process.cpuUsage() });
      else if (msg.type === 'report') process.send!({ report: msg.stocks!.map((s) => arrivals.get(s) ?? { n: 0, last: NaN }), errors: counts.errors });
    })();
  });
  process.send!({ ready: true });
}

/** The load generator: the runner again, as `fanout --serve load`. */
function spawnLoad(): { child: ChildProcess; ask<T>(msg: Record<string, unknown>, field: string): Promise<T>; ready: Promise<void> } {
  const child = fork(path.join(__dirname, `run${path.extname(__filename)}`), ['fanout', '--serve', 'load'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const ready = new Promise<void>((resolve) => child.once('message', () => resolve()));
  return {
    child,
    ready,
    ask: <T>(msg: Record<string, unknown>, field: string) =>
      new Promise<T>((resolve) => {
        const on = (m: Record<string, unknown>): void => {
          if (!(field in m)) return;
          child.off('message', on);
          resolve(m[field] as T);
        };
        child.on('message', on);
        child.send(msg);
      }),
  };
}

// ---- helpers
async function gql<T>(url: string, query: string, variables: Record<string, unknown> = {}, token?: string): Promise<T> {
  const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': UA };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`${url}/graphql`, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
  const body = (await res.json()) as { data?: T; errors?: unknown[] };
  if (!body.data) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

/** `n` results of `make(i)`, `width` at a time. */
async function pool<T>(n: number, width: number, make: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array<T>(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < n) {
        const i = next++;
        out[i] = await make(i);
      }
    }),
  );
  return out;
}

function percentiles(xs: number[]): { n: number; p50: number; p99: number; max: number } {
  const s = [...xs].sort((x, y) => x - y);
  const at = (q: number): number => (s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))] : NaN);
  return { n: s.length, p50: round(at(0.5)), p99: round(at(0.99)), max: round(s.length ? s[s.length - 1] : NaN) };
}

function delta(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(b)) if (v - (a[k] ?? 0) > 0) out[k] = v - (a[k] ?? 0);
  return out;
}

const cpuUs = (c: NodeJS.CpuUsage): number => c.user + c.system;

// ---- the run
async function runFanout(opts: Options, log: (l: string) => void): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(path.join(tmpdir(), 'gw-bench-fan-'));
  const server = await startRedisServer(dir);
  const redis = new Redis(server.url);
  let gw: ChildServer | undefined;
  const load = spawnLoad();
  try {
    gw = await forkServer('fanout', ['gateway', server.url], 'gateway');
    await load.ready;
    const admin = (await gql<{ login: { token: string } }>(gw.url, 'mutation L($i: LoginInput!) { login(input: $i) { token } }', { i: ADMIN })).login.token;
    const upsert = 'mutation U($i: ProductInput!) { upsertProduct(input: $i) { id } }';
    await gql(gw.url, upsert, { i: { id: HOT, name: 'Hot product', priceCents: 1900, stock: 1000 } }, admin);
    await pool(OTHERS, 10, (i) => gql(gw!.url, upsert, { i: { id: `fan-${i}`, name: `Product ${i}`, priceCents: 100 + i, stock: 50 } }, admin));

    // A third anonymous, a third guests, a third signed in; the selection changes every subscriber, crosswise.
    const n = opts.subscribers;
    const signedIn = Math.floor(n / 3);
    const guests = Math.floor(n / 3);
    log(`fanout bench: registering ${signedIn} users and starting ${guests} guest sessions`);
    const userTokens = await pool(signedIn, 20, (i) =>
      gql<{ register: { token: string } }>(gw!.url, 'mutation R($i: RegisterInput!) { register(input: $i) { token } }', {
        i: { email: `fan-${i}@example.com`, password: 'fanout-password-1', name: `Fan ${i}` },
      }).then((r) => r.register.token),
    );
    const guestTokens = await pool(guests, 20, () =>
      gql<{ startGuestSession: { token: string } }>(gw!.url, 'mutation { startGuestSession { token } }').then((r) => r.startGuestSession.token),
    );
    let seed = 7;
    const random = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const specs: Spec[] = Array.from({ length: n }, (_, i) => {
      const kind = i % 3;
      const token = kind === 0 ? null : kind === 1 ? guestTokens[Math.floor(i / 3) % guests] : userTokens[Math.floor(i / 3) % signedIn];
      const ids = [HOT, ...Array.from({ length: 10 }, () => `fan-${Math.floor(random() * OTHERS)}`)];
      return { token, query: QUERY(SELECTIONS[Math.floor(i / 3) % SELECTIONS.length]), ids };
    });
    const t0 = Date.now();
    const opened = await load.ask<{ open: number; failed: number; errors: number }>({ type: 'open', url: gw.url, specs }, 'opened');
    let watching = 0;
    const deadline = Date.now() + 60_000;
    while ((watching = await gw.ask<number>('watchers')) < opened.open && Date.now() < deadline) await sleep(200);
    log(`fanout bench: ${opened.open} of ${n} sockets open (${opened.failed} failed), ${watching} subscriptions live after ${Date.now() - t0} ms`);

    const keys = new Keys(PREFIX);
    const write = async (): Promise<{ at: number; stock: number }> => {
      const at = now();
      const reply = await runScript<[number, string, number]>(
        redis,
        'stockAdjust',
        [keys.catalog('products'), keys.catalog('stock'), keys.catalog('version'), keys.catalog('cache')],
        [HOT, 1, MAX_STOCK, keys.channel(PRODUCT_UPDATED_TOPIC)],
      );
      return { at, stock: Number(reply[2]) };
    };

    // Warm-up: a few changes, unmeasured, until one reaches every subscriber.
    for (let i = 0; i < 20; i++) {
      const w = await write();
      await sleep(300);
      const [a] = await load.ask<Array<{ n: number }>>({ type: 'report', stocks: [w.stock] }, 'report');
      if (a.n >= watching && i >= 4) break;
    }
    await sleep(500);

    const gwCpu0 = await gw.ask<NodeJS.CpuUsage>('cpu');
    const loadCpu0 = await load.ask<NodeJS.CpuUsage>({ type: 'cpu' }, 'cpu');
    const sent0 = await gw.ask<Record<string, number>>('sent');
    const started = now();
    const writes: Array<{ at: number; stock: number }> = [];
    const interval = 1000 / opts.rate;
    const count = Math.round(opts.seconds * opts.rate);
    for (let k = 0; k < count; k++) {
      const due = started + k * interval;
      if (due > now()) await sleep(due - now());
      writes.push(await write());
    }
    // Drain: until every change reached every subscriber, or 10 s passed.
    const stocks = writes.map((w) => w.stock);
    let report: Array<{ n: number; last: number }> = [];
    const drainUntil = Date.now() + 10_000;
    do {
      await sleep(250);
      report = await load.ask({ type: 'report', stocks }, 'report');
    } while (report.some((r) => r.n < watching) && Date.now() < drainUntil);
    const lastArrival = Math.max(...report.map((r) => r.last).filter(Number.isFinite));
    const gwCpuEnd = await gw.ask<NodeJS.CpuUsage>('cpu');
    const gwCpu = cpuUs(gwCpuEnd) - cpuUs(gwCpu0);
    const gwSystem = gwCpuEnd.system - gwCpu0.system;
    const loadCpu = cpuUs(await load.ask<NodeJS.CpuUsage>({ type: 'cpu' }, 'cpu')) - cpuUs(loadCpu0);
    const sent = delta(sent0, await gw.ask<Record<string, number>>('sent'));
    const windowMs = Math.max(lastArrival, writes.at(-1)!.at) - started;

    const deliveries = report.reduce((s, r) => s + r.n, 0);
    const complete = report.filter((r) => r.n >= watching).length;
    const latencies = report.map((r, k) => (r.n > 0 ? r.last - writes[k].at : NaN)).filter(Number.isFinite);
    const p = percentiles(latencies);
    const gatewayUsPerDelivery = round(gwCpu / deliveries, 2);
    const out = {
      subscribers: n,
      open: opened.open,
      live: watching,
      mix: { anonymous: n - signedIn - guests, guests, signedIn, selections: SELECTIONS.length },
      changes: writes.length,
      changesPerSec: round(writes.length / ((writes.at(-1)!.at - started) / 1000 || 1), 2),
      deliveries,
      expectedDeliveries: writes.length * watching,
      changesReachingEverySubscriber: complete,
      latencyMs: { p50: p.p50, p99: p.p99, max: p.max },
      gatewayCpuUsPerDelivery: gatewayUsPerDelivery,
      // Of which in the kernel (the socket writes, mostly).
      gatewaySystemCpuUsPerDelivery: round(gwSystem / deliveries, 2),
      gatewayCpuPercent: round((gwCpu / 1000 / windowMs) * 100, 0),
      loadGeneratorCpuUsPerDelivery: round(loadCpu / deliveries, 2),
      loadGeneratorCpuPercent: round((loadCpu / 1000 / windowMs) * 100, 0),
      gatewayCommandsSentPerChange: round(Object.values(sent).reduce((s, v) => s + v, 0) / writes.length, 2),
      gatewayCommandsSent: sent,
    };
    // The floor, on the same machine now: a bare ws server in the gateway's process writing to as many sockets of the load generator.
    const floorUrl = await gw.ask<string>('floor-open');
    const floorOpened = await load.ask<number>({ type: 'open-floor', url: floorUrl, n: watching }, 'floorOpened');
    const floor = await gw.ask<{ writes: number; cpuUs: number; systemUs: number }>(`floor-run:${Math.min(count, 50)}:${Math.round(interval)}`);
    await sleep(500);
    const floorReceived = await load.ask<number>({ type: 'floor-count' }, 'floorCount');
    Object.assign(out, {
      floor: {
        sockets: floorOpened,
        writes: floor.writes,
        received: floorReceived,
        cpuUsPerWrite: round(floor.cpuUs / floor.writes, 2),
        systemCpuUsPerWrite: round(floor.systemUs / floor.writes, 2),
      },
    });
    log(
      `fanout: ${out.changes} stock changes at ${out.changesPerSec}/s to ${watching} subscribers (${out.mix.anonymous} anonymous, ${guests} guests, ${signedIn} signed in; ${SELECTIONS.length} selections) -> ` +
        `${deliveries} of ${out.expectedDeliveries} deliveries; ${complete} of ${writes.length} changes reached every subscriber`,
    );
    log(
      `fanout: floor (a bare ws server writing a message of the same size to ${floorOpened} sockets, ${floor.writes} writes): ${round(floor.cpuUs / floor.writes, 2)} µs per write (${round(floor.systemUs / floor.writes, 2)} µs in the kernel); the gateway spends ${round(gatewayUsPerDelivery - floor.cpuUs / floor.writes, 2)} µs per delivery beyond it`,
    );
    log(`fanout: Redis write -> last delivery p50 ${p.p50} ms, p99 ${p.p99} ms, max ${p.max} ms (target p99 <= 100 ms)`);
    log(
      `fanout: gateway CPU ${gatewayUsPerDelivery} µs per delivery (${out.gatewaySystemCpuUsPerDelivery} µs of it in the kernel; ${out.gatewayCpuPercent}% of a core); load generator ${out.loadGeneratorCpuUsPerDelivery} µs per delivery (${out.loadGeneratorCpuPercent}% of a core); gateway sent ${out.gatewayCommandsSentPerChange} Redis commands per change ${JSON.stringify(sent)}`,
    );
    return out;
  } finally {
    load.child.kill();
    await gw?.stop();
    redis.disconnect();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const OPTIONS = [
  { flag: '--subscribers', value: '<n>', help: 'WebSocket connections, one productUpdated subscription each', default: 5000 },
  { flag: '--rate', value: '<changes/s>', help: 'stock changes of the hot product per second', default: 5 },
  { flag: '--seconds', value: '<s>', help: 'seconds of changes measured', default: 20 },
  { flag: '--baseline-subscribers', value: '<n>', help: "the analytics baseline's subscribers (one shared token)", default: 1000 },
  { flag: '--baseline-rate', value: '<events/s>', help: "the analytics baseline's page views per second", default: 10 },
  { flag: '--baseline-seconds', value: '<s>', help: "the analytics baseline's seconds of page views", default: 10 },
  { flag: '--no-baseline', help: 'skip the analytics baseline' },
  { flag: '--json', help: 'results as JSON on stdout, and nothing else' },
] as const;

export const bench: Bench = {
  options: OPTIONS,
  notes: ['BENCH_PROFILE=<dir>: a CPU profile of the gateway process.'],
  async run(argv) {
    const a = parseOptions(argv, OPTIONS);
    const opts: Options = {
      subscribers: a.number('--subscribers', 'positive integer'),
      rate: a.number('--rate', 'positive number'),
      seconds: a.number('--seconds', 'positive number'),
      baselineSubscribers: a.number('--baseline-subscribers', 'positive integer'),
      baselineRate: a.number('--baseline-rate', 'positive number'),
      baselineSeconds: a.number('--baseline-seconds', 'positive number'),
      baseline: !a.has('--no-baseline'),
      json: a.has('--json'),
    };
    const log = opts.json ? () => {} : console.log;
    const fanout = await runFanout(opts, log);
    const results: Record<string, unknown> = { fanout };
    if (opts.baseline) {
      log(`baseline: analytics analyticsEvents fan-out, ${opts.baselineSubscribers} subscribers on one token, ${opts.baselineRate} events/s`);
      const base = (await runAnalyticsBench(
        {
          duration: 0,
          connections: 1,
          subscribers: opts.baselineSubscribers,
          rate: opts.baselineRate,
          fanoutSeconds: opts.baselineSeconds,
          only: 'events',
          json: opts.json,
        },
        log,
      )) as { fanoutEvents: { gatewayCpuUsPerDelivery: number } };
      const baseUs = base.fanoutEvents.gatewayCpuUsPerDelivery;
      const fanUs = fanout.gatewayCpuUsPerDelivery as number;
      const ratio = round(fanUs / baseUs, 3);
      results.baseline = base.fanoutEvents;
      results.gatewayCpuPerDeliveryRatio = ratio;
      log(`ratio: productUpdated ${fanUs} µs / analyticsEvents ${baseUs} µs per delivery = ${ratio} (target <= 0.333: ${ratio <= 1 / 3 ? 'met' : 'missed'})`);
    }
    if (opts.json) console.log(JSON.stringify(results, null, 2));
  },
  serve: ([role, redisUrl]) => (role === 'load' ? serveLoad() : serveGateway(redisUrl)),
};
