/**
 * Sessions: opaque 256-bit bearer tokens of which Redis holds only the SHA-256.
 * A session expires after an idle lifetime (sliding) and an absolute maximum age, both
 * enforced by Redis TTLs and checked by the touch script; validation plus refresh is one
 * round trip. The idle deadline moves once it lags by the refresh step (a tenth of the idle
 * lifetime, at most 1m), not on every request.
 *
 * Each instance keeps a checked session for up to {@link SESSION_CACHE_MS} in the shared cache,
 * so a busy client costs Redis one script per instance every 800 ms, not one per request. Every
 * ending (logout, revocation, eviction, the hijack check) drops it on every instance over
 * pub/sub before it returns; a lost message can leave it usable for at most those 800 ms. A
 * request from another user-agent family, or one due to move the deadline, always goes to Redis.
 */
import type { Config } from '../../config';
import type { Logger } from '../../util/logger';
import type { RedisClient } from '../../redis/connection';
import type { Keys } from '../../redis/keys';
import type { GatewayPubSub } from '../../redis/pubsub';
import { runScript } from '../../redis/scripts';
import { isApiKey, newId, newToken, sha256 } from '../../util/crypto';
import type { CacheSpace, SharedCache } from '../cache/shared-cache';

export const SESSION_REVOKED_TOPIC = 'session.revoked';

/** How long an instance may use a session it checked without asking Redis again. */
export const SESSION_CACHE_MS = 800;

/** A session as this instance last saw it in Redis. */
interface HotSession {
  record: SessionRecord;
  /** The user-agent family it is bound to ('none' until its first request with one). */
  uaFamily: string;
  /** When Redis will drop it (its idle deadline as stored, or its absolute end). */
  endsAt: number;
}

/** What the touch script returns for a live session. */
export interface SessionRecord {
  id: string;
  tokenHash: string;
  userId: string | null;
  createdAt: number;
  lastSeenAt: number;
  expiresAt: number;
  userAgent: string | null;
  ip: string | null;
}

export interface ClientInfo {
  userAgent?: string;
  uaFamily: string;
  ip?: string;
}

export interface SessionRevokedEvent {
  sessionIds: string[];
}

type TouchReply = [1, string[], string] | [-1] | [-2, string, string];

/** Runs when a guest session's own state (its cart) must be kept until `untilMs` (absolute, ms). */
export type GuestKeepAlive = (guestSessionId: string, untilMs: number) => Promise<void>;

/** Why a presented session ended on this request: its token came from another user-agent family. */
export type SessionEndReason = 'client-changed';

/** A token's check: the live session, or none and, when this very request ended it, why. */
export type SessionCheck = { session: SessionRecord; ended: null } | { session: null; ended: SessionEndReason | null };

/** The family a session is bound to after this check: the stored one, or this request's when it had none. */
function boundFamily(flat: string[], requestFamily: string): string {
  for (let i = 0; i < flat.length; i += 2) if (flat[i] === 'uaf') return flat[i + 1] === 'none' ? requestFamily : flat[i + 1];
  return requestFamily;
}

function parseRecord(tokenHash: string, flat: string[]): SessionRecord {
  const f: Record<string, string> = {};
  for (let i = 0; i < flat.length; i += 2) f[flat[i]] = flat[i + 1];
  return {
    id: f.id,
    tokenHash,
    userId: f.uid || null,
    createdAt: Number(f.created),
    lastSeenAt: Number(f.seen),
    expiresAt: Number(f.exp),
    userAgent: f.ua || null,
    ip: f.ip || null,
  };
}

/**
 * Owns every session key. All methods take the raw token or a public session id, never store the token.
 * Defaults (see config): idle lifetime 30m, absolute 7d, 10 sessions per user, user-agent family check on.
 *
 * A guest session's state elsewhere (its cart, in another Cluster slot) lives until a deadline kept
 * in the session as `ka`: the session's own end plus `GUEST_CART_GRACE` (default 10m). When a touch
 * finds the session would outlive `ka`, it moves `ka` to now + idle lifetime + grace (never past the
 * absolute end + grace) in the same script, and the {@link onGuestKeepAlive} steps extend the state
 * to it: one extra command per grace period of activity, none in between.
 */
export class SessionService {
  private readonly keepAlives: GuestKeepAlive[] = [];
  private readonly hot: CacheSpace<HotSession>;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly pubsub: GatewayPubSub,
    private readonly config: Pick<Config, 'sessions' | 'commerce'>,
    private readonly log: Logger,
    cache: SharedCache,
  ) {
    this.hot = cache.space<HotSession>('session', { ttlMs: SESSION_CACHE_MS });
  }

  /** Adds a step that extends a guest's state (its cart) to a deadline; see the class comment. */
  onGuestKeepAlive(fn: GuestKeepAlive): void {
    this.keepAlives.push(fn);
  }

  /** When a guest's state must live until, at the least, seen from `now`: the session's end plus the grace. */
  guestStateDeadline(now: number, expiresAt: number): number {
    return Math.min(now + this.config.sessions.idleTtlMs, expiresAt) + this.config.commerce.guestCartGraceMs;
  }

  /** Creates a session for a user (or a guest when `userId` is null); returns the raw token once. */
  async create(userId: string | null, client: ClientInfo): Promise<{ token: string; session: SessionRecord }> {
    let token = newToken();
    // One token in 16.7 million would start like an API key, and be taken for one.
    while (isApiKey(token)) token = newToken();
    const tokenHash = sha256(token);
    const now = Date.now();
    const session: SessionRecord = {
      id: newId(),
      tokenHash,
      userId,
      createdAt: now,
      lastSeenAt: now,
      expiresAt: now + this.config.sessions.maxAgeMs,
      userAgent: client.userAgent?.slice(0, 512) ?? null,
      ip: client.ip ?? null,
    };
    const key = this.keys.session(tokenHash);
    await this.redis
      .multi()
      .hset(key, {
        id: session.id,
        uid: userId ?? '',
        created: now,
        seen: now,
        exp: session.expiresAt,
        ua: session.userAgent ?? '',
        uaf: client.uaFamily,
        ip: session.ip ?? '',
        // A guest's cart, made later, gets at least this deadline: the first touches need not extend it.
        ...(userId ? {} : { ka: this.guestStateDeadline(now, session.expiresAt) }),
      })
      // Absolute, so the key can never outlive `exp` by however long the command took to arrive.
      .pexpireat(key, Math.min(now + this.config.sessions.idleTtlMs, session.expiresAt))
      .exec();
    if (userId) {
      // Ended sessions leave their index entries behind; without this they would count toward the cap.
      await this.indexed(userId);
      const evicted = await runScript<string[]>(
        this.redis,
        'sessionIndexAdd',
        [this.keys.userSessions(userId), this.keys.userSessionIds(userId)],
        [session.id, tokenHash, now, this.config.sessions.perUser, this.config.sessions.maxAgeMs],
      );
      await this.dropRemoved(evicted);
    }
    return { token, session };
  }

  /** Validates a raw token and slides its idle lifetime. Null when unknown, expired or revoked. `log` is the request's. */
  async touch(token: string, client: ClientInfo, log: Logger = this.log): Promise<SessionRecord | null> {
    return (await this.check(token, client, log)).session;
  }

  /**
   * {@link touch}, also saying when this request ended the session (used from another user-agent
   * family), so the client can be told why instead of a bare "sign in".
   */
  async check(token: string, client: ClientInfo, log: Logger = this.log): Promise<SessionCheck> {
    const none: SessionCheck = { session: null, ended: null };
    if (!token || token.length > 128) return none;
    const tokenHash = sha256(token);
    const now = Date.now();
    const { idleTtlMs, refreshStepMs, uaCheck } = this.config.sessions;
    const hot = this.hot.peek(tokenHash);
    if (hot && this.usableAsIs(hot, client, now)) return { session: hot.record, ended: null };
    const mark = this.hot.mark();
    const reply = await runScript<TouchReply>(
      this.redis,
      'sessionTouch',
      [this.keys.session(tokenHash)],
      [now, idleTtlMs, client.uaFamily, uaCheck ? '1' : '0', this.config.commerce.guestCartGraceMs, refreshStepMs],
    );
    switch (reply[0]) {
      case 1: {
        const session = parseRecord(tokenHash, reply[1]);
        const endsAt = Math.min(session.lastSeenAt + idleTtlMs, session.expiresAt);
        this.hot.set(tokenHash, { record: session, uaFamily: boundFamily(reply[1], client.uaFamily), endsAt }, mark, { ttlMs: endsAt - now });
        if (reply[2]) await this.keepGuestAlive(session.id, Number(reply[2]), log);
        return { session, ended: null };
      }
      case -1:
        return none;
      case -2: {
        const [, userId, id] = reply;
        log.warn(
          { event: 'session.hijack_suspected', sessionId: id, userId, uaFamily: client.uaFamily, ip: client.ip },
          'session used from another user-agent family: revoked',
        );
        if (userId) await this.removeFromIndex(userId, 'one', id);
        else await this.announce([id], [tokenHash]);
        return { session: null, ended: 'client-changed' };
      }
      default: {
        const never: never = reply[0];
        throw new Error(`unexpected sessionTouch reply ${String(never)}`);
      }
    }
  }

  /**
   * Whether a session this instance checked less than {@link SESSION_CACHE_MS} ago can serve this request without
   * Redis: still before both deadlines, its stored idle deadline not yet a step behind, and the same
   * user-agent family (a request from another family, or the first with one, goes to the script).
   */
  private usableAsIs(hot: HotSession, client: ClientInfo, now: number): boolean {
    if (now >= hot.endsAt || now - hot.record.lastSeenAt >= this.config.sessions.refreshStepMs) return false;
    if (client.uaFamily === 'none' || client.uaFamily === hot.uaFamily) return true;
    return !this.config.sessions.uaCheck && hot.uaFamily !== 'none';
  }

  /** A failed extension is logged, not thrown: the request goes on, and the state may end up to a grace period early. */
  private async keepGuestAlive(sessionId: string, untilMs: number, log: Logger): Promise<void> {
    for (const fn of this.keepAlives) {
      try {
        await fn(sessionId, untilMs);
      } catch (err) {
        log.warn({ err, sessionId }, 'could not extend a guest session state');
      }
    }
  }

  /** Whether the session still exists, without sliding it. */
  async isLive(session: SessionRecord): Promise<boolean> {
    return (await this.redis.exists(this.keys.session(session.tokenHash))) === 1;
  }

  /** Ends the session of this token hash (logout). */
  async end(session: SessionRecord): Promise<void> {
    this.hot.forgetLocally(session.tokenHash);
    await this.redis.del(this.keys.session(session.tokenHash));
    if (session.userId) await this.removeFromIndex(session.userId, 'one', session.id);
    else await this.announce([session.id], [session.tokenHash]);
  }

  /** Revokes one of the user's live sessions by public id. False when the user has no such live session. */
  async revoke(userId: string, sessionId: string): Promise<boolean> {
    return (await this.removeFromIndex(userId, 'one', sessionId)) > 0;
  }

  /** Revokes every live session of the user but `keepId`; returns how many. */
  revokeOthers(userId: string, keepId: string): Promise<number> {
    return this.removeFromIndex(userId, 'others', keepId);
  }

  /** Revokes every live session of the user (and closes their WebSockets everywhere); returns how many. */
  revokeAll(userId: string): Promise<number> {
    // No session id is empty: 'others' than '' is every one.
    return this.removeFromIndex(userId, 'others', '');
  }

  /** The user's live sessions, newest first. */
  async list(userId: string): Promise<SessionRecord[]> {
    const live = await this.indexed(userId);
    return live.map(([th, row]) => parseRecord(th, Object.entries(row).flat())).sort((a, b) => b.createdAt - a.createdAt);
  }

  /**
   * The user's indexed sessions that are still live, as [tokenHash, stored fields].
   * Entries whose session ended by TTL are pruned: a session key never comes
   * back once gone (it is written before its entry, and tokens are never reused).
   */
  private async indexed(userId: string): Promise<Array<[string, Record<string, string>]>> {
    const entries = Object.entries(await this.redis.hgetall(this.keys.userSessionIds(userId)));
    // One command per session: they live in other Cluster slots than the index.
    const rows = await Promise.all(entries.map(([, th]) => this.redis.hgetall(this.keys.session(th))));
    const live: Array<[string, Record<string, string>]> = [];
    const stale: string[] = [];
    const now = Date.now();
    entries.forEach(([id, th], i) => {
      const row = rows[i];
      if (row.id === id && Number(row.exp) > now) live.push([th, row]);
      else stale.push(id);
    });
    if (stale.length) {
      await this.redis
        .multi()
        .zrem(this.keys.userSessions(userId), ...stale)
        .hdel(this.keys.userSessionIds(userId), ...stale)
        .exec();
    }
    return live;
  }

  /** Removes index entries and their sessions; returns how many live sessions ended. */
  private async removeFromIndex(userId: string, mode: 'one' | 'others', id: string): Promise<number> {
    const removed = await runScript<string[]>(this.redis, 'sessionIndexRemove', [this.keys.userSessions(userId), this.keys.userSessionIds(userId)], [mode, id]);
    return this.dropRemoved(removed);
  }

  /** Deletes the session keys of a flat {id, tokenHash, ...} list, tells every instance, and returns how many existed. */
  private async dropRemoved(flat: string[]): Promise<number> {
    if (!flat.length) return 0;
    const ids: string[] = [];
    const hashes: string[] = [];
    const dels: Array<Promise<number>> = [];
    for (let i = 0; i < flat.length; i += 2) {
      ids.push(flat[i]);
      hashes.push(flat[i + 1]);
      dels.push(this.redis.del(this.keys.session(flat[i + 1])));
    }
    const deleted = (await Promise.all(dels)).reduce((a, b) => a + b, 0);
    await this.announce(ids, hashes);
    return deleted;
  }

  /** Tells every instance these sessions ended: their sockets close, and no cache keeps them. */
  private async announce(sessionIds: string[], tokenHashes: string[]): Promise<void> {
    const event: SessionRevokedEvent = { sessionIds };
    await Promise.all([this.hot.invalidate(tokenHashes), this.pubsub.publishAsync(SESSION_REVOKED_TOPIC, event)]);
  }
}
