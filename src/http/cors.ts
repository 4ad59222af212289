/**
 * CORS on /graphql with the `cors` package (expressjs/cors): an origin listed in
 * CORS_ORIGINS may call with credentials; any other origin gets no
 * Access-Control-* header at all, so its browser withholds the answer. The
 * request itself still runs as it would for a non-browser client: CORS is the
 * browser's rule, CSRF prevention (Apollo's) and the SameSite cookie are the
 * server's.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import cors from 'cors';
import type { OriginPolicy } from './origins';

/** Request headers a browser client sends: JSON bodies, bearer tokens, Apollo's CSRF header, its own request id. */
export const CORS_ALLOWED_HEADERS = ['content-type', 'authorization', 'apollo-require-preflight', 'x-request-id'];
/** Response headers a script may read beyond the CORS-safelisted ones. */
export const CORS_EXPOSED_HEADERS = ['RateLimit', 'RateLimit-Policy', 'Retry-After', 'X-Request-Id'];
/** How long a browser may reuse a preflight answer (Chromium caps it at 7200 s). */
export const CORS_MAX_AGE_SEC = 600;

/** Applies CORS to one /graphql request; resolves true when it answered it (a preflight). */
export type CorsStep = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;

export function createCors(policy: OriginPolicy): CorsStep {
  const middleware = cors({
    // false (unlisted or no Origin): the middleware sets nothing at all, not even Allow-Credentials.
    origin: (origin, done) => done(null, policy.isListed(origin)),
    credentials: true,
    methods: ['GET', 'POST'],
    allowedHeaders: CORS_ALLOWED_HEADERS,
    exposedHeaders: CORS_EXPOSED_HEADERS,
    maxAge: CORS_MAX_AGE_SEC,
    // The preflight is answered below, alike for every origin, so that only the headers differ.
    preflightContinue: true,
  });
  return (req, res) =>
    new Promise((resolve, reject) => {
      // Every answer depends on Origin, the ones without CORS headers too: shared caches must keep them apart.
      res.setHeader('Vary', 'Origin');
      middleware(req, res, (err?: unknown) => {
        if (err) return reject(err instanceof Error ? err : new Error('CORS middleware failed', { cause: err }));
        if (req.method !== 'OPTIONS') return resolve(false);
        res.writeHead(204, { Allow: 'GET, POST, OPTIONS', 'Content-Length': '0' }).end();
        resolve(true);
      });
    });
}
