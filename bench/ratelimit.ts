/**
 * The rate limiter's price. Three gateways in their own processes on one private
 * redis-server: one with RATE_LIMIT_DEFAULT=off, one with a limit too high to
 * refuse anything (leases as shipped), one with the same limit and
 * RATE_LIMIT_LEASE=0 (every charge in Redis), measured in turn in the same run,
 * each round starting with another side, for `{ me { id } }` signed in (the
 * common case), anonymous `{ __typename }` (the worst case: the limiter is
 * the only Redis work) from one busy client, and the same from 10,000 light
 * clients (none charged often enough to be leased). Redis commands per request come from `INFO
 * commandstats`. Then what leases relax (leaseTradeOff), what a lease's cap costs a busy key in
 * one process (leaseCapCost), and Redis memory per
 * tracked client: a GCRA key as the limiter writes it against a sorted-set
 * sliding log holding 100 requests per window.
 *
 * Run: `npm run bench -- ratelimit [options]` (`--help` lists them).
 */
import { forkServer, type ChildServer, serveParent } from './child';
import { parseOptions, type Bench, LOAD_OPTIONS, loadOf } from './cli';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import Redis from 'ioredis';
import { startApp } from '../src/app/app';
import { loadConfig } from '../src/config';
import { startRedisServer } from '../src/redis/embedded';
import { Keys } from '../src/redis/keys';
import { loadScripts, runScript } from '../src/redis/scripts';
import { commandDelta, commandStats } from './redis-stats';
import { RedisLimiterStore, type StoreCharge } from '../src/services/ratelimit/store';

export interface RateLimitBenchOptions {
  duration: number;
  connections: number;
  rounds: number;
  warmup: number;
  /** 0: every workload; 1: signed-in `me` only; 2: anonymous `__typename` only; 3: the same from 10,000 addresses. */
  workload?: number;
  /**
   * New gateway processes for every round (each warmed up again): one process may settle in a
   * slower or faster state for its whole life (up to 30 % apart for the same code on this machine),
   * so with one process per side a run compares two draws; fresh ones average over many.
   */
  fresh?: boolean;
}

/** off: RATE_LIMIT_DEFAULT=off; on: a limit nothing reaches, leases as configured by default; exact: the same with RATE_LIMIT_LEASE=0. */
type Side = 'off' | 'on' | 'exact';
const SIDES: readonly Side[] = ['off', 'on', 'exact'];
const UA = 'gateway-bench/1.0';
const round = (n: number, d = 2): number => Math.round(n * 10 ** d) / 10 ** d;
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

type Server = ChildServer;

function spawnSide(side: Side, redisUrl: string): Promise<Server> {
  return forkServer('ratelimit', [side, redisUrl], `${side} gateway`);
}

interface Workload {
  name: string;
  body: string;
  headers: Record<string, string>;
  /** Each request from the next of this many client addresses (`X-Forwarded-For`, trusted from 127.0.0.1), in turn. */
  addresses?: number;
}

/** Load on `url` for `seconds`: the workload's request, from its addresses in turn when it has them. */
function load(url: string, w: Workload, connections: number, seconds: number): Promise<autocannon.Result> {
  const base = { url: `${url}/graphql`, method: 'POST' as const, headers: w.headers, body: w.body, connections, duration: seconds };
  const addresses = w.addresses;
  if (!addresses) return autocannon(base);
  let next = 0;
  return autocannon({
    ...base,
    requests: [
      {
        setupRequest: (req) => {
          const n = next++ % addresses;
          return { ...req, headers: { ...req.headers, 'x-forwarded-for': `10.${n >> 16}.${(n >> 8) & 255}.${n & 255}` } };
        },
      },
    ],
  });
}

/** Redis server CPU (µs) so far. */
async function redisCpu(redis: Redis): Promise<number> {
  const text = await redis.info('cpu');
  const num = (k: string): number => Number(new RegExp(`${k}:([\\d.]+)`).exec(text)![1]);
  return (num('used_cpu_user') + num('used_cpu_sys')) * 1e6;
}

interface Run {
  rps: number;
  p99: number;
  commands: Record<string, number>;
  perRequest: number;
  /** Gateway process CPU per request (µs): steadier than req/s on a shared machine. */
  cpuUs: number;
  /** The kernel's part of it (system calls: socket reads and writes, waking other processes). */
  sysUs: number;
  redisCpuUs: number;
}

async function measure(server: Server, w: Workload, opts: RateLimitBenchOptions, redis: Redis): Promise<Run> {
  const url = server.url;
  const before = await commandStats(redis);
  const cpu0 = await server.ask<number>('cpu');
  const sys0 = await server.ask<number>('system');
  const rcpu0 = await redisCpu(redis);
  const r = await load(url, w, opts.connections, opts.duration);
  const cpu = (await server.ask<number>('cpu')) - cpu0;
  const sys = (await server.ask<number>('system')) - sys0;
  const rcpu = (await redisCpu(redis)) - rcpu0;
  const delta = commandDelta(before, await commandStats(redis));
  if (r.non2xx || r.errors) throw new Error(`${url}: ${r.non2xx} non-2xx answers, ${r.errors} errors`);
  const n = r.requests.total;
  return {
    rps: r.requests.average,
    p99: r.latency.p99,
    commands: Object.fromEntries(Object.entries(delta).map(([k, v]) => [k, round(v / n, 3)])),
    perRequest: round(Object.values(delta).reduce((a, b) => a + b, 0) / n, 3),
    cpuUs: round(cpu / n, 1),
    sysUs: round(sys / n, 1),
    redisCpuUs: round(rcpu / n, 1),
  };
}

async function memoryPerClient(redis: Redis): Promise<Record<string, number>> {
  const keys = new Keys('benchmem');
  const used = async (): Promise<number> => Number(/used_memory:(\d+)/.exec(await redis.info('memory'))![1]);
  loadScripts();
  const clients = 10_000;
  const gcraBefore = await used();
  for (let i = 0; i < clients; i += 500) {
    await Promise.all(
      Array.from({ length: 500 }, (_, j) => {
        const ip = `10.${(i + j) >> 16}.${((i + j) >> 8) & 255}.${(i + j) & 255}`;
        // 600/1m: 100 ms per point; 100 points charged, as a client with 100 requests in the window (key lives 10 s).
        // No block key to check; the last two values: no waiver (see rateLimit-n.lua).
        return runScript(redis, 'rateLimit', [keys.rateLimit(`ip:${ip}`, 'default')], ['charge', 0, 100, 100, 60_000, '1', 0, '', 0]);
      }),
    );
  }
  const gcraTotal = (await used()) - gcraBefore;
  const gcraSample = Number(await redis.memory('USAGE', keys.rateLimit('ip:10.0.0.7', 'default')));
  const logs = 1_000;
  const logBefore = await used();
  const now = Date.now();
  for (let i = 0; i < logs; i++) {
    const args: Array<string | number> = [];
    // A sliding log stores one member per request: a timestamp plus a discriminator, scored by time.
    for (let k = 0; k < 100; k++) args.push(now + k * 600, `${now + k * 600}-${(i * 100 + k).toString(36)}`);
    await redis.zadd(keys.custom('log', `{ip:10.1.${i >> 8}.${i & 255}}`), ...args);
  }
  const logTotal = (await used()) - logBefore;
  const logSample = Number(await redis.memory('USAGE', keys.custom('log', '{ip:10.1.0.7}')));
  return {
    gcraMemoryUsageBytes: gcraSample,
    gcraUsedMemoryPerClient: round(gcraTotal / clients, 1),
    slidingLogMemoryUsageBytes: logSample,
    slidingLogUsedMemoryPerClient: round(logTotal / logs, 1),
  };
}

/**
 * What leases relax, measured: one client at the default policy (600/1m, burst 600) sends 1,200
 * requests, 50 at a time, half through each of two instances (two stores on their own
 * connections), exact and then with leases as configured by default. Admitted: exactly 600 when
 * exact; with leases, never more, and fewer by the points the other instance held when its
 * sibling refused. Then both instances give their leases back, and a third, exact, instance
 * counts what the client can still spend: what was held comes back.
 */
async function leaseTradeOff(url: string): Promise<Record<string, { admitted: number; heldAtEnd: number; spendableAfter: number }>> {
  loadScripts();
  const keys = new Keys('benchlease');
  const out: Record<string, { admitted: number; heldAtEnd: number; spendableAfter: number }> = {};
  // The lease settings as shipped.
  const shipped = loadConfig({ REDIS_URL: url }).rateLimits.lease;
  for (const [mode, maxPoints] of [
    ['exact', 0],
    ['leases', shipped.maxPoints],
  ] as const) {
    const conns = [new Redis(url), new Redis(url), new Redis(url)];
    const ttlMs = shipped.ttlMs;
    const [a, b] = conns.slice(0, 2).map((r) => new RedisLimiterStore(r, false, { maxPoints, ttlMs }));
    const judge = new RedisLimiterStore(conns[2]);
    const tag = `ip:198.51.100.${mode === 'exact' ? 1 : 2}`;
    const charge: StoreCharge = { key: keys.rateLimit(tag, 'default'), tag, cost: 1, interval: 100, capacity: 60_000, oversize: true };
    let admitted = 0;
    for (let wave = 0; wave < 24; wave++) {
      const rs = await Promise.all(Array.from({ length: 50 }, (_, j) => (j % 2 ? a : b).charge([charge])));
      admitted += rs.filter((r) => r.allowed).length;
    }
    const before = a.leases.counts.returned + b.leases.counts.returned;
    await Promise.all([a.leases.stop(), b.leases.stop()]);
    const heldAtEnd = a.leases.counts.returned + b.leases.counts.returned - before;
    let spendableAfter = 0;
    while ((await judge.charge([charge])).allowed) spendableAfter++;
    out[mode] = { admitted, heldAtEnd, spendableAfter };
    for (const c of conns) c.disconnect();
  }
  return out;
}

/**
 * What a lease's cap costs a busy key in one process: 200,000 charges of one key whose budget
 * nothing reaches, 50 at a time, through a store with leases of at most `cap` points (the
 * store's CPU per charge and its script calls per charge, after 50,000 to warm up). Every script
 * call (a refill) is a round trip whose client side the instance pays.
 */
async function leaseCapCost(url: string, caps: readonly number[]): Promise<Record<string, { cpuUsPerCharge: number; callsPerCharge: number }>> {
  loadScripts();
  const keys = new Keys('benchleasecap');
  const out: Record<string, { cpuUsPerCharge: number; callsPerCharge: number }> = {};
  for (const cap of caps) {
    const redis = new Redis(url);
    // Leases as the gateway runs them: the sweep gives back lapsed leases and restarts the busy counts.
    const store = new RedisLimiterStore(redis, false, { maxPoints: cap, ttlMs: 250 });
    store.leases.start();
    const tag = `ip:lease-cap-${cap}`;
    // 1e9 points a minute, all of it burst: a lease is bounded by `cap` alone.
    const charge: StoreCharge = { key: keys.rateLimit(tag, 'default'), tag, cost: 1, interval: 60_000 / 1e9, capacity: 60_000, oversize: true };
    const run = async (n: number): Promise<void> => {
      for (let i = 0; i < n; i += 50) await Promise.all(Array.from({ length: 50 }, () => store.charge([charge])));
    };
    await run(50_000);
    const n = 200_000;
    const calls = store.batches.calls;
    const cpu = process.cpuUsage();
    await run(n);
    const used = process.cpuUsage(cpu);
    out[String(cap)] = { cpuUsPerCharge: round((used.user + used.system) / n, 2), callsPerCharge: round((store.batches.calls - calls) / n, 4) };
    await store.leases.stop();
    redis.disconnect();
  }
  return out;
}

export async function runRateLimitBench(opts: RateLimitBenchOptions, log: (l: string) => void = console.log): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(path.join(tmpdir(), 'gw-bench-rl-'));
  const server = await startRedisServer(dir);
  const redis = new Redis(server.url);
  const sides: Partial<Record<Side, Server>> = {};
  try {
    for (const side of SIDES) sides[side] = await spawnSide(side, server.url);
    const reg = await fetch(`${sides.off!.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': UA },
      body: JSON.stringify({ query: 'mutation { register(input: { email: "rl-bench@example.com", password: "bench-password-42", name: "B" }) { token } }' }),
    });
    const token = ((await reg.json()) as { data: { register: { token: string } } }).data.register.token;
    const workloads: Workload[] = [
      {
        name: 'me (signed in)',
        body: JSON.stringify({ query: '{ me { id } }' }),
        headers: { 'content-type': 'application/json', 'user-agent': UA, authorization: `Bearer ${token}` },
      },
      { name: '__typename (anonymous)', body: JSON.stringify({ query: '{ __typename }' }), headers: { 'content-type': 'application/json', 'user-agent': UA } },
      // Many light clients, as a public site sees them: each address charged a few times a second, never
      // often enough to be leased, so every charge is exact.
      {
        name: '__typename (10,000 addresses)',
        body: JSON.stringify({ query: '{ __typename }' }),
        headers: { 'content-type': 'application/json', 'user-agent': UA },
        addresses: 10_000,
      },
    ];
    log(
      `ratelimit: ${opts.connections} connections, ${opts.duration} s per run, ${opts.rounds} runs per side, ${opts.warmup} s warm-up${opts.fresh ? ', new processes each round' : ''}`,
    );
    const results: Record<string, unknown> = {};
    for (const w of workloads.filter((_, i) => !opts.workload || opts.workload === i + 1)) {
      const warmUp = async (): Promise<void> => {
        for (const side of SIDES) if (opts.warmup > 0) await load(sides[side]!.url, w, opts.connections, opts.warmup);
      };
      await warmUp();
      const runs: Record<Side, Run[]> = { off: [], on: [], exact: [] };
      for (let i = 0; i < opts.rounds; i++) {
        if (opts.fresh && i > 0) {
          for (const side of SIDES) {
            await sides[side]!.stop();
            sides[side] = await spawnSide(side, server.url);
          }
          await warmUp();
        }
        // Each round starts with another side: off on exact, on exact off, exact off on, …
        for (const side of SIDES.map((_, j) => SIDES[(i + j) % SIDES.length])) {
          const r = await measure(sides[side]!, w, opts, redis);
          runs[side].push(r);
          log(
            `  ${w.name.padEnd(29)} limiter ${side.padEnd(5)} ${String(Math.round(r.rps)).padStart(6)} req/s  p99 ${r.p99} ms  gateway ${r.cpuUs} µs CPU/req (${r.sysUs} system)  redis ${r.redisCpuUs} µs CPU/req  ${r.perRequest} commands/req ${JSON.stringify(r.commands)}`,
          );
        }
      }
      const evalsha = (rs: Run[]): number => rs.at(-1)!.commands.evalsha ?? 0;
      const price = (side: 'on' | 'exact') => {
        const rps = mean(runs[side].map((r) => r.rps));
        const off = mean(runs.off.map((r) => r.rps));
        const cpu = mean(runs[side].map((r) => r.cpuUs));
        const cpuOff = mean(runs.off.map((r) => r.cpuUs));
        return {
          rps: Math.round(rps),
          throughputCostPercent: round((1 - rps / off) * 100, 1),
          /** Per round, this side's req/s over the off side's in the same round (the machine's drift cancels). */
          pairs: runs[side].map((r, i) => round(r.rps / runs.off[i].rps, 2)),
          gatewayCpuUs: round(cpu, 1),
          cpuCostPercent: round((cpu / cpuOff - 1) * 100, 1),
          redisCpuUs: round(mean(runs[side].map((r) => r.redisCpuUs)), 1),
          commandsPerRequest: runs[side].at(-1)!.perRequest,
          scriptCallsPerRequest: evalsha(runs[side]),
        };
      };
      const summary = {
        offRps: Math.round(mean(runs.off.map((r) => r.rps))),
        gatewayCpuUsOff: round(mean(runs.off.map((r) => r.cpuUs)), 1),
        leased: price('on'),
        exact: price('exact'),
      };
      for (const [label, p] of [
        ['leases (default)', summary.leased],
        ['exact (RATE_LIMIT_LEASE=0)', summary.exact],
      ] as const)
        log(
          `  => ${w.name}, ${label}: ${p.rps} vs ${summary.offRps} req/s (${p.throughputCostPercent}% fewer; pairs ${p.pairs.join(', ')}); gateway CPU/request ${p.gatewayCpuUs} vs ${summary.gatewayCpuUsOff} µs (${p.cpuCostPercent >= 0 ? '+' : ''}${p.cpuCostPercent}%); Redis CPU/request ${p.redisCpuUs} µs; ${p.commandsPerRequest} commands and ${p.scriptCallsPerRequest} EVALSHA per request`,
        );
      results[w.name] = summary;
    }
    const trade = await leaseTradeOff(server.url);
    for (const [mode, t] of Object.entries(trade))
      log(
        `  one client, 600/1m, 1200 requests over two instances (${mode}): ${t.admitted} admitted; ${t.heldAtEnd} leased points given back at the end; then ${t.spendableAfter} more admitted`,
      );
    results.leaseTradeOff = trade;
    const caps = await leaseCapCost(server.url, [256, 1024]);
    for (const [cap, c] of Object.entries(caps))
      log(`  one busy key in one process, leases of at most ${cap} points: ${c.cpuUsPerCharge} µs CPU and ${c.callsPerCharge} script calls per charge`);
    results.leaseCapCost = caps;
    const memory = await memoryPerClient(redis);
    log(
      `  memory per tracked client: GCRA key ${memory.gcraMemoryUsageBytes} B (MEMORY USAGE), ${memory.gcraUsedMemoryPerClient} B (used_memory / client); sliding log of 100: ${memory.slidingLogMemoryUsageBytes} B, ${memory.slidingLogUsedMemoryPerClient} B`,
    );
    results.memory = memory;
    return results;
  } finally {
    for (const side of SIDES) await sides[side]?.stop();
    redis.disconnect();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function serve(side: Side, redisUrl: string): Promise<void> {
  const config = loadConfig({
    NODE_ENV: 'production',
    PORT: '0',
    HOST: '127.0.0.1',
    REDIS_URL: redisUrl,
    // One prefix: the token registered through one side must be valid on the other.
    KEY_PREFIX: 'bench',
    // A limit nothing reaches: every request pays the check, none is refused.
    RATE_LIMIT_DEFAULT: side === 'off' ? 'off' : '1000000000/1m',
    // The many-addresses workload names its clients in X-Forwarded-For.
    TRUSTED_PROXIES: '127.0.0.1',
    ...(side === 'exact' ? { RATE_LIMIT_LEASE: '0' } : {}),
    LOG_LEVEL: 'silent',
    WORKER: '0',
    SCRYPT_N: '1024',
  });
  const app = await startApp(config);
  serveParent(app.url, () => app.close());
}

const OPTIONS = [
  ...LOAD_OPTIONS,
  {
    flag: '--workload',
    choices: ['0', '1', '2', '3'],
    help: '1: signed-in { me { id } } only; 2: anonymous { __typename } only; 3: anonymous { __typename } from 10,000 addresses in turn; 0: all three',
    default: 0,
  },
  { flag: '--fresh', help: 'new gateway processes (warmed up again) for every round, so that no one process decides a ratio' },
  { flag: '--json', help: 'results as JSON on stdout, and nothing else' },
] as const;

export const bench: Bench = {
  options: OPTIONS,
  notes: ['BENCH_PROFILE=<dir>: a CPU profile of each gateway process.'],
  async run(argv) {
    const a = parseOptions(argv, OPTIONS);
    const opts: RateLimitBenchOptions = {
      ...loadOf(a),
      workload: a.number('--workload'),
      fresh: a.has('--fresh'),
    };
    const json = a.has('--json');
    const r = await runRateLimitBench(opts, json ? () => {} : console.log);
    if (json) console.log(JSON.stringify(r, null, 2));
  },
  serve: ([side, redisUrl]) => serve(side as Side, redisUrl),
};
