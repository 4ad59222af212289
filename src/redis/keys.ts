/**
 * Every Redis key the service writes is built here, under the configured prefix.
 * Keys that a script or transaction touches together share a Cluster hash tag
 * (the `{...}` part), so they land in one slot.
 */
export class Keys {
  constructor(readonly prefix: string) {}

  private k(...parts: string[]): string {
    return `${this.prefix}:${parts.join(':')}`;
  }

  // --- users: email index and user record are written together at register.
  user(userId: string): string {
    return this.k('user', `{u:${userId}}`);
  }
  /** email -> userId; its own slot, claimed with SET NX before the user is written. */
  userEmail(email: string): string {
    return this.k('user-email', email);
  }

  // --- sessions: one key per token hash (validated in one round trip), plus a
  // per-user index (zset by creation time + hash id -> token hash) under the user's tag.
  session(tokenHash: string): string {
    return this.k('sess', `{s:${tokenHash}}`);
  }
  userSessions(userId: string): string {
    return this.k('user', `{u:${userId}}`, 'sessions');
  }
  userSessionIds(userId: string): string {
    return this.k('user', `{u:${userId}}`, 'session-ids');
  }

  /** Pub/sub channel names (not keys, but prefixed so instances of one deployment share them). */
  channel(name: string): string {
    return this.k('ch', name);
  }

  /** Any other namespaced key; used by services of later capabilities. */
  custom(...parts: string[]): string {
    return this.k(...parts);
  }
}
