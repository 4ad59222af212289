/**
 * Results that are the same for every caller (`@Cached` Query fields, types/cache/cached.decorator.ts),
 * kept at two levels: the shared in-process cache (first level, {@link SharedCache}), then Redis
 * (second level: one JSON string per result under `<prefix>:cache:{cache}:field:<sha256>`, with a
 * lifetime), so that an instance that has not got a result yet takes another's instead of
 * computing it again.
 *
 * - **The key** is the SHA-256 of the field's name and the canonical JSON of its arguments (keys
 *   sorted): no argument ever appears in a key, whatever its shape or size, and nothing about the
 *   caller is in it, which is why only results that are the same for everyone may be cached.
 * - **Tags** (names from code) group entries for invalidation: {@link SharedCache.invalidateTags}
 *   drops them from every instance's memory and deletes their Redis entries in one script. A tag's
 *   generation moves on at each invalidation, and a result is written to Redis only while the
 *   generations its read saw are unchanged (cacheWrite-n.lua): a result computed before an
 *   invalidation is never stored after it.
 * - **Bounds**: a result whose JSON is over {@link MAX_CACHED_BYTES} is not kept at either level;
 *   first-level entries count against CACHE_MAX_ENTRIES; second-level entries live at most
 *   {@link MAX_CACHED_TTL_SECONDS}, and a tag's member list holds only live entries.
 * - **What may be cached**: plain JSON values (objects, arrays, strings, finite numbers, booleans,
 *   null). A result holding anything else (a Date, a class instance) is returned but not kept, so
 *   that a hit never answers something else than a computation would. null is never kept.
 * - CACHE_MAX_ENTRIES=0 turns caching off at both levels: every call computes.
 */
import type { RedisClient } from '../../redis/connection';
import type { Keys } from '../../redis/keys';
import { runScript } from '../../redis/scripts';
import { sha256 } from '../../util/crypto';
import { CACHE_TAG, type CacheSpace, type SharedCache } from './shared-cache';

/** The longest lifetime a cached result may have (seconds). */
export const MAX_CACHED_TTL_SECONDS = 300;
/** Results whose JSON is larger than this (bytes) are not cached. */
export const MAX_CACHED_BYTES = 64 * 1024;
/** The space of cached results, in memory and in their Redis keys. */
const SPACE = 'field';

export interface ResultCacheOptions {
  /** Lifetime of an entry at both levels, 1 to {@link MAX_CACHED_TTL_SECONDS}. */
  readonly ttlSeconds: number;
  /** Tags whose invalidation drops the entry. */
  readonly tags: readonly string[];
  /**
   * Also keep it in Redis (default true). false keeps it in memory only: for results whose writers
   * announce their changes by a script-published topic ({@link SharedCache.invalidateOn}), which
   * reaches every instance's memory but deletes nothing in Redis.
   */
  readonly redis: boolean;
}

/** Counters for metrics, tests and the bench. */
export interface ResultCacheStats {
  /** Misses in memory answered from Redis. */
  secondLevelHits: number;
  /** Computations (misses at both levels). */
  computed: number;
  /** Results computed but not kept: over {@link MAX_CACHED_BYTES}. */
  oversize: number;
  /** Results computed but not kept: not plain JSON. */
  notPlain: number;
  /** Second-level writes refused because a tag was invalidated since the read. */
  raced: number;
  /** Second-level reads or writes that failed (the result was computed and returned anyway). */
  redisErrors: number;
}

/** What the first level keeps for a result: the value, and whether and for how long it may be kept. */
interface Loaded {
  value: unknown;
  keepMs: number;
}

/** Checks the options a field declares; throws a message naming what is wrong. */
export function checkResultCacheOptions(where: string, o: ResultCacheOptions): void {
  if (!Number.isInteger(o.ttlSeconds) || o.ttlSeconds < 1 || o.ttlSeconds > MAX_CACHED_TTL_SECONDS)
    throw new Error(`${where}: ttlSeconds must be a whole number from 1 to ${MAX_CACHED_TTL_SECONDS}`);
  for (const tag of o.tags)
    if (!CACHE_TAG.test(tag)) throw new Error(`${where}: tag ${JSON.stringify(tag)} is not 1 to 200 printable ASCII characters without spaces`);
}

/** JSON with object keys sorted at every depth, so that equal arguments give one text whatever their order. */
export function canonicalJson(value: unknown): string {
  if (value !== null && typeof value === 'object') {
    const withJson = value as { toJSON?: () => unknown };
    if (typeof withJson.toJSON === 'function') return canonicalJson(withJson.toJSON());
    if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
    const o = value as Record<string, unknown>;
    const keys = Object.keys(o)
      .filter((k) => o[k] !== undefined && typeof o[k] !== 'function')
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** The SHA-256 hex naming a field's result for these arguments. */
export function resultHash(field: string, args: unknown): string {
  return sha256(`${field}\n${canonicalJson(args)}`);
}

/** The value's JSON when it is plain JSON (nothing a round trip through JSON would change), else null. */
function plainJson(value: unknown): string | null {
  let plain = true;
  const json = JSON.stringify(value, function (this: Record<string, unknown>, key, v: unknown) {
    const raw = this[key];
    const t = typeof raw;
    if (t === 'function' || t === 'symbol' || t === 'bigint') plain = false;
    else if (t === 'number' && !Number.isFinite(raw)) plain = false;
    else if (raw !== null && t === 'object') {
      const proto = Object.getPrototypeOf(raw) as unknown;
      if (!Array.isArray(raw) && proto !== Object.prototype && proto !== null) plain = false;
    }
    return v;
  });
  return plain && typeof json === 'string' ? json : null;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

export class ResultCache {
  private readonly memory: CacheSpace<Loaded>;
  readonly stats: ResultCacheStats = { secondLevelHits: 0, computed: 0, oversize: 0, notPlain: 0, raced: 0, redisErrors: 0 };

  constructor(
    private readonly cache: SharedCache,
    private readonly redis: RedisClient,
    private readonly keys: Keys,
  ) {
    this.memory = cache.space<Loaded>(SPACE, { ttlMs: MAX_CACHED_TTL_SECONDS * 1000 });
  }

  /** The Redis key of a result (for tests and operators: it holds only the hash). */
  keyOf(field: string, args: unknown): string {
    return this.keys.cacheEntry(SPACE, resultHash(field, args));
  }

  /**
   * `field`'s result for `args`: from memory, else from Redis, else `compute()` (then kept, when
   * it may be). `field` names the result (`Query.recommendations`); it and `args` are all the key
   * holds, so the result must not depend on anything else.
   */
  async get<T>(field: string, args: unknown, options: ResultCacheOptions, compute: () => Promise<T> | T): Promise<T> {
    if (!this.cache.enabled) return compute();
    const hash = resultHash(field, args);
    const loaded = await this.memory.get(hash, () => this.load(hash, options, compute), { tags: options.tags, ttlMs: (l) => l.keepMs });
    return loaded.value as T;
  }

  private async load(hash: string, o: ResultCacheOptions, compute: () => unknown): Promise<Loaded> {
    const ttlMs = o.ttlSeconds * 1000;
    if (!o.redis) return this.prepare(await this.computed(compute), ttlMs).loaded;
    const key = this.keys.cacheEntry(SPACE, hash);
    let generations: string[] | null = null;
    try {
      const reply = await runScript<Array<string | number | null>>(this.redis, 'cacheRead', [key, this.keys.cacheGenerations()], [...o.tags]);
      if (typeof reply[0] === 'string') {
        this.stats.secondLevelHits++;
        // What is left of its lifetime in Redis: the copy in memory lives no longer.
        return { value: deepFreeze(JSON.parse(reply[0])), keepMs: Math.min(ttlMs, Number(reply[1])) };
      }
      generations = reply.slice(1).map(String);
    } catch {
      this.stats.redisErrors++;
    }
    const { loaded, json } = this.prepare(await this.computed(compute), ttlMs);
    if (json !== null && generations) {
      try {
        const written = await runScript<number>(
          this.redis,
          'cacheWrite',
          [this.keys.cacheGenerations(), key, ...o.tags.map((t) => this.keys.cacheTag(t))],
          [json, ttlMs, ...o.tags.flatMap((t, i) => [t, generations[i]])],
        );
        if (!written) this.stats.raced++;
      } catch {
        this.stats.redisErrors++;
      }
    }
    return loaded;
  }

  private async computed(compute: () => unknown): Promise<unknown> {
    this.stats.computed++;
    return compute();
  }

  /** What memory keeps of a computed value (a frozen copy of its JSON, or the value itself not to be kept), and that JSON. */
  private prepare(value: unknown, ttlMs: number): { loaded: Loaded; json: string | null } {
    if (value === null || value === undefined) return { loaded: { value, keepMs: 0 }, json: null };
    const json = plainJson(value);
    if (json === null) {
      this.stats.notPlain++;
      return { loaded: { value, keepMs: 0 }, json: null };
    }
    if (Buffer.byteLength(json) > MAX_CACHED_BYTES) {
      this.stats.oversize++;
      return { loaded: { value, keepMs: 0 }, json: null };
    }
    return { loaded: { value: deepFreeze(JSON.parse(json)), keepMs: ttlMs }, json };
  }
}
