/** A real gateway process (the built entry), its JSON log lines, and its exit. */
import { spawn, type ChildProcess } from 'node:child_process';

export interface LogLine {
  level: number;
  msg?: string;
  [k: string]: unknown;
}

export interface GatewayProcess {
  child: ChildProcess;
  lines: LogLine[];
  stdout(): string;
  stderr(): string;
  /** Resolves with the first log line matching `pred`; rejects after `ms` or when the process exits first. */
  waitFor(pred: (l: LogLine) => boolean, ms?: number): Promise<LogLine>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  kill(signal?: NodeJS.Signals): void;
}

/** Spawns `command args` (by default node on `entry`) with exactly `env` (plus PATH unless given); unset values are left out, as spawn does. */
export function spawnGateway(
  entry: string,
  env: Record<string, string | undefined>,
  wrap: { command: string; args: string[] } = { command: process.execPath, args: [entry] },
): GatewayProcess {
  const child = spawn(wrap.command, wrap.args, { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: LogLine[] = [];
  let out = '';
  let err = '';
  let pending = '';
  const waiters = new Set<() => void>();
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    pending += d.toString();
    const parts = pending.split('\n');
    pending = parts.pop() ?? '';
    for (const p of parts) {
      try {
        lines.push(JSON.parse(p) as LogLine);
      } catch {
        // not a JSON line
      }
    }
    for (const w of waiters) w();
  });
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.once('exit', (code, signal) => {
      for (const w of waiters) w();
      resolve({ code, signal, at: Date.now() });
    }),
  );
  return {
    child,
    lines,
    stdout: () => out,
    stderr: () => err,
    exited,
    kill: (signal = 'SIGTERM') => child.kill(signal),
    waitFor(pred, ms = 15_000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const hit = lines.find(pred);
          if (hit) return done(() => resolve(hit));
          if (child.exitCode !== null || child.signalCode !== null)
            done(() => reject(new Error(`process exited (${child.exitCode ?? child.signalCode}) first.\nstdout:\n${out}\nstderr:\n${err}`)));
        };
        const timer = setTimeout(() => done(() => reject(new Error(`no such log line within ${ms} ms.\nstdout:\n${out}\nstderr:\n${err}`))), ms);
        const done = (fn: () => void): void => {
          clearTimeout(timer);
          waiters.delete(check);
          fn();
        };
        waiters.add(check);
        check();
      });
    },
  };
}
