/**
 * The entry points' one start-up path: config (a bad variable exits 2 naming it) -> the app
 * (gateway or worker) -> SIGTERM/SIGINT. Shutdown drains and stops in order, within 10 s plus
 * WORKER_SHUTDOWN_GRACE when the process runs job workers; a second signal exits at once.
 */
import { loadConfig, ConfigError, type Config } from '../config';
import type { Role } from '../modules/module';
import type * as AppModule from './app';
import type { Process } from './app';

const CLOSE_LIMIT_MS = 10_000;

function readConfig(): Config {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`Configuration error: ${err.message}`);
      process.exit(2);
    }
    throw err;
  }
}

export function runMain(role: Role): void {
  const config = readConfig();
  const runsWorkers = role === 'worker' || config.jobs.runInProcess;
  const limitMs = CLOSE_LIMIT_MS + (runsWorkers ? config.jobs.shutdownGraceMs : 0);
  let running: Process | undefined;
  let stopping: string | undefined;
  const shutdown = (p: Process, signal: string): void => {
    p.log.info({ signal, role }, 'shutting down');
    setTimeout(() => {
      p.log.error(`shutdown took longer than ${limitMs / 1000} s; exiting`);
      process.exit(1);
    }, limitMs).unref();
    p.close().then(
      () => process.exit(0),
      (err: unknown) => {
        p.log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  // Installed before start-up so that a signal during it still stops a local redis-server cleanly.
  const onSignal = (signal: string): void => {
    if (stopping) {
      // A second signal while draining: stop now (exit handlers still stop a local redis-server).
      running?.log.warn({ signal }, 'second signal: exiting without waiting');
      process.exit(1);
    }
    stopping = signal;
    if (running) shutdown(running, signal);
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
  // Loaded only after the configuration is known to be good, so a bad variable is reported at once.
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- a lazy load; import() of a .ts source is not resolved under ts-jest
  const { startApp, startWorker } = require('./app') as typeof AppModule;
  (role === 'gateway' ? startApp(config) : startWorker(config)).then(
    (p) => {
      running = p;
      if (stopping) shutdown(p, stopping);
    },
    (err: unknown) => {
      console.error(`${role === 'gateway' ? 'Gateway' : 'Worker'} failed to start: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    },
  );
}
