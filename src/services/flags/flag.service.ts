/**
 * Feature flags, answered from memory. Every instance holds all flags (at most FLAGS_MAX,
 * default 200): loaded at start, kept current by the change message that setFlag and
 * deleteFlag publish from the same script that writes them, and re-read in full every
 * FLAGS_RESYNC (default 30s) so that a message missed while the subscriber connection was
 * down heals. Changes carry versions, so messages and re-reads merge in any order
 * ({@link FlagStore}).
 *
 * A flag is on for a viewer when it is enabled and the viewer's point for it (a keyed hash
 * of flag key and viewer, the same on every instance) falls in the first `rolloutPercent` of
 * the range. The viewer is decided as for experiments ({@link VisitorService.viewerFor}):
 * the session when there is one, so nobody holding one can pick ids until a flag turns on.
 * Answering costs no Redis round trip beyond the session check a token costs anyway.
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
import type { RequestContext } from '../context';
import { FlagStore, type FlagChange, type FlagDefinition } from './flag-store';

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
  private readonly store = new FlagStore();
  /** Local flagsUpdated subscribers: each is told when the store changes. */
  private readonly watchers = new Set<() => void>();
  private timer?: NodeJS.Timeout;
  private unlisten?: () => void;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly pubsub: GatewayPubSub,
    private readonly visitors: VisitorService,
    private readonly config: Pick<Config, 'flags'>,
    private readonly log: Logger,
  ) {}

  /** Listens for changes, loads every flag and the visitor salt, and re-reads every FLAGS_RESYNC. */
  async start(): Promise<void> {
    // Listening first: a change made while the first read is in flight is not lost between the two.
    this.unlisten = await this.pubsub.listen<FlagChange>(FLAGS_TOPIC, (change) => this.changed(this.store.apply(change)));
    await Promise.all([this.resync(), this.visitors.warm()]);
    this.timer = setInterval(() => {
      this.resync().catch((err: unknown) => this.log.warn({ err: (err as Error).message }, 'feature flag re-read failed'));
    }, this.config.flags.resyncMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.unlisten?.();
    this.unlisten = undefined;
    for (const notify of [...this.watchers]) notify();
  }

  /** Re-reads every flag and the version counter in one MULTI and merges them. */
  async resync(): Promise<void> {
    const res = await this.redis.multi().hvals(this.keys.flags()).get(this.keys.flagsVersion()).exec();
    const [[errDefs, defs], [errVersion, version]] = res as [[Error | null, string[]], [Error | null, string | null]];
    if (errDefs) throw errDefs;
    if (errVersion) throw errVersion;
    this.changed(
      this.store.applySnapshot(
        defs.map((d) => JSON.parse(d) as FlagDefinition),
        Number(version ?? 0),
      ),
    );
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
    // This instance answers from it at once; its own message then changes nothing.
    this.changed(this.store.apply(def));
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
    this.changed(this.store.apply({ key, version, deleted: true }));
    return true;
  }

  /** Every flag's definition, by key (admins). */
  definitions(): FlagDefinition[] {
    return this.store.list();
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
    let asked = 0;
    let pushed = 0;
    const notify = (): void => {
      if (!this.unlisten) return it.end();
      const n = ++asked;
      this.evaluate(viewer).then(
        (flags) => {
          if (n < pushed) return;
          pushed = n;
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
    return Promise.all(
      this.store.list().map(async (def) => ({
        key: def.key,
        enabled: await this.isOn(def, viewer),
        rolloutPercent: def.rolloutPercent,
        updatedAt: def.updatedAt,
      })),
    );
  }

  private changed(changed: boolean): void {
    if (changed) for (const notify of this.watchers) notify();
  }
}

function checkKey(key: string): string {
  if (!FLAG_KEY.test(key)) throw badInput('A flag key is 1 to 64 letters, digits, _ . or -', { key: ['must be 1 to 64 letters, digits, _ . or -'] });
  return key;
}
