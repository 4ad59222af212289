/**
 * Page-view collection: page views per second through the gateway, in one run, three ways:
 *
 * 1. trackPageView, one view per request (the baseline);
 * 2. trackPageViews, `--batch` views per request (100 by default);
 * 3. POST /collect with the same batches as text/plain (what navigator.sendBeacon sends);
 *
 * against a gateway in its own process on a private redis-server (AOF on, as `npm start` runs
 * it), rate limits off, a browser's User-Agent, random pages, referrers, UTM values and visitors.
 * Prints each rate, the batch/single ratios (page views per second, and gateway CPU per view,
 * steadier on a shared machine), and Redis round trips per request seen from both ends:
 * commands the gateway's client sent, and EVALSHA calls in Redis's INFO commandstats (counted
 * on requests sent one at a time, with the commands the script ran and Redis's time per view).
 *
 * Run: `npm run bench -- collect [options]` (`--help` lists them).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import Redis from 'ioredis';
import { startApp } from '../src/app/app';
import { loadConfig } from '../src/config';
import { startRedisServer } from '../src/redis/embedded';
import { forkServer, type ChildServer } from './child';
import { parseOptions, type Bench } from './cli';
import { commandDelta, commandStats } from './redis-stats';

/** Page views from anything but a browser count as bots, which skip most of the work: measure a browser's. */
const UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36';

interface Options {
  duration: number;
  connections: number;
  batch: number;
  json: boolean;
}

// ---- the gateway process
async function serve(redisUrl: string): Promise<void> {
  const config = loadConfig({
    NODE_ENV: 'production',
    PORT: '0',
    HOST: '127.0.0.1',
    REDIS_URL: redisUrl,
    KEY_PREFIX: 'bench-collect',
    LOG_LEVEL: 'error',
    RATE_LIMIT_DEFAULT: 'off',
    WORKER: '0',
    // Every visitor comes from one address: its daily budget of new journeys would stop them at 1,000.
    ANALYTICS_VISITOR_KEYS_PER_DAY: '1000000000',
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

/** Microseconds Redis has spent running scripts (EVALSHA and EVAL) since it started. */
async function scriptMicros(redis: Redis): Promise<number> {
  const text = await redis.info('commandstats');
  let total = 0;
  for (const m of text.matchAll(/^cmdstat_(evalsha|eval):calls=\d+,usec=(\d+)/gm)) total += Number(m[2]);
  return total;
}

const round = (x: number, d = 2): number => Math.round(x * 10 ** d) / 10 ** d;

function delta(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(b)) if (v - (a[k] ?? 0) > 0) out[k] = v - (a[k] ?? 0);
  return out;
}

const SOURCES = ['newsletter', 'ads', 'social', 'partner'];
const REFERRERS = ['https://www.google.com/', 'https://news.example.com/a', 'https://mail.example.org/', ''];

/** The i-th page view of the run: one of 500 pages, 20,000 visitors, a few sources and referrers. */
function view(i: number): Record<string, string> {
  const ref = REFERRERS[i % REFERRERS.length];
  return {
    page: `/bench/${(i * 7919) % 500}${i % 5 === 0 ? `?utm_source=${SOURCES[i % SOURCES.length]}&utm_campaign=c${i % 9}` : ''}`,
    visitorId: `v-${(i * 104_729) % 20_000}`,
    ...(ref ? { referrer: ref } : {}),
  };
}

type Way = 'single' | 'batch' | 'collect';

interface Measured extends Record<string, unknown> {
  pageViewsPerSec: number;
  gatewayCpuMicrosPerView: number;
  evalshaPerRequest: number;
}

async function measure(gw: ChildServer, redis: Redis, opts: Options, way: Way, log: (l: string) => void): Promise<Measured> {
  const perRequest = way === 'single' ? 1 : opts.batch;
  let seq = 0;
  const next = (): Array<Record<string, string>> => Array.from({ length: perRequest }, () => view(seq++));
  const body = (): string =>
    way === 'single'
      ? JSON.stringify({ query: 'mutation V($i: PageViewInput!) { trackPageView(input: $i) }', variables: { i: next()[0] } })
      : way === 'batch'
        ? JSON.stringify({ query: 'mutation Vs($i: [PageViewInput!]!) { trackPageViews(inputs: $i) }', variables: { i: next() } })
        : JSON.stringify({ inputs: next() });
  const run = (duration: number) =>
    autocannon({
      url: `${gw.url}${way === 'collect' ? '/collect' : '/graphql'}`,
      method: 'POST',
      headers: { 'content-type': way === 'collect' ? 'text/plain;charset=UTF-8' : 'application/json', 'user-agent': UA },
      connections: opts.connections,
      duration,
      requests: [{ setupRequest: (req) => ({ ...req, body: body() }) }],
    });
  await run(2);
  const cpu0 = await gw.ask<NodeJS.CpuUsage>('cpu');
  const r = await run(opts.duration);
  const cpu1 = await gw.ask<NodeJS.CpuUsage>('cpu');
  // Gateway CPU per page view: steadier than rates on a shared machine.
  const cpuMicros = cpu1.user - cpu0.user + (cpu1.system - cpu0.system);
  if (r.non2xx || r.errors) throw new Error(`${way}: ${r.non2xx} non-2xx answers, ${r.errors} errors`);
  // Round trips are counted on requests sent one at a time, after the timed run has drained: a timed
  // run's counters would also hold requests still in flight at its start and end.
  await new Promise((res) => setTimeout(res, 1000));
  const N = 20;
  const sent0 = await gw.ask<Record<string, number>>('sent');
  const stats0 = await commandStats(redis);
  const usec0 = await scriptMicros(redis);
  for (let i = 0; i < N; i++) {
    const res = await fetch(`${gw.url}${way === 'collect' ? '/collect' : '/graphql'}`, {
      method: 'POST',
      headers: { 'content-type': way === 'collect' ? 'text/plain;charset=UTF-8' : 'application/json', 'user-agent': UA },
      body: body(),
    });
    if (!res.ok) throw new Error(`${way}: HTTP ${res.status}`);
    await res.arrayBuffer();
  }
  const usec = (await scriptMicros(redis)) - usec0;
  const sent = delta(sent0, await gw.ask<Record<string, number>>('sent'));
  const ran = commandDelta(stats0, await commandStats(redis));
  const sentTotal = Object.values(sent).reduce((a, b) => a + b, 0);
  const inner = Object.entries(ran)
    .filter(([k]) => k !== 'evalsha' && k !== 'eval')
    .reduce((a, [, v]) => a + v, 0);
  const out = {
    viewsPerRequest: perRequest,
    requestsPerSec: Math.round(r.requests.average),
    pageViewsPerSec: Math.round(r.requests.average * perRequest),
    latencyP50Ms: r.latency.p50,
    latencyP99Ms: r.latency.p99,
    commandsSentPerRequest: round(sentTotal / N, 3),
    sent: Object.fromEntries(Object.entries(sent).map(([k, v]) => [k, round(v / N, 3)])),
    evalshaPerRequest: round((ran.evalsha ?? 0) / N, 3),
    gatewayCpuMicrosPerView: Math.round(cpuMicros / (r.requests.total * perRequest)),
    commandsInsideScriptsPerView: round(inner / (N * perRequest), 1),
    redisMicrosPerView: round(usec / (N * perRequest), 1),
  };
  const what = way === 'single' ? 'trackPageView' : way === 'batch' ? `trackPageViews (${perRequest} a request)` : `POST /collect (${perRequest} a request)`;
  log(
    `${what}: ${out.pageViewsPerSec} views/s (${out.requestsPerSec} requests/s), p50 ${out.latencyP50Ms} ms, p99 ${out.latencyP99Ms} ms, ` +
      `gateway CPU ${out.gatewayCpuMicrosPerView} µs per view; ` +
      `round trips per request: ${out.commandsSentPerRequest} sent ${JSON.stringify(out.sent)}, ${out.evalshaPerRequest} EVALSHA in Redis; ` +
      `per view ${out.commandsInsideScriptsPerView} commands inside the script, ${out.redisMicrosPerView} µs of Redis time`,
  );
  return out;
}

export async function runCollectBench(opts: Options, log: (l: string) => void): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(path.join(tmpdir(), 'gw-bench-collect-'));
  const server = await startRedisServer(dir);
  const redis = new Redis(server.url);
  let gw: ChildServer | undefined;
  try {
    gw = await forkServer('collect', [server.url], 'gateway');
    log(`collect bench: ${opts.connections} connections, ${opts.duration} s per run, ${opts.batch} views per batch`);
    const single = await measure(gw, redis, opts, 'single', log);
    const batch = await measure(gw, redis, opts, 'batch', log);
    const collect = await measure(gw, redis, opts, 'collect', log);
    const ratio = round(batch.pageViewsPerSec / single.pageViewsPerSec, 1);
    const ratioCollect = round(collect.pageViewsPerSec / single.pageViewsPerSec, 1);
    const cpuRatio = round(single.gatewayCpuMicrosPerView / batch.gatewayCpuMicrosPerView, 1);
    log(
      `ratio: trackPageViews ${ratio}x, POST /collect ${ratioCollect}x the page views per second of trackPageView; ` +
        `${cpuRatio}x less gateway CPU per view in batches; Redis round trips per batch: ${batch.evalshaPerRequest}`,
    );
    return { single, batch, collect, ratio, ratioCollect, cpuRatio };
  } finally {
    await gw?.stop();
    redis.disconnect();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const OPTIONS = [
  { flag: '--duration', value: '<s>', help: 'seconds per run', default: 10 },
  { flag: '--connections', value: '<n>', help: 'concurrent connections', default: 20 },
  { flag: '--batch', value: '<n>', help: 'page views per trackPageViews and /collect request (1 to 100)', default: 100 },
  { flag: '--json', help: 'results as JSON on stdout, and nothing else' },
] as const;

export const bench: Bench = {
  options: OPTIONS,
  notes: ['BENCH_PROFILE=<dir>: a CPU profile of the gateway process.'],
  async run(argv) {
    const a = parseOptions(argv, OPTIONS);
    const opts: Options = {
      duration: a.number('--duration', 'positive number'),
      connections: a.number('--connections', 'positive integer'),
      batch: Math.min(100, a.number('--batch', 'positive integer')),
      json: a.has('--json'),
    };
    const r = await runCollectBench(opts, opts.json ? () => {} : console.log);
    if (opts.json) console.log(JSON.stringify(r, null, 2));
  },
  serve: ([redisUrl]) => serve(redisUrl),
};
