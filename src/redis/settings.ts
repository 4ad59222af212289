/**
 * Start-up checks of the Redis settings that decide whether acknowledged writes
 * survive: an eviction policy other than `noeviction` lets Redis drop sessions,
 * carts, orders and jobs under memory pressure, and a Redis with neither AOF nor
 * RDB save points loses everything on restart. Each problem is a loud warning,
 * or a refusal to start when REDIS_REQUIRE_NOEVICTION / REDIS_REQUIRE_PERSISTENCE
 * is set. In a cluster every master is checked.
 */
import { Cluster, type Redis } from 'ioredis';
import type { Config } from '../config';
import type { Logger } from '../util/logger';
import type { RedisClient } from './connection';

/** What one node reports; null where it could not be read. */
export interface NodeSettings {
  node: string;
  maxmemoryPolicy: string | null;
  appendonly: boolean | null;
  /** The `save` setting: '' means no RDB snapshots. */
  save: string | null;
}

export class RedisSettingsError extends Error {
  override name = 'RedisSettingsError';
}

const infoField = (info: string, field: string): string | null => new RegExp(`^${field}:(.*)$`, 'm').exec(info)?.[1]?.trim() ?? null;

/** CONFIG GET where allowed; INFO (allowed on most managed Redis) otherwise. */
export async function readSettings(node: Redis): Promise<NodeSettings> {
  const name = `${node.options.host ?? '127.0.0.1'}:${node.options.port ?? 6379}`;
  const get = async (param: string): Promise<string | null> => ((await node.call('CONFIG', 'GET', param)) as string[])[1] ?? null;
  try {
    const [policy, aof, save] = await Promise.all([get('maxmemory-policy'), get('appendonly'), get('save')]);
    return { node: name, maxmemoryPolicy: policy, appendonly: aof === null ? null : aof === 'yes', save };
  } catch {
    const info = await node.info().catch(() => '');
    const aof = infoField(info, 'aof_enabled');
    return { node: name, maxmemoryPolicy: infoField(info, 'maxmemory_policy'), appendonly: aof === null ? null : aof === '1', save: null };
  }
}

/** The nodes whose settings matter: every master of a cluster, else the one server. */
const nodesOf = (redis: RedisClient): Redis[] => (redis instanceof Cluster ? redis.nodes('master') : [redis]);

/** Problems found on one node, as sentences naming the node. */
export function problemsOf(s: NodeSettings): { eviction?: string; persistence?: string } {
  const out: { eviction?: string; persistence?: string } = {};
  if (s.maxmemoryPolicy === null) out.eviction = `could not read maxmemory-policy of Redis ${s.node}: make sure it is noeviction`;
  else if (s.maxmemoryPolicy !== 'noeviction') {
    out.eviction = `Redis ${s.node} has maxmemory-policy ${s.maxmemoryPolicy}: under memory pressure it will silently evict sessions, carts, orders and jobs. Set maxmemory-policy noeviction.`;
  }
  if (s.appendonly === false && s.save === '') {
    out.persistence = `Redis ${s.node} keeps no persistence (appendonly no, no save points): a restart loses every session, cart, order and job. Set appendonly yes.`;
  } else if (s.appendonly === false && s.save === null) {
    out.persistence = `Redis ${s.node} has appendonly off and its save points could not be read: a restart may lose data. Set appendonly yes.`;
  } else if (s.appendonly === null) {
    out.persistence = `could not read the persistence settings of Redis ${s.node}: make sure appendonly is yes`;
  }
  return out;
}

/** Warns about (or, when required, refuses) settings that lose acknowledged writes. */
export async function checkRedisSettings(redis: RedisClient, config: Pick<Config, 'redis'>, log: Logger): Promise<NodeSettings[]> {
  const settings = await Promise.all(nodesOf(redis).map(readSettings));
  const refusals: string[] = [];
  for (const s of settings) {
    const { eviction, persistence } = problemsOf(s);
    if (eviction) {
      if (config.redis.requireNoEviction) refusals.push(eviction);
      else log.warn({ event: 'redis.settings', node: s.node, maxmemoryPolicy: s.maxmemoryPolicy }, `DATA AT RISK: ${eviction}`);
    }
    if (persistence) {
      if (config.redis.requirePersistence) refusals.push(persistence);
      else log.warn({ event: 'redis.settings', node: s.node, appendonly: s.appendonly, save: s.save }, `DATA AT RISK: ${persistence}`);
    }
  }
  if (refusals.length) throw new RedisSettingsError(`Refusing to start: ${refusals.join(' ')}`);
  return settings;
}
