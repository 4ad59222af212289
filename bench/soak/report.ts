/** The soak's report: what ran, latency, errors, deliveries, orders, memory growth, and the verdict with its exit code. */
import { cpus, loadavg } from 'node:os';
import { LOGIN_USERS, VISITORS } from './actors';
import { FAMILIES, type KeyCensus } from './census';
import type { Deliveries, Orders } from './checks';
import { kbPerMin, mb, ms, round, size } from './format';
import type { Load } from './load';
import type { SoakOptions } from './options';
import { percentile, sortedOf } from './recorder';
import { SAMPLE_MS, slopePerMinute, type Sample } from './samples';
import type { Workload } from './workload';

/** Heap still in use after a full collection may grow at most this much per minute over the second half. */
const HEAP_SLOPE_MAX = 1024 * 1024;
/** Redis memory not accounted for by data the design retains may grow at most this much per minute. */
const REDIS_UNEXPLAINED_SLOPE_MAX = 256 * 1024;
/** Fewer samples than this in the second half give no growth verdict. */
const MIN_SLOPE_SAMPLES = 5;

export interface SoakResult {
  ok: boolean;
  exitCode: number;
  [k: string]: unknown;
}

/** Everything a run gathered. */
export interface Outcome {
  opts: SoakOptions;
  w: Workload;
  load: Load;
  deliveries: Deliveries;
  orders: Orders;
  startCensus: KeyCensus;
  endCensus: KeyCensus;
  /** The gateway's graphql_errors_total during the run, by code. */
  gatewayErrors: Record<string, number>;
}

type Log = (line: string) => void;

interface Slopes {
  first: Sample;
  last: Sample;
  /** The samples of the second half (the first half is warm-up). */
  half: Sample[];
  heapSlope: number;
  rssSlope: number;
  redisSlope: number;
  retainedSlope: number;
  unexplainedSlope: number;
  keysSlope: number;
}

/** Least-squares growth per minute over the second half of the run. */
function slopes(opts: SoakOptions, samples: Sample[]): Slopes {
  const first = samples[0];
  const last = samples[samples.length - 1];
  const half = samples.filter((s) => s.t >= opts.seconds / 2);
  const heapSlope = slopePerMinute(half.map((s) => ({ x: s.t / 60, y: s.gateway.heapUsedAfterGc })));
  const rssSlope = slopePerMinute(half.map((s) => ({ x: s.t / 60, y: s.gateway.rss })));
  const redisSlope = slopePerMinute(half.map((s) => ({ x: s.t / 60, y: s.usedMemory })));
  const retainedSlope = slopePerMinute(half.map((s) => ({ x: s.t / 60, y: s.retainedBytes })));
  const unexplainedSlope = slopePerMinute(half.map((s) => ({ x: s.t / 60, y: s.usedMemory - s.retainedBytes })));
  const keysSlope = slopePerMinute(half.map((s) => ({ x: s.t / 60, y: s.dbsize })));
  return { first, last, half, heapSlope, rssSlope, redisSlope, retainedSlope, unexplainedSlope, keysSlope };
}

type Latency = { n: number; p50: number; p99: number; max: number };

/** Throughput, the machine, event loops and CPU, latency, errors, deliveries and orders. */
function logTraffic(o: Outcome, { first, last }: Slopes, log: Log): { all: Float64Array; latencyByKind: Record<string, Latency>; errors: number } {
  const { opts, w, gatewayErrors } = o;
  const { samples, started, sendSeconds, loadSeconds, maxLate, lag, startLoad, ownCpu0 } = o.load;
  const { expectedEvents, gotEvents, liveMin, liveTotal, eventLatency } = o.deliveries;
  const { queue, statuses, stored } = o.orders;
  const rec = w.rec;
  const gatewayCpu = round(((last.gateway.cpuMicros - first.gateway.cpuMicros) / 1e6 / (last.t - first.t)) * 100, 0);
  const redisCpu = round(((last.redisCpuSeconds - first.redisCpuSeconds) / (last.t - first.t)) * 100, 0);
  const own = process.cpuUsage(ownCpu0);
  const ownCpu = round(((own.user + own.system) / 1e6 / loadSeconds) * 100, 0);

  log('');
  log(`== soak report: ${opts.seconds} s, target ${opts.rate} operations/s ==`);
  log(
    `throughput: ${started} operations started in ${round(sendSeconds)} s (${round(started / sendSeconds)}/s of ${opts.rate} target), ${rec.opsDone} finished by ${round(loadSeconds)} s; ${rec.requests} requests (${round(rec.requests / loadSeconds)}/s); the scheduler started an operation at most ${ms(maxLate)} late`,
  );
  log(
    `machine: ${cpus().length} cores, load average ${startLoad} at the start, ${loadavg()
      .map((x) => round(x, 2))
      .join(' ')} at the end`,
  );
  const loopMax = Math.max(...samples.slice(1).map((s) => s.gateway.loopDelayMaxMs));
  const loopP99 = Math.max(...samples.slice(1).map((s) => s.gateway.loopDelayP99Ms));
  const gcMax = Math.max(...samples.map((s) => s.gateway.gcMs));
  log(
    `gateway event-loop delay: worst p99 of a ${SAMPLE_MS / 1000} s interval ${ms(loopP99)}, max ${ms(loopMax)}${opts.gc ? `; each forced collection also blocks it, the longest for ${ms(gcMax)}` : ''}`,
  );
  log(
    `load generator event-loop delay: p50 ${ms(lag.percentile(50) / 1e6)}, p99 ${ms(lag.percentile(99) / 1e6)}, max ${ms(lag.max / 1e6)} (latencies include it); CPU: gateway ${gatewayCpu}% of a core, redis-server ${redisCpu}%, load generator and subscribers ${ownCpu}%`,
  );
  const all = sortedOf(rec.all);
  log(
    `latency (successful requests, from when the operation was due): overall p50 ${ms(percentile(all, 0.5))}, p99 ${ms(percentile(all, 0.99))}, max ${ms(all[all.length - 1])}`,
  );
  const kinds = [...rec.byKind.keys()].sort();
  const latencyByKind: Record<string, { n: number; p50: number; p99: number; max: number }> = {};
  for (const k of kinds) {
    const xs = sortedOf(rec.byKind.get(k)!);
    latencyByKind[k] = { n: xs.length, p50: round(percentile(xs, 0.5), 2), p99: round(percentile(xs, 0.99), 2), max: round(xs[xs.length - 1], 2) };
    log(
      `  ${k.padEnd(22)} ${String(xs.length).padStart(7)}  p50 ${ms(percentile(xs, 0.5)).padStart(9)}  p99 ${ms(percentile(xs, 0.99)).padStart(9)}  max ${ms(xs[xs.length - 1]).padStart(9)}`,
    );
  }
  const errors = rec.errorCount();
  log(
    `errors: ${errors}${errors ? ` ${JSON.stringify(Object.fromEntries(rec.errors))}` : ''}; gateway's graphql_errors_total during the run: ${JSON.stringify(gatewayErrors)}`,
  );
  for (const [kc, n] of rec.errorsByKind) log(`  ${kc}: ${n}`);
  for (const [code, ex] of rec.examples) for (const e of ex) log(`  e.g. ${code}: ${e.slice(0, 300)}`);
  log(
    `subscriptions: analyticsEvents ${gotEvents} deliveries, ${expectedEvents} expected (${w.tracked} events x ${opts.subscribers}; ${w.trackUnknown} failed tracking calls may add up to ${w.trackUnknown * opts.subscribers}), delivery latency p50 ${ms(percentile(eventLatency, 0.5))} p99 ${ms(percentile(eventLatency, 0.99))}; ` +
      `liveStats ${liveTotal} pushes (${round(liveTotal / opts.subscribers / (loadSeconds / 60))} per subscriber per minute, fewest ${liveMin})`,
  );
  log(`orders: ${w.orderIds.size} placed and answered, ${stored.size} in Redis, by status ${JSON.stringify(statuses)}; queue ${JSON.stringify(queue)}`);
  const retired = w.carts.retired + w.guests.retired + w.buyers.retired;
  if (retired) log(`actors retired after a request the client gave up on (its cart could still change): ${retired}`);
  return { all, latencyByKind, errors };
}

/** Memory: the gateway's heap, Redis used_memory less what the design retains, keys by family. */
function logMemory(o: Outcome, g: Slopes, log: Log): void {
  const { opts, w, startCensus, endCensus } = o;
  const { samples } = o.load;
  const { first, last, half, heapSlope, rssSlope, redisSlope, retainedSlope, unexplainedSlope, keysSlope } = g;
  log(
    `memory, ${samples.length} samples every ${SAMPLE_MS / 1000} s; slopes by least squares over the second half (${half.length} samples, t >= ${opts.seconds / 2} s):`,
  );
  log(
    `  gateway heap used${opts.gc ? ' after a full collection' : ''}: ${mb(first.gateway.heapUsedAfterGc)} -> ${mb(last.gateway.heapUsedAfterGc)}, slope ${kbPerMin(heapSlope)} (heap before collection ${mb(first.gateway.heapUsed)} -> ${mb(last.gateway.heapUsed)}; rss ${mb(first.gateway.rss)} -> ${mb(last.gateway.rss)}, slope ${kbPerMin(rssSlope)})`,
  );
  log(
    `  Redis used_memory: ${mb(first.usedMemory)} -> ${mb(last.usedMemory)}, slope ${kbPerMin(redisSlope)}; of it retained by design ${mb(first.retainedBytes)} -> ${mb(last.retainedBytes)}, slope ${kbPerMin(retainedSlope)}; the rest: slope ${kbPerMin(unexplainedSlope)}`,
  );
  log(
    `  Redis keys (DBSIZE): ${first.dbsize} at start, ${last.dbsize} at the end of the load, ${endCensus.keys} after the drain; slope ${round(keysSlope)} keys/min`,
  );
  const growthPerOrder = w.orderIds.size ? (endCensus.retainedBytes - startCensus.retainedBytes) / w.orderIds.size : NaN;
  log(
    `  retained by design, subtracted for the verdict: orders (a hash each, kept), order indexes and idempotency keys (an entry per order), domain event streams (order.placed and order.completed, trimmed near EVENT_STREAM_MAXLEN = 100000), ` +
      `BullMQ (completed jobs up to JOB_KEEP_COMPLETED = 1000, its event stream capped near 10000), analytics minute buckets (a hash per minute, expiring after ANALYTICS_RETENTION = 24h), ` +
      `visitor journeys (the last 50 pages of each of ${VISITORS} visitors, filling up); they grew by ${mb(endCensus.retainedBytes - startCensus.retainedBytes)}, ${round(growthPerOrder, 0)} bytes per order placed`,
  );
  log(
    `  bounded by the workload's pools: sessions (${LOGIN_USERS} users signing in, already at 10 sessions each), carts, unique-visitor HyperLogLogs, recommendations, catalog cache`,
  );
  log(`  keys by family (count, bytes by MEMORY USAGE), start -> end:`);
  const names = [...new Set([...Object.keys(startCensus.byFamily), ...Object.keys(endCensus.byFamily)])].sort();
  for (const n of names) {
    const a = startCensus.byFamily[n] ?? { keys: 0, bytes: 0 };
    const b = endCensus.byFamily[n] ?? { keys: 0, bytes: 0 };
    const retained = FAMILIES.find((f) => f.name === n)?.retained ? ' (retained)' : '';
    log(
      `    ${(n + retained).padEnd(38)} ${String(a.keys).padStart(6)} -> ${String(b.keys).padEnd(6)}  ${size(a.bytes ?? 0).padStart(9)} -> ${size(b.bytes ?? 0)}`,
    );
  }
}

/** Passes with no error and no growth past the thresholds; exit code 1 for errors, 2 for growth alone. */
function judge(opts: SoakOptions, { half, heapSlope, unexplainedSlope }: Slopes, errors: number, log: Log) {
  const enough = half.length >= MIN_SLOPE_SAMPLES;
  const heapOk = heapSlope < HEAP_SLOPE_MAX;
  const redisOk = unexplainedSlope < REDIS_UNEXPLAINED_SLOPE_MAX;
  const growth = !enough ? 'INCONCLUSIVE' : heapOk && redisOk ? 'PASS' : 'FAIL';
  const ok = errors === 0 && growth !== 'FAIL';
  const exitCode = errors > 0 ? 1 : growth === 'FAIL' ? 2 : 0;
  const why = enough
    ? ''
    : ` (${half.length} samples in the second half, ${MIN_SLOPE_SAMPLES} needed: run at least ${(MIN_SLOPE_SAMPLES * 2 * SAMPLE_MS) / 1000} s)`;
  log(
    `verdict: ${ok ? 'PASS' : 'FAIL'}: errors ${errors} (must be 0); growth ${growth}${why}: ` +
      `gateway heap slope ${kbPerMin(heapSlope)} (must be < ${kbPerMin(HEAP_SLOPE_MAX)}), Redis slope beyond retained data ${kbPerMin(unexplainedSlope)} (must be < ${kbPerMin(REDIS_UNEXPLAINED_SLOPE_MAX)})`,
  );
  return { ok, exitCode, growth, heapOk, redisOk };
}

export function report(o: Outcome, log: Log): SoakResult {
  const { opts, w, gatewayErrors, startCensus, endCensus } = o;
  const { samples, started, sendSeconds, loadSeconds, maxLate } = o.load;
  const { expectedEvents, gotEvents, missing, extra, liveMin, liveTotal, eventLatency } = o.deliveries;
  const { queue, statuses, stored } = o.orders;
  const rec = w.rec;
  const g = slopes(opts, samples);
  const { first, last, heapSlope, rssSlope, redisSlope, retainedSlope, unexplainedSlope } = g;
  const { all, latencyByKind, errors } = logTraffic(o, g, log);
  logMemory(o, g, log);
  const { ok, exitCode, growth, heapOk, redisOk } = judge(opts, g, errors, log);
  return {
    ok,
    exitCode,
    options: opts,
    throughput: {
      target: opts.rate,
      started,
      achieved: round(started / sendSeconds, 2),
      finished: rec.opsDone,
      requests: rec.requests,
      requestsPerSec: round(rec.requests / loadSeconds, 2),
      maxLateMs: round(maxLate, 2),
    },
    latency: { overall: { p50: round(percentile(all, 0.5), 2), p99: round(percentile(all, 0.99), 2) }, byKind: latencyByKind },
    errors: Object.fromEntries(rec.errors),
    gatewayErrors,
    subscriptions: {
      expectedEvents,
      gotEvents,
      missing,
      extra,
      liveStatsPushes: liveTotal,
      fewestLiveStatsPushes: liveMin,
      latencyP50: percentile(eventLatency, 0.5),
      latencyP99: percentile(eventLatency, 0.99),
    },
    orders: { placed: w.orderIds.size, stored: stored.size, statuses, queue },
    memory: {
      samples,
      heapSlope,
      rssSlope,
      redisSlope,
      retainedSlope,
      unexplainedSlope,
      dbsizeStart: first.dbsize,
      dbsizeEnd: last.dbsize,
      dbsizeAfterDrain: endCensus.keys,
      startCensus,
      endCensus,
    },
    verdict: { growth, heapOk, redisOk },
  };
}
