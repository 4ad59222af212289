/** The soak's gateway: its own process (`soak --serve <redis url>`), which reports its memory, CPU and event-loop delay when asked. */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { startApp } from '../../src/app/app';
import { loadConfig } from '../../src/config';

export const PREFIX = 'soak';
export const ADMIN = { email: 'soak-admin@example.com', password: 'soak-admin-password-1' };

export async function serve(redisUrl: string): Promise<void> {
  const app = await startApp(
    loadConfig({
      NODE_ENV: 'production',
      PORT: '0',
      HOST: '127.0.0.1',
      REDIS_URL: redisUrl,
      KEY_PREFIX: PREFIX,
      LOG_LEVEL: 'error',
      RATE_LIMIT_DEFAULT: 'off',
      SCRYPT_N: '1024',
      WORKER: '1',
      ADMIN_EMAIL: ADMIN.email,
      ADMIN_PASSWORD: ADMIN.password,
      // Every subscriber connects from this one address.
      WS_MAX_CONNECTIONS_PER_IP: '1000000',
    }),
  );
  // How late the gateway's event loop ran between samples: past the 0.8 s command timeout, Redis calls fail.
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  process.on('message', (msg: string) => {
    if (msg === 'mem') {
      const loopDelayMaxMs = loop.max / 1e6;
      const loopDelayP99Ms = loop.percentile(99) / 1e6;
      loop.reset();
      const before = process.memoryUsage();
      const gc = (globalThis as { gc?: () => void }).gc;
      const gcStart = performance.now();
      gc?.();
      const gcMs = performance.now() - gcStart;
      const after = gc ? process.memoryUsage() : before;
      const cpu = process.cpuUsage();
      process.send!({
        mem: {
          rss: after.rss,
          heapUsed: before.heapUsed,
          heapUsedAfterGc: after.heapUsed,
          heapTotal: after.heapTotal,
          external: after.external,
          cpuMicros: cpu.user + cpu.system,
          loopDelayMaxMs,
          loopDelayP99Ms,
          gcMs,
        },
      });
    }
    if (msg === 'stop') void app.close().finally(() => process.exit(0));
  });
  process.send!({ url: app.url });
}

export interface GatewayMemory {
  rss: number;
  heapUsed: number;
  heapUsedAfterGc: number;
  heapTotal: number;
  external: number;
  cpuMicros: number;
  /** Event-loop delay since the previous sample. */
  loopDelayMaxMs: number;
  loopDelayP99Ms: number;
  /** How long the forced collection took (it blocks the gateway's event loop). */
  gcMs: number;
}
