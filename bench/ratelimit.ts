/**
 * The rate limiter's price. Two gateways in their own processes on one private
 * redis-server, one with RATE_LIMIT_DEFAULT=off and one with a limit too high
 * to refuse anything, measured alternately in the same run (A B B A …) for
 * `{ me { id } }` signed in (the common case) and anonymous `{ __typename }`
 * (the worst case: the limiter is the only Redis work). Redis commands per
 * request come from `INFO commandstats`. Then Redis memory per tracked client:
 * a GCRA key as the limiter writes it against a sorted-set sliding log holding
 * 100 requests per window.
 *
 * Run: `npm run bench -- ratelimit [options]` (`--help` lists them).
 */
import { forkServer, type ChildServer, serveParent } from './child';
import { parseOptions, type Bench } from './cli';
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

export interface RateLimitBenchOptions {
  duration: number;
  connections: number;
  rounds: number;
  warmup: number;
  /** 0: both workloads; 1: signed-in `me` only; 2: anonymous `__typename` only. */
  workload?: number;
}

type Side = 'off' | 'on';
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
  redisCpuUs: number;
}

async function measure(server: Server, w: Workload, opts: RateLimitBenchOptions, redis: Redis): Promise<Run> {
  const url = server.url;
  const before = await commandStats(redis);
  const cpu0 = await server.ask<number>('cpu');
  const rcpu0 = await redisCpu(redis);
  const r = await autocannon({
    url: `${url}/graphql`,
    method: 'POST',
    headers: w.headers,
    body: w.body,
    connections: opts.connections,
    duration: opts.duration,
  });
  const cpu = (await server.ask<number>('cpu')) - cpu0;
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
        return runScript(redis, 'rateLimit', [keys.rateLimit(`ip:${ip}`, 'default')], ['charge', 0, 100, 100, 60_000, '1', 0, '']);
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

export async function runRateLimitBench(opts: RateLimitBenchOptions, log: (l: string) => void = console.log): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(path.join(tmpdir(), 'gw-bench-rl-'));
  const server = await startRedisServer(dir);
  const redis = new Redis(server.url);
  const sides: Partial<Record<Side, Server>> = {};
  try {
    sides.off = await spawnSide('off', server.url);
    sides.on = await spawnSide('on', server.url);
    const reg = await fetch(`${sides.off.url}/graphql`, {
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
    ];
    log(`ratelimit: ${opts.connections} connections, ${opts.duration} s per run, ${opts.rounds} runs per side, ${opts.warmup} s warm-up`);
    const results: Record<string, unknown> = {};
    for (const w of workloads.filter((_, i) => !opts.workload || opts.workload === i + 1)) {
      for (const side of ['off', 'on'] as const)
        if (opts.warmup > 0)
          await autocannon({
            url: `${sides[side]!.url}/graphql`,
            method: 'POST',
            headers: w.headers,
            body: w.body,
            connections: opts.connections,
            duration: opts.warmup,
          });
      const runs: Record<Side, Run[]> = { off: [], on: [] };
      for (let i = 0; i < opts.rounds; i++) {
        for (const side of i % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const)) {
          const r = await measure(sides[side]!, w, opts, redis);
          runs[side].push(r);
          log(
            `  ${w.name.padEnd(24)} limiter ${side.padEnd(3)} ${String(Math.round(r.rps)).padStart(6)} req/s  p99 ${r.p99} ms  gateway ${r.cpuUs} µs CPU/req  redis ${r.redisCpuUs} µs CPU/req  ${r.perRequest} commands/req ${JSON.stringify(r.commands)}`,
          );
        }
      }
      const off = mean(runs.off.map((r) => r.rps));
      const on = mean(runs.on.map((r) => r.rps));
      const cpuOff = mean(runs.off.map((r) => r.cpuUs));
      const cpuOn = mean(runs.on.map((r) => r.cpuUs));
      const evalsha = (rs: Run[]): number => rs.at(-1)!.commands.evalsha ?? 0;
      const summary = {
        offRps: Math.round(off),
        onRps: Math.round(on),
        throughputCostPercent: round((1 - on / off) * 100, 1),
        gatewayCpuUsOff: round(cpuOff, 1),
        gatewayCpuUsOn: round(cpuOn, 1),
        cpuCostPercent: round((cpuOn / cpuOff - 1) * 100, 1),
        redisCpuUsOff: round(mean(runs.off.map((r) => r.redisCpuUs)), 1),
        redisCpuUsOn: round(mean(runs.on.map((r) => r.redisCpuUs)), 1),
        scriptCallsPerRequestOff: evalsha(runs.off),
        scriptCallsPerRequestOn: evalsha(runs.on),
      };
      log(
        `  => ${w.name}: ${summary.onRps} vs ${summary.offRps} req/s (${summary.throughputCostPercent}% fewer); gateway CPU/request ${summary.gatewayCpuUsOn} vs ${summary.gatewayCpuUsOff} µs (+${summary.cpuCostPercent}%); EVALSHA/request ${summary.scriptCallsPerRequestOff} -> ${summary.scriptCallsPerRequestOn}`,
      );
      results[w.name] = summary;
    }
    const memory = await memoryPerClient(redis);
    log(
      `  memory per tracked client: GCRA key ${memory.gcraMemoryUsageBytes} B (MEMORY USAGE), ${memory.gcraUsedMemoryPerClient} B (used_memory / client); sliding log of 100: ${memory.slidingLogMemoryUsageBytes} B, ${memory.slidingLogUsedMemoryPerClient} B`,
    );
    results.memory = memory;
    return results;
  } finally {
    for (const s of [sides.on, sides.off]) await s?.stop();
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
    RATE_LIMIT_DEFAULT: side === 'on' ? '1000000000/1m' : 'off',
    LOG_LEVEL: 'silent',
    WORKER: '0',
    SCRYPT_N: '1024',
  });
  const app = await startApp(config);
  serveParent(app.url, () => app.close());
}

const OPTIONS = [
  { flag: '--duration', value: '<s>', help: 'seconds per measured run', default: 10 },
  { flag: '--connections', value: '<n>', help: 'concurrent connections', default: 50 },
  { flag: '--rounds', value: '<n>', help: 'measured runs per side', default: 2 },
  { flag: '--warmup', value: '<s>', help: 'seconds of unmeasured warm-up per side and workload', default: 3 },
  { flag: '--workload', choices: ['0', '1', '2'], help: '1: signed-in { me { id } } only; 2: anonymous { __typename } only; 0: both', default: 0 },
  { flag: '--json', help: 'results as JSON on stdout, and nothing else' },
] as const;

export const bench: Bench = {
  options: OPTIONS,
  notes: ['BENCH_PROFILE=<dir>: a CPU profile of each gateway process.'],
  async run(argv) {
    const a = parseOptions(argv, OPTIONS);
    const opts: RateLimitBenchOptions = {
      duration: a.number('--duration'),
      connections: a.number('--connections'),
      rounds: a.number('--rounds'),
      warmup: a.number('--warmup'),
      workload: a.number('--workload'),
    };
    const json = a.has('--json');
    const r = await runRateLimitBench(opts, json ? () => {} : console.log);
    if (json) console.log(JSON.stringify(r, null, 2));
  },
  serve: ([side, redisUrl]) => serve(side as Side, redisUrl),
};
