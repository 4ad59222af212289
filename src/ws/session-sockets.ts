/**
 * The authenticated WebSocket connections of this instance, by session. A
 * socket is closed (4401) as soon as its session ends: at once when any
 * instance announces a revocation, and otherwise by a periodic check, which
 * also catches expiry (idle or absolute) and announcements lost while the
 * subscriber connection was down. The check slides the session: an open
 * socket is a client in use.
 */
import type { WebSocket } from 'ws';
import type { GatewayPubSub } from '../redis/pubsub';
import type { SessionRecord } from '../services/sessions/session.service';
import { SESSION_REVOKED_TOPIC, type SessionRevokedEvent } from '../services/sessions/session.service';

export const SESSION_ENDED_CLOSE = 4401;

/** The longest a socket outlives a session that ended silently (default idle TTL / 2, at most 5 min). */
export const checkIntervalFor = (idleTtlMs: number): number => Math.min(Math.max(Math.floor(idleTtlMs / 2), 100), 300_000);

export class SessionSockets {
  private readonly bySession = new Map<string, Set<WebSocket>>();
  private unlisten: (() => void) | undefined;

  constructor(private readonly checkEveryMs: number) {}

  async start(pubsub: GatewayPubSub): Promise<void> {
    this.unlisten = await pubsub.listen<SessionRevokedEvent>(SESSION_REVOKED_TOPIC, ({ sessionIds }) => {
      for (const id of sessionIds) for (const socket of this.bySession.get(id) ?? []) socket.close(SESSION_ENDED_CLOSE, 'Session revoked');
    });
  }

  stop(): void {
    this.unlisten?.();
  }

  /**
   * Tracks `socket` as a connection of `session` until it closes. `revalidate`
   * re-checks the session (null once it ended; it may throw while Redis is down,
   * which is not the session's fault and keeps the socket).
   */
  add(session: SessionRecord, socket: WebSocket, revalidate: () => Promise<SessionRecord | null>): void {
    // Gone while it was being authenticated: no close event is coming to untrack it.
    if (socket.readyState !== socket.OPEN) return;
    let set = this.bySession.get(session.id);
    if (!set) this.bySession.set(session.id, (set = new Set()));
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
      let current: SessionRecord | null;
      try {
        current = await revalidate();
      } catch {
        return schedule(session.expiresAt);
      }
      if (!current) socket.close(SESSION_ENDED_CLOSE, 'Session ended');
      else schedule(current.expiresAt);
    };
    schedule(session.expiresAt);

    socket.once('close', () => {
      closed = true;
      clearTimeout(timer);
      set.delete(socket);
      if (!set.size) this.bySession.delete(session.id);
    });
  }
}
