/** The HTTP router: /graphql (+ GraphiQL), /collect, probes, metrics, assets, and routes added by features. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Metrics } from '../util/metrics';
import { GRAPHIQL_HTML } from './graphiql';
import { sendPage, serveAsset } from './assets';
import { handleGraphQL, type GraphQLHandlerDeps } from './graphql';
import { handleCollect } from './collect';
import { serveMetrics } from './metrics-endpoint';
import { createCors } from './cors';
import { OriginPolicy } from './origins';

export type RouteHandler = (req: IncomingMessage, res: ServerResponse, url: URL) => void | Promise<void>;

export interface RouterDeps extends GraphQLHandlerDeps {
  metrics: Metrics;
  /** GET /metrics on this port: null when it is served on its own port (METRICS_PORT); else the token it needs, if any. */
  metricsHere: { token: string | null } | null;
  /** Resolves true when Redis answers. */
  ready(): Promise<boolean>;
  /** Extra GET routes by exact path (e.g. /dashboard). */
  routes: Map<string, RouteHandler>;
}

function text(res: ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
  res.end(body);
}

const wantsHtml = (req: IncomingMessage): boolean => (req.headers.accept ?? '').includes('text/html');

export function createRouter(deps: RouterDeps) {
  const { corsOrigins, trustedProxies } = deps.services.config.http;
  const cors = createCors(new OriginPolicy(corsOrigins, trustedProxies));
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://gateway');
    } catch {
      // A target such as `//%` reads as a protocol-relative URL with an invalid host. Thrown here, outside
      // the handler's try, it was an unhandled rejection: Node ends the process on those.
      return text(res, 400, 'Bad Request');
    }
    const path = url.pathname;
    try {
      if (path === '/graphql') {
        // Only /graphql speaks CORS: probes, metrics and pages are for the gateway's own origin.
        if (await cors(req, res)) return;
        if (req.method === 'GET' && wantsHtml(req) && !url.searchParams.has('query')) return sendPage(res, GRAPHIQL_HTML);
        if (req.method !== 'GET' && req.method !== 'POST') {
          res.setHeader('Allow', 'GET, POST');
          return text(res, 405, 'Method Not Allowed');
        }
        return await handleGraphQL(deps, req, res, url.search);
      }
      // Page views from navigator.sendBeacon (POST, no headers of its own): see collect.ts.
      if (path === '/collect') return await handleCollect(deps, req, res);
      if (req.method !== 'GET' && req.method !== 'HEAD') return text(res, 405, 'Method Not Allowed');
      if (path === '/healthz') return text(res, 200, 'ok');
      if (path === '/readyz') return (await deps.ready()) ? text(res, 200, 'ready') : text(res, 503, 'redis unavailable');
      if (path === '/metrics' && deps.metricsHere) return await serveMetrics(req, res, deps.metrics, deps.metricsHere.token);
      if (path.startsWith('/assets/') && serveAsset(path.slice(8), req, res)) return;
      const route = deps.routes.get(path);
      if (route) return await route(req, res, url);
      if (path === '/') {
        res.writeHead(302, { Location: '/graphql' }).end();
        return;
      }
      return text(res, 404, 'Not Found');
    } catch (err) {
      deps.log.error({ err, path }, 'unhandled HTTP error');
      if (!res.headersSent) text(res, 500, 'Internal Server Error');
      else res.destroy();
    }
  };
}
