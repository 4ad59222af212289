/** Real redis-server processes for tests. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Redis from 'ioredis';
import { startRedisServer } from '../../src/redis/embedded';

/** The run's shared Redis (started by globalSetup). */
export function testRedisUrl(): string {
  const url = process.env.TEST_REDIS_URL;
  if (!url) throw new Error('TEST_REDIS_URL is not set: run the tests through jest (globalSetup starts Redis)');
  return url;
}

let seq = 0;
/** A key prefix unique to this test file and call. */
export function uniquePrefix(label = 't'): string {
  return `test-${label}-${process.pid}-${Date.now().toString(36)}-${seq++}`;
}

/** A plain client on the shared Redis, for assertions. Remember to quit it. */
export function rawRedis(url = testRedisUrl()): Redis {
  return new Redis(url, { maxRetriesPerRequest: 1 });
}

/** Deletes every key under a prefix. */
export async function flushPrefix(prefix: string, url = testRedisUrl()): Promise<void> {
  const r = rawRedis(url);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await r.del(...keys);
    } while (cursor !== '0');
  } finally {
    r.disconnect();
  }
}

export interface OwnRedis {
  url: string;
  port: number;
  dir: string;
  /** Stops the server (SIGTERM) and keeps its data dir for a restart. */
  stop(): Promise<void>;
  /** Starts it again on the same port with the same data (AOF). */
  restart(): Promise<void>;
  /** Stops it and removes its data. */
  destroy(): Promise<void>;
}

/** A private redis-server on a free port, for tests that stop or restart Redis. */
export async function ownRedis(extraArgs: string[] = []): Promise<OwnRedis> {
  const dir = mkdtempSync(path.join(tmpdir(), 'gw-own-redis-'));
  let server = await startRedisServer(dir, extraArgs);
  const port = server.port;
  const handle: OwnRedis = {
    url: server.url,
    port,
    dir,
    stop: () => server.stop(),
    async restart() {
      await server.stop();
      server = await startRedisServer(dir, extraArgs, port);
    },
    async destroy() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return handle;
}
