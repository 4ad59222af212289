/**
 * A benchmark's child processes: the runner (bench/run.ts) again, as `<bench> --serve <args>`,
 * which hands `<args>` to that bench's `serve`. The parent talks to the child over IPC.
 */
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';

/** run.js beside this file in the build, run.ts beside it in the sources. */
const RUNNER = path.join(__dirname, `run${path.extname(__filename)}`);

/** Forks the runner as `bench`'s child role with `args` (stdout and stderr shared, IPC open). */
export function forkBench(bench: string, args: string[], execArgv: string[] = []): ChildProcess {
  return fork(RUNNER, [bench, '--serve', ...args], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
}

export interface ChildServer {
  url: string;
  child: ChildProcess;
  /** Asks the child for a value it reports by name (e.g. `cpu`, CPU time used so far); it answers `{ [what]: value }`. */
  ask<T>(what: string): Promise<T>;
  stop(): Promise<void>;
}

/**
 * Starts `bench`'s server side with `args`; resolves once the child sends `{ url }`.
 * BENCH_PROFILE=<dir> writes a CPU profile of each child there, sampled every
 * BENCH_PROFILE_INTERVAL µs (Node's default: 1000).
 */
export function forkServer(bench: string, args: string[], label: string, execArgv: string[] = []): Promise<ChildServer> {
  const interval = process.env.BENCH_PROFILE_INTERVAL ? [`--cpu-prof-interval=${Number(process.env.BENCH_PROFILE_INTERVAL)}`] : [];
  const profile = process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`, ...interval] : [];
  const child = forkBench(bench, args, [...execArgv, ...profile]);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`${label} exited with code ${code}`)));
    child.once('message', (msg: { url: string }) =>
      resolve({
        url: msg.url,
        child,
        ask: <T>(what: string) =>
          new Promise<T>((done) => {
            child.once('message', (m: Record<string, T>) => done(m[what]));
            child.send(what);
          }),
        stop: () =>
          new Promise<void>((done) => {
            if (child.exitCode !== null) return done();
            child.removeAllListeners('exit');
            child.once('exit', () => done());
            child.send('stop');
          }),
      }),
    );
  });
}

/**
 * The child's side of {@link forkServer}: tells the parent its `url`, answers `cpu` with the CPU
 * time (user + system, µs) this process has used so far and `system` with the kernel's part of it,
 * and on `stop` runs `close` and exits.
 */
export function serveParent(url: string, close: () => Promise<void>): void {
  process.on('message', (msg) => {
    if (msg === 'cpu') {
      const { user, system } = process.cpuUsage();
      process.send!({ cpu: user + system });
    }
    if (msg === 'system') process.send!({ system: process.cpuUsage().system });
    if (msg === 'stop') void close().finally(() => process.exit(0));
  });
  process.send!({ url });
}

/**
 * The variables a benchmark's gateway starts from: production mode on `redisUrl` under `prefix`,
 * on an ephemeral port, rate limits off, no worker, cheap password hashing for its test accounts;
 * `extra` overrides or adds (an `undefined` leaves the gateway's default).
 */
export function benchGatewayEnv(redisUrl: string, prefix: string, extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return {
    NODE_ENV: 'production',
    PORT: '0',
    HOST: '127.0.0.1',
    REDIS_URL: redisUrl,
    KEY_PREFIX: prefix,
    RATE_LIMIT_DEFAULT: 'off',
    LOG_LEVEL: 'silent',
    WORKER: '0',
    SCRYPT_N: '1024',
    ...extra,
  };
}
