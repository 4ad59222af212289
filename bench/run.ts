/**
 * The one way to run a benchmark: `npm run bench -- <name> [options]`.
 *
 *   npm run bench                      lists the benchmarks
 *   npm run bench -- <name> --help     a benchmark's options
 *   npm run bench -- <name> [options]  runs it; the exit code is the benchmark's
 *
 * A benchmark's child processes run this file too, as `<name> --serve <args>` (child.ts).
 * Each process loads only the benchmark it names.
 */
import { helpText, UsageError, usageMessage, type Bench } from './cli';
import { copyLuaBesideBuild } from './lua';

/**
 * Name, what it measures (docs/performance.md has a section on each), and its module. The soak's is
 * named in full: a build folder may still hold the soak.js of before the split, which `./soak` would find first.
 */
const BENCHES: Record<string, { about: string; file: string }> = {
  me: { about: 'authenticated { me { id } } over HTTP: the gateway against a bare node:http + ioredis server', file: 'me' },
  peer: { about: 'authenticated { me { id } }: the gateway against Express + express-session + connect-redis + rate-limiter-flexible + Apollo', file: 'peer' },
  pipeline: { about: "the gateway's own CPU per request, without I/O", file: 'pipeline' },
  ratelimit: { about: "the rate limiter's price: throughput, CPU, round trips, memory per client", file: 'ratelimit' },
  commerce: { about: 'addToCart, checkout and catalog reads: round trips, Redis time, throughput', file: 'commerce' },
  jobs: { about: 'jobs enqueued and run to completion per second, against BullMQ alone and a list queue', file: 'jobs' },
  analytics: { about: 'page views per second, liveStats and analyticsEvents fan-out to WebSocket subscribers', file: 'analytics' },
  collect: { about: 'page views per second through trackPageViews (batches), POST /collect and trackPageView, with round trips per batch', file: 'collect' },
  history: { about: 'Redis memory per day of analytics history: a synthetic day of 100,000 visitors over 10,000 pages', file: 'history' },
  cache: { about: 'the shared cache: ns per hit against Map.get, Redis commands per hit, invalidation delay between two instances', file: 'cache' },
  fanout: { about: 'productUpdated to 5,000 sockets in another process: write-to-last-delivery latency, CPU per delivery', file: 'fanout' },
  refused: { about: 'what a refused document costs the gateway and its caller', file: 'refused' },
  tokens: { about: 'token counts of the documents real clients send (sizes QUERY_MAX_TOKENS)', file: 'tokens' },
  soak: { about: 'a mixed workload at a fixed rate for a long time: errors, latency, memory growth', file: 'soak/index' },
};

function list(): string {
  const width = Math.max(...Object.keys(BENCHES).map((n) => n.length));
  return [
    'npm run bench -- <name> [options]    (<name> --help: its options)',
    '',
    ...Object.entries(BENCHES).map(([name, b]) => `  ${name.padEnd(width)}  ${b.about}`),
  ].join('\n');
}

function load(file: string): Bench {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- a lazy load (a child needs only its bench); import() would need the built file's extension
  return (require(`./${file}`) as { bench: Bench }).bench;
}

/** Resolves with the exit code, or with nothing for a child process, which exits by itself. */
async function main(argv: string[]): Promise<number | void> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h') {
    console.log(list());
    return 0;
  }
  const entry = Object.hasOwn(BENCHES, name) ? BENCHES[name] : undefined;
  if (!entry) throw new UsageError(`unknown benchmark "${name}"\n\n${list()}`);
  const bench = load(entry.file);
  if (rest[0] === '--serve') {
    if (!bench.serve) throw new UsageError(`${name} has no child process`);
    return bench.serve(rest.slice(1));
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(helpText(name, entry.about, bench));
    return 0;
  }
  copyLuaBesideBuild(__dirname);
  return (await bench.run(rest)) ?? 0;
}

const argv = process.argv.slice(2);
main(argv).then(
  (code) => {
    if (code !== undefined) process.exit(code);
  },
  (err: unknown) => {
    if (err instanceof UsageError) console.error(argv[0] && Object.hasOwn(BENCHES, argv[0]) ? usageMessage(argv[0], err) : `bench: ${err.message}`);
    else console.error(err instanceof Error ? err.stack : err);
    process.exit(1);
  },
);
