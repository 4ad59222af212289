/**
 * The service container of a real process, for integration tests. src/ wires services in one
 * place (startApp: Redis -> every module's services and hooks -> HTTP), so this starts that on
 * an ephemeral port and hands back the process without its address: an integration test calls
 * services and reads Redis; sending requests is what test/e2e does.
 */
import type { Process } from '../../src/app/app';
import { startTestApp } from './app';

export interface ServicesHandle {
  /** The process: `services`, `redis`, `config`, `log`, `metrics`. */
  app: Process;
  /** Its key prefix. */
  prefix: string;
  /** Closes the process and flushes the prefix (on the run's shared Redis). */
  close(): Promise<void>;
}

/** Starts a process on `env` over the test defaults (see testEnv). */
export async function startServices(env: Record<string, string | undefined> = {}): Promise<ServicesHandle> {
  const t = await startTestApp(env);
  return { app: t.app, prefix: t.prefix, close: () => t.close() };
}
