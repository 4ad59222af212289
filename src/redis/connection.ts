/**
 * One factory for every Redis connection the process opens: standalone, Sentinel
 * or Cluster. Commands fail fast while Redis is unreachable (no offline queue, a
 * 800 ms command timeout) so that requests answer SERVICE_UNAVAILABLE instead of
 * hanging; ioredis reconnects by itself when Redis returns.
 */
import Redis, { Cluster, type RedisOptions } from 'ioredis';
import type { RedisTarget } from '../config';

export type RedisClient = Redis | Cluster;

export type ConcreteTarget = Exclude<RedisTarget, { kind: 'auto' }>;

export interface ConnectOptions {
  /** Name shown by CLIENT LIST. */
  name: string;
  /** Blocking clients (BullMQ workers, subscribers) must queue and never time out. */
  blocking?: boolean;
}

/** A Redis that does not answer fails the command after this long, leaving the request time to answer 503 within a second. */
export const COMMAND_TIMEOUT_MS = 800;

const retryStrategy = (times: number): number => Math.min(50 * 2 ** Math.min(times, 6), 1000);

function baseOptions(opts: ConnectOptions): RedisOptions {
  return {
    connectionName: opts.name,
    retryStrategy,
    lazyConnect: false,
    ...(opts.blocking
      ? { maxRetriesPerRequest: null, enableOfflineQueue: true }
      : { maxRetriesPerRequest: 1, enableOfflineQueue: false, commandTimeout: COMMAND_TIMEOUT_MS, enableAutoPipelining: true }),
  };
}

/** Opens a connection to the target. Resolves once it is ready (or rejects after `timeoutMs`). */
export function connect(target: ConcreteTarget, opts: ConnectOptions): RedisClient {
  const base = baseOptions(opts);
  switch (target.kind) {
    case 'standalone':
      return new Redis(target.url, base);
    case 'sentinel': {
      const url = target.url ? new URL(target.url) : undefined;
      return new Redis({
        ...base,
        sentinels: target.sentinels,
        name: target.masterName,
        password: url?.password ? decodeURIComponent(url.password) : undefined,
        username: url?.username ? decodeURIComponent(url.username) : undefined,
        db: url && url.pathname.length > 1 ? Number(url.pathname.slice(1)) : undefined,
      });
    }
    case 'cluster':
      return new Cluster(target.nodes, {
        clusterRetryStrategy: retryStrategy,
        enableOfflineQueue: base.enableOfflineQueue,
        enableAutoPipelining: !opts.blocking,
        redisOptions: { ...base, enableAutoPipelining: false },
        slotsRefreshTimeout: 2000,
      });
    default: {
      const never: never = target;
      throw new Error(`unknown redis target ${JSON.stringify(never)}`);
    }
  }
}

/** Waits until the client is ready, up to `timeoutMs`; the error names the last connection failure. */
export async function waitReady(client: RedisClient, timeoutMs = 10_000): Promise<void> {
  if (client.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    let last = '';
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`Redis did not become ready within ${timeoutMs} ms${last ? ` (${last})` : ''}`));
    }, timeoutMs);
    const onReady = (): void => {
      cleanup();
      resolve();
    };
    const onError = (err: Error): void => {
      last = err.message;
    };
    const cleanup = (): void => {
      clearTimeout(timer);
      client.off('ready', onReady);
      client.off('error', onError);
    };
    client.on('ready', onReady);
    client.on('error', onError);
  });
}

/** True for the errors ioredis raises while Redis is unreachable. */
export function isRedisUnavailable(err: unknown): boolean {
  // Follows wrappers (GraphQLError.originalError, Error.cause) a few levels down.
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; depth++) {
    if (e.name === 'MaxRetriesPerRequestError' || e.name === 'ClusterAllFailedError') return true;
    if (UNAVAILABLE.test(e.message)) return true;
    e = (e as { originalError?: unknown }).originalError ?? e.cause;
  }
  return false;
}

// MOVED/ASK reach the caller only from an auto-pipelined batch whose commands were
// redirected to different slots during a cluster failover; a retry then succeeds.
// Redis up but refusing for a reason that passes: LOADING (reading its data at start), READONLY (a
// primary demoted in a failover), MASTERDOWN (a replica that lost its primary), NOREPLICAS
// (min-replicas-to-write with the replicas away), BUSY (a long script running).
const UNAVAILABLE =
  /Connection is closed|Stream isn't writeable|Command timed out|max retries per request|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|Failed to refresh slots cache|None of startup nodes is available|CLUSTERDOWN|LOADING|READONLY|MASTERDOWN|\bNOREPLICAS\b|^BUSY |TRYAGAIN|^MOVED \d+ |^ASK \d+ /i;

/** Closes a client, falling back to disconnect when QUIT cannot be sent. */
export async function closeQuietly(client: RedisClient): Promise<void> {
  try {
    if (client.status === 'ready') await client.quit();
    else client.disconnect();
  } catch {
    client.disconnect();
  }
}
