/**
 * Benchmark entry: `npm run bench` (all), `npm run bench:me`, or
 * `npm run bench -- pipeline --requests 5000`.
 *
 * me:       --duration <s> (10), --connections <n> (50), --rounds <n> (2), --warmup <s> (3),
 *           --profile <dir> (CPU profile of the gateway), --only gateway|raw
 * pipeline: --requests <n> (5000), --rounds <n> (5 when not given), --query me|sessions
 * both:     --json (results as JSON on stdout)
 */
import { copyLuaBesideBuild } from './lua';
import path from 'node:path';
import { runMeBench, type MeBenchOptions } from './me';
import { PIPELINE_VARIANTS, QUERIES, runPipelineBench } from './pipeline';

interface Options extends MeBenchOptions {
  requests: number;
  query: keyof typeof QUERIES;
  roundsGiven: boolean;
}

type Log = (line: string) => void;

const BENCHMARKS: Record<string, (opts: Options, log: Log) => Promise<unknown>> = {
  me: (opts, log) => runMeBench(opts, log),
  pipeline: (opts, log) =>
    runPipelineBench(PIPELINE_VARIANTS, { requests: opts.requests, rounds: opts.roundsGiven ? opts.rounds : 5, query: QUERIES[opts.query] }, log),
};

function parseArgs(argv: string[]): { names: string[]; opts: Options; json: boolean } {
  const opts: Options = { duration: 10, connections: 50, rounds: 2, warmup: 3, requests: 5000, query: 'me', roundsGiven: false };
  const names: string[] = [];
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const num = (): number => {
      const n = Number(argv[++i]);
      if (!Number.isFinite(n) || n < 0) throw new Error(`${a} needs a number`);
      return n;
    };
    if (a === '--duration') opts.duration = num();
    else if (a === '--connections') opts.connections = num();
    else if (a === '--rounds') {
      opts.rounds = num();
      opts.roundsGiven = true;
    } else if (a === '--warmup') opts.warmup = num();
    else if (a === '--requests') opts.requests = num();
    else if (a === '--profile') opts.profileDir = path.resolve(argv[++i]);
    else if (a === '--only') {
      const side = argv[++i];
      if (side !== 'gateway' && side !== 'raw') throw new Error('--only takes gateway or raw');
      opts.only = side;
    } else if (a === '--query') {
      const q = argv[++i];
      if (!(q in QUERIES)) throw new Error(`--query takes ${Object.keys(QUERIES).join(' or ')}`);
      opts.query = q as keyof typeof QUERIES;
    } else if (a === '--json') json = true;
    else if (BENCHMARKS[a]) names.push(a);
    else throw new Error(`unknown argument ${a}; benchmarks: ${Object.keys(BENCHMARKS).join(', ')}`);
  }
  return { names: names.length ? names : Object.keys(BENCHMARKS), opts, json };
}

async function main(): Promise<void> {
  const { names, opts, json } = parseArgs(process.argv.slice(2));
  copyLuaBesideBuild(__dirname);
  const results: Record<string, unknown> = {};
  const log: Log = json ? () => {} : (l) => console.log(l);
  for (const name of names) results[name] = await BENCHMARKS[name](opts, log);
  if (json) console.log(JSON.stringify(results, null, 2));
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err instanceof Error ? err.stack : err);
    process.exit(1);
  },
);
