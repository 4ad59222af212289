/**
 * Soak: a mixed workload at a fixed rate for a long time, then a report on
 * latency, errors, live events and memory growth.
 *
 * The load is open-loop: operations are started on a fixed schedule whether or
 * not earlier ones have finished, and each one's latency counts from the moment
 * it was due, so a slow gateway shows as latency instead of as a slower
 * schedule. The gateway (NODE_ENV=production, WORKER=1 so orders are processed,
 * rate limits off so the system is measured rather than the limiter) runs in its
 * own process on a private redis-server (AOF on); the load generator and the
 * WebSocket subscribers run here.
 *
 *   npm run bench -- soak                          # 10 minutes at 100 operations/s, 50 subscribers
 *   npm run bench -- soak --seconds 60 --rate 200 --subscribers 20
 *   SOAK_SECONDS=1800 npm run bench -- soak
 *
 * The files, by role: options.ts (the options), gateway.ts (the gateway's process),
 * requests.ts and recorder.ts (a request, and what requests and checks recorded), actors.ts,
 * setup.ts, queries.ts and workload.ts (who runs which operation, checked how), subscribers.ts,
 * load.ts (the open-loop schedule), samples.ts and census.ts (memory), checks.ts (what must hold
 * after the load), report.ts and format.ts (the report and the verdict), run.ts (one run).
 */
import { usageMessage, type Bench } from '../cli';
import { serve } from './gateway';
import { OPTIONS, parseSoakOptions, type SoakOptions } from './options';
import { runSoak } from './run';

export const bench: Bench = {
  options: OPTIONS,
  notes: [
    'Exit code: 1 when any request, check or subscription failed; 2 when there were no errors but memory',
    'grew beyond the thresholds (and for a mistake in the options); 0 otherwise.',
  ],
  async run(argv) {
    let opts: SoakOptions;
    try {
      opts = parseSoakOptions(argv, process.env);
    } catch (err) {
      console.error(usageMessage('soak', err as Error));
      return 2;
    }
    const r = await runSoak(opts);
    if (opts.json) console.log(JSON.stringify(r, null, 2));
    return r.exitCode;
  },
  serve: ([redisUrl]) => serve(redisUrl),
};
