/** Service records -> GraphQL object types. */
import type { SessionRecord } from '../../services/sessions/session.service';
import type { UserRecord } from '../../services/sessions/user.service';
import type { AuthResult } from '../../services/sessions/auth.service';
import type { ApiKeyRecord } from '../../services/sessions/api-key.service';
import type { ApiKey } from './api-key.type';
import type { AuthPayload } from './auth.type';
import type { Session } from './session.type';
import { Role, type User } from './user.type';

export const toUser = (u: UserRecord): User => ({ ...u, roles: u.roles.map((r) => Role[r]), createdAt: new Date(u.createdAt) });

export function toSession(s: SessionRecord, currentId: string | undefined, idleTtlMs: number): Session {
  return {
    id: s.id,
    createdAt: new Date(s.createdAt),
    lastSeenAt: new Date(s.lastSeenAt),
    expiresAt: new Date(Math.min(s.expiresAt, s.lastSeenAt + idleTtlMs)),
    userAgent: s.userAgent,
    ip: s.ip,
    current: s.id === currentId,
  };
}

export const toAuthPayload = (r: AuthResult, idleTtlMs: number): AuthPayload => ({
  token: r.token,
  user: r.user ? toUser(r.user) : null,
  session: toSession(r.session, r.session.id, idleTtlMs),
});

export const toApiKey = (k: ApiKeyRecord): ApiKey => ({
  id: k.id,
  name: k.name,
  roles: k.roles.map((r) => Role[r]),
  createdAt: new Date(k.createdAt),
  lastUsedAt: k.lastUsedAt === null ? null : new Date(k.lastUsedAt),
});
