/**
 * Which browser origins may act with a user's credentials: the gateway's own
 * and those listed in CORS_ORIGINS. Used for the WebSocket upgrade, which
 * browsers do not subject to CORS: without this check any site could open a
 * socket that carries the user's session cookie.
 */
import type { IncomingMessage } from 'node:http';
import { fromTrustedProxy, isSecure } from './request';

const firstValue = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v)?.split(',')[0].trim() || undefined;

/**
 * The origin the browser used to reach the gateway: `https` when {@link isSecure}, else `http`, and
 * the Host header, or the first X-Forwarded-Host when the peer is a trusted proxy. Serialized the
 * way browsers write `Origin` (lower case, no default port). null when there is no usable host.
 */
export function ownOrigin(req: IncomingMessage, trustedProxies: readonly string[]): string | null {
  const forwarded = fromTrustedProxy(req, trustedProxies) ? firstValue(req.headers['x-forwarded-host']) : undefined;
  const host = forwarded ?? req.headers.host;
  if (!host) return null;
  const candidate = `${isSecure(req, trustedProxies) ? 'https' : 'http'}://${host}`;
  if (!URL.canParse(candidate)) return null;
  const origin = new URL(candidate).origin;
  return origin === 'null' ? null : origin;
}

/** Decides WebSocket upgrades by their `Origin` (contract "WebSocket origin"). */
export class OriginPolicy {
  private readonly listed: ReadonlySet<string>;

  /** `corsOrigins`: exact origins (CORS_ORIGINS, default none); the own origin is always allowed. */
  constructor(
    corsOrigins: readonly string[],
    private readonly trustedProxies: readonly string[],
  ) {
    this.listed = new Set(corsOrigins);
  }

  /** Exactly one of the allowed origins. */
  isListed(origin: string | undefined): boolean {
    return origin !== undefined && this.listed.has(origin);
  }

  /**
   * No `Origin` (a non-browser client): allowed. Present: only the gateway's own origin or a listed
   * one, compared exactly. The pre-RFC `Sec-WebSocket-Origin` is held to the same rule.
   */
  allowsUpgrade(req: IncomingMessage): boolean {
    const claimed = [req.headers.origin, req.headers['sec-websocket-origin']].filter((o) => o !== undefined);
    if (!claimed.length) return true;
    const own = ownOrigin(req, this.trustedProxies);
    return claimed.every((o) => typeof o === 'string' && (o === own || this.listed.has(o)));
  }
}
