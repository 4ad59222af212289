/** What an HTTP request (or a WebSocket upgrade) says about its client, believing proxies only when trusted. */
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';

const normalizeIp = (ip: string): string => (ip.startsWith('::ffff:') ? ip.slice(7) : ip);

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

/** The socket peer is one of the configured trusted proxies, whose X-Forwarded-* headers are believed. */
export function fromTrustedProxy(req: IncomingMessage, trustedProxies: readonly string[]): boolean {
  return trustedProxies.includes(normalizeIp(req.socket.remoteAddress ?? ''));
}

/** HTTPS directly, or `X-Forwarded-Proto: https` from a trusted proxy. */
export function isSecure(req: IncomingMessage, trustedProxies: readonly string[]): boolean {
  if ((req.socket as { encrypted?: boolean }).encrypted) return true;
  return (
    fromTrustedProxy(req, trustedProxies) &&
    String(req.headers['x-forwarded-proto'] ?? '')
      .split(',')[0]
      .trim() === 'https'
  );
}
