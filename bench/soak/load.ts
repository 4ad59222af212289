/**
 * The load: operations started on a fixed schedule (open loop) for the run's length, while the
 * gateway and Redis are sampled every SAMPLE_MS, a product is restocked every RESTOCK_MS and a
 * progress line is printed every PROGRESS_MS.
 */
import { loadavg } from 'node:os';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type Redis from 'ioredis';
import type { ChildServer } from '../child';
import { clock, mb, ms, round } from './format';
import type { SoakOptions } from './options';
import { percentile, sortedOf } from './recorder';
import { REQUEST_TIMEOUT_MS } from './requests';
import { SAMPLE_MS, takeSample, type Sample } from './samples';
import type { Subscribers } from './subscribers';
import { RESTOCK_MS, type Workload } from './workload';

const PROGRESS_MS = 30_000;

export interface Load {
  /** Every SAMPLE_MS from the start, and one at the end. */
  samples: Sample[];
  /** Operations started, of seconds x rate. */
  started: number;
  /** Seconds until the last operation was started, and until all had finished (or REQUEST_TIMEOUT_MS more passed). */
  sendSeconds: number;
  loadSeconds: number;
  /** How late the scheduler started an operation, at worst (ms). */
  maxLate: number;
  /** This process's event-loop delay during the load. */
  lag: IntervalHistogram;
  /** The machine's load average at the start. */
  startLoad: string;
  /** This process's CPU usage at the start. */
  ownCpu0: NodeJS.CpuUsage;
}

export async function runLoad(
  opts: SoakOptions,
  gateway: ChildServer,
  redis: Redis,
  w: Workload,
  subs: Subscribers,
  startKeys: number,
  log: (line: string) => void,
): Promise<Load> {
  const rec = w.rec;
  const timers: NodeJS.Timeout[] = [];
  try {
    const lag = monitorEventLoopDelay({ resolution: 10 });
    lag.enable();

    const startLoad = loadavg()
      .map((x) => round(x, 2))
      .join(' ');
    const ownCpu0 = process.cpuUsage();
    const t0 = performance.now();
    const elapsed = (): number => (performance.now() - t0) / 1000;
    const samples: Sample[] = [await takeSample(gateway, redis, 0)];
    log(
      `start: Redis ${mb(samples[0].usedMemory)} used_memory, ${startKeys} keys; gateway heap ${mb(samples[0].gateway.heapUsedAfterGc)}${opts.gc ? ' (after a full collection)' : ''}, rss ${mb(samples[0].gateway.rss)}`,
    );

    let sampling: Promise<void> | undefined;
    const sample = (): void => {
      if (sampling) return;
      sampling = takeSample(gateway, redis, elapsed())
        .then((s) => void samples.push(s))
        .catch((err) => rec.fail('sampler', 'SAMPLE_FAILED', String(err), false))
        .finally(() => (sampling = undefined));
    };
    timers.push(setInterval(sample, SAMPLE_MS));
    timers.push(setInterval(() => void w.restock(), RESTOCK_MS));
    const inflight = new Set<Promise<void>>();
    let lastProgress = { t: 0, ops: 0 };
    const progress = (): void => {
      const t = elapsed();
      const win = sortedOf(rec.window);
      const s = samples[samples.length - 1];
      log(
        `[${clock(t)}] ${rec.opsDone} ops done, ${round((rec.opsDone - lastProgress.ops) / (t - lastProgress.t))}/s (target ${opts.rate}/s), ${inflight.size} in flight; ${round(rec.windowRequests / (t - lastProgress.t))} req/s ` +
          `p50 ${ms(percentile(win, 0.5))} p99 ${ms(percentile(win, 0.99))}; errors ${rec.errorCount()}; ` +
          `events ${subs.sum(subs.events)} of ${w.tracked * opts.subscribers}, liveStats ${subs.sum(subs.live)}; ` +
          `gateway heap ${mb(s.gateway.heapUsedAfterGc)}, event-loop delay max ${ms(s.gateway.loopDelayMaxMs)}; Redis ${mb(s.usedMemory)}, ${s.dbsize} keys`,
      );
      rec.window = [];
      rec.windowRequests = 0;
      lastProgress = { t, ops: rec.opsDone };
    };
    timers.push(setInterval(progress, PROGRESS_MS));

    // Open loop: operation k is due at t0 + k / rate, whatever the state of earlier ones.
    const total = Math.round(opts.seconds * opts.rate);
    const interval = 1000 / opts.rate;
    let started = 0;
    let maxLate = 0;
    while (started < total) {
      const now = performance.now();
      while (started < total && t0 + started * interval <= now) {
        const due = t0 + started * interval;
        maxLate = Math.max(maxLate, now - due);
        const p: Promise<void> = w.run(w.pick(), due).finally(() => inflight.delete(p));
        inflight.add(p);
        started++;
      }
      if (started < total) await sleep(Math.max(0, t0 + started * interval - performance.now()));
    }
    const sendSeconds = elapsed();
    await Promise.race([Promise.all(inflight), sleep(REQUEST_TIMEOUT_MS + 1000)]);
    const loadSeconds = elapsed();
    for (const t of timers.splice(0)) clearInterval(t);
    lag.disable();
    await sampling;
    if (samples[samples.length - 1].t < opts.seconds - 1) samples.push(await takeSample(gateway, redis, elapsed()));
    if (inflight.size)
      rec.fail('client', 'STILL_IN_FLIGHT', `${inflight.size} operations unfinished ${REQUEST_TIMEOUT_MS / 1000} s after the last was started`, false);

    return { samples, started, sendSeconds, loadSeconds, maxLate, lag, startLoad, ownCpu0 };
  } finally {
    for (const t of timers) clearInterval(t);
  }
}
