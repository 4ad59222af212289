/**
 * The one cache of the gateway: a bounded in-process LRU in front of Redis, whose entries every
 * instance drops at once when any instance says they changed (a message on the `cache.invalidate`
 * channel), by key or by tag. Redis stays the truth: an entry is only ever what a loader read
 * from it, and a miss costs exactly the loader's round trips.
 *
 * Staleness, for a reader on another instance than the writer:
 * - normally the pub/sub delay (measured under 20 ms, see docs/caching.md);
 * - at worst the entry's lifetime (each space sets one: 800 ms for sessions and users, so a
 *   revocation holds within a second even if its message were lost), because the subscriber
 *   clears everything when it reconnects and no entry outlives its lifetime.
 * A load that was running when an invalidation arrived is returned to its caller but not kept,
 * so an invalidation is never undone by a slow read that started before it.
 *
 * Keys are whatever the space's owner passes (ids, hashes); they never become Redis keys here.
 */
import { LRUCache } from 'lru-cache';
import type { GatewayPubSub } from '../../redis/pubsub';

export const CACHE_INVALIDATE_TOPIC = 'cache.invalidate';

/** What travels between instances: keys of one space, or tags (every space). */
export interface CacheInvalidation {
  space?: string;
  keys?: string[];
  tags?: string[];
}

export interface CacheSettings {
  /** CACHE_MAX_ENTRIES: entries kept per process, all spaces together; 0 turns the cache off. */
  readonly maxEntries: number;
}

export interface SpaceOptions {
  /** How long an entry may be served before it is read again, at most. */
  readonly ttlMs: number;
}

interface Entry {
  value: unknown;
  tags: readonly string[];
}

/** Counters for metrics and tests. */
export interface CacheStats {
  hits: number;
  misses: number;
  invalidations: number;
}

const SEP = '\u0000';

export class SharedCache {
  private readonly lru: LRUCache<string, Entry> | null;
  /** tag -> full keys holding it (kept in step with the LRU through its dispose hook). */
  private readonly byTag = new Map<string, Set<string>>();
  /** Bumped by every invalidation: a load that started under an older epoch is not kept. */
  private epoch = 0;
  private readonly inflight = new Map<string, Promise<unknown>>();
  private unlisten: (() => void) | null = null;
  readonly stats: CacheStats = { hits: 0, misses: 0, invalidations: 0 };

  constructor(
    private readonly pubsub: GatewayPubSub | null,
    settings: CacheSettings,
  ) {
    this.lru =
      settings.maxEntries > 0
        ? new LRUCache<string, Entry>({
            max: settings.maxEntries,
            ttlAutopurge: false,
            dispose: (entry, key) => this.untag(key, entry.tags),
          })
        : null;
  }

  /** Whether entries are kept at all (CACHE_MAX_ENTRIES > 0). */
  get enabled(): boolean {
    return this.lru !== null;
  }

  /** Starts hearing other instances' invalidations; until then only local ones apply. */
  async start(): Promise<void> {
    if (!this.pubsub || this.unlisten) return;
    this.unlisten = await this.pubsub.listen<CacheInvalidation>(CACHE_INVALIDATE_TOPIC, (msg) => this.apply(msg));
    // Messages sent while the subscriber was away are lost: forget everything instead.
    const unhook = this.pubsub.onResubscribe(() => this.clear());
    const unlisten = this.unlisten;
    this.unlisten = () => {
      unhook();
      unlisten();
    };
  }

  stop(): void {
    this.unlisten?.();
    this.unlisten = null;
  }

  /** A named part of the cache with its own entry lifetime. */
  space<T>(name: string, options: SpaceOptions): CacheSpace<T> {
    if (name.includes(SEP)) throw new Error('a cache space name cannot hold NUL');
    return new CacheSpace<T>(this, name, options);
  }

  /** Drops these keys of a space here and on every instance. */
  async invalidate(space: string, keys: readonly string[]): Promise<void> {
    if (!keys.length) return;
    await this.broadcast({ space, keys: [...keys] });
  }

  /** Drops every entry holding one of these tags, in every space, here and on every instance. */
  async invalidateTags(tags: readonly string[]): Promise<void> {
    if (!tags.length) return;
    await this.broadcast({ tags: [...tags] });
  }

  /** Forgets everything held here (this instance only). */
  clear(): void {
    this.epoch++;
    this.lru?.clear();
    this.byTag.clear();
  }

  private async broadcast(msg: CacheInvalidation): Promise<void> {
    // Here at once (a reader on this instance must not wait for the round trip), then everywhere.
    this.apply(msg);
    if (this.pubsub) await this.pubsub.publishAsync(CACHE_INVALIDATE_TOPIC, msg);
  }

  /** Applies an invalidation, ignoring what is malformed (the channel is ours, but never trust a shape). */
  private apply(msg: CacheInvalidation): void {
    this.epoch++;
    this.stats.invalidations++;
    if (!this.lru || !msg || typeof msg !== 'object') return;
    if (typeof msg.space === 'string' && Array.isArray(msg.keys)) {
      for (const k of msg.keys) if (typeof k === 'string') this.lru.delete(msg.space + SEP + k);
    }
    if (Array.isArray(msg.tags)) {
      for (const tag of msg.tags) {
        if (typeof tag !== 'string') continue;
        const keys = this.byTag.get(tag);
        if (!keys) continue;
        for (const k of [...keys]) this.lru.delete(k);
        this.byTag.delete(tag);
      }
    }
  }

  private untag(fullKey: string, tags: readonly string[]): void {
    for (const tag of tags) {
      const set = this.byTag.get(tag);
      if (!set) continue;
      set.delete(fullKey);
      if (!set.size) this.byTag.delete(tag);
    }
  }

  /** @internal used by CacheSpace */
  lookup(fullKey: string): { value: unknown } | undefined {
    const entry = this.lru?.get(fullKey);
    if (entry === undefined) return undefined;
    this.stats.hits++;
    return { value: entry.value };
  }

  /** @internal used by CacheSpace */
  store(fullKey: string, value: unknown, ttlMs: number, tags: readonly string[], epoch: number): void {
    if (!this.lru || epoch !== this.epoch || ttlMs <= 0) return;
    this.lru.set(fullKey, { value, tags }, { ttl: ttlMs });
    for (const tag of tags) {
      let set = this.byTag.get(tag);
      if (!set) this.byTag.set(tag, (set = new Set()));
      set.add(fullKey);
    }
  }

  /** @internal used by CacheSpace: where invalidations stand now (see {@link CacheSpace.mark}). */
  currentEpoch(): number {
    return this.epoch;
  }

  /** @internal used by CacheSpace: one load per key at a time on this instance. */
  load<T>(fullKey: string, ttlMs: number, tags: readonly string[], loader: () => Promise<T>): Promise<T> {
    const running = this.inflight.get(fullKey) as Promise<T> | undefined;
    if (running) return running;
    this.stats.misses++;
    const epoch = this.epoch;
    const p = loader().then(
      (value) => {
        this.inflight.delete(fullKey);
        if (value !== null && value !== undefined) this.store(fullKey, value, ttlMs, tags, epoch);
        return value;
      },
      (err: unknown) => {
        this.inflight.delete(fullKey);
        throw err;
      },
    );
    this.inflight.set(fullKey, p);
    return p;
  }

  /** @internal used by CacheSpace */
  drop(fullKey: string): void {
    this.epoch++;
    this.lru?.delete(fullKey);
  }
}

/** One space of the cache: `get(key, loader)` reads through it; `invalidate(keys)` drops them everywhere. */
export class CacheSpace<T> {
  constructor(
    private readonly cache: SharedCache,
    readonly name: string,
    private readonly options: SpaceOptions,
  ) {}

  private full(key: string): string {
    return this.name + SEP + key;
  }

  /**
   * The cached value, or the loader's (kept unless it is null or undefined, or an invalidation came
   * while it ran). `ttlMs` shortens the space's lifetime for this entry (never lengthens it).
   */
  get(key: string, loader: () => Promise<T>, opts: { tags?: readonly string[]; ttlMs?: number } = {}): Promise<T> {
    const full = this.full(key);
    const hit = this.cache.lookup(full);
    if (hit) return Promise.resolve(hit.value as T);
    const ttl = Math.min(opts.ttlMs ?? this.options.ttlMs, this.options.ttlMs);
    return this.cache.load(full, ttl, opts.tags ?? [], loader);
  }

  /** Where invalidations stand: read it before a load whose result goes to {@link set}. */
  mark(): number {
    return this.cache.currentEpoch();
  }

  /**
   * Keeps a value read since `mark` (nothing is kept when an invalidation came in between).
   * `ttlMs` may shorten the space's lifetime for this entry, never lengthen it.
   */
  set(key: string, value: T, mark: number, opts: { tags?: readonly string[]; ttlMs?: number } = {}): void {
    const ttl = Math.min(opts.ttlMs ?? this.options.ttlMs, this.options.ttlMs);
    this.cache.store(this.full(key), value, Math.floor(ttl), opts.tags ?? [], mark);
  }

  /** The cached value without loading, or undefined. */
  peek(key: string): T | undefined {
    return this.cache.lookup(this.full(key))?.value as T | undefined;
  }

  /** Drops a key here only (the caller knows no other instance can hold it). */
  forgetLocally(key: string): void {
    this.cache.drop(this.full(key));
  }

  /** Drops keys here and on every instance. */
  invalidate(keys: readonly string[]): Promise<void> {
    return this.cache.invalidate(this.name, keys);
  }
}
