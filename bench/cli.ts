/**
 * What a benchmark gives the runner (bench/run.ts), and the option parser they all use, so
 * that every bench lists its options the same way (`--help`) and refuses the ones it lacks.
 */

export interface OptionSpec<F extends string = string> {
  /** As typed: `--duration`. */
  flag: F;
  /** The value's placeholder (`<s>`); an option without one is a switch. */
  value?: string;
  /** The only values taken; the placeholder is then `a|b|c`. */
  choices?: readonly string[];
  help: string;
  default?: number | string;
}

export interface Bench {
  options: readonly OptionSpec[];
  /** Lines printed after the options by `--help` (environment variables, exit codes). */
  notes?: readonly string[];
  /** Runs the benchmark; resolves with the process's exit code (0 when nothing). */
  run(argv: string[]): Promise<number | void>;
  /** The bench's child process (`<name> --serve ...`, started by child.ts); it exits when it is done. */
  serve?(argv: string[]): Promise<void>;
}

/** A mistake in the command line: the runner prints its message without a stack. */
export class UsageError extends Error {}

/** The message for a usage error, with where to look. */
export function usageMessage(name: string, err: Error): string {
  return `bench ${name}: ${err.message} (npm run bench -- ${name} --help lists its options)`;
}

const placeholder = (o: OptionSpec): string => (o.choices ? o.choices.join('|') : (o.value ?? ''));

export function helpText(name: string, about: string, bench: Bench): string {
  const rows = bench.options.map((o) => [
    `${o.flag}${o.value || o.choices ? ` ${placeholder(o)}` : ''}`,
    `${o.help}${o.default === undefined ? '' : ` (default ${o.default})`}`,
  ]);
  const width = Math.max(0, ...rows.map(([flag]) => flag.length));
  return [
    `npm run bench -- ${name}${rows.length ? ' [options]' : ''}`,
    `  ${about}`,
    ...(rows.length ? ['', 'options:', ...rows.map(([flag, help]) => `  ${flag.padEnd(width)}  ${help}`)] : []),
    ...(bench.notes?.length ? ['', ...bench.notes] : []),
  ].join('\n');
}

type NumberRule = 'non-negative number' | 'positive number' | 'positive integer';
const RULES: Record<NumberRule, (n: number) => boolean> = {
  'non-negative number': (n) => Number.isFinite(n) && n >= 0,
  'positive number': (n) => Number.isFinite(n) && n > 0,
  'positive integer': (n) => Number.isInteger(n) && n > 0,
};

/** The options a command line gave, each checked against its spec. */
export class Given<F extends string> {
  constructor(
    private readonly specs: readonly OptionSpec<F>[],
    private readonly values: Map<F, string | true>,
  ) {}

  has(flag: F): boolean {
    return this.values.has(flag);
  }

  /** The value given, else the spec's default. */
  string(flag: F): string | undefined {
    const v = this.values.get(flag);
    if (typeof v === 'string') return v;
    const d = this.spec(flag).default;
    return d === undefined ? undefined : String(d);
  }

  /** The value given as a number, else `fallback`, else the spec's default. */
  number(flag: F, rule: NumberRule = 'non-negative number', fallback?: number): number {
    const v = this.values.get(flag);
    if (typeof v !== 'string') {
      const d = fallback ?? this.spec(flag).default;
      if (typeof d !== 'number') throw new Error(`${flag} has no default`);
      return d;
    }
    const n = Number(v);
    if (v.trim() === '' || !RULES[rule](n)) throw new UsageError(`${flag} needs a ${rule}, got "${v}"`);
    return n;
  }

  private spec(flag: F): OptionSpec<F> {
    return this.specs.find((s) => s.flag === flag)!;
  }
}

/** Reads `argv` against `specs`: an unknown option, a missing value or a value not among the choices is a UsageError. */
export function parseOptions<F extends string>(argv: string[], specs: readonly OptionSpec<F>[]): Given<F> {
  const values = new Map<F, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const spec = specs.find((s) => s.flag === argv[i]);
    if (!spec) throw new UsageError(`unknown ${argv[i].startsWith('-') ? 'option' : 'argument'} "${argv[i]}"`);
    if (!spec.value && !spec.choices) {
      values.set(spec.flag, true);
      continue;
    }
    const v = argv[++i];
    if (v === undefined) throw new UsageError(`${spec.flag} needs a value: ${placeholder(spec)}`);
    if (spec.choices && !spec.choices.includes(v)) throw new UsageError(`${spec.flag} takes ${spec.choices.join(' or ')}, got "${v}"`);
    values.set(spec.flag, v);
  }
  return new Given(specs, values);
}

/** The load of a bench that drives its sides in turn with autocannon (me, peer, ratelimit): the same four options, the same defaults. */
export const LOAD_OPTIONS = [
  { flag: '--duration', value: '<s>', help: 'seconds per measured run', default: 10 },
  { flag: '--connections', value: '<n>', help: 'concurrent connections', default: 50 },
  { flag: '--rounds', value: '<n>', help: 'measured runs per side', default: 2 },
  { flag: '--warmup', value: '<s>', help: 'seconds of unmeasured warm-up per side', default: 3 },
] as const;

type LoadFlag = (typeof LOAD_OPTIONS)[number]['flag'];

/** The load asked for on the command line: a run of some seconds, at least one connection and one round; warm-up may be 0. */
export function loadOf(a: Pick<Given<LoadFlag>, 'number'>): { duration: number; connections: number; rounds: number; warmup: number } {
  return {
    duration: a.number('--duration', 'positive number'),
    connections: a.number('--connections', 'positive integer'),
    rounds: a.number('--rounds', 'positive integer'),
    warmup: a.number('--warmup'),
  };
}
