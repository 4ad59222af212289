/**
 * The gateway against the stack a team would assemble for the same job (bench/peers/assembled.ts:
 * Express 5, express-session + connect-redis 9, rate-limiter-flexible, Apollo Server 5 and a
 * TypeGraphQL resolver), both answering a signed-in `{ me { id } }` in the same run, on ONE private
 * redis-server. `me` compares the gateway with the least code that does its work; this compares
 * it with what people would otherwise ship, guarantees and all, so it stays as a baseline.
 *
 * Each server runs in its own process, NODE_ENV=production (in their environment from the start:
 * graphql-js and Express read it when loaded); autocannon drives them from here, sides alternating
 * A B B A … after a warm-up so drift falls on both. `--limits on` gives the gateway a per-user
 * limit nothing reaches (RATE_LIMIT_DEFAULT=1000000000/1m, RATE_LIMIT_PER_ADDRESS=off: one
 * policy, like the peer's one limiter) and the peer a RateLimiterRedis of as many points;
 * `--limits exact` is the same with RATE_LIMIT_LEASE=0 (every charge in Redis, as the peer's;
 * `on` lets the gateway lease points of the busy user's key, docs/rate-limits.md "Leases");
 * `--limits off` is RATE_LIMIT_DEFAULT=off and no limiter. Every request pays the check, none is
 * refused (a refusal fails the run).
 *
 * One user sends every request, so the gateway's shared cache (a checked session and its user are
 * kept 800 ms per instance, docs/sessions.md) answers nearly all of them from memory: its best case.
 * `--cache off` (CACHE_MAX_ENTRIES=0) shows its other end, every request going to Redis, as when
 * no session calls twice within 800 ms. The peer has no cache and goes to Redis every time.
 *
 * Per side:
 * - requests/s and latency (autocannon);
 * - server CPU per request: `process.cpuUsage()` of the server process around the run, steadier
 *   than requests/s on a shared machine;
 * - Redis CPU per request: `INFO cpu` (used_cpu_user + used_cpu_sys) around the run;
 * - Redis commands per request: `INFO commandstats` around the run, scripts' inner calls included;
 * - Redis round trips per request, counted by a TCP proxy of its own per side (a child process, so
 *   its CPU is neither server's): see `serveProxy`. Twice: under the load (turns the side's Redis
 *   connections took, over requests: commands of concurrent requests that leave together share a
 *   turn, so this is below the sequential figure and moves with concurrency) and one request at a
 *   time (`--probe` requests over one HTTP connection, nothing else in flight: the number of
 *   times a request waits for Redis, the figure latency pays).
 * Then each figure as a ratio gateway/peer.
 *
 * The proxy adds a hop (another process) to every round trip, as a network would; the side with
 * more round trips pays more, and both run slower than in `me`. `--direct` connects both sides
 * straight to Redis, without round-trip counts.
 *
 * Run: `npm run bench -- peer [options]` (`--help` lists them).
 */
import { benchGatewayEnv, forkServer, type ChildServer, serveParent } from './child';
import { parseOptions, UsageError, type Bench, LOAD_OPTIONS, loadOf } from './cli';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import Redis from 'ioredis';
import { loadConfig } from '../src/config';
import { startRedisServer } from '../src/redis/embedded';
import { commandDelta, commandStats, serverCpuSeconds } from './redis-stats';
// Types only (erased): each server's module is loaded in its own child, see `serve`.
import type * as AppModule from '../src/app/app';
import type * as AssembledModule from './peers/assembled';

export interface PeerBenchOptions {
  /** Seconds per measured run. Default 10. */
  duration: number;
  /** Concurrent connections. Default 50. */
  connections: number;
  /** Runs per side. Default 2. */
  rounds: number;
  /** Seconds of unmeasured warm-up per side. Default 3. */
  warmup: number;
  /** Per-user rate limit on both sides (one nothing reaches; the gateway's leased as shipped, or exact), or off on both. Default on. */
  limits: 'on' | 'exact' | 'off';
  /** Requests sent one at a time per side for the sequential round-trip count; 0 skips it. Default 200. */
  probe: number;
  /** Both sides straight to Redis: no proxy, no round-trip counts. */
  direct: boolean;
  /** The gateway's shared cache as shipped (on) or off (CACHE_MAX_ENTRIES=0). Default on. */
  cache: boolean;
}

type Side = 'gateway' | 'peer';
const SIDES = ['gateway', 'peer'] as const;

export interface SideRun {
  side: Side;
  rps: number;
  requests: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  /** Server process CPU per request (µs). */
  cpuUsPerRequest: number;
  /** redis-server CPU per request (µs). */
  redisCpuUsPerRequest: number;
  commandsPerRequest: number;
  commands: Record<string, number>;
  /** Turns of the side's Redis connections per request under the load (null with --direct). */
  roundTripsPerRequest: number | null;
}

export interface Summary {
  rps: number;
  p50: number;
  p99: number;
  cpuUsPerRequest: number;
  redisCpuUsPerRequest: number;
  commandsPerRequest: number;
  commands: Record<string, number>;
  roundTripsPerRequest: number | null;
  /** Round trips of one request with nothing else in flight (null with --direct or --probe 0). */
  sequentialRoundTrips: number | null;
}

export interface PeerBenchResult {
  options: PeerBenchOptions;
  runs: SideRun[];
  gateway: Summary;
  peer: Summary;
  /** Each figure of the gateway over the peer's. */
  ratios: Record<string, number | null>;
}

const PREFIX = 'bench';
const UA = 'gateway-bench/1.0';
const QUERY = JSON.stringify({ query: '{ me { id } }' });
const IDLE_TTL_MS = 30 * 60_000;
/** A per-user limit nothing in a run reaches, on both sides. */
const HUGE_LIMIT = 1_000_000_000;
const PASSWORD = 'bench-password-42';

/** What the proxy has counted since it started. */
interface ProxyCounts {
  /** Client chunks that arrived first on their connection or after Redis had answered something on it. */
  roundTrips: number;
}

interface Running {
  server: ChildServer;
  proxy: ChildServer | null;
  /** What the load sends: the gateway's bearer token or the peer's session cookie. */
  headers: Record<string, string>;
}

const round = (n: number, digits = 2): number => Math.round(n * 10 ** digits) / 10 ** digits;
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const ratio = (a: number | null, b: number | null): number | null => (a === null || b === null || b === 0 ? null : round(a / b, 3));

async function registerUser(gatewayUrl: string): Promise<{ token: string; userId: string; email: string }> {
  const email = `peer-bench-${Date.now()}@example.com`;
  const res = await fetch(`${gatewayUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'user-agent': UA },
    body: JSON.stringify({
      query: 'mutation R($input: RegisterInput!) { register(input: $input) { token user { id } } }',
      variables: { input: { email, password: PASSWORD, name: 'Bench' } },
    }),
  });
  const body = (await res.json()) as { data?: { register: { token: string; user: { id: string } } }; errors?: unknown };
  if (!body.data) throw new Error(`register failed: ${JSON.stringify(body.errors)}`);
  return { token: body.data.register.token, userId: body.data.register.user.id, email };
}

/** Signs in on the peer with the account the gateway registered; its session cookie (`sid=s:<id>.<hmac>`). */
async function peerLogin(peerUrl: string, email: string): Promise<string> {
  const res = await fetch(`${peerUrl}/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'user-agent': UA },
    body: JSON.stringify({ email, password: PASSWORD }),
  });
  const cookie = res.headers.getSetCookie().find((c) => c.startsWith('sid='));
  if (res.status !== 200 || !cookie) throw new Error(`peer login answered ${res.status} ${await res.text()}`);
  return cookie.split(';')[0];
}

async function ask(url: string, headers: Record<string, string>): Promise<Response> {
  return fetch(`${url}/graphql`, { method: 'POST', headers, body: QUERY });
}

/** Both sides must answer the same thing before their speed means anything. */
async function checkAnswer(url: string, headers: Record<string, string>, userId: string): Promise<void> {
  const res = await ask(url, headers);
  const body = (await res.json()) as { data?: { me?: { id: string } } };
  if (res.status !== 200 || body.data?.me?.id !== userId) throw new Error(`${url} answered ${res.status} ${JSON.stringify(body)}`);
}

function load(url: string, headers: Record<string, string>, seconds: number, connections: number): Promise<autocannon.Result> {
  return autocannon({ url: `${url}/graphql`, method: 'POST', headers, body: QUERY, connections, duration: seconds });
}

/** Round trips of one request with nothing else in flight: `n` requests one after another. */
async function sequentialRoundTrips(side: Running, n: number): Promise<number | null> {
  if (!side.proxy || n === 0) return null;
  const before = await side.proxy.ask<ProxyCounts>('counts');
  for (let i = 0; i < n; i++) {
    const res = await ask(side.server.url, side.headers);
    if (res.status !== 200) throw new Error(`${side.server.url} answered ${res.status} in the probe`);
    await res.arrayBuffer();
  }
  const after = await side.proxy.ask<ProxyCounts>('counts');
  return round((after.roundTrips - before.roundTrips) / n, 2);
}

async function measure(name: Side, side: Running, redis: Redis, opts: PeerBenchOptions): Promise<SideRun> {
  const before = await commandStats(redis);
  const redisCpu0 = await serverCpuSeconds(redis);
  const proxy0 = side.proxy ? await side.proxy.ask<ProxyCounts>('counts') : null;
  const cpu0 = await side.server.ask<number>('cpu');
  const r = await load(side.server.url, side.headers, opts.duration, opts.connections);
  const cpu = (await side.server.ask<number>('cpu')) - cpu0;
  const proxy1 = side.proxy ? await side.proxy.ask<ProxyCounts>('counts') : null;
  const redisCpu = (await serverCpuSeconds(redis)) - redisCpu0;
  const delta = commandDelta(before, await commandStats(redis));
  if (r.non2xx || r.errors) throw new Error(`${name}: ${r.non2xx} non-2xx answers and ${r.errors} errors`);
  const n = r.requests.total;
  return {
    side: name,
    rps: r.requests.average,
    requests: n,
    latencyP50Ms: r.latency.p50,
    latencyP99Ms: r.latency.p99,
    cpuUsPerRequest: round(cpu / n, 1),
    redisCpuUsPerRequest: round((redisCpu * 1e6) / n, 1),
    commandsPerRequest: round(Object.values(delta).reduce((a, b) => a + b, 0) / n, 3),
    // Commands of under 0.001 per request (the gateway's once-a-second statistics flush, its heartbeat) are left out.
    commands: Object.fromEntries(
      Object.entries(delta)
        .map(([k, v]) => [k, round(v / n, 3)] as const)
        .filter(([, v]) => v > 0),
    ),
    roundTripsPerRequest: proxy0 && proxy1 ? round((proxy1.roundTrips - proxy0.roundTrips) / n, 3) : null,
  };
}

function summarize(runs: SideRun[], side: Side, sequential: number | null): Summary {
  const mine = runs.filter((r) => r.side === side);
  const last = mine[mine.length - 1];
  return {
    rps: round(mean(mine.map((r) => r.rps)), 0),
    p50: round(mean(mine.map((r) => r.latencyP50Ms))),
    p99: round(mean(mine.map((r) => r.latencyP99Ms))),
    cpuUsPerRequest: round(mean(mine.map((r) => r.cpuUsPerRequest)), 1),
    redisCpuUsPerRequest: round(mean(mine.map((r) => r.redisCpuUsPerRequest)), 1),
    commandsPerRequest: last.commandsPerRequest,
    commands: last.commands,
    roundTripsPerRequest: last.roundTripsPerRequest === null ? null : round(mean(mine.map((r) => r.roundTripsPerRequest!)), 3),
    sequentialRoundTrips: sequential,
  };
}

const describe = (r: SideRun): string =>
  `  ${r.side.padEnd(7)} ${String(Math.round(r.rps)).padStart(6)} req/s  p50 ${r.latencyP50Ms} ms  p99 ${r.latencyP99Ms} ms  server ${r.cpuUsPerRequest} µs CPU/req  redis ${r.redisCpuUsPerRequest} µs CPU/req  ${r.commandsPerRequest} commands/req` +
  (r.roundTripsPerRequest === null ? '' : `  ${r.roundTripsPerRequest} round trips/req`);

export async function runPeerBench(opts: PeerBenchOptions, log: (line: string) => void = console.log): Promise<PeerBenchResult> {
  const dir = mkdtempSync(path.join(tmpdir(), 'gw-bench-peer-'));
  const redisServer = await startRedisServer(dir);
  const redis = new Redis(redisServer.url);
  const children: ChildServer[] = [];
  const limits = opts.limits;
  const cache = opts.cache ? 'on' : 'off';
  // Read by graphql-js and Express when they load: it must be in the children's environment from the start.
  process.env.NODE_ENV = 'production';
  try {
    const start = async (side: Side): Promise<{ server: ChildServer; proxy: ChildServer | null }> => {
      const proxy = opts.direct ? null : await forkServer('peer', ['proxy', redisServer.url], `${side} proxy`);
      if (proxy) children.push(proxy);
      const server = await forkServer('peer', [side, proxy?.url ?? redisServer.url, limits, cache], `${side} server`);
      children.push(server);
      return { server, proxy };
    };
    const g = await start('gateway');
    const p = await start('peer');
    const { token, userId, email } = await registerUser(g.server.url);
    const cookie = await peerLogin(p.server.url, email);
    const sides: Record<Side, Running> = {
      gateway: { ...g, headers: { 'content-type': 'application/json', 'user-agent': UA, authorization: `Bearer ${token}` } },
      peer: { ...p, headers: { 'content-type': 'application/json', 'user-agent': UA, cookie } },
    };
    for (const side of SIDES) await checkAnswer(sides[side].server.url, sides[side].headers, userId);
    log(
      `peer: { me { id } }, limits ${limits}, gateway cache ${cache}, ${opts.connections} connections, ${opts.duration} s per run, ${opts.rounds} runs per side, ${opts.warmup} s warm-up${opts.direct ? ', no proxy' : ''}`,
    );
    for (const side of SIDES) if (opts.warmup > 0) await load(sides[side].server.url, sides[side].headers, opts.warmup, opts.connections);
    const sequential: Record<Side, number | null> = { gateway: null, peer: null };
    for (const side of SIDES) sequential[side] = await sequentialRoundTrips(sides[side], opts.probe);
    if (sequential.gateway !== null) log(`  one request at a time (${opts.probe} each): gateway ${sequential.gateway} round trips, peer ${sequential.peer}`);
    const runs: SideRun[] = [];
    for (let i = 0; i < opts.rounds; i++) {
      for (const side of i % 2 === 0 ? SIDES : [...SIDES].reverse()) {
        const r = await measure(side, sides[side], redis, opts);
        runs.push(r);
        log(describe(r));
      }
    }
    const gw = summarize(runs, 'gateway', sequential.gateway);
    const peer = summarize(runs, 'peer', sequential.peer);
    const ratios = {
      rps: ratio(gw.rps, peer.rps),
      cpuUsPerRequest: ratio(gw.cpuUsPerRequest, peer.cpuUsPerRequest),
      redisCpuUsPerRequest: ratio(gw.redisCpuUsPerRequest, peer.redisCpuUsPerRequest),
      commandsPerRequest: ratio(gw.commandsPerRequest, peer.commandsPerRequest),
      roundTripsPerRequest: ratio(gw.roundTripsPerRequest, peer.roundTripsPerRequest),
      sequentialRoundTrips: ratio(gw.sequentialRoundTrips, peer.sequentialRoundTrips),
    };
    log(
      `  gateway/peer: req/s ${ratios.rps}, server CPU/req ${ratios.cpuUsPerRequest}, Redis CPU/req ${ratios.redisCpuUsPerRequest}, commands/req ${ratios.commandsPerRequest}` +
        (ratios.roundTripsPerRequest === null ? '' : `, round trips/req ${ratios.roundTripsPerRequest} under load`) +
        (ratios.sequentialRoundTrips === null ? '' : `, ${ratios.sequentialRoundTrips} one at a time`),
    );
    log(`  Redis commands per request (commandstats, scripts' inner calls included):`);
    log(`    gateway ${JSON.stringify(gw.commands)}`);
    log(`    peer    ${JSON.stringify(peer.commands)}`);
    return { options: opts, runs, gateway: gw, peer, ratios };
  } finally {
    for (const c of children.reverse()) await c.stop();
    redis.disconnect();
    await redisServer.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Child-process role `proxy <redisUrl>`: a TCP proxy in front of Redis that counts the turns of
 * each client connection: a chunk the client wrote ('data' event) counts as a round trip when it is
 * the first on its connection or when Redis has sent something back on that connection since the
 * last one counted. Commands written together (a pipeline, an auto-pipelined batch, a
 * MULTI) or written before any reply came back are one turn, as they are one wait. It is an
 * approximation from the outside: a chunk that arrives after part of a reply (the reply to an
 * earlier, independent command) counts as a new turn though nothing waited for it, and commands
 * sent at once on two connections count twice though they are waited for together; the sides'
 * other connections (the gateway's subscriber, its queue connection) are counted too, and are idle
 * in this load. With one request at a time these do not arise and the count is exact.
 */
async function serveProxy(redisUrl: string): Promise<void> {
  const target = new URL(redisUrl);
  const counts: ProxyCounts = { roundTrips: 0 };
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    sockets.add(client).add(upstream);
    let answered = true;
    client.on('data', () => {
      if (answered) counts.roundTrips++;
      answered = false;
    });
    upstream.on('data', () => (answered = true));
    client.pipe(upstream).pipe(client);
    const end = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  process.on('message', (msg) => {
    if (msg === 'counts') process.send!({ counts: { ...counts } });
    if (msg === 'stop') {
      for (const s of sockets) s.destroy();
      server.close(() => process.exit(0));
    }
  });
  process.send!({ url: `redis://127.0.0.1:${port}` });
}

/** Child-process role `gateway|peer <redisUrl> <limits on|exact|off> <cache on|off>`: serve one side until the parent says stop. */
async function serve(side: string, redisUrl: string, limits: string, cache: string): Promise<void> {
  let close: () => Promise<void>;
  let url: string;
  if (side === 'gateway') {
    // Loaded here only: the peer's process and this one's parent need none of the gateway.
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- a lazy load; import() would need the built file's extension
    const { startApp } = require('../src/app/app') as typeof AppModule;
    const config = loadConfig(
      benchGatewayEnv(redisUrl, PREFIX, {
        SESSION_IDLE_TTL: `${IDLE_TTL_MS / 60_000}m`,
        // One policy per user, like the peer's one limiter: the per-address ceiling would be a second.
        RATE_LIMIT_DEFAULT: limits === 'off' ? 'off' : `${HUGE_LIMIT}/1m`,
        RATE_LIMIT_PER_ADDRESS: limits === 'off' ? undefined : 'off',
        RATE_LIMIT_LEASE: limits === 'exact' ? '0' : undefined,
        CACHE_MAX_ENTRIES: cache === 'off' ? '0' : undefined,
      }),
    );
    const app = await startApp(config);
    url = app.url;
    close = () => app.close();
  } else {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- a lazy load, as above: it would put TypeGraphQL's and Express's modules in the gateway's process
    const { startAssembledServer } = require('./peers/assembled') as typeof AssembledModule;
    const peer = await startAssembledServer({ redisUrl, keyPrefix: PREFIX, idleTtlMs: IDLE_TTL_MS, limitPerMinute: limits === 'off' ? null : HUGE_LIMIT });
    url = peer.url;
    close = () => peer.close();
  }
  serveParent(url, close);
}

const OPTIONS = [
  ...LOAD_OPTIONS,
  {
    flag: '--limits',
    choices: ['on', 'exact', 'off'],
    help: "a per-user rate limit nothing reaches on both sides (exact: the gateway's with RATE_LIMIT_LEASE=0), or none on either",
    default: 'on',
  },
  { flag: '--cache', choices: ['on', 'off'], help: "the gateway's shared cache as shipped, or off: every request to Redis", default: 'on' },
  { flag: '--probe', value: '<n>', help: 'requests sent one at a time per side to count round trips without concurrency (0: none)', default: 200 },
  { flag: '--direct', help: 'both sides straight to Redis, without the counting proxies (no round trips then)' },
  { flag: '--json', help: 'results as JSON on stdout, and nothing else' },
] as const;

export const bench: Bench = {
  options: OPTIONS,
  notes: ['BENCH_PROFILE=<dir>: a CPU profile of each child process (servers and proxies).'],
  async run(argv) {
    const a = parseOptions(argv, OPTIONS);
    const opts: PeerBenchOptions = {
      ...loadOf(a),
      limits: a.string('--limits') as PeerBenchOptions['limits'],
      probe: a.number('--probe'),
      direct: a.has('--direct'),
      cache: a.string('--cache') === 'on',
    };
    if (!Number.isInteger(opts.probe)) throw new UsageError(`--probe needs a whole number, got ${opts.probe}`);
    const json = a.has('--json');
    const result = await runPeerBench(opts, json ? () => {} : console.log);
    if (json) console.log(JSON.stringify(result, null, 2));
  },
  serve: ([side, redisUrl, limits, cache]) => (side === 'proxy' ? serveProxy(redisUrl) : serve(side, redisUrl, limits, cache)),
};
