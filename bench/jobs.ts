/**
 * End-to-end job throughput: jobs enqueued and run to completion per second,
 * with a no-op handler, on one private redis-server (AOF on, as `npm start`
 * runs it). All sides in the same run, rounds alternating so drift falls on all:
 *
 * - `service`: JobService.enqueue (validation, owner, priority, retries) + JobRunner.
 * - `graphql`: the enqueueJob mutation over HTTP to a real gateway + JobRunner.
 * - `graphql-batch`: the enqueueJobs mutation, `--batch` jobs (100) per request, + JobRunner.
 * - `bullmq`:  BullMQ used directly: Queue.add + Worker, same attempts/backoff/retention.
 * - `bullmq-priority`: the same with a priority on every job, as the service sets one (its
 *              higher-first priorities need BullMQ's prioritized set, which costs more than its FIFO list).
 * - `bullmq-ids`: bullmq-priority with a random job id and the owner in the data, as the
 *              service stores them: what BullMQ spends on those, apart from the service's code.
 * - `bullmq-http`: `bullmq` behind a bare node:http JSON endpoint, enqueued with the
 *              same HTTP client as `graphql`: what HTTP alone costs, to set GraphQL against.
 * - `list`:    the tutorial queue: LPUSH a JSON job, consumers BRPOP it (no retries,
 *              no locks, a crashed consumer loses its job).
 *
 * Each side runs in a fresh child process (producers and workers together), so
 * nothing one side turns on (JIT state, async hooks) leaks into another. Reported
 * per side: median jobs/s over the rounds, that process's and redis-server's CPU ms per 1000
 * jobs (steadier than jobs/s on a shared machine), Redis commands per job, and ratios to the
 * baselines taken round by round. Run: `npm run bench -- jobs [options]` (`--help` lists them).
 */
import { Agent, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Queue, Worker } from 'bullmq';
import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { startApp, type App } from '../src/app/app';
import { loadConfig } from '../src/config';
import { createLogger } from '../src/util/logger';
import { connect, closeQuietly } from '../src/redis/connection';
import { startRedisServer } from '../src/redis/embedded';
import type { JobHandler } from '../src/services/jobs/job-handler';
import { JobRunner } from '../src/worker/job-runner';
import { toBullPriority } from '../src/services/jobs/job-record';
import { forkBench } from './child';
import { parseOptions, UsageError, type Bench } from './cli';
import { commandDelta, commandStats, serverCpuSeconds } from './redis-stats';

const SIDES = ['service', 'bullmq', 'bullmq-priority', 'bullmq-ids', 'graphql-batch', 'graphql', 'bullmq-http', 'list'] as const;
type Side = (typeof SIDES)[number];

export interface JobsBenchOptions {
  jobs: number;
  graphqlJobs: number;
  rounds: number;
  concurrency: number;
  producers: number;
  /** Jobs per enqueueJobs request on the graphql-batch side. */
  batch: number;
  only: Side[];
  /** Also prints the most frequent Redis commands per job. */
  verbose?: boolean;
  /** Writes a CPU profile of each side's process into this folder. */
  profileDir?: string;
}

interface RoundResult {
  side: Side;
  jobs: number;
  seconds: number;
  jobsPerSec: number;
  cpuMsPer1000: number;
  /** The redis-server's CPU over the same span, per 1000 jobs. */
  redisCpuMsPer1000: number;
  commandsPerJob: number;
  /** The most frequent Redis commands, per job. */
  topCommands: string;
}

/**
 * The producers' HTTP client: node:http on keep-alive sockets. It costs a fraction of fetch's
 * CPU per request, and it runs in the measured process (the gateway's own share is what counts).
 */
const agent = new Agent({ keepAlive: true, maxSockets: 256 });
function postJson(url: string, headers: Record<string, string>, body: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent, headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        } catch (err) {
          reject(new Error('the answer is not JSON', { cause: err }));
        }
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

const noop: JobHandler<Record<string, unknown>> = { type: 'bench.noop', validate: (d) => d as Record<string, unknown>, run: async () => undefined };

/** Runs `total` calls of `produce` with `producers` in flight, resolving when all were accepted. */
async function produceAll(total: number, producers: number, produce: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: producers }, async () => {
      while (next < total) await produce(next++);
    }),
  );
}

/** Resolves when `count()` reaches `total`. */
function whenDone(count: () => number, total: number): Promise<void> {
  return new Promise((resolve) => {
    const t = setInterval(() => {
      if (count() < total) return;
      clearInterval(t);
      resolve();
    }, 2);
  });
}

async function measure(side: Side, jobs: number, redis: Redis, body: () => Promise<void>): Promise<RoundResult> {
  const before = await commandStats(redis);
  const redisCpu0 = await serverCpuSeconds(redis);
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await body();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const redisCpuMsPer1000 = (((await serverCpuSeconds(redis)) - redisCpu0) * 1e6) / jobs;
  const delta = commandDelta(before, await commandStats(redis));
  const commands = Object.values(delta).reduce((a, b) => a + b, 0);
  const topCommands = Object.entries(delta)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 10)
    .map(([c, n]) => `${c}:${(n / jobs).toFixed(1)}`)
    .join(' ');
  return {
    side,
    jobs,
    seconds,
    jobsPerSec: jobs / seconds,
    cpuMsPer1000: ((cpu.user + cpu.system) / 1000 / jobs) * 1000,
    redisCpuMsPer1000,
    commandsPerJob: commands / jobs,
    topCommands,
  };
}

async function gateway(
  redisUrl: string,
  prefix: string,
  concurrency: number,
): Promise<{ app: App; runner: JobRunner; done: () => number; close(): Promise<void> }> {
  // One user produces every job of a round: its quota of pending jobs must hold them all (the quota's own cost is measured all the same).
  const config = loadConfig({
    REDIS_URL: redisUrl,
    KEY_PREFIX: prefix,
    PORT: '0',
    LOG_LEVEL: 'silent',
    RATE_LIMIT_DEFAULT: 'off',
    SCRYPT_N: '1024',
    WORKER: '0',
    WORKER_CONCURRENCY: String(concurrency),
    JOB_MAX_PENDING_PER_USER: '1000000',
    JOB_MAX_PENDING_BYTES_PER_USER: '2147483647',
  });
  const app = await startApp(config, { log: createLogger(config) });
  app.services.jobs.types.register(noop);
  const conn = connect(app.redisTarget, { name: 'bench-worker', blocking: true });
  const runner = new JobRunner({ services: app.services, registry: app.services.jobs.types, connection: conn, keys: app.services.keys, config, log: app.log });
  let done = 0;
  runner.worker.on('completed', () => done++);
  await runner.start();
  return {
    app,
    runner,
    done: () => done,
    async close() {
      await runner.close();
      await closeQuietly(conn);
      await app.close();
    },
  };
}

async function runSide(side: Side, opts: JobsBenchOptions, redisUrl: string, redis: Redis, round: number): Promise<RoundResult> {
  const prefix = `bench-${side}-${round}`;
  const total = side === 'graphql' || side === 'bullmq-http' ? opts.graphqlJobs : opts.jobs;
  if (side === 'service' || side === 'graphql' || side === 'graphql-batch') {
    const g = await gateway(redisUrl, prefix, opts.concurrency);
    try {
      const url = `http://127.0.0.1:${g.app.port}/graphql`;
      if (side === 'service') {
        // No HTTP request on this side: it measures the service as a worker process or another service calls it.
        const created = await g.app.services.users.create({ email: `bench${round}@example.com`, password: 'bench-password-1', name: 'Bench' });
        const viewer = { userId: created.id, admin: false, email: created.email };
        const start = g.done();
        return await measure(side, total, redis, async () => {
          await produceAll(total, opts.producers, () => g.app.services.jobs.enqueue(viewer, 'bench.noop', {}, {}));
          await whenDone(() => g.done() - start, total);
        });
      }
      // One user-agent throughout: the session is bound to the family it signed in with.
      const json = { 'content-type': 'application/json', 'user-agent': 'jobs-bench/1' };
      const reg = (await postJson(
        url,
        json,
        JSON.stringify({
          query: 'mutation($i: RegisterInput!) { register(input: $i) { token user { id } } }',
          variables: { i: { email: `bench${round}@example.com`, password: 'bench-password-1', name: 'Bench' } },
        }),
      )) as {
        data: { register: { token: string; user: { id: string } } };
      };
      const headers = { ...json, authorization: `Bearer ${reg.data.register.token}` };
      const batch = side === 'graphql-batch' ? opts.batch : 1;
      const body =
        batch === 1
          ? JSON.stringify({ query: 'mutation($i: EnqueueJobInput!) { enqueueJob(input: $i) { id } }', variables: { i: { type: 'bench.noop', data: {} } } })
          : JSON.stringify({
              query: 'mutation($i: [EnqueueJobInput!]!) { enqueueJobs(inputs: $i) { id } }',
              variables: { i: Array.from({ length: batch }, () => ({ type: 'bench.noop', data: {} })) },
            });
      const produce = async (): Promise<void> => {
        const json = (await postJson(url, headers, body)) as { data?: { enqueueJob?: { id: string }; enqueueJobs?: Array<{ id: string }> } };
        if (!json.data?.enqueueJob && json.data?.enqueueJobs?.length !== batch) throw new Error(`enqueue failed: ${JSON.stringify(json)}`);
      };
      const start = g.done();
      return await measure(side, total, redis, async () => {
        // Batches in flight: a quarter as many as single producers (still hundreds of jobs at once), so a
        // loaded machine does not push a pipeline of 100 scripts past the 800 ms Redis command timeout.
        await produceAll(Math.ceil(total / batch), batch === 1 ? opts.producers : Math.max(1, Math.ceil(opts.producers / 4)), produce);
        await whenDone(() => g.done() - start, total);
      });
    } finally {
      await g.close();
    }
  }
  if (side === 'bullmq' || side === 'bullmq-priority' || side === 'bullmq-ids' || side === 'bullmq-http') {
    const queueConn = new Redis(redisUrl, { maxRetriesPerRequest: 1, enableOfflineQueue: false, enableAutoPipelining: true });
    const workerConn = new Redis(redisUrl, { maxRetriesPerRequest: null });
    await new Promise((r) => queueConn.once('ready', r));
    const queue = new Queue('{jobs}', { connection: queueConn, prefix });
    let done = 0;
    const worker = new Worker('{jobs}', async () => undefined, {
      connection: workerConn,
      prefix,
      concurrency: opts.concurrency,
      removeOnComplete: { count: 1000, age: 86_400 },
      removeOnFail: { count: 10_000, age: 7 * 86_400 },
    });
    worker.on('completed', () => done++);
    await worker.waitUntilReady();
    const priority = side === 'bullmq-priority' || side === 'bullmq-ids' ? { priority: toBullPriority(0) } : {};
    // bullmq-ids: a random id (BullMQ then checks that it is new) and the owner beside the payload, as the service stores a job.
    const ids = side === 'bullmq-ids';
    const data = ids ? { owner: `u:${randomUUID()}`, payload: {} } : {};
    const add = (): Promise<unknown> =>
      queue.add('bench.noop', data, { attempts: 3, backoff: { type: 'exponential', delay: 1000 }, ...priority, ...(ids ? { jobId: `j${randomUUID()}` } : {}) });
    // bullmq-http: a bare JSON endpoint in front of queue.add.
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        JSON.parse(Buffer.concat(chunks).toString('utf8'));
        add().then(
          (job) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: (job as { id: string }).id })),
          () => res.writeHead(500).end(),
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/enqueue`;
    const body = JSON.stringify({ type: 'bench.noop', data: {} });
    const produce =
      side !== 'bullmq-http'
        ? add
        : async (): Promise<void> => {
            await postJson(url, { 'content-type': 'application/json' }, body);
          };
    try {
      return await measure(side, total, redis, async () => {
        await produceAll(total, opts.producers, produce);
        await whenDone(() => done, total);
      });
    } finally {
      server.close();
      await worker.close();
      await queue.close();
      queueConn.disconnect();
      workerConn.disconnect();
    }
  }
  // The tutorial list queue: one producer connection, one blocking connection per consumer.
  const key = `${prefix}:list`;
  const producer = new Redis(redisUrl, { enableAutoPipelining: true });
  const consumers = Array.from({ length: opts.concurrency }, () => new Redis(redisUrl, { maxRetriesPerRequest: null }));
  let done = 0;
  let running = true;
  const loops = consumers.map(async (c) => {
    while (running) {
      const item = await c.brpop(key, 1);
      if (item) {
        JSON.parse(item[1]);
        done++;
      }
    }
  });
  try {
    return await measure(side, total, redis, async () => {
      await produceAll(total, opts.producers, (i) => producer.lpush(key, JSON.stringify({ id: i, type: 'bench.noop', data: {} })));
      await whenDone(() => done, total);
    });
  } finally {
    running = false;
    await Promise.all(loops);
    producer.disconnect();
    consumers.forEach((c) => c.disconnect());
  }
}

/** Runs one side in a fresh `node` process (this bench's `serve`) and returns its result. */
function runInChild(side: Side, opts: JobsBenchOptions, redisUrl: string, round: number): Promise<RoundResult> {
  return new Promise((resolve, reject) => {
    const execArgv = opts.profileDir ? ['--cpu-prof', '--cpu-prof-dir', opts.profileDir] : [];
    const child = forkBench('jobs', ['--side', side, '--redis', redisUrl, '--round', String(round), '--options', JSON.stringify(opts)], execArgv);
    let result: RoundResult | undefined;
    child.on('message', (m) => (result = m as RoundResult));
    child.on('exit', (code) => (result ? resolve(result) : reject(new Error(`bench side ${side} exited with ${code}`))));
  });
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function runJobsBench(opts: JobsBenchOptions, log: (line: string) => void = console.log): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(path.join(tmpdir(), 'gw-bench-jobs-'));
  const server = await startRedisServer(dir);
  const results: Array<RoundResult & { round: number }> = [];
  try {
    log(
      `jobs bench: ${opts.jobs} jobs (${opts.graphqlJobs} through HTTP), ${opts.rounds} rounds, worker concurrency ${opts.concurrency}, ${opts.producers} producers`,
    );
    for (let round = 0; round < opts.rounds; round++) {
      const order = round % 2 === 0 ? opts.only : [...opts.only].reverse();
      for (const side of order) {
        const r = await runInChild(side, opts, server.url, round);
        results.push({ ...r, round });
        log(
          `  round ${round + 1} ${side.padEnd(13)} ${r.jobsPerSec.toFixed(0).padStart(7)} jobs/s  ${r.cpuMsPer1000.toFixed(0).padStart(5)} CPU ms/1000 jobs (Redis ${r.redisCpuMsPer1000.toFixed(0)})  ${r.commandsPerJob.toFixed(1)} Redis commands/job`,
        );
        if (opts.verbose) log(`      ${r.topCommands}`);
      }
    }
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const summary: Record<string, { jobsPerSec: number; cpuMsPer1000: number; redisCpuMsPer1000: number; commandsPerJob: number }> = {};
  for (const side of opts.only) {
    const rs = results.filter((r) => r.side === side);
    summary[side] = {
      jobsPerSec: median(rs.map((r) => r.jobsPerSec)),
      cpuMsPer1000: median(rs.map((r) => r.cpuMsPer1000)),
      redisCpuMsPer1000: median(rs.map((r) => r.redisCpuMsPer1000)),
      commandsPerJob: median(rs.map((r) => r.commandsPerJob)),
    };
  }
  log('median per side:');
  for (const [side, s] of Object.entries(summary)) {
    // Ratios are taken round by round (the two sides ran back to back), then the median and range over rounds:
    // steadier than a ratio of medians when the machine's speed drifts between rounds.
    const vs = (name: Side): string => {
      if (!summary[name]) return '';
      const paired = (f: (r: RoundResult) => number): number[] =>
        results.filter((r) => r.side === side).map((r) => f(r) / f(results.find((b) => b.side === name && b.round === r.round)!));
      const speed = paired((r) => r.jobsPerSec);
      const efficiency = paired((r) => 1 / r.cpuMsPer1000);
      const range = (xs: number[]): string => `${median(xs).toFixed(2)} [${Math.min(...xs).toFixed(2)}-${Math.max(...xs).toFixed(2)}]`;
      return ` (${range(speed)} x ${name} jobs/s, ${range(efficiency)} x its CPU efficiency)`;
    };
    const ratio = side.startsWith('bullmq')
      ? side === 'bullmq-ids'
        ? vs('bullmq-priority')
        : ''
      : vs('bullmq') +
        (side === 'service' || side === 'graphql-batch' ? vs('bullmq-priority') + vs('bullmq-ids') : '') +
        (side === 'graphql' ? vs('bullmq-http') : '');
    log(
      `  ${side.padEnd(13)} ${s.jobsPerSec.toFixed(0).padStart(7)} jobs/s${ratio}  ${s.cpuMsPer1000.toFixed(0)} CPU ms/1000 jobs (Redis ${s.redisCpuMsPer1000.toFixed(0)})  ${s.commandsPerJob.toFixed(1)} cmds/job`,
    );
  }
  return summary;
}

const OPTIONS = [
  { flag: '--jobs', value: '<n>', help: 'jobs per side and round', default: 20_000 },
  { flag: '--graphql-jobs', value: '<n>', help: 'jobs per round on the one-job-per-request HTTP sides (graphql, bullmq-http)', default: 5000 },
  { flag: '--rounds', value: '<n>', help: 'rounds; the order of the sides alternates', default: 3 },
  { flag: '--concurrency', value: '<n>', help: 'worker concurrency (and list consumers)', default: 32 },
  { flag: '--producers', value: '<n>', help: 'enqueue calls in flight', default: 32 },
  { flag: '--batch', value: '<n>', help: 'jobs per enqueueJobs request on the graphql-batch side', default: 100 },
  { flag: '--only', value: '<side,side>', help: `the sides to run, comma-separated, of ${SIDES.join(',')} (default: all)` },
  { flag: '--verbose', help: 'also prints the most frequent Redis commands per job' },
  { flag: '--profile', value: '<dir>', help: "writes a CPU profile of each side's process into <dir>" },
] as const;

function parseArgs(argv: string[]): JobsBenchOptions {
  const a = parseOptions(argv, OPTIONS);
  const only = a.has('--only') ? a.string('--only')!.split(',') : [...SIDES];
  const unknown = only.filter((s) => !(SIDES as readonly string[]).includes(s));
  if (unknown.length) throw new UsageError(`--only: no side ${unknown.join(', ')}; sides: ${SIDES.join(',')}`);
  const profile = a.string('--profile');
  return {
    jobs: a.number('--jobs', 'positive integer'),
    graphqlJobs: a.number('--graphql-jobs', 'positive integer'),
    rounds: a.number('--rounds', 'positive integer'),
    concurrency: a.number('--concurrency', 'positive integer'),
    producers: a.number('--producers', 'positive integer'),
    batch: a.number('--batch', 'positive integer'),
    only: only as Side[],
    ...(a.has('--verbose') ? { verbose: true } : {}),
    ...(profile === undefined ? {} : { profileDir: profile }),
  };
}

/** Child mode: `--side <side> --redis <url> --round <n> --options <json>`; sends its RoundResult to the parent. */
async function childMain(argv: string[]): Promise<void> {
  const arg = (name: string): string => argv[argv.indexOf(name) + 1];
  const redis = new Redis(arg('--redis'));
  try {
    const result = await runSide(arg('--side') as Side, JSON.parse(arg('--options')) as JobsBenchOptions, arg('--redis'), redis, Number(arg('--round')));
    await new Promise<void>((resolve) => process.send!(result, () => resolve()));
  } finally {
    redis.disconnect();
  }
}

export const bench: Bench = {
  options: OPTIONS,
  async run(argv) {
    await runJobsBench(parseArgs(argv));
  },
  async serve(argv) {
    await childMain(argv);
    process.exit(0);
  },
};
