/** Real redis-server processes for tests. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Redis, { Cluster } from 'ioredis';
import { startRedisServer } from '../../src/redis/embedded';
import { parseSeeds } from './cluster';

/**
 * `TEST_REDIS_MODE=cluster` (see `npm run test:cluster`) runs every test app
 * against the run's Redis Cluster instead of the single Redis; tests that pass
 * their own REDIS_URL (ownRedis) keep it.
 */
export function testRedisMode(): 'single' | 'cluster' {
  return process.env.TEST_REDIS_MODE === 'cluster' ? 'cluster' : 'single';
}

/** REDIS_CLUSTER_NODES of the run's cluster (started by globalSetup in cluster mode). */
export function testClusterSeeds(): string {
  const seeds = process.env.TEST_REDIS_CLUSTER_NODES;
  if (!seeds) throw new Error('TEST_REDIS_CLUSTER_NODES is not set: run with TEST_REDIS_MODE=cluster through jest');
  return seeds;
}

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

/** Makes SCAN on a cluster client walk every master in turn (cursor `<master>-<cursor>`), as on one Redis. */
function scanAllMasters(c: Cluster): void {
  const ready = (): Promise<void> => new Promise((resolve) => (c.status === 'ready' ? resolve() : c.once('ready', () => resolve())));
  const scan = async (cursor: string | number, ...args: Array<string | number>): Promise<[string, string[]]> => {
    await ready();
    const masters = c.nodes('master').sort((a, b) => (a.options.port ?? 0) - (b.options.port ?? 0));
    const [i, inner] =
      String(cursor) === '0'
        ? [0, '0']
        : (String(cursor)
            .split('-')
            .map((x, n) => (n ? x : Number(x))) as [number, string]);
    const [next, keys] = (await masters[i].call('SCAN', inner, ...args)) as [string, string[]];
    if (next !== '0') return [`${i}-${next}`, keys];
    return [i + 1 >= masters.length ? '0' : `${i + 1}-0`, keys];
  };
  (c as unknown as { scan: typeof scan }).scan = scan;
}

/**
 * A plain client on the shared Redis, for assertions. Remember to quit it. In
 * cluster mode (no explicit url) it is a Cluster client: key commands work the
 * same, SCAN walks every master, multi-key commands need keys of one slot.
 */
export function rawRedis(url?: string): Redis {
  if (url === undefined && testRedisMode() === 'cluster') {
    const c = new Cluster(parseSeeds(testClusterSeeds()), { redisOptions: { maxRetriesPerRequest: 1 } });
    // Node errors also reject the commands concerned; unheard 'error' events would crash the test file.
    c.on('error', () => undefined);
    scanAllMasters(c);
    // Cluster shares Redis's command API; typed as Redis so tests stay mode-agnostic.
    return c as unknown as Redis;
  }
  return new Redis(url ?? testRedisUrl(), { maxRetriesPerRequest: 1 });
}

async function deleteMatching(r: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    // One DEL per key: keys of one prefix span many slots in a cluster.
    if (keys.length) await Promise.all(keys.map((k) => r.del(k)));
  } while (cursor !== '0');
}

/** Deletes every key under a prefix (on every master in cluster mode). */
export async function flushPrefix(prefix: string, url?: string): Promise<void> {
  const r = rawRedis(url);
  try {
    await deleteMatching(r, prefix);
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

/**
 * PUBSUB NUMSUB of one channel. In a cluster each node counts only the subscribers
 * connected to it (and a subscriber connects to any node), so this sums every node.
 */
export async function subscriberCount(client: Redis | Cluster, channel: string): Promise<number> {
  // A Cluster client knows its nodes only once it is ready.
  if (client instanceof Cluster && client.status !== 'ready') await new Promise((ready) => client.once('ready', ready));
  const nodes = client instanceof Cluster ? client.nodes('all') : [client];
  const counts = await Promise.all(nodes.map(async (n) => Number(((await n.call('PUBSUB', 'NUMSUB', channel)) as [string, number])[1])));
  return counts.reduce((a, b) => a + b, 0);
}

/**
 * Every key under `prefix` with its content read per type as JSON text (DUMP would not do: its LZF
 * compression can hide a string), for tests that look for what must never be stored.
 */
export async function readPrefix(prefix: string): Promise<Array<{ key: string; type: string; body: string }>> {
  const r = rawRedis();
  const out: Array<{ key: string; type: string; body: string }> = [];
  try {
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      for (const key of keys) {
        const type = await r.type(key);
        const content =
          type === 'string'
            ? await r.get(key)
            : type === 'hash'
              ? await r.hgetall(key)
              : type === 'zset'
                ? await r.zrange(key, '0', '-1', 'WITHSCORES')
                : type === 'set'
                  ? await r.smembers(key)
                  : type === 'list'
                    ? await r.lrange(key, 0, -1)
                    : type === 'stream'
                      ? await r.xrange(key, '-', '+')
                      : null;
        if (content === null && type !== 'none') throw new Error(`readPrefix cannot read ${key} (${type})`);
        out.push({ key, type, body: JSON.stringify(content) });
      }
    } while (cursor !== '0');
  } finally {
    r.disconnect();
  }
  return out;
}

/**
 * How the limiter store groups a request's keys in the tests that run both ways: one script call on
 * a single Redis, or one per slot (forced, as on a Cluster); on a Cluster only the second exists.
 */
export function limiterStoreModes(): Array<[string, boolean | undefined]> {
  return testRedisMode() === 'cluster'
    ? [['one call per slot', undefined]]
    : [
        ['one call', false],
        ['one call per slot', true],
      ];
}
