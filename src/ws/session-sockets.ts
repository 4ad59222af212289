/**
 * The authenticated WebSocket connections of this instance, by session or API key. A
 * socket is closed (4401) as soon as its session ends or its key is revoked: at once when
 * any instance announces it, and otherwise by a periodic check, which also catches expiry
 * (idle or absolute) and announcements lost while the subscriber connection was down. The
 * check slides the session (and records the key's use): an open socket is a client in use.
 */
import type { WebSocket } from 'ws';
import type { GatewayPubSub } from '../redis/pubsub';
import { API_KEY_REVOKED_TOPIC, type ApiKeyRecord, type ApiKeyRevokedEvent } from '../services/sessions/api-key.service';
import type { SessionRecord } from '../services/sessions/session.service';
import { SESSION_REVOKED_TOPIC, type SessionRevokedEvent } from '../services/sessions/session.service';

export const SESSION_ENDED_CLOSE = 4401;

/** The longest a socket outlives a session that ended silently (default idle TTL / 2, at most 5 min). */
export const checkIntervalFor = (idleTtlMs: number): number => Math.min(Math.max(Math.floor(idleTtlMs / 2), 100), 300_000);

/** Sockets of an API key are filed under `key:<id>`, beside session ids (hex, no `:`). */
const keyOwner = (keyId: string): string => `key:${keyId}`;

export class SessionSockets {
  /** Session id or `key:<id>` -> its sockets. */
  private readonly byOwner = new Map<string, Set<WebSocket>>();
  private unlisten: Array<() => void> = [];

  constructor(private readonly checkEveryMs: number) {}

  async start(pubsub: GatewayPubSub): Promise<void> {
    const close = (owner: string, reason: string): void => {
      for (const socket of this.byOwner.get(owner) ?? []) socket.close(SESSION_ENDED_CLOSE, reason);
    };
    this.unlisten = [
      await pubsub.listen<SessionRevokedEvent>(SESSION_REVOKED_TOPIC, ({ sessionIds }) => {
        for (const id of sessionIds) close(id, 'Session revoked');
      }),
      await pubsub.listen<ApiKeyRevokedEvent>(API_KEY_REVOKED_TOPIC, ({ keyIds }) => {
        for (const id of keyIds) close(keyOwner(id), 'API key revoked');
      }),
    ];
  }

  stop(): void {
    for (const fn of this.unlisten.splice(0)) fn();
  }

  /**
   * Tracks `socket` as a connection of `session` until it closes. `revalidate`
   * re-checks the session (null once it ended; it may throw while Redis is down,
   * which is not the session's fault and keeps the socket).
   */
  add(session: SessionRecord, socket: WebSocket, revalidate: () => Promise<SessionRecord | null>): void {
    this.track(session.id, session.expiresAt, socket, async () => (await revalidate())?.expiresAt ?? null, 'Session ended');
  }

  /** Tracks `socket` as a connection signed with `key` until it closes; `revalidate` re-checks the key (null once revoked). */
  addKey(key: ApiKeyRecord, socket: WebSocket, revalidate: () => Promise<ApiKeyRecord | null>): void {
    this.track(keyOwner(key.id), Infinity, socket, async () => ((await revalidate()) ? Infinity : null), 'API key revoked');
  }

  /** `revalidate` answers the owner's expiry (ms) while it lives, null once it ended. */
  private track(owner: string, expiresAt: number, socket: WebSocket, revalidate: () => Promise<number | null>, endedReason: string): void {
    // Gone while it was being authenticated: no close event is coming to untrack it.
    if (socket.readyState !== socket.OPEN) return;
    let set = this.byOwner.get(owner);
    if (!set) this.byOwner.set(owner, (set = new Set()));
    set.add(socket);

    let closed = false;
    let timer: NodeJS.Timeout | undefined;
    const schedule = (expiresAt: number): void => {
      if (closed) return;
      // setTimeout overflows past ~24.8 days; the periodic check covers longer lifetimes.
      const untilEnd = Math.min(expiresAt - Date.now() + 5, 2 ** 31 - 1);
      timer = setTimeout(() => void check(), Math.max(0, Math.min(this.checkEveryMs, untilEnd)));
      timer.unref();
    };
    const check = async (): Promise<void> => {
      let current: number | null;
      try {
        current = await revalidate();
      } catch {
        return schedule(expiresAt);
      }
      if (current === null) socket.close(SESSION_ENDED_CLOSE, endedReason);
      else schedule(current);
    };
    schedule(expiresAt);

    socket.once('close', () => {
      closed = true;
      clearTimeout(timer);
      set.delete(socket);
      if (!set.size) this.byOwner.delete(owner);
    });
  }
}
