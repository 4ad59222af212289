/** The shared in-process cache in front of Redis (docs/caching.md). */
import { int, type Env } from './parse';

export interface CacheConfig {
  /** CACHE_MAX_ENTRIES: entries each process keeps, all uses together; 0 turns the cache off (every read goes to Redis). Default 10000. */
  readonly maxEntries: number;
}

export function readCache(env: Env): CacheConfig {
  return { maxEntries: int(env, 'CACHE_MAX_ENTRIES', 10_000, 0, 1_000_000) };
}
