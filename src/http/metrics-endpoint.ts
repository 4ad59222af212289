/**
 * GET /metrics, on the public port or on a listener of its own (METRICS_PORT), answering only a
 * bearer token when METRICS_TOKEN is set. The token is compared in constant time.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Metrics } from '../util/metrics';

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

function authorized(req: IncomingMessage, token: string | null): boolean {
  if (token === null) return true;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  return m !== null && timingSafeEqual(digest(m[1]), digest(token));
}

function reply(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store', 'Content-Length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

/** Answers one GET /metrics request. */
export async function serveMetrics(req: IncomingMessage, res: ServerResponse, metrics: Metrics, token: string | null): Promise<void> {
  if (!authorized(req, token)) return reply(res, 401, 'Unauthorized', { 'WWW-Authenticate': 'Bearer realm="metrics"' });
  const body = await metrics.registry.metrics();
  reply(res, 200, body, { 'Content-Type': metrics.registry.contentType });
}

/** A listener that serves GET /metrics and nothing else. */
export function createMetricsServer(metrics: Metrics, token: string | null): Server {
  return createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') return reply(res, 404, 'Not Found');
    if (req.method !== 'GET' && req.method !== 'HEAD') return reply(res, 405, 'Method Not Allowed', { Allow: 'GET' });
    serveMetrics(req, res, metrics, token).catch(() => {
      if (!res.headersSent) reply(res, 500, 'Internal Server Error');
    });
  });
}
