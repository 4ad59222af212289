/**
 * The shared cache (docs/caching.md), two figures:
 *
 * 1. **The hit path**: nanoseconds per hit of `SharedCache` (`space.get`), of the catalog's
 *    `get` and of a `@Cached` result (`results.get`, which hashes its arguments), against a plain
 *    `Map.get` in the same run (sync, and awaited as any async API is), and the Redis commands per
 *    hit (`INFO commandstats` deltas: 0 expected). Rounds alternate the sides; medians are printed.
 * 2. **The invalidation delay across two instances**: a gateway in this process (A) and one in a
 *    child process (B) on one private redis-server. For each of `--count` changes, B holds an entry,
 *    A changes it, and B notes when its entry is gone (it looks on every turn of its event loop);
 *    the delay is B's moment minus A's, on one clock (the offset between the processes' clocks is
 *    measured over IPC first and taken out). Three ways: by key (a PUBLISH), by tag (the
 *    cacheInvalidate script, which also deletes Redis entries and publishes), and by a real
 *    stock change (stockAdjust, whose script publishes product.updated itself).
 *
 * Run: `npm run bench -- cache [options]` (`--help` lists them).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Redis from 'ioredis';
import { startApp, type App } from '../src/app/app';
import { loadConfig } from '../src/config';
import { startRedisServer } from '../src/redis/embedded';
import type { CacheSpace } from '../src/services/cache/shared-cache';
import { benchGatewayEnv, forkBench } from './child';
import { parseOptions, type Bench } from './cli';
import { commandDelta, commandStats, type CommandCounts } from './redis-stats';

const PREFIX = 'bench-cache';
const MODES = ['key', 'tag', 'script'] as const;
type Mode = (typeof MODES)[number];

function env(redisUrl: string): Record<string, string | undefined> {
  return benchGatewayEnv(redisUrl, PREFIX, {
    LOG_LEVEL: 'error',
    SAMPLE_CATALOG: '0',
    // Nothing periodic inside the counted windows.
    REGISTRY_HEARTBEAT: '1h',
    REGISTRY_TTL: '2h',
    FLAGS_RESYNC: '1h',
  });
}

/** Wall-clock milliseconds with sub-millisecond precision, comparable between processes of one machine. */
const wallMs = (): number => performance.timeOrigin + performance.now();
const round = (x: number, d = 1): number => Math.round(x * 10 ** d) / 10 ** d;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];

// --- 1. the hit path -------------------------------------------------------------------------

interface HitResult {
  label: string;
  nsPerOp: number;
  /** Redis commands per operation while it ran (0 for a hit path). */
  commandsPerOp: number;
  commands: CommandCounts;
}

async function timeLoop(n: number, op: (i: number) => unknown): Promise<number> {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const r = op(i);
    if (r instanceof Promise) await r;
  }
  return Number(process.hrtime.bigint() - t0) / n;
}

async function hitPath(app: App, redis: Redis, ops: number, rounds: number, log: (l: string) => void): Promise<HitResult[]> {
  const { cache, catalog, results } = app.services;
  const KEYS = 1000;
  const keys = Array.from({ length: KEYS }, (_, i) => `k${i}`);
  const map = new Map(keys.map((k) => [k, { id: k }]));
  const space: CacheSpace<{ id: string }> = cache.space('bench', { ttlMs: 3_600_000 });
  for (const k of keys) await space.get(k, async () => ({ id: k }));
  const ids = Array.from({ length: 100 }, (_, i) => `bench-${i}`);
  for (const id of ids) await catalog.upsert({ id, name: `Item ${id}`, priceCents: 100, stock: 1000 });
  for (const id of ids) await catalog.get(id);
  const field = 'Query.bench';
  const opts = { ttlSeconds: 300, tags: ['bench'], redis: true };
  const compute = async (): Promise<unknown> => ({ ok: true });
  for (let i = 0; i < 100; i++) await results.get(field, { productId: ids[i], limit: 5 }, opts, compute);

  // A round trip to Redis, for scale (a hundredth of the operations: each takes tens of microseconds).
  const ping = app.redis as Redis;
  const sides: Array<{ label: string; op: (i: number) => unknown; n?: number }> = [
    { label: 'Map.get (sync)', op: (i) => map.get(keys[i % KEYS]) },
    { label: 'await Map.get (as an async API)', op: (i) => Promise.resolve(map.get(keys[i % KEYS])) },
    { label: 'SharedCache space.get (hit)', op: (i) => space.get(keys[i % KEYS], async () => ({ id: '' })) },
    { label: 'catalog.get (hit)', op: (i) => catalog.get(ids[i % 100]) },
    {
      label: 'results.get (@Cached hit: hash of the arguments + space.get)',
      op: (i) => results.get(field, { productId: ids[i % 100], limit: 5 }, opts, compute),
    },
    { label: 'one Redis round trip (PING), what a hit saves at least', op: () => ping.ping(), n: Math.max(1, Math.floor(ops / 100)) },
  ];
  const ns = new Map<string, number[]>(sides.map((s) => [s.label, []]));
  const commands = new Map<string, CommandCounts>(sides.map((s) => [s.label, {}]));
  for (const s of sides) await timeLoop(Math.min(s.n ?? ops, 100_000), s.op); // warm-up (JIT)
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? sides : [...sides].reverse();
    for (const s of order) {
      const before = await commandStats(redis);
      ns.get(s.label)!.push(await timeLoop(s.n ?? ops, s.op));
      const delta = commandDelta(before, await commandStats(redis));
      for (const [c, v] of Object.entries(delta)) commands.get(s.label)![c] = (commands.get(s.label)![c] ?? 0) + v;
    }
  }
  const out = sides.map((s) => {
    const c = commands.get(s.label)!;
    const total = Object.values(c).reduce((a, b) => a + b, 0);
    return { label: s.label, nsPerOp: round(median(ns.get(s.label)!)), commandsPerOp: round(total / ((s.n ?? ops) * rounds), 5), commands: c };
  });
  const base = out[0].nsPerOp;
  const awaited = out[1].nsPerOp;
  log(`hit path: ${ops} operations per round, ${rounds} rounds (median ns/op; ratio to Map.get sync / awaited):`);
  for (const r of out)
    log(
      `  ${r.label.padEnd(62)} ${String(r.nsPerOp).padStart(8)} ns  ${String(round(r.nsPerOp / base, 2)).padStart(6)}x  ${String(round(r.nsPerOp / awaited, 2)).padStart(6)}x  Redis commands/op ${r.commandsPerOp}${r.commandsPerOp ? ` ${JSON.stringify(r.commands)}` : ''}`,
    );
  return out;
}

// --- 2. the invalidation delay ---------------------------------------------------------------

interface Child {
  ask<T>(msg: Record<string, unknown>): Promise<T>;
  stop(): Promise<void>;
}

function spawnChild(redisUrl: string): Promise<Child> {
  const child = forkBench('cache', [redisUrl]);
  let seq = 0;
  const waiting = new Map<number, (v: unknown) => void>();
  child.on('message', (m: { seq?: number; value?: unknown }) => {
    if (m.seq !== undefined) waiting.get(m.seq)?.(m.value);
    waiting.delete(m.seq ?? -1);
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`instance B exited with code ${code}`)));
    child.once('message', () =>
      resolve({
        ask: <T>(msg: Record<string, unknown>) =>
          new Promise<T>((done) => {
            const n = ++seq;
            waiting.set(n, done as (v: unknown) => void);
            child.send({ ...msg, seq: n });
          }),
        stop: () =>
          new Promise<void>((done) => {
            child.removeAllListeners('exit');
            child.once('exit', () => done());
            child.send({ op: 'stop' });
          }),
      }),
    );
  });
}

/** B's clock minus A's, from the IPC exchange with the smallest round trip (NTP's estimate). */
async function clockOffset(b: Child): Promise<{ offsetMs: number; rttMs: number }> {
  let best = { offsetMs: 0, rttMs: Infinity };
  for (let i = 0; i < 200; i++) {
    const t0 = wallMs();
    const tb = await b.ask<number>({ op: 'now' });
    const t1 = wallMs();
    if (t1 - t0 < best.rttMs) best = { offsetMs: tb - (t0 + t1) / 2, rttMs: t1 - t0 };
  }
  return best;
}

interface DelayResult {
  mode: Mode;
  count: number;
  p50: number;
  p99: number;
  max: number;
  mean: number;
}

async function invalidationDelay(a: App, b: Child, mode: Mode, count: number, offsetMs: number, log: (l: string) => void): Promise<DelayResult> {
  const { cache, catalog } = a.services;
  const space = cache.space<string>('bench-delay', { ttlMs: 3_600_000 });
  if (mode === 'script') await catalog.upsert({ id: 'bench-delay', name: 'Delay', priceCents: 100, stock: 1_000_000 });
  const delays: number[] = [];
  for (let i = 0; i < count; i++) {
    const key = `k${i}`;
    // B reads the entry and starts looking for its end; A waits until B holds it.
    await b.ask({ op: 'hold', mode, key });
    const watched = b.ask<number>({ op: 'await-drop' });
    const t0 = wallMs();
    if (mode === 'key') await space.invalidate([key]);
    else if (mode === 'tag') await cache.invalidateTags([`bench-${i % 10}`]);
    else await catalog.adjustStock('bench-delay', i % 2 ? 1 : -1);
    const tb = await watched;
    delays.push(tb - offsetMs - t0);
  }
  const sorted = [...delays].sort((x, y) => x - y);
  const r: DelayResult = {
    mode,
    count,
    p50: round(percentile(sorted, 0.5), 3),
    p99: round(percentile(sorted, 0.99), 3),
    max: round(sorted[sorted.length - 1], 3),
    mean: round(delays.reduce((x, y) => x + y, 0) / count, 3),
  };
  log(`  ${mode.padEnd(6)} ${count} changes: p50 ${r.p50} ms  p99 ${r.p99} ms  max ${r.max} ms  mean ${r.mean} ms`);
  return r;
}

/** Instance B: a gateway whose cache A changes; answers A's requests over IPC. */
async function serve(redisUrl: string): Promise<void> {
  const app = await startApp(loadConfig(env(redisUrl)));
  const { cache, catalog } = app.services;
  const space = cache.space<string>('bench-delay', { ttlMs: 3_600_000 });
  const catalogEntries = cache.space<unknown>('catalog', { ttlMs: 3_600_000 });
  let held: () => boolean = () => false;
  const reply = (seq: number, value: unknown): void => {
    process.send!({ seq, value });
  };
  process.on('message', (msg: { op: string; seq: number; mode?: Mode; key?: string }) => {
    void (async () => {
      switch (msg.op) {
        case 'now':
          return reply(msg.seq, wallMs());
        case 'hold': {
          const i = Number(msg.key!.slice(1));
          const load =
            msg.mode === 'script'
              ? // The catalog's own entry of the product (the space named as the catalog names it).
                () => catalog.get('bench-delay')
              : () => space.get(msg.key!, async () => 'v', { tags: [`bench-${i % 10}`] });
          held = msg.mode === 'script' ? () => catalogEntries.peek('p:bench-delay') !== undefined : () => space.peek(msg.key!) !== undefined;
          // A load that an invalidation overtook is not kept (the previous change's catalog.updated,
          // which A sends after its script, may still be on its way): read again until it is.
          for (let tries = 0; !held(); tries++) {
            if (tries === 1000) throw new Error('instance B could not hold the entry');
            if (tries) await new Promise((r) => setTimeout(r, 1));
            await load();
          }
          return reply(msg.seq, true);
        }
        case 'await-drop': {
          // Looks on every turn of the event loop: the message is handled in the poll phase, this in the check phase.
          while (held()) await new Promise((r) => setImmediate(r));
          return reply(msg.seq, wallMs());
        }
        case 'stop':
          await app.close();
          process.exit(0);
      }
    })().catch((err: unknown) => {
      console.error(err);
      process.exit(1);
    });
  });
  process.send!({ ready: true });
}

const OPTIONS = [
  { flag: '--ops', value: '<n>', help: 'hits per measured loop', default: 1_000_000 },
  { flag: '--rounds', value: '<n>', help: 'measured loops per side (alternating order)', default: 3 },
  { flag: '--count', value: '<n>', help: 'invalidations per way', default: 1000 },
  { flag: '--only', choices: ['hits', 'delay'], help: 'one of the two figures' },
  { flag: '--json', help: 'results as JSON on stdout, and nothing else' },
] as const;

export const bench: Bench = {
  options: OPTIONS,
  async run(argv) {
    const o = parseOptions(argv, OPTIONS);
    const ops = o.number('--ops', 'positive integer');
    const rounds = o.number('--rounds', 'positive integer');
    const count = o.number('--count', 'positive integer');
    const only = o.string('--only');
    const json = o.has('--json');
    const log = json ? (): void => {} : (line: string): void => console.log(line);
    const dir = mkdtempSync(path.join(tmpdir(), 'gw-bench-cache-'));
    const server = await startRedisServer(dir);
    const redis = new Redis(server.url);
    let a: App | undefined;
    let b: Child | undefined;
    try {
      a = await startApp(loadConfig(env(server.url)));
      const out: Record<string, unknown> = {};
      if (only !== 'delay') out.hits = await hitPath(a, redis, ops, rounds, log);
      if (only !== 'hits') {
        b = await spawnChild(server.url);
        const { offsetMs, rttMs } = await clockOffset(b);
        log(
          `invalidation delay, A (this process) -> B (another process), one redis-server; IPC round trip ${round(rttMs, 3)} ms, clock offset ${round(offsetMs, 3)} ms taken out:`,
        );
        out.clock = { offsetMs, rttMs };
        out.delay = [];
        for (const mode of MODES) (out.delay as DelayResult[]).push(await invalidationDelay(a, b, mode, count, offsetMs, log));
      }
      if (json) console.log(JSON.stringify(out, null, 2));
    } finally {
      await b?.stop();
      await a?.close();
      redis.disconnect();
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
  serve: ([redisUrl]) => serve(redisUrl),
};
