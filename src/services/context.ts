/**
 * The request context every service takes first: who is asking (session and user, or API key,
 * memoised and lazy, so a request that never asks costs no Redis round trip for it), from where,
 * the request's logger and id, and what the response should carry (headers, the session cookie).
 * It holds no service container: resolvers get the container beside it.
 *
 * A token starting with `gwk_` is an API key: it has no session and no user, and acts through
 * {@link RequestContext.actor} with the key's roles (no user-agent check, no cookie).
 */
import { randomUUID } from 'node:crypto';
import { isApiKey } from '../util/crypto';
import type { Logger } from '../util/logger';
import { userAgentFamily } from '../util/user-agent';
import type { ApiKeyRecord, ApiKeyService } from './sessions/api-key.service';
import type { ClientInfo, SessionEndReason, SessionRecord, SessionService } from './sessions/session.service';
import type { Role, UserRecord, UserService } from './sessions/user.service';

/**
 * Who acts on a request, with its roles: a signed-in user (`user:<id>`) or an API key (`key:<id>`).
 * Guests and anonymous callers have none.
 */
export type Actor =
  { kind: 'user'; id: string; roles: readonly Role[]; user: UserRecord } | { kind: 'key'; id: string; roles: readonly Role[]; key: ApiKeyRecord };

/** `user:<id>` or `key:<id>`: how audit entries, rate limits and job owners name an actor. */
export const actorName = (a: Actor): string => `${a.kind}:${a.id}`;

/** The session cookie this response sets: a token and its lifetime, or `null` to clear it. */
export interface SessionCookie {
  token: string | null;
  maxAgeSec: number;
}

export interface RequestContext {
  readonly requestId: string;
  readonly log: Logger;
  readonly client: ClientInfo;
  /** Came over HTTPS (directly or via a trusted proxy): cookies get `Secure` and the `__Host-` prefix. */
  readonly secure: boolean;
  /** The raw bearer token or cookie value, if any. Never logged, never stored. */
  token: string | null;
  /** The validated session, memoised; null when there is none or it is no longer valid. */
  session(): Promise<SessionRecord | null>;
  /** Set once {@link session} has resolved: why this request's token stopped being a session, if it did just now. */
  sessionEnded(): SessionEndReason | null;
  /** The signed-in user, memoised; null for guests, anonymous callers and API keys. */
  user(): Promise<UserRecord | null>;
  /** The API key this request is signed with, memoised (its check records its use); null for anyone else. */
  apiKey(): Promise<ApiKeyRecord | null>;
  /** Who acts, with the roles that authorise it: the signed-in user or the API key; null for guests and anonymous callers. */
  actor(): Promise<Actor | null>;
  /** Replaces the session this request acts as (after login, register, logout). */
  actAs(session: SessionRecord | null, token: string | null): void;
  /** The session cookie to set with the response, if any (written by the HTTP layer). */
  cookie: SessionCookie | null;
  /** Extra response headers (e.g. rate-limit headers). */
  readonly headers: Map<string, string>;
  /** The operation's cost, set before execution (plugins/cost.ts); Infinity when the cost check refused it. */
  cost: number;
  /** performance.now() when the request arrived (metrics measure from here). */
  readonly startedAt: number;
  /**
   * The default rate-limit budget as this request's charge left it (`rateLimitStatus` reads it);
   * null until charged. A field rather than a side table keyed by the context: the request path
   * would otherwise leave one weak entry per request for the garbage collector to sweep.
   */
  budget: RateLimitBudget | null;
  /**
   * True once the rate limiter charged this request's operation (plugins/ratelimit): a request it
   * did not reach (a parse, validation or cost failure) is charged by size instead. Kept here so
   * that the plugin's listener is one object shared by every request.
   */
  rateCharged: boolean;
}

/** A rate-limit policy's state after a charge, as {@link RequestContext.budget} keeps it. */
export interface RateLimitBudget {
  readonly policy: { readonly burst: number; readonly windowMs: number };
  readonly remaining: number;
  readonly resetMs: number;
}

/** What the transport knows about a request before anything is looked up. */
export interface RequestFacts {
  ip: string;
  userAgent?: string;
  secure: boolean;
  token: string | null;
  requestId?: string;
}

/** The services a context asks who the caller is. */
export interface ViewerLookup {
  sessions: Pick<SessionService, 'check'>;
  users: Pick<UserService, 'findById'>;
  apiKeys: Pick<ApiKeyService, 'check'>;
}

export function buildRequestContext(lookup: ViewerLookup, baseLog: Logger, facts: RequestFacts): RequestContext {
  const requestId = facts.requestId ?? randomUUID();
  const client: ClientInfo = { ip: facts.ip, userAgent: facts.userAgent, uaFamily: userAgentFamily(facts.userAgent) };
  let sessionP: Promise<SessionRecord | null> | undefined;
  let userP: Promise<UserRecord | null> | undefined;
  let keyP: Promise<ApiKeyRecord | null> | undefined;
  let actorP: Promise<Actor | null> | undefined;
  let ended: SessionEndReason | null = null;
  const ctx: RequestContext = {
    requestId,
    log: baseLog.child({ requestId }),
    client,
    secure: facts.secure,
    token: facts.token,
    session() {
      sessionP ??=
        ctx.token && !isApiKey(ctx.token)
          ? lookup.sessions.check(ctx.token, client, ctx.log).then((r) => {
              ended = r.ended;
              return r.session;
            })
          : Promise.resolve(null);
      return sessionP;
    },
    sessionEnded: () => ended,
    user: () => (userP ??= ctx.session().then((s) => (s?.userId ? lookup.users.findById(s.userId) : null))),
    apiKey: () => (keyP ??= ctx.token && isApiKey(ctx.token) ? lookup.apiKeys.check(ctx.token) : Promise.resolve(null)),
    actor: () =>
      (actorP ??=
        ctx.token && isApiKey(ctx.token)
          ? ctx.apiKey().then((key): Actor | null => key && { kind: 'key', id: key.id, roles: key.roles, key })
          : ctx.user().then((user): Actor | null => user && { kind: 'user', id: user.id, roles: user.roles, user })),
    actAs(session, token) {
      ctx.token = token;
      sessionP = Promise.resolve(session);
      userP = undefined;
      keyP = undefined;
      actorP = undefined;
    },
    cookie: null,
    headers: new Map(),
    cost: 1,
    startedAt: performance.now(),
    budget: null,
    rateCharged: false,
  };
  return ctx;
}
