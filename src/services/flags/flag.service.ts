/**
 * Feature flags, read through the shared cache (docs/caching.md): every flag and the version
 * counter are one entry (`all` in space `flags`, tag {@link FLAGS_TAG}), read with one MULTI on a
 * miss and kept for at most FLAGS_RESYNC (default 30s). setFlag and deleteFlag publish each change
 * from the same script that writes it; every instance drops the entry when it hears it
 * ({@link SharedCache.invalidateOn}: no PUBLISH of its own), and the writer drops its own at once.
 * A snapshot read while a change came is returned but not kept (the cache's epoch rule), so a
 * change is never undone by a slower read; a message missed while the subscriber was away is
 * covered by the cache clearing itself when it reconnects and, at worst, by the entry's lifetime.
 * While Redis cannot be read, the last snapshot read is answered (as the in-memory copy was).
 *
 * A flag is on for a viewer when it is enabled and the viewer's point for it (a keyed hash
 * of flag key and viewer, the same on every instance) falls in the first `rolloutPercent` of
 * the range. The viewer is decided as for experiments ({@link VisitorService.viewerFor}):
 * the session when there is one, so nobody holding one can pick ids until a flag turns on.
 * Answering costs no Redis round trip beyond the session check a token costs anyway, except the
 * one MULTI that refills the entry after a change or once per FLAGS_RESYNC.
 *
 * `flagsUpdated` subscribers are told whenever a read finds a new version: after each change
 * message (read at once while anyone watches), at the periodic re-read (every FLAGS_RESYNC while
 * anyone watches, so a missed message heals) and after the subscriber reconnects.
 */
import type { Config } from '../../config';
import type { RedisClient } from '../../redis/connection';
import type { Keys } from '../../redis/keys';
import type { GatewayPubSub } from '../../redis/pubsub';
import { runScript } from '../../redis/scripts';
import type { Logger } from '../../util/logger';
import { PushIterator } from '../../util/push-iterator';
import { badInput, quotaExceeded } from '../../util/errors';
import type { VisitorService } from '../analytics/visitor.service';
import type { CacheSpace, SharedCache } from '../cache/shared-cache';
import type { RequestContext } from '../context';

/** A flag as Redis keeps it (JSON in the flags hash) and as its change message carries it. */
export interface FlagDefinition {
  key: string;
  /** The switch: off for everyone when false. */
  enabled: boolean;
  /** 0 to 100: the share of visitors that get the flag while it is enabled. */
  rolloutPercent: number;
  /** The version of the change that wrote it. */
  version: number;
  /** When it was set (ms). */
  updatedAt: number;
}

/** Every flag (by key) and the version counter, read together. */
interface FlagSnapshot {
  flags: FlagDefinition[];
  version: number;
}

/** The tag of the flags' cache entry. */
export const FLAGS_TAG = 'flags';

/** Topic of flag change messages (one per change, JSON of the definition or deletion). */
export const FLAGS_TOPIC = 'flags.changed';
/** 1 to 64 letters, digits, `_`, `.` or `-`. */
export const FLAG_KEY = /^[A-Za-z0-9_.-]{1,64}$/;

export interface FlagSpec {
  key: string;
  enabled: boolean;
  /** 0 to 100; omitted keeps the flag's own (100 for a new flag). */
  rolloutPercent?: number | null;
}

/** A flag as it applies to one viewer: `enabled` is whether this viewer gets it. */
export interface FlagView {
  key: string;
  enabled: boolean;
  rolloutPercent: number;
  updatedAt: number;
}

const POINTS = 2 ** 32;

export class FlagService {
  private readonly snapshots: CacheSpace<FlagSnapshot>;
  /** Local flagsUpdated subscribers: each is told when a read finds a new version. */
  private readonly watchers = new Set<() => void>();
  private timer?: NodeJS.Timeout;
  private unlisten: Array<() => void> = [];
  /** Reads are cached once change messages are heard ({@link start}). */
  private listening = false;
  /** Reads started so far, and the latest started of those finished: only it moves {@link seen} and {@link lastGood}. */
  private reads = 0;
  private newestRead = 0;
  /** The version the latest read found (null before the first). */
  private seen: number | null = null;
  /** The latest snapshot read: answered while Redis cannot be read. */
  private lastGood: FlagSnapshot | null = null;
  private warnedAt = 0;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly pubsub: GatewayPubSub,
    private readonly visitors: VisitorService,
    private readonly config: Pick<Config, 'flags'>,
    private readonly log: Logger,
    private readonly cache: SharedCache,
  ) {
    this.snapshots = cache.space<FlagSnapshot>('flags', { ttlMs: config.flags.resyncMs });
  }

  /** Hears the change messages, then reads every flag and the visitor salt; re-reads every FLAGS_RESYNC while anyone watches. */
  async start(): Promise<void> {
    // Listening first: a change made while the first read is in flight is not lost between the two.
    this.unlisten.push(await this.cache.invalidateOn(FLAGS_TOPIC, () => [FLAGS_TAG], { after: () => this.refreshForWatchers() }));
    // Messages sent while the subscriber was away are lost: read again (the cache empties itself too).
    this.unlisten.push(
      this.pubsub.onResubscribe(() => {
        this.snapshots.forgetLocally('all');
        this.refreshForWatchers();
      }),
    );
    this.listening = true;
    await Promise.all([this.snapshot(), this.visitors.warm()]);
    this.timer = setInterval(() => {
      if (!this.watchers.size) return;
      // A fresh read, not the cached entry: a change whose message was missed reaches subscribers.
      this.snapshots.forgetLocally('all');
      this.refreshForWatchers();
    }, this.config.flags.resyncMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    for (const stop of this.unlisten) stop();
    this.unlisten = [];
    this.listening = false;
    for (const notify of [...this.watchers]) notify();
  }

  /** Every flag and the version counter: from the cache, else one MULTI; the last one read while Redis cannot be. */
  private async snapshot(): Promise<FlagSnapshot> {
    try {
      if (!this.listening) return await this.read();
      return await this.snapshots.get('all', () => this.read(), { tags: [FLAGS_TAG] });
    } catch (err) {
      if (!this.lastGood) throw err;
      if (Date.now() - this.warnedAt > 10_000) {
        this.warnedAt = Date.now();
        this.log.warn({ err: (err as Error).message }, 'feature flags not read: answering the last ones read');
      }
      return this.lastGood;
    }
  }

  /** Reads every flag and the version counter in one MULTI; tells subscribers when the version moved. */
  private async read(): Promise<FlagSnapshot> {
    const n = ++this.reads;
    const res = await this.redis.multi().hvals(this.keys.flags()).get(this.keys.flagsVersion()).exec();
    const [[errDefs, defs], [errVersion, version]] = res as [[Error | null, string[]], [Error | null, string | null]];
    if (errDefs) throw errDefs;
    if (errVersion) throw errVersion;
    const snap: FlagSnapshot = {
      flags: defs.map((d) => JSON.parse(d) as FlagDefinition).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)),
      version: Number(version ?? 0),
    };
    if (n > this.newestRead) {
      this.newestRead = n;
      this.lastGood = snap;
      const moved = this.seen !== null && snap.version !== this.seen;
      this.seen = snap.version;
      // After the cache has kept it (this runs before the load's promise settles).
      if (moved) setImmediate(() => this.notify());
    }
    return snap;
  }

  /** While anyone watches: reads now (a new version tells them). */
  private refreshForWatchers(): void {
    if (!this.watchers.size) return;
    this.snapshot().catch((err: unknown) => this.log.warn({ err: (err as Error).message }, 'feature flag re-read failed'));
  }

  private notify(): void {
    for (const notify of this.watchers) notify();
  }

  /** Creates or changes a flag (admins); QUOTA_EXCEEDED for a new flag past FLAGS_MAX. */
  async set(spec: FlagSpec): Promise<FlagDefinition> {
    const key = checkKey(spec.key);
    const rollout = spec.rolloutPercent ?? '';
    if (rollout !== '' && !(Number.isInteger(rollout) && rollout >= 0 && rollout <= 100)) {
      throw badInput('rolloutPercent must be an integer from 0 to 100', { rolloutPercent: ['must be an integer from 0 to 100'] });
    }
    const [code, reply] = await runScript<[number, string | number]>(
      this.redis,
      'setFlag',
      [this.keys.flags(), this.keys.flagsVersion()],
      [key, spec.enabled ? '1' : '0', rollout, this.config.flags.max, Date.now(), this.keys.channel(FLAGS_TOPIC)],
    );
    const max = this.config.flags.max;
    if (code === -1)
      throw quotaExceeded(`At most ${max} feature flags can exist; delete one first`, { quota: 'flags', limit: max, used: Number(reply), requested: 1 });
    const def = JSON.parse(String(reply)) as FlagDefinition;
    // This instance answers with it from the next read; the others when its message comes.
    this.changedHere();
    return def;
  }

  /** Deletes a flag (admins); false when there was none. */
  async delete(key: string): Promise<boolean> {
    const version = await runScript<number>(
      this.redis,
      'deleteFlag',
      [this.keys.flags(), this.keys.flagsVersion()],
      [checkKey(key), this.keys.channel(FLAGS_TOPIC)],
    );
    if (!version) return false;
    this.changedHere();
    return true;
  }

  private changedHere(): void {
    this.cache.invalidateTagsHere([FLAGS_TAG]);
    this.refreshForWatchers();
  }

  /** Every flag's definition, by key (admins). */
  async definitions(): Promise<FlagDefinition[]> {
    return (await this.snapshot()).flags;
  }

  /** The caller's flags, from memory. */
  async forCaller(ctx: RequestContext, visitorId?: string | null): Promise<FlagView[]> {
    return this.evaluate(await this.visitors.viewerFor(ctx, visitorId));
  }

  /**
   * The caller's flags again after every change, on whichever instance it was made. The viewer is
   * decided once, at subscribe time; only the latest state waits for a slow reader.
   */
  async watch(ctx: RequestContext, visitorId?: string | null): Promise<AsyncIterableIterator<FlagView[]>> {
    const viewer = await this.visitors.viewerFor(ctx, visitorId);
    // Evaluations finish in any order: a later change's answer is never overtaken by an earlier one's.
    // A read can find a new version that changes nothing for this viewer's list (a re-read after a
    // message already told): the same list is not pushed twice.
    let asked = 0;
    let pushed = 0;
    let last = '';
    const notify = (): void => {
      if (!this.listening) return it.end();
      const n = ++asked;
      this.evaluate(viewer).then(
        (flags) => {
          if (n < pushed) return;
          pushed = n;
          const text = JSON.stringify(flags);
          if (text === last) return;
          last = text;
          it.push(flags);
        },
        (err: unknown) => this.log.warn({ err: (err as Error).message }, 'feature flags not evaluated for a subscriber'),
      );
    };
    const it = new PushIterator<FlagView[]>(() => this.watchers.delete(notify), 1);
    this.watchers.add(notify);
    return it;
  }

  /** Whether `key` is on for `viewer`. */
  private async isOn(def: FlagDefinition, viewer: string): Promise<boolean> {
    if (!def.enabled || def.rolloutPercent <= 0) return false;
    if (def.rolloutPercent >= 100) return true;
    return (await this.visitors.flagPoint(def.key, viewer)) < (def.rolloutPercent / 100) * POINTS;
  }

  private async evaluate(viewer: string): Promise<FlagView[]> {
    const { flags } = await this.snapshot();
    return Promise.all(
      flags.map(async (def) => ({
        key: def.key,
        enabled: await this.isOn(def, viewer),
        rolloutPercent: def.rolloutPercent,
        updatedAt: def.updatedAt,
      })),
    );
  }
}

function checkKey(key: string): string {
  if (!FLAG_KEY.test(key)) throw badInput('A flag key is 1 to 64 letters, digits, _ . or -', { key: ['must be 1 to 64 letters, digits, _ . or -'] });
  return key;
}
