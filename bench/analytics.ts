/**
 * Analytics under load, against a gateway in its own process on a private
 * redis-server (AOF on, as `npm start` runs it):
 *
 * 1. Page views per second through the gateway (trackPageView over HTTP,
 *    autocannon, random pages and visitors), with Redis round trips per page
 *    view seen from both ends: commands the gateway's client sent, and
 *    EVALSHA calls in Redis's INFO commandstats (plus what the script ran inside).
 * 2. Fan-out latency to 1,000 WebSocket subscribers while page views arrive at
 *    100/s, in two phases: liveStats (read -> delivered, from the aggregate's
 *    `at`), then analyticsEvents (tracked -> delivered, from the event's own
 *    `at`), p50/p99/max. Subscribers run in this process, the gateway in its own.
 *
 * Run: `npm run bench -- analytics [options]` (`--help` lists them).
 */
import { forkServer, type ChildServer } from './child';
import { parseOptions, type Bench } from './cli';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { createClient, type Client } from 'graphql-ws';
import Redis from 'ioredis';
import WebSocket from 'ws';
import { startApp } from '../src/app/app';
import { loadConfig } from '../src/config';
import { startRedisServer } from '../src/redis/embedded';
import { commandDelta, commandStats } from './redis-stats';

const ADMIN = { email: 'bench-admin@example.com', password: 'bench-admin-password-1' };
/** A browser's: page views from a script's User-Agent count as a bot's, which skips most of the work. */
const UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36';

interface Options {
  duration: number;
  connections: number;
  subscribers: number;
  rate: number;
  fanoutSeconds: number;
  only?: string;
  json: boolean;
}

// ---- the gateway process
async function serve(redisUrl: string): Promise<void> {
  const config = loadConfig({
    NODE_ENV: 'production',
    PORT: '0',
    HOST: '127.0.0.1',
    REDIS_URL: redisUrl,
    KEY_PREFIX: 'bench-an',
    LOG_LEVEL: 'error',
    RATE_LIMIT_DEFAULT: 'off',
    SCRYPT_N: '1024',
    WORKER: '0',
    ADMIN_EMAIL: ADMIN.email,
    ADMIN_PASSWORD: ADMIN.password,
    SESSION_UA_CHECK: '0',
    QUERY_MAX_COST: '100000',
    // The load comes from one address: the page-view policy (120/min per visitor) would refuse most of it.
    RATE_LIMIT_ALLOW: 'ip:127.0.0.1',
    // And so do the 1,000 subscribers' sockets.
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
  process.on('message', (msg: string) => {
    if (msg === 'sent') process.send!({ sent: { ...sent } });
    if (msg === 'cpu') process.send!({ cpu: process.cpuUsage() });
    if (msg === 'stop') void app.close().then(() => process.exit(0));
  });
  process.send!({ url: app.url });
}

type Gateway = ChildServer;

function spawnGateway(redisUrl: string): Promise<Gateway> {
  return forkServer('analytics', [redisUrl], 'gateway');
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

const round = (x: number, d = 2): number => Math.round(x * 10 ** d) / 10 ** d;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function percentiles(xs: Float64Array | number[]): { n: number; p50: number; p99: number; max: number } {
  const s = Float64Array.from(xs).sort();
  const at = (q: number): number => (s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))] : NaN);
  return { n: s.length, p50: round(at(0.5), 1), p99: round(at(0.99), 1), max: round(s.length ? s[s.length - 1] : NaN, 1) };
}

function delta(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(b)) if (v - (a[k] ?? 0) > 0) out[k] = v - (a[k] ?? 0);
  return out;
}

// ---- 1. page views per second and round trips
async function throughput(
  gw: Gateway,
  redis: Redis,
  opts: Options,
  token: string | undefined,
  label: string,
  log: (l: string) => void,
): Promise<Record<string, unknown>> {
  const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': UA };
  if (token) headers.authorization = `Bearer ${token}`;
  const body = (i: number): string =>
    JSON.stringify({
      query: 'mutation V($i: PageViewInput!) { trackPageView(input: $i) }',
      variables: { i: { page: `/bench/${i % 50}`, referrer: 'https://example.com/', ...(token ? {} : { visitorId: `bv-${i % 100_000}` }) } },
    });
  let seq = 0;
  const run = (duration: number) =>
    autocannon({
      url: `${gw.url}/graphql`,
      method: 'POST',
      headers,
      connections: opts.connections,
      duration,
      requests: [{ setupRequest: (req) => ({ ...req, body: body(seq++) }) }],
    });
  await run(2);
  const sent0 = await gw.ask<Record<string, number>>('sent');
  const stats0 = await commandStats(redis);
  const r = await run(opts.duration);
  const sent = delta(sent0, await gw.ask<Record<string, number>>('sent'));
  const ran = commandDelta(stats0, await commandStats(redis));
  if (r.non2xx || r.errors) throw new Error(`${r.non2xx} non-2xx answers, ${r.errors} errors`);
  const n = r.requests.total;
  const sentTotal = Object.values(sent).reduce((a, b) => a + b, 0);
  const inner = Object.entries(ran)
    .filter(([k]) => k !== 'evalsha')
    .reduce((a, [, v]) => a + v, 0);
  const out = {
    pageViewsPerSec: Math.round(r.requests.average),
    latencyP50Ms: r.latency.p50,
    latencyP99Ms: r.latency.p99,
    commandsSentPerPageView: round(sentTotal / n, 3),
    sent: Object.fromEntries(Object.entries(sent).map(([k, v]) => [k, round(v / n, 3)])),
    evalshaPerPageView: round((ran.evalsha ?? 0) / n, 3),
    commandsInsideScriptsPerPageView: round(inner / n, 2),
  };
  log(
    `page views (${label}): ${out.pageViewsPerSec}/s, p50 ${out.latencyP50Ms} ms, p99 ${out.latencyP99Ms} ms; sent ${out.commandsSentPerPageView} commands/view ${JSON.stringify(out.sent)}; Redis: ${out.evalshaPerPageView} EVALSHA/view running ${out.commandsInsideScriptsPerPageView} commands inside`,
  );
  return out;
}

// ---- 2. fan-out
function subscriberClient(url: string, token: string): Client {
  class UaWebSocket extends WebSocket {
    constructor(address: string, protocols?: string | string[]) {
      super(address, protocols, { headers: { 'user-agent': UA } });
    }
  }
  return createClient({
    url: url.replace(/^http/, 'ws') + '/graphql',
    webSocketImpl: UaWebSocket,
    connectionParams: { authorization: `Bearer ${token}` },
    retryAttempts: 0,
    lazy: false,
  });
}

type Kind = 'events' | 'live';
const SUBSCRIPTIONS: Record<Kind, string> = {
  events: 'subscription { analyticsEvents(types: [PAGE_VIEW]) { page at } }',
  live: 'subscription { liveStats { at totalPageViews } }',
};

/**
 * `subscribers` sockets with one subscription each; page views at `rate`/s for
 * `fanoutSeconds`; latency = arrival - the payload's `at`. Waits for the backlog
 * to drain (or 60 s), so an overloaded gateway shows as latency, not as loss.
 */
async function fanout(gw: Gateway, opts: Options, token: string, kind: Kind, log: (l: string) => void): Promise<Record<string, unknown>> {
  const clients: Client[] = [];
  const ready = new Uint8Array(opts.subscribers);
  const latencies: number[] = [];
  let measuring = false;
  let errors = 0;
  let lastArrival = 0;
  for (let i = 0; i < opts.subscribers; i++) {
    const c = subscriberClient(gw.url, token);
    clients.push(c);
    c.subscribe(
      { query: SUBSCRIPTIONS[kind] },
      {
        next: (v) => {
          const d = v.data as { analyticsEvents?: { page: string; at: string }; liveStats?: { at: string } } | undefined;
          const payload = d?.analyticsEvents ?? d?.liveStats;
          if (!payload) return;
          ready[i] = 1;
          if (measuring && (kind === 'live' || d?.analyticsEvents?.page.startsWith('/bench/fan/'))) {
            lastArrival = Date.now();
            latencies.push(lastArrival - Date.parse(payload.at));
          }
        },
        error: () => errors++,
        complete: () => {},
      },
    );
    if (i % 100 === 99) await sleep(50);
  }
  // Probe until every subscriber has received something: all are listening.
  const deadline = Date.now() + 60_000;
  let probes = 0;
  const readyCount = (): number => ready.reduce((a, b) => a + b, 0);
  while (readyCount() < opts.subscribers && Date.now() < deadline) {
    await gql(gw.url, 'mutation { trackPageView(input: { page: "/bench/probe", visitorId: "probe" }) }');
    probes++;
    await sleep(kind === 'live' ? 1100 : 300);
  }
  await sleep(1500);
  log(`fan-out ${kind}: ${readyCount()} of ${opts.subscribers} subscribers listening after ${probes} probes (${errors} errors)`);
  const cpu0 = await gw.ask<NodeJS.CpuUsage>('cpu');
  const own0 = process.cpuUsage();
  measuring = true;
  const started = Date.now();
  let sent = 0;
  let tracked = 0;
  const errorCodes: Record<string, number> = {};
  const interval = 1000 / opts.rate;
  while (Date.now() - started < opts.fanoutSeconds * 1000) {
    const due = started + sent * interval;
    if (due > Date.now()) await sleep(due - Date.now());
    void gql(gw.url, 'mutation V($i: PageViewInput!) { trackPageView(input: $i) }', { i: { page: `/bench/fan/${sent % 20}`, visitorId: `fan-${sent}` } }).then(
      () => tracked++,
      (err: Error) => {
        errors++;
        const code = /"code":"([A-Z_]+)"/.exec(err.message)?.[1] ?? err.message.slice(0, 60);
        errorCodes[code] = (errorCodes[code] ?? 0) + 1;
      },
    );
    sent++;
  }
  const sendingTook = Date.now() - started;
  // Only page views the gateway accepted are published (wait for the last answers first).
  while (tracked + errors < sent && Date.now() - started < opts.fanoutSeconds * 1000 + 30_000) await sleep(50);
  const expected = kind === 'events' ? tracked * opts.subscribers : undefined;
  // Drain: until everything arrived, or nothing arrived for 5 s, or 60 s passed.
  const drainUntil = Date.now() + 60_000;
  while (Date.now() < drainUntil) {
    await sleep(500);
    if (expected !== undefined ? latencies.length >= expected : Date.now() - lastArrival > 2500) break;
    if (Date.now() - lastArrival > 5000) break;
  }
  measuring = false;
  const cpu = await gw.ask<NodeJS.CpuUsage>('cpu');
  const busyMs = Math.max(lastArrival, started + sendingTook) - started;
  const gatewayCpuUs = cpu.user + cpu.system - cpu0.user - cpu0.system;
  const gatewayCpuPercent = round((gatewayCpuUs / 1000 / busyMs) * 100, 0);
  const own = process.cpuUsage(own0);
  const subscribersCpuPercent = round(((own.user + own.system) / 1000 / busyMs) * 100, 0);
  await Promise.all(clients.map(async (c) => c.dispose()));
  const p = percentiles(latencies);
  const out = {
    kind,
    subscribers: opts.subscribers,
    pageViewsPerSec: opts.rate,
    pageViewsSent: sent,
    // Below the target rate when this process (sender and subscribers) runs out of CPU.
    achievedPageViewsPerSec: round(sent / (sendingTook / 1000), 1),
    deliveries: p.n,
    ...(expected !== undefined ? { expectedDeliveries: expected } : { pushesPerSubscriber: round(p.n / opts.subscribers, 1) }),
    deliveriesPerSec: Math.round(p.n / (busyMs / 1000)),
    latencyMs: { p50: p.p50, p99: p.p99, max: p.max },
    gatewayCpuPercent,
    // The gateway's CPU time (its whole process: the tracking calls too) per delivery.
    gatewayCpuUsPerDelivery: p.n ? round(gatewayCpuUs / p.n, 1) : NaN,
    subscribersCpuPercent,
    errors,
    errorCodes,
  };
  log(
    `fan-out ${kind}: ${sent} page views at ${opts.rate}/s (sent at ${out.achievedPageViewsPerSec}/s) -> ${p.n}${expected !== undefined ? ` of ${expected}` : ''} deliveries (${out.deliveriesPerSec}/s); ` +
      `latency p50 ${p.p50} ms, p99 ${p.p99} ms, max ${p.max} ms; gateway CPU ${gatewayCpuPercent}% of a core (${out.gatewayCpuUsPerDelivery} µs per delivery), subscribers' process ${subscribersCpuPercent}%; ${errors} errors${errors ? ` ${JSON.stringify(errorCodes)}` : ''}`,
  );
  return out;
}

export async function runAnalyticsBench(opts: Options, log: (l: string) => void): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(path.join(tmpdir(), 'gw-bench-an-'));
  const server = await startRedisServer(dir);
  const redis = new Redis(server.url);
  let gw: Gateway | undefined;
  try {
    gw = await spawnGateway(server.url);
    const token = (await gql<{ login: { token: string } }>(gw.url, 'mutation L($i: LoginInput!) { login(input: $i) { token } }', { i: ADMIN })).login.token;
    log(`analytics bench: ${opts.connections} connections, ${opts.duration} s per throughput run`);
    const results: Record<string, unknown> = {};
    const want = (part: string): boolean => !opts.only || opts.only === part;
    if (want('throughput')) {
      results.pageViewsExplicitVisitor = await throughput(gw, redis, opts, undefined, 'visitorId given', log);
      results.pageViewsSignedIn = await throughput(gw, redis, opts, token, 'signed in, visitor = user', log);
    }
    if (want('live')) results.fanoutLiveStats = await fanout(gw, opts, token, 'live', log);
    if (want('events')) results.fanoutEvents = await fanout(gw, opts, token, 'events', log);
    return results;
  } finally {
    await gw?.stop();
    redis.disconnect();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const OPTIONS = [
  { flag: '--duration', value: '<s>', help: 'seconds per page-view throughput run', default: 10 },
  { flag: '--connections', value: '<n>', help: 'concurrent connections of the throughput runs', default: 50 },
  { flag: '--subscribers', value: '<n>', help: 'WebSocket subscribers of the fan-out runs', default: 1000 },
  { flag: '--rate', value: '<events/s>', help: 'page views per second during the fan-out runs', default: 100 },
  { flag: '--fanout-seconds', value: '<s>', help: 'seconds of page views per fan-out run', default: 10 },
  { flag: '--only', choices: ['throughput', 'live', 'events'], help: 'one part only: page-view throughput, liveStats fan-out or analyticsEvents fan-out' },
  { flag: '--json', help: 'results as JSON on stdout, and nothing else' },
] as const;

export const bench: Bench = {
  options: OPTIONS,
  notes: ['BENCH_PROFILE=<dir>: a CPU profile of the gateway process.'],
  async run(argv) {
    const a = parseOptions(argv, OPTIONS);
    const opts: Options = {
      duration: a.number('--duration'),
      connections: a.number('--connections'),
      subscribers: a.number('--subscribers'),
      rate: a.number('--rate', 'positive number'),
      fanoutSeconds: a.number('--fanout-seconds'),
      ...(a.has('--only') ? { only: a.string('--only') } : {}),
      json: a.has('--json'),
    };
    const r = await runAnalyticsBench(opts, opts.json ? () => {} : console.log);
    if (opts.json) console.log(JSON.stringify(r, null, 2));
  },
  serve: ([redisUrl]) => serve(redisUrl),
};
