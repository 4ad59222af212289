/**
 * What a day of analytics history costs in Redis memory. Writes one synthetic day (by default
 * 100,000 visitors over 10,000 pages) through the tracking script into a private redis-server,
 * then reads MEMORY USAGE of every key, grouped by what it is, and used_memory before and after:
 *
 * - kept ANALYTICS_HISTORY (90 days): the hourly rollups and the day's rollups (totals, visitors,
 *   per dimension the values' views and HyperLogLogs of visitors);
 * - kept 31 days at most: the day's funnel sequences;
 * - live, not per day: journeys (24 h), minute buckets, the all-time counters.
 *
 * The day: each visitor views 1 + a geometric number of pages (mean `--views-per-visitor`, at
 * most 100), in one trackPageViews call from its browser; pages by Zipf's law (s = 1); 40% arrive
 * from one of 300 referrer hosts (Zipf), 20% with one of 20 UTM sources and 50 campaigns; User-
 * Agents of 6 browsers and devices, 5% of visitors bots. Calls go straight to the service (the
 * same script the mutation runs), not through HTTP: this measures memory, not speed.
 *
 * Run: `npm run bench -- history [options]` (`--help` lists them).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Redis from 'ioredis';
import { startApp } from '../src/app/app';
import { loadConfig } from '../src/config';
import { startRedisServer } from '../src/redis/embedded';
import { buildRequestContext } from '../src/services/context';
import { parseOptions, type Bench } from './cli';

interface Options {
  visitors: number;
  pages: number;
  viewsPerVisitor: number;
  historyDays: number;
  json: boolean;
}

const AGENTS: Array<[number, string]> = [
  [45, 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36'],
  [25, 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1'],
  [15, 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36'],
  [7, 'Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0'],
  [5, 'Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1'],
  [3, 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.80'],
];
const BOT = 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)';

/** A seeded generator, so that two runs write the same day. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = s;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/** Draws 0..n-1 by Zipf's law (s = 1). */
function zipf(n: number, random: () => number): () => number {
  const cum = new Float64Array(n);
  let total = 0;
  for (let i = 0; i < n; i++) cum[i] = total += 1 / (i + 1);
  return () => {
    const x = random() * total;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cum[mid] < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

const mb = (bytes: number): number => Math.round((bytes / 1024 / 1024) * 10) / 10;

/** Every key of the prefix with its MEMORY USAGE, in pipelined batches. */
async function usage(redis: Redis, prefix: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 2000);
    cursor = next;
    const pipe = redis.pipeline();
    for (const k of keys) pipe.memory('USAGE', k, 'SAMPLES', 0);
    const res = (await pipe.exec()) ?? [];
    keys.forEach((k, i) => out.set(k, Number(res[i][1])));
  } while (cursor !== '0');
  return out;
}

/** What a key is, for the report. */
function kind(key: string): string {
  const m = /:an:\{an\}:(.*)$/.exec(key);
  if (!m) return 'other (users, sessions, ...)';
  const rest = m[1];
  if (rest.startsWith('hour:')) return 'history: hourly rollups';
  const day = /^day:\d+:(.*)$/.exec(rest);
  if (day) {
    const part = day[1];
    if (part === 'seq') return 'history: funnel sequences (kept at most 31 days)';
    if (part.startsWith('v:')) return `history: values of ${part.slice(2)}`;
    if (part.startsWith('uv:')) return `history: visitors per value of ${part.split(':')[1]}`;
    return `history: day ${part}`;
  }
  if (rest.startsWith('journey:')) return 'live: journeys (24 h)';
  if (rest.startsWith('min:')) return 'live: minute buckets (24 h)';
  if (rest.startsWith('uv:')) return 'live: visitors per page (all time)';
  return `live: ${rest.split(':')[0]}`;
}

export async function runHistoryBench(opts: Options, log: (l: string) => void): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(path.join(tmpdir(), 'gw-bench-history-'));
  const server = await startRedisServer(dir);
  const redis = new Redis(server.url);
  const prefix = 'bench-history';
  const app = await startApp(
    loadConfig({
      PORT: '0',
      HOST: '127.0.0.1',
      REDIS_URL: server.url,
      KEY_PREFIX: prefix,
      LOG_LEVEL: 'error',
      RATE_LIMIT_DEFAULT: 'off',
      WORKER: '0',
      ANALYTICS_MAX_PAGES: String(Math.max(10, opts.pages)),
      ANALYTICS_HISTORY: `${opts.historyDays}d`,
      ANALYTICS_VISITOR_KEYS_PER_DAY: '1000000000',
    }),
  );
  try {
    const random = rng(42);
    const page = zipf(opts.pages, random);
    const host = zipf(300, random);
    const agentTotal = AGENTS.reduce((s, [w]) => s + w, 0);
    const agent = (): string => {
      let x = random() * agentTotal;
      for (const [w, ua] of AGENTS) if ((x -= w) < 0) return ua;
      return AGENTS[0][1];
    };
    // A geometric number of further views, so that the mean is viewsPerVisitor.
    const p = 1 / opts.viewsPerVisitor;
    const viewsOf = (): number => Math.min(100, 1 + Math.floor(Math.log(1 - random()) / Math.log(1 - p)));
    const before = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1]);
    const started = Date.now();
    let views = 0;
    const seenPages = new Set<number>();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < opts.visitors) {
        const v = next++;
        const ua = random() < 0.05 ? BOT : agent();
        const referrer = random() < 0.4 ? `https://ref${host()}.example.com/post` : null;
        const utm = random() < 0.2 ? `?utm_source=source${Math.floor(random() * 20)}&utm_campaign=campaign${Math.floor(random() * 50)}` : '';
        const specs = Array.from({ length: viewsOf() }, (_, i) => {
          const n = page();
          seenPages.add(n);
          return { page: `/catalog/item-${n}${i === 0 ? utm : ''}`, visitorId: `visitor-${v}`, referrer: i === 0 ? referrer : null };
        });
        views += specs.length;
        const ctx = buildRequestContext(app.services, app.log, { ip: '10.0.0.1', userAgent: ua, secure: false, token: null });
        await app.services.analytics.trackPageViews(ctx, specs);
        if (v % 20_000 === 0 && v) log(`  ${v} visitors, ${views} views...`);
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    const seconds = (Date.now() - started) / 1000;
    const after = Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1]);
    const byKind = new Map<string, { keys: number; bytes: number }>();
    for (const [key, bytes] of await usage(redis, prefix)) {
      const k = kind(key);
      const e = byKind.get(k) ?? { keys: 0, bytes: 0 };
      e.keys++;
      e.bytes += bytes;
      byKind.set(k, e);
    }
    const rows = [...byKind.entries()].sort((a, b) => a[0].localeCompare(b[0]));
    const sum = (f: (k: string) => boolean): number => rows.filter(([k]) => f(k)).reduce((s, [, e]) => s + e.bytes, 0);
    const history = sum((k) => k.startsWith('history:') && !k.includes('funnel'));
    const sequences = sum((k) => k.includes('funnel'));
    const live = sum((k) => k.startsWith('live:'));
    log(`one day: ${opts.visitors} visitors, ${views} page views, ${seenPages.size} distinct pages, written in ${seconds.toFixed(1)} s`);
    for (const [k, e] of rows) log(`  ${k.padEnd(52)} ${String(e.keys).padStart(7)} keys ${String(mb(e.bytes)).padStart(8)} MB`);
    log(`per day of history (MEMORY USAGE): ${mb(history)} MB kept ANALYTICS_HISTORY, + ${mb(sequences)} MB of funnel sequences kept 31 days`);
    log(`  ${opts.historyDays} days of history: ${mb(history * opts.historyDays + sequences * Math.min(31, opts.historyDays))} MB`);
    log(`live state besides (not per day): ${mb(live)} MB; used_memory grew ${mb(after - before)} MB in all`);
    return {
      visitors: opts.visitors,
      pageViews: views,
      distinctPages: seenPages.size,
      perDayHistoryMB: mb(history),
      perDaySequencesMB: mb(sequences),
      liveMB: mb(live),
      usedMemoryGrowthMB: mb(after - before),
      byKind: Object.fromEntries(rows.map(([k, e]) => [k, { keys: e.keys, MB: mb(e.bytes) }])),
    };
  } finally {
    await app.close();
    redis.disconnect();
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const OPTIONS = [
  { flag: '--visitors', value: '<n>', help: 'visitors in the day', default: 100_000 },
  { flag: '--pages', value: '<n>', help: 'distinct pages they can view', default: 10_000 },
  { flag: '--views-per-visitor', value: '<n>', help: 'mean page views per visitor', default: 5 },
  { flag: '--history', value: '<days>', help: 'ANALYTICS_HISTORY, for the total', default: 90 },
  { flag: '--json', help: 'results as JSON on stdout, and nothing else' },
] as const;

export const bench: Bench = {
  options: OPTIONS,
  async run(argv) {
    const a = parseOptions(argv, OPTIONS);
    const opts: Options = {
      visitors: a.number('--visitors', 'positive integer'),
      pages: a.number('--pages', 'positive integer'),
      viewsPerVisitor: Math.max(1, a.number('--views-per-visitor', 'positive number')),
      historyDays: a.number('--history', 'positive integer'),
      json: a.has('--json'),
    };
    const r = await runHistoryBench(opts, opts.json ? () => {} : console.log);
    if (opts.json) console.log(JSON.stringify(r, null, 2));
  },
};
