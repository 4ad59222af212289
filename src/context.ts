/**
 * The per-request (or per-WebSocket-connection) context. Session validation is
 * lazy and memoised: a request that never asks who the viewer is costs no
 * Redis round trip for it.
 */
import type { IncomingMessage } from 'node:http';
import { randomUUID } from 'node:crypto';
import { isIP } from 'node:net';
import type { Logger } from './util/logger';
import type { ClientInfo, SessionEndReason, SessionRecord } from './services/sessions/session.service';
import type { UserRecord } from './services/sessions/user.service';
import type { Services } from './services/container';
import { userAgentFamily } from './util/user-agent';

/** A session cookie to set (empty value with maxAgeSec 0 clears it). */
export interface CookieSpec {
  value: string;
  maxAgeSec: number;
  secure: boolean;
}

export interface Context {
  requestId: string;
  log: Logger;
  client: ClientInfo;
  /** Came over HTTPS (directly or via a trusted proxy): cookies get `Secure` and the `__Host-` prefix. */
  secure: boolean;
  /** The raw bearer token or cookie value, if any. Never logged, never stored. */
  token: string | null;
  /** The validated session, memoised; null when there is none or it is no longer valid. */
  session(): Promise<SessionRecord | null>;
  /** Set once {@link session} has resolved: why this request's token stopped being a session, if it did just now. */
  sessionEnded(): SessionEndReason | null;
  /** The signed-in user, memoised; null for guests and anonymous callers. */
  user(): Promise<UserRecord | null>;
  /** Set-Cookie values the HTTP layer writes with the response. */
  cookies: CookieSpec[];
  /** The operation's cost, set before execution (see plugins/query-limits); Infinity when the cost check refused it. */
  cost: number;
  /** performance.now() when the request arrived (metrics measure from here). */
  startedAt: number;
  /** Extra response headers (e.g. rate-limit headers). */
  headers: Map<string, string>;
  /** Replaces the session this request acts as (after login/register). */
  actAs(session: SessionRecord | null, token: string | null): void;
  services: Services;
}

export const COOKIE_NAME = 'gw_session';
export const SECURE_COOKIE_NAME = `__Host-${COOKIE_NAME}`;

/** Reads a cookie value from a Cookie header. */
export function readCookie(header: string | undefined, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        // A value that is not valid percent-encoding is no token (and no reason for a 500).
        return null;
      }
    }
  }
  return null;
}

/** `Authorization: Bearer <token>` wins over the cookie. Tokens in the URL are never read. */
export function tokenFrom(authorization: string | undefined, cookieHeader: string | undefined): string | null {
  if (authorization) {
    const m = /^Bearer\s+([A-Za-z0-9_-]{16,128})\s*$/i.exec(authorization);
    return m ? m[1] : null;
  }
  return readCookie(cookieHeader, SECURE_COOKIE_NAME) ?? readCookie(cookieHeader, COOKIE_NAME);
}

export interface RequestFacts {
  ip: string;
  userAgent?: string;
  secure: boolean;
  token: string | null;
  requestId?: string;
}

export function buildContext(services: Services, baseLog: Logger, facts: RequestFacts): Context {
  const requestId = facts.requestId ?? randomUUID();
  const client: ClientInfo = { ip: facts.ip, userAgent: facts.userAgent, uaFamily: userAgentFamily(facts.userAgent) };
  let token = facts.token;
  let sessionP: Promise<SessionRecord | null> | undefined;
  let userP: Promise<UserRecord | null> | undefined;
  let ended: SessionEndReason | null = null;
  const check = (t: string): Promise<SessionRecord | null> =>
    services.sessions.check(t, client, ctx.log).then((r) => {
      ended = r.ended;
      return r.session;
    });
  const ctx: Context = {
    requestId,
    log: baseLog.child({ requestId }),
    client,
    secure: facts.secure,
    // A plain property, not a getter: Apollo copies the context once per request with Object.assign,
    // which takes a slow path (~3 µs) for accessors and would freeze a getter's value anyway.
    token,
    session: () => (sessionP ??= token ? check(token) : Promise.resolve(null)),
    // A method, not a property: Apollo's per-request copy of the context would not see a later assignment.
    sessionEnded: () => ended,
    user: () =>
      (userP ??= ctx.session().then((s) => (s?.userId ? services.users.findById(s.userId) : null))),
    cookies: [],
    cost: 1,
    startedAt: performance.now(),
    headers: new Map(),
    actAs(session, newToken) {
      token = newToken;
      // `this` is the copy resolvers hold (Apollo's), so they see the new token.
      this.token = newToken;
      sessionP = Promise.resolve(session);
      userP = undefined;
    },
    services,
  };
  return ctx;
}

/** The client address: the socket peer, or the first untrusted hop of X-Forwarded-For when the peer is a trusted proxy. */
export function clientIp(req: IncomingMessage, trustedProxies: readonly string[]): string {
  const peer = normalizeIp(req.socket.remoteAddress ?? '');
  const xff = req.headers['x-forwarded-for'];
  if (!xff || !trustedProxies.includes(peer)) return peer;
  const hops = (Array.isArray(xff) ? xff.join(',') : xff).split(',').map((s) => normalizeIp(s.trim()));
  // From the right: the first hop no trusted proxy added. A hop that is no IP address ends the walk
  // (nothing left of it can be believed, and the address goes into keys and logs): the nearest
  // address to its right answers, which is a trusted proxy's or the peer's.
  let nearest = peer;
  for (let i = hops.length - 1; i >= 0; i--) {
    if (isIP(hops[i]) === 0) return nearest;
    if (!trustedProxies.includes(hops[i])) return hops[i];
    nearest = hops[i];
  }
  return nearest;
}

const normalizeIp = (ip: string): string => (ip.startsWith('::ffff:') ? ip.slice(7) : ip);

/** HTTPS directly, or `X-Forwarded-Proto: https` from a trusted proxy. */
export function isSecure(req: IncomingMessage, trustedProxies: readonly string[]): boolean {
  if ((req.socket as { encrypted?: boolean }).encrypted) return true;
  const peer = normalizeIp(req.socket.remoteAddress ?? '');
  return trustedProxies.includes(peer) && String(req.headers['x-forwarded-proto'] ?? '').split(',')[0].trim() === 'https';
}

/** The socket peer is one of the configured trusted proxies, whose X-Forwarded-* headers are believed. */
export function fromTrustedProxy(req: IncomingMessage, trustedProxies: readonly string[]): boolean {
  return trustedProxies.includes(normalizeIp(req.socket.remoteAddress ?? ''));
}
