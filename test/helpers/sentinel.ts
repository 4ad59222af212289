/**
 * A real Sentinel setup for failover tests: one primary, one replica and three
 * sentinels (quorum 2) started from `redis-server` binaries on free ports.
 * Sentinels declare a primary down after 1 s, so a failover completes in a few.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Redis from 'ioredis';
import { freePort, pingRedis } from '../../src/redis/embedded';

export const SENTINEL_MASTER = 'gwmaster';

interface Proc {
  port: number;
  child: ChildProcess;
}

export interface TestSentinel {
  masterName: string;
  /** `host:port,...` of the three sentinels, as REDIS_SENTINELS takes it. */
  sentinels: string;
  primaryPort: number;
  replicaPort: number;
  /** The address the sentinels currently name as primary. */
  currentPrimary(): Promise<number>;
  /** SIGKILLs the data node on `port`. */
  kill(port: number): Promise<void>;
  /** Stops everything and removes the data. Idempotent. */
  stop(): Promise<void>;
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

async function query<T>(port: number, ...args: string[]): Promise<T | null> {
  const r = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  try {
    await r.connect();
    return (await r.call(args[0], ...args.slice(1))) as T;
  } catch {
    return null;
  } finally {
    r.disconnect();
  }
}

async function until(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function waitPing(p: Proc): Promise<void> {
  await until(`redis on ${p.port} did not answer`, 10_000, async () => {
    if (p.child.exitCode !== null) throw new Error(`process on ${p.port} exited with code ${p.child.exitCode}`);
    return pingRedis('127.0.0.1', p.port);
  });
}

const pairs = (flat: string[] | null): Record<string, string> => {
  const out: Record<string, string> = {};
  for (let i = 0; flat && i < flat.length; i += 2) out[flat[i]] = flat[i + 1];
  return out;
};

/** Starts primary, replica and three sentinels; resolves when the sentinels know each other and the replica. */
export async function startSentinel(): Promise<TestSentinel> {
  const dir = mkdtempSync(path.join(tmpdir(), 'gw-sentinel-'));
  const procs: Proc[] = [];
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await Promise.all(procs.map((p) => (p.child.kill('SIGKILL'), exited(p.child))));
    rmSync(dir, { recursive: true, force: true });
  };
  const data = (port: number, extra: string[]): Proc => {
    const d = path.join(dir, `redis-${port}`);
    mkdirSync(d);
    // repl-diskless-sync-delay 0: the replica syncs at once instead of after 5 s.
    const args = [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      d,
      '--appendonly',
      'yes',
      '--appendfsync',
      'everysec',
      '--save',
      '',
      '--repl-diskless-sync-delay',
      '0',
      ...extra,
    ];
    const p = { port, child: spawn('redis-server', args, { stdio: 'ignore' }) };
    procs.push(p);
    return p;
  };
  try {
    const primaryPort = await freePort();
    const replicaPort = await freePort();
    const primary = data(primaryPort, []);
    await waitPing(primary);
    const replica = data(replicaPort, ['--replicaof', '127.0.0.1', String(primaryPort)]);
    await waitPing(replica);
    await until('replica did not sync', 10_000, async () => /master_link_status:up/.test((await query<string>(replicaPort, 'INFO', 'replication')) ?? ''));

    const sentinelPorts: number[] = [];
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      const conf = path.join(dir, `sentinel-${port}.conf`);
      writeFileSync(
        conf,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${dir}`,
          `sentinel monitor ${SENTINEL_MASTER} 127.0.0.1 ${primaryPort} 2`,
          `sentinel down-after-milliseconds ${SENTINEL_MASTER} 1000`,
          `sentinel failover-timeout ${SENTINEL_MASTER} 5000`,
          `sentinel parallel-syncs ${SENTINEL_MASTER} 1`,
          '',
        ].join('\n'),
      );
      const p = { port, child: spawn('redis-server', [conf, '--sentinel'], { stdio: 'ignore' }) };
      procs.push(p);
      sentinelPorts.push(port);
      await waitPing(p);
    }
    await until('sentinels did not discover each other and the replica', 20_000, async () => {
      const views = await Promise.all(sentinelPorts.map((p) => query<string[]>(p, 'SENTINEL', 'MASTER', SENTINEL_MASTER)));
      return views.every((v) => {
        const m = pairs(v);
        return m['num-other-sentinels'] === '2' && m['num-slaves'] === '1';
      });
    });
    const currentPrimary = async (): Promise<number> => {
      const addr = await query<string[]>(sentinelPorts[0], 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', SENTINEL_MASTER);
      return Number(addr?.[1] ?? 0);
    };
    return {
      masterName: SENTINEL_MASTER,
      sentinels: sentinelPorts.map((p) => `127.0.0.1:${p}`).join(','),
      primaryPort,
      replicaPort,
      currentPrimary,
      async kill(port) {
        const p = procs.find((x) => x.port === port);
        if (!p) throw new Error(`no data node on ${port}`);
        p.child.kill('SIGKILL');
        await exited(p.child);
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
