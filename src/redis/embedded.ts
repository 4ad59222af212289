/**
 * Resolves `REDIS_URL` when it is unset: use 127.0.0.1:6379 when something answers
 * there, else start a local `redis-server` (AOF on, data under `.data/redis`) and
 * stop it on exit. With neither, start-up fails with a message saying what to install.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

export interface EmbeddedRedis {
  url: string;
  stop(): Promise<void>;
}

/** Resolves true when a Redis server answers PING at host:port within `timeoutMs`. */
export function pingRedis(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (d) => done(/^\+PONG|^-NOAUTH/.test(d.toString())));
  });
}

/** Asks the OS for a free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

function hasRedisServer(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** Starts `redis-server` with AOF on under `dataDir`, on a free port. */
export async function startRedisServer(
  dataDir: string,
  extraArgs: string[] = [],
  fixedPort?: number,
): Promise<EmbeddedRedis & { port: number; child: ChildProcess }> {
  mkdirSync(dataDir, { recursive: true });
  const port = fixedPort ?? (await freePort());
  const child = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dataDir,
      '--appendonly',
      'yes',
      '--appendfsync',
      'everysec',
      '--save',
      '',
      '--maxmemory-policy',
      'noeviction',
      ...extraArgs,
    ],
    { stdio: 'ignore' },
  );
  let spawnError: Error | undefined;
  child.once('error', (err) => (spawnError = err));
  // If this process exits without stop() (a crash, process.exit), the server must not linger.
  const killOnExit = (): void => {
    child.kill('SIGTERM');
  };
  process.once('exit', killOnExit);
  child.once('exit', () => process.off('exit', killOnExit));
  const deadline = Date.now() + 10_000;
  while (!(await pingRedis('127.0.0.1', port))) {
    if (spawnError) throw new Error(`redis-server could not be started: ${spawnError.message}`);
    if (child.exitCode !== null) throw new Error(`redis-server exited with code ${child.exitCode} (is ${dataDir} writable?)`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error('redis-server did not answer within 10 s');
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        // SIGTERM lets Redis flush the AOF; one that does not exit in 5 s is killed.
        const force = setTimeout(() => child.kill('SIGKILL'), 5000);
        child.once('exit', () => {
          clearTimeout(force);
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}

/** Decides which Redis `npm start` uses when none is configured. */
export async function resolveDefaultRedis(projectRoot: string): Promise<EmbeddedRedis> {
  if (await pingRedis('127.0.0.1', 6379)) return { url: 'redis://127.0.0.1:6379', stop: async () => {} };
  if (!hasRedisServer()) {
    throw new Error(
      'No Redis configured (REDIS_URL, REDIS_CLUSTER_NODES or REDIS_SENTINELS), none answers at 127.0.0.1:6379, ' +
        'and redis-server is not installed. Install Redis 7 (e.g. `apt-get install redis-server`) or set REDIS_URL.',
    );
  }
  return startRedisServer(path.join(projectRoot, '.data', 'redis'));
}
