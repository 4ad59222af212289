/**
 * The session cookie: read from requests (after the bearer token), written with responses.
 * HttpOnly, SameSite=Lax, Path=/, and over HTTPS `Secure` with the `__Host-` prefix.
 */
import type { RequestContext } from '../services/context';
import { isApiKey } from '../util/crypto';

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

/**
 * `Authorization: Bearer <token>` wins over the cookie. Tokens in the URL are never read. An API key
 * (`gwk_...`) counts only in the header: a cookie holding one is ignored (no browser is given a key).
 */
export function tokenFrom(authorization: string | undefined, cookieHeader: string | undefined): string | null {
  if (authorization) {
    const m = /^Bearer\s+([A-Za-z0-9_-]{16,128})\s*$/i.exec(authorization);
    return m ? m[1] : null;
  }
  const cookie = readCookie(cookieHeader, SECURE_COOKIE_NAME) ?? readCookie(cookieHeader, COOKIE_NAME);
  return cookie && !isApiKey(cookie) ? cookie : null;
}

/** The Set-Cookie value for the context's session cookie (a cleared cookie when its token is null). */
export function serializeSessionCookie(ctx: Pick<RequestContext, 'cookie' | 'secure'>): string | null {
  const c = ctx.cookie;
  if (!c) return null;
  const name = ctx.secure ? SECURE_COOKIE_NAME : COOKIE_NAME;
  const maxAge = c.token === null ? 0 : Math.max(0, c.maxAgeSec);
  return `${name}=${encodeURIComponent(c.token ?? '')}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${maxAge}${ctx.secure ? '; Secure' : ''}`;
}

/** The response sets the session cookie to `token` until `expiresAt` (ms), or clears it (null). */
export function setSessionCookie(ctx: RequestContext, token: string | null, expiresAt = 0): void {
  ctx.cookie = token === null ? { token: null, maxAgeSec: 0 } : { token, maxAgeSec: Math.ceil((expiresAt - Date.now()) / 1000) };
}
