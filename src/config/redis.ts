/** Which Redis, under which key prefix, and what its settings must be. */
import { ConfigError, bool, hostPorts, str, withoutPassword, type Env } from './parse';

export type RedisTarget =
  | { kind: 'standalone'; url: string }
  | { kind: 'cluster'; nodes: Array<{ host: string; port: number }> }
  | { kind: 'sentinel'; sentinels: Array<{ host: string; port: number }>; masterName: string; url?: string }
  | { kind: 'auto' };

export interface RedisConfig {
  /** REDIS_URL, REDIS_CLUSTER_NODES or REDIS_SENTINELS + REDIS_SENTINEL_MASTER; `auto` when none is set. */
  readonly target: RedisTarget;
  /** KEY_PREFIX of every key and channel. Default `gw`. */
  readonly keyPrefix: string;
  /** REDIS_REQUIRE_NOEVICTION: refuse to start when Redis may evict keys. Default off: warn only. */
  readonly requireNoEviction: boolean;
  /** REDIS_REQUIRE_PERSISTENCE: refuse to start when Redis keeps no persistence. Default off: warn only. */
  readonly requirePersistence: boolean;
}

function redisUrl(env: Env): string | undefined {
  const raw = str(env, 'REDIS_URL');
  if (raw === undefined) return undefined;
  let ok: boolean;
  try {
    const u = new URL(raw);
    ok = (u.protocol === 'redis:' || u.protocol === 'rediss:') && u.hostname !== '' && (u.pathname === '' || /^\/\d{0,2}$/.test(u.pathname));
  } catch {
    ok = false;
  }
  // The URL may carry a password: never echo it.
  if (!ok) throw new ConfigError('REDIS_URL', 'a redis://[user:password@]host[:port][/db] or rediss:// URL', withoutPassword(raw));
  return raw;
}

function redisTarget(env: Env): RedisTarget {
  const url = redisUrl(env);
  const clusterNodes = str(env, 'REDIS_CLUSTER_NODES');
  const sentinelList = str(env, 'REDIS_SENTINELS');
  const masterName = str(env, 'REDIS_SENTINEL_MASTER');
  if (masterName !== undefined && sentinelList === undefined) {
    throw new ConfigError('REDIS_SENTINELS', 'comma-separated host:port pairs whenever REDIS_SENTINEL_MASTER is set', '');
  }
  if (clusterNodes !== undefined) {
    const nodes = hostPorts('REDIS_CLUSTER_NODES', clusterNodes);
    if (!nodes.length) throw new ConfigError('REDIS_CLUSTER_NODES', 'comma-separated host:port pairs', clusterNodes);
    return { kind: 'cluster', nodes };
  }
  if (sentinelList !== undefined) {
    const sentinels = hostPorts('REDIS_SENTINELS', sentinelList);
    if (!sentinels.length) throw new ConfigError('REDIS_SENTINELS', 'comma-separated host:port pairs', sentinelList);
    if (!masterName) throw new ConfigError('REDIS_SENTINEL_MASTER', 'the name of the master the Sentinels watch', '');
    return { kind: 'sentinel', sentinels, masterName, url };
  }
  if (url !== undefined) return { kind: 'standalone', url };
  return { kind: 'auto' };
}

export function readRedis(env: Env): RedisConfig {
  const keyPrefix = str(env, 'KEY_PREFIX') ?? 'gw';
  if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(keyPrefix)) throw new ConfigError('KEY_PREFIX', '1 to 64 letters, digits or _ . : -', keyPrefix);
  return {
    target: redisTarget(env),
    keyPrefix,
    requireNoEviction: bool(env, 'REDIS_REQUIRE_NOEVICTION', false),
    requirePersistence: bool(env, 'REDIS_REQUIRE_PERSISTENCE', false),
  };
}
