/**
 * Authenticated `{ me { id } }` through the real gateway against a raw
 * node:http + ioredis server doing the same session check, in the same run, on
 * the same private redis-server. Each server runs in its own process; the load
 * generator (autocannon) runs here. Sides alternate A B B A … so drift (thermal,
 * AOF growth, JIT) falls on both. Redis commands per request come from
 * `INFO commandstats` deltas around each run.
 */
import { benchGatewayEnv, forkServer, type ChildServer, serveParent } from './child';
import { parseOptions, type Bench, LOAD_OPTIONS, loadOf } from './cli';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import Redis from 'ioredis';
import { startApp } from '../src/app/app';
import { loadConfig } from '../src/config';
import { startRedisServer } from '../src/redis/embedded';
import { startRawServer } from './raw-server';
import { commandDelta, commandStats, type CommandCounts } from './redis-stats';

export interface MeBenchOptions {
  /** Seconds per measured run. Default 10. */
  duration: number;
  /** Concurrent connections. Default 50. */
  connections: number;
  /** Runs per side. Default 2. */
  rounds: number;
  /** Seconds of unmeasured warm-up per side. Default 3. */
  warmup: number;
  /** Writes a CPU profile of the gateway process into this folder. */
  profileDir?: string;
  /** Measures one side only (for profiling and quick experiments); no ratio then. */
  only?: 'gateway' | 'raw';
  /** 'off' starts the gateway with CACHE_MAX_ENTRIES=0: every request checks the session and reads the user in Redis, as raw does. Default 'on'. */
  cache?: 'on' | 'off';
}

export interface SideResult {
  side: 'gateway' | 'raw';
  rps: number;
  requests: number;
  latencyAvgMs: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  /** Server process CPU time per request: unlike req/s, it barely moves when other work shares the machine. */
  cpuUsPerRequest: number;
  commandsPerRequest: number;
  commands: Record<string, number>;
}

export interface Summary {
  rps: number;
  p50: number;
  p99: number;
  cpuUsPerRequest: number;
  commandsPerRequest: number;
  commands: Record<string, number>;
}

export interface MeBenchResult {
  options: MeBenchOptions;
  runs: SideResult[];
  gateway: Summary;
  raw: Summary;
  /** Gateway req/s over raw req/s. */
  ratio: number;
  /** Raw CPU per request over gateway CPU per request: the ratio the throughputs would have on an otherwise idle core. */
  cpuRatio: number;
}

const PREFIX = 'bench';
const UA = 'gateway-bench/1.0';
const QUERY = JSON.stringify({ query: '{ me { id } }' });
const LUA_DIR = path.join(__dirname, '..', 'src', 'redis', 'lua');

type ServerHandle = ChildServer;

/** Starts one side in a child process (this bench's `serve`); resolves with its URL. */
function spawnSide(side: 'gateway' | 'raw', redisUrl: string, profileDir?: string, cache: 'on' | 'off' = 'on'): Promise<ServerHandle> {
  // BENCH_NODE_FLAGS: extra node flags for both sides (e.g. to try heap settings).
  const execArgv = [
    ...(side === 'gateway' && profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : []),
    ...(process.env.BENCH_NODE_FLAGS?.split(' ').filter(Boolean) ?? []),
  ];
  return forkServer('me', [side, redisUrl, cache], `${side} server`, execArgv);
}

async function registerUser(gatewayUrl: string): Promise<{ token: string; userId: string }> {
  const res = await fetch(`${gatewayUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'user-agent': UA },
    body: JSON.stringify({
      query: 'mutation R($input: RegisterInput!) { register(input: $input) { token user { id } } }',
      variables: { input: { email: `bench-${Date.now()}@example.com`, password: 'bench-password-42', name: 'Bench' } },
    }),
  });
  const body = (await res.json()) as { data?: { register: { token: string; user: { id: string } } }; errors?: unknown };
  if (!body.data) throw new Error(`register failed: ${JSON.stringify(body.errors)}`);
  return { token: body.data.register.token, userId: body.data.register.user.id };
}

/** Both sides must answer the same thing before their speed means anything. */
async function checkAnswer(url: string, token: string, userId: string): Promise<void> {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'user-agent': UA, authorization: `Bearer ${token}` },
    body: QUERY,
  });
  const body = (await res.json()) as { data?: { me?: { id: string } } };
  if (res.status !== 200 || body.data?.me?.id !== userId) throw new Error(`${url} answered ${res.status} ${JSON.stringify(body)}`);
}

async function load(url: string, token: string, seconds: number, connections: number): Promise<autocannon.Result> {
  return autocannon({
    url: `${url}/graphql`,
    method: 'POST',
    headers: { 'content-type': 'application/json', 'user-agent': UA, authorization: `Bearer ${token}` },
    body: QUERY,
    connections,
    duration: seconds,
  });
}

async function measure(side: 'gateway' | 'raw', server: ServerHandle, token: string, redis: Redis, opts: MeBenchOptions): Promise<SideResult> {
  const before: CommandCounts = await commandStats(redis);
  const cpuBefore = await server.ask<number>('cpu');
  const r = await load(server.url, token, opts.duration, opts.connections);
  const cpu = (await server.ask<number>('cpu')) - cpuBefore;
  const delta = commandDelta(before, await commandStats(redis));
  if (r.non2xx || r.errors) throw new Error(`${side}: ${r.non2xx} non-2xx answers and ${r.errors} errors`);
  const requests = r.requests.total;
  const commands = Object.fromEntries(Object.entries(delta).map(([k, v]) => [k, round(v / requests, 3)]));
  return {
    side,
    rps: r.requests.average,
    requests,
    latencyAvgMs: r.latency.average,
    latencyP50Ms: r.latency.p50,
    latencyP99Ms: r.latency.p99,
    cpuUsPerRequest: round(cpu / requests, 1),
    commandsPerRequest: round(Object.values(delta).reduce((a, b) => a + b, 0) / requests, 3),
    commands,
  };
}

const round = (n: number, digits = 2): number => Math.round(n * 10 ** digits) / 10 ** digits;
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

function summarize(runs: SideResult[], side: 'gateway' | 'raw'): Summary {
  const mine = runs.filter((r) => r.side === side);
  return {
    rps: round(mean(mine.map((r) => r.rps)), 0),
    p50: round(mean(mine.map((r) => r.latencyP50Ms))),
    p99: round(mean(mine.map((r) => r.latencyP99Ms))),
    cpuUsPerRequest: round(mean(mine.map((r) => r.cpuUsPerRequest)), 1),
    commandsPerRequest: mine[mine.length - 1].commandsPerRequest,
    commands: mine[mine.length - 1].commands,
  };
}

export async function runMeBench(opts: MeBenchOptions, log: (line: string) => void = console.log): Promise<MeBenchResult> {
  const dir = mkdtempSync(path.join(tmpdir(), 'gw-bench-redis-'));
  const server = await startRedisServer(dir);
  const redis = new Redis(server.url);
  const sides: ServerHandle[] = [];
  try {
    const gateway = await spawnSide('gateway', server.url, opts.profileDir, opts.cache);
    sides.push(gateway);
    const raw = await spawnSide('raw', server.url);
    sides.push(raw);
    const { token, userId } = await registerUser(gateway.url);
    await checkAnswer(gateway.url, token, userId);
    await checkAnswer(raw.url, token, userId);
    const servers = { gateway, raw } as const;
    log(
      `me: ${opts.connections} connections, ${opts.duration} s per run, ${opts.rounds} runs per side, ${opts.warmup} s warm-up, gateway cache ${opts.cache ?? 'on'}`,
    );
    const both = ['gateway', 'raw'] as const;
    const sidesToRun = opts.only ? [opts.only] : both;
    for (const side of sidesToRun) if (opts.warmup > 0) await load(servers[side].url, token, opts.warmup, opts.connections);
    const runs: SideResult[] = [];
    for (let i = 0; i < opts.rounds; i++) {
      const order = opts.only ? [opts.only] : i % 2 === 0 ? both : [...both].reverse();
      for (const side of order) {
        const r = await measure(side, servers[side], token, redis, opts);
        runs.push(r);
        log(
          `  ${side.padEnd(7)} ${String(Math.round(r.rps)).padStart(6)} req/s  p50 ${r.latencyP50Ms} ms  p99 ${r.latencyP99Ms} ms  ${r.cpuUsPerRequest} µs CPU/request  ${r.commandsPerRequest} Redis commands/request`,
        );
      }
    }
    if (opts.only) return { options: opts, runs, [opts.only]: summarize(runs, opts.only) } as unknown as MeBenchResult;
    const g = summarize(runs, 'gateway');
    const w = summarize(runs, 'raw');
    const result: MeBenchResult = {
      options: opts,
      runs,
      gateway: g,
      raw: w,
      ratio: round(g.rps / w.rps, 3),
      cpuRatio: round(w.cpuUsPerRequest / g.cpuUsPerRequest, 3),
    };
    log(`  gateway/raw throughput ratio: ${result.ratio} (target >= 0.6); CPU-per-request ratio raw/gateway: ${result.cpuRatio}`);
    log(`  Redis commands per request (commandstats, scripts' inner calls included):`);
    log(`    gateway ${JSON.stringify(result.gateway.commands)}`);
    log(`    raw     ${JSON.stringify(result.raw.commands)}`);
    return result;
  } finally {
    for (const s of sides.reverse()) await s.stop();
    redis.disconnect();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Child-process role: serve one side until the parent says stop. */
async function serve(side: string, redisUrl: string, cache = 'on'): Promise<void> {
  let close: () => Promise<void>;
  let url: string;
  if (side === 'gateway') {
    const config = loadConfig(benchGatewayEnv(redisUrl, PREFIX, { CACHE_MAX_ENTRIES: cache === 'off' ? '0' : undefined }));
    const app = await startApp(config);
    url = app.url;
    close = () => app.close();
  } else {
    const raw = await startRawServer({ redisUrl, keyPrefix: PREFIX, idleTtlMs: 30 * 60_000, luaDir: LUA_DIR });
    url = raw.url;
    close = () => raw.close();
  }
  serveParent(url, close);
}

const OPTIONS = [
  ...LOAD_OPTIONS,
  { flag: '--profile', value: '<dir>', help: 'writes a CPU profile of the gateway process into <dir>' },
  { flag: '--only', choices: ['gateway', 'raw'], help: 'measures one side only (no ratio then)' },
  {
    flag: '--cache',
    choices: ['on', 'off'],
    help: "the gateway's shared cache; off: every request checks the session and reads the user in Redis, as raw does",
    default: 'on',
  },
  { flag: '--json', help: 'results as JSON on stdout, and nothing else' },
] as const;

export const bench: Bench = {
  options: OPTIONS,
  notes: ['BENCH_NODE_FLAGS="<flags>": extra node flags for both server processes.'],
  async run(argv) {
    const a = parseOptions(argv, OPTIONS);
    const profile = a.string('--profile');
    const opts: MeBenchOptions = {
      ...loadOf(a),
      ...(profile === undefined ? {} : { profileDir: path.resolve(profile) }),
      ...(a.has('--only') ? { only: a.string('--only') as 'gateway' | 'raw' } : {}),
      cache: a.string('--cache') as 'on' | 'off',
    };
    const json = a.has('--json');
    const result = await runMeBench(opts, json ? () => {} : console.log);
    if (json) console.log(JSON.stringify(result, null, 2));
  },
  serve: ([side, redisUrl, cache]) => serve(side, redisUrl, cache),
};
