import { COOKIE_NAME, SECURE_COOKIE_NAME, type CookieSpec } from '../context';

/** The session cookie: HttpOnly, SameSite=Lax, and `Secure` with the `__Host-` prefix over HTTPS. */
export function serializeSessionCookie(c: CookieSpec): string {
  const name = c.secure ? SECURE_COOKIE_NAME : COOKIE_NAME;
  return `${name}=${encodeURIComponent(c.value)}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${Math.max(0, c.maxAgeSec)}${c.secure ? '; Secure' : ''}`;
}
