/** The soak's options: each a flag or an environment variable, the flag winning. */
import { parseOptions, type OptionSpec } from '../cli';

export interface SoakOptions {
  seconds: number;
  /** Operations started per second, across the whole mix. */
  rate: number;
  subscribers: number;
  /** Force a full collection in the gateway before each heap sample, so the heap figure is what is retained. */
  gc: boolean;
  json: boolean;
}

export const OPTIONS = [
  { flag: '--seconds', value: '<s>', help: 'length of the load, or SOAK_SECONDS', default: 600 },
  { flag: '--rate', value: '<ops/s>', help: 'operations started per second, or SOAK_RATE', default: 100 },
  { flag: '--subscribers', value: '<n>', help: 'WebSocket subscribers, or SOAK_SUBSCRIBERS', default: 50 },
  { flag: '--no-gc', help: "samples the gateway's heap without a forced collection first, or SOAK_NO_GC=1" },
  { flag: '--json', help: 'the summary as JSON after the report' },
] as const satisfies readonly OptionSpec[];

/** A positive number from the environment, if set there. */
function fromEnv(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} needs a positive number, got "${raw}"`);
  return n;
}

export function parseSoakOptions(argv: string[], env: NodeJS.ProcessEnv): SoakOptions {
  const a = parseOptions(argv, OPTIONS);
  return {
    seconds: a.number('--seconds', 'positive number', fromEnv(env, 'SOAK_SECONDS')),
    rate: a.number('--rate', 'positive number', fromEnv(env, 'SOAK_RATE')),
    subscribers: Math.round(a.number('--subscribers', 'positive number', fromEnv(env, 'SOAK_SUBSCRIBERS'))),
    gc: !a.has('--no-gc') && env.SOAK_NO_GC !== '1',
    json: a.has('--json'),
  };
}
