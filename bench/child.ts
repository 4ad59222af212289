/** Runs a benchmark's server side in a child process (the bench file itself with `--serve ...`) and talks to it over IPC. */
import { fork, type ChildProcess } from 'node:child_process';
import { copyLuaBesideBuild } from './lua';

export interface ChildServer {
  url: string;
  child: ChildProcess;
  /** Asks the child for a value it reports by name (e.g. `cpu`, CPU time used so far); it answers `{ [what]: value }`. */
  ask<T>(what: string): Promise<T>;
  stop(): Promise<void>;
}

/** Forks `file` with `args`; resolves once the child sends `{ url }`. BENCH_PROFILE=<dir> writes a CPU profile of each child there. */
export function forkServer(file: string, args: string[], label: string, execArgv: string[] = []): Promise<ChildServer> {
  const profile = process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [];
  const child = fork(file, args, { execArgv: [...execArgv, ...profile], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
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
 * A bench file's entry point. `--serve <args>` runs its server side (the child that
 * {@link forkServer} starts); anything else copies the Lua scripts beside the build and runs
 * the bench, whose promise gives the exit code (default 0). A failure prints and exits 1.
 */
export function benchMain(serve: (args: string[]) => Promise<unknown>, bench: (args: string[]) => Promise<number | void>): void {
  const fail = (err: unknown): void => {
    console.error(err instanceof Error ? err.stack : err);
    process.exit(1);
  };
  const args = process.argv.slice(2);
  if (args[0] === '--serve') {
    serve(args.slice(1)).catch(fail);
    return;
  }
  copyLuaBesideBuild(__dirname);
  bench(args).then((code) => process.exit(code ?? 0), fail);
}
