/** Bootstrap only: config -> app -> signals. */
import { loadConfig, ConfigError, type Config } from './config';
import type { App } from './app/app';

const SHUTDOWN_LIMIT_MS = 10_000;

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

async function main(): Promise<void> {
  const config = readConfig();
  let app: App | undefined;
  let stopping: string | undefined;
  const shutdown = (running: App, signal: string): void => {
    running.log.info({ signal }, 'shutting down');
    setTimeout(() => {
      running.log.error('shutdown took longer than 10 s; exiting');
      process.exit(1);
    }, SHUTDOWN_LIMIT_MS).unref();
    running.close().then(
      () => process.exit(0),
      (err: unknown) => {
        running.log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  // Installed before start-up so that a signal during it still stops a local redis-server cleanly.
  const onSignal = (signal: string): void => {
    if (stopping) {
      // A second signal while draining: stop now (exit handlers still stop a local redis-server).
      app?.log.warn({ signal }, 'second signal: exiting without waiting');
      process.exit(1);
    }
    stopping = signal;
    if (app) shutdown(app, signal);
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
  // Loaded only after the configuration is known to be good, so a bad variable is reported at once.
  const { startApp } = require('./app/app') as typeof import('./app/app');
  app = await startApp(config);
  if (stopping) shutdown(app, stopping);
}

main().catch((err: unknown) => {
  console.error(`Gateway failed to start: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
