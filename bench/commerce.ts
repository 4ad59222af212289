/**
 * Commerce throughput and Redis round trips: addToCart and checkout, both as
 * service calls (the Redis-bound step alone) and as GraphQL requests against a
 * gateway in a child process. Round trips are the commands the gateway's
 * client sends per operation; `INFO commandstats` deltas show what Redis ran,
 * scripts' inner calls included.
 *
 * Run: `npm run bench -- commerce [options]` (`--help` lists them).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import Redis from 'ioredis';
import { startApp, type App } from '../src/app/app';
import { loadConfig } from '../src/config';
import { startRedisServer } from '../src/redis/embedded';
import type { InternalQueue } from '../src/services/commerce/order.service';
import { forkServer } from './child';
import { parseOptions, type Bench } from './cli';
import { commandDelta, commandStats, type CommandCounts } from './redis-stats';

const PREFIX = 'bench-commerce';
const UA = 'commerce-bench/1.0';
const ADMIN = { email: 'bench-admin@example.com', password: 'bench-admin-password-1' };

function env(redisUrl: string): Record<string, string> {
  return {
    NODE_ENV: 'production',
    PORT: '0',
    HOST: '127.0.0.1',
    REDIS_URL: redisUrl,
    KEY_PREFIX: PREFIX,
    LOG_LEVEL: 'error',
    RATE_LIMIT_DEFAULT: 'off',
    SCRYPT_N: '1024',
    WORKER: '0',
    ADMIN_EMAIL: ADMIN.email,
    ADMIN_PASSWORD: ADMIN.password,
  };
}

/** Counts the commands a client sends, by name. */
function countCommands(app: App): { snapshot(): CommandCounts } {
  const counts: CommandCounts = {};
  const target = app.redis as unknown as { sendCommand: (cmd: { name: string }, ...rest: unknown[]) => unknown };
  const original = target.sendCommand.bind(app.redis);
  target.sendCommand = (cmd, ...rest) => {
    counts[cmd.name] = (counts[cmd.name] ?? 0) + 1;
    return original(cmd, ...rest);
  };
  return { snapshot: () => ({ ...counts }) };
}

/** Runs `n` operations with `concurrency` in flight; returns ops/s. */
async function closedLoop(n: number, concurrency: number, op: (i: number) => Promise<unknown>): Promise<{ opsPerSec: number; p50: number; p99: number }> {
  let next = 0;
  const latencies: number[] = [];
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        const t0 = performance.now();
        await op(i);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const secs = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  return { opsPerSec: Math.round(n / secs), p50: round(latencies[Math.floor(n * 0.5)]), p99: round(latencies[Math.floor(n * 0.99)]) };
}

const round = (x: number, d = 2): number => Math.round(x * 10 ** d) / 10 ** d;
const perOp = (c: CommandCounts, ops: number): Record<string, number> => Object.fromEntries(Object.entries(c).map(([k, v]) => [k, round(v / ops, 3)]));
const total = (c: CommandCounts): number => Object.values(c).reduce((a, b) => a + b, 0);

/** Microseconds Redis has spent in EVALSHA since it started (scripts' inner calls included). */
async function scriptMicros(redis: Redis): Promise<number> {
  const m = /^cmdstat_evalsha:calls=\d+,usec=(\d+)/m.exec(await redis.info('commandstats'));
  return m ? Number(m[1]) : 0;
}

async function measured<T>(label: string, ops: number, counter: { snapshot(): CommandCounts }, redis: Redis, run: () => Promise<T>): Promise<T> {
  const sentBefore = counter.snapshot();
  const ranBefore = await commandStats(redis);
  const usBefore = await scriptMicros(redis);
  const result = await run();
  const sent = commandDelta(sentBefore, counter.snapshot());
  const ran = commandDelta(ranBefore, await commandStats(redis));
  const us = (await scriptMicros(redis)) - usBefore;
  console.log(`  ${label}: ${JSON.stringify(result)}, Redis script time ${round(us / (ran.evalsha ?? 1), 1)} us/call`);
  console.log(`    round trips/op ${round(total(sent) / ops, 3)} ${JSON.stringify(perOp(sent, ops))}; Redis ran/op ${JSON.stringify(perOp(ran, ops))}`);
  return result;
}

async function serviceBench(app: App, redis: Redis, ops: number, concurrency: number): Promise<void> {
  const s = app.services;
  await Promise.all(Array.from({ length: 100 }, (_, i) => s.catalog.upsert({ id: `svc-${i}`, name: `Item ${i}`, priceCents: 100 + i, stock: 1_000_000_000 })));
  const counter = countCommands(app);
  await closedLoop(5000, concurrency, (i) => s.carts.add(`g:warm-${i % 400}`, `svc-${Math.floor(i / 400) % 40}`, 1));
  console.log(`service calls, ${concurrency} in flight:`);
  // The reply is the whole cart, so its size matters: carts growing to 5 lines, then to 40.
  for (const lines of [5, 40]) {
    const carts = Math.ceil(ops / lines);
    await measured(`addToCart (carts of ${lines} lines)`, ops, counter, redis, () =>
      closedLoop(ops, concurrency, (i) => s.carts.add(`g:bench${lines}-${i % carts}`, `svc-${Math.floor(i / carts) % lines}`, 1)),
    );
  }
  const buyers = ops;
  const fill = (tag: string): Promise<unknown> =>
    closedLoop(buyers, concurrency, (i) =>
      s.carts.add(`u:${tag}-${i}`, `svc-${i % 100}`, 1).then(() => s.carts.add(`u:${tag}-${i}`, `svc-${(i + 1) % 100}`, 2)),
    );
  await fill('solo');
  const queue = (s as { jobs?: InternalQueue }).jobs;
  s.orders.useQueue(() => undefined);
  await measured('checkout step (2 lines)', buyers, counter, redis, () => closedLoop(buyers, concurrency, (i) => s.orders.checkout(`solo-${i}`, `k-${i}`)));
  if (queue) {
    s.orders.useQueue(() => queue);
    await fill('queued');
    await measured('checkout + order.process hand-off to the queue', buyers, counter, redis, () =>
      closedLoop(buyers, concurrency, (i) => s.orders.checkout(`queued-${i}`, `k-${i}`)),
    );
  }
  await measured('product (cached read)', ops, counter, redis, () => closedLoop(ops, concurrency, (i) => s.catalog.get(`svc-${i % 100}`)));
}

async function gql(url: string, query: string, variables: Record<string, unknown>, token?: string): Promise<Record<string, any>> {
  const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': UA };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`${url}/graphql`, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
  const body = (await res.json()) as { data?: Record<string, any>; errors?: unknown };
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data ?? {};
}

async function httpBench(redisUrl: string, redis: Redis, users: number, concurrency: number, seconds: number): Promise<void> {
  const gateway = await forkServer('commerce', [redisUrl], 'gateway');
  const url = gateway.url;
  try {
    const admin = (await gql(url, 'mutation L($i: LoginInput!) { login(input: $i) { token } }', { i: ADMIN })).login.token as string;
    for (let i = 0; i < 100; i++) {
      await gql(
        url,
        'mutation U($i: ProductInput!) { upsertProduct(input: $i) { id } }',
        { i: { id: `web-${i}`, name: `Web ${i}`, priceCents: 500, stock: 1_000_000_000 } },
        admin,
      );
    }
    const tokens: string[] = [];
    for (let i = 0; i < users; i++) {
      const input = { email: `bench-${i}-${Date.now()}@example.com`, password: 'bench-password-42', name: 'Bench' };
      tokens.push((await gql(url, 'mutation R($i: RegisterInput!) { register(input: $i) { token } }', { i: input })).register.token);
    }
    const add = 'mutation A($p: ID!) { addToCart(input: { productId: $p, quantity: 1 }) { itemCount subtotalCents } }';
    console.log(`GraphQL over HTTP, gateway in its own process, ${concurrency} connections (round trips include the session check):`);
    let n = 0;
    // Each request is another user's cart and, user after user, another product: no line passes 99 units.
    const load = (secs: number): Promise<autocannon.Result> =>
      autocannon({
        url: `${url}/graphql`,
        method: 'POST',
        connections: concurrency,
        duration: secs,
        requests: [
          {
            setupRequest: (req) => {
              const i = n++;
              const headers = { 'content-type': 'application/json', 'user-agent': UA, authorization: `Bearer ${tokens[i % users]}` };
              return { ...req, headers, body: JSON.stringify({ query: add, variables: { p: `web-${Math.floor(i / users) % 40}` } }) };
            },
          },
        ],
      });
    await load(2);
    const before = await commandStats(redis);
    const r = await load(seconds);
    const addRan = commandDelta(before, await commandStats(redis));
    if (r.non2xx || r.errors) throw new Error(`addToCart: ${r.non2xx} non-2xx answers and ${r.errors} errors`);
    console.log(
      `  addToCart: ${Math.round(r.requests.average)} req/s (p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms) over ${r.requests.total} requests; Redis ran/req ${JSON.stringify(perOp(addRan, r.requests.total))}`,
    );

    const checkout = 'mutation C($k: String) { checkout(idempotencyKey: $k) { id status } }';
    await Promise.all(tokens.map((tk) => gql(url, 'mutation { clearCart { itemCount } }', {}, tk)));
    let rounds = 0;
    let ms = 0;
    const ranBefore = await commandStats(redis);
    let ranDuringFill: CommandCounts = {};
    while (ms < seconds * 1000) {
      const fillBefore = await commandStats(redis);
      await closedLoop(users, concurrency, (i) => gql(url, add, { p: `web-${i % 100}` }, tokens[i]));
      const fill = commandDelta(fillBefore, await commandStats(redis));
      for (const [k, v] of Object.entries(fill)) ranDuringFill[k] = (ranDuringFill[k] ?? 0) + v;
      const t1 = performance.now();
      await closedLoop(users, concurrency, (i) => gql(url, checkout, { k: `r${rounds}-${i}` }, tokens[i]));
      ms += performance.now() - t1;
      rounds++;
    }
    const all = commandDelta(ranBefore, await commandStats(redis));
    const checkoutRan = Object.fromEntries(
      Object.entries(all)
        .map(([k, v]) => [k, v - (ranDuringFill[k] ?? 0)])
        .filter(([, v]) => (v as number) > 0),
    );
    const done = rounds * users;
    console.log(`  checkout: ${Math.round(done / (ms / 1000))} req/s over ${done} orders; Redis ran/req ${JSON.stringify(perOp(checkoutRan, done))}`);
    ranDuringFill = {};
  } finally {
    await gateway.stop();
  }
}

async function serve(redisUrl: string): Promise<void> {
  const app = await startApp(loadConfig(env(redisUrl)));
  process.send?.({ url: app.url });
  process.on('message', (m) => {
    if (m === 'stop') void app.close().then(() => process.exit(0));
  });
}

interface CommerceBenchOptions {
  ops: number;
  users: number;
  concurrency: number;
  seconds: number;
}

async function runCommerceBench(opts: CommerceBenchOptions): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'gw-commerce-bench-'));
  const server = await startRedisServer(dir);
  const redis = new Redis(server.url);
  const app = await startApp(loadConfig(env(server.url)));
  try {
    await serviceBench(app, redis, opts.ops, opts.concurrency);
    await app.close();
    await redis.flushall();
    await httpBench(server.url, redis, opts.users, opts.concurrency, opts.seconds);
  } finally {
    await app.close();
    redis.disconnect();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const OPTIONS = [
  { flag: '--ops', value: '<n>', help: 'service operations per measurement', default: 20_000 },
  { flag: '--users', value: '<n>', help: 'users signed in for the HTTP runs', default: 400 },
  { flag: '--concurrency', value: '<n>', help: 'operations in flight (service calls) and connections (HTTP)', default: 64 },
  { flag: '--seconds', value: '<s>', help: 'length of the HTTP addToCart run, and the checkout time to collect', default: 10 },
] as const;

export const bench: Bench = {
  options: OPTIONS,
  async run(argv) {
    const a = parseOptions(argv, OPTIONS);
    await runCommerceBench({
      ops: a.number('--ops', 'positive integer'),
      users: a.number('--users', 'positive integer'),
      concurrency: a.number('--concurrency', 'positive integer'),
      seconds: a.number('--seconds', 'positive number'),
    });
  },
  serve: ([redisUrl]) => serve(redisUrl),
};
