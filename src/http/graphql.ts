/**
 * GraphQL over HTTP on node:http, straight into ApolloServer.executeHTTPGraphQLRequest:
 * body limit (413), malformed JSON (400), context with lazy session, cookies and
 * extra headers from the context written with the response.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HeaderMap, type ApolloServer } from '@apollo/server';
import { buildRequestContext, type RequestContext } from '../services/context';
import type { ResolverContext } from '../resolvers/context';
import { clientIp, isSecure } from './request';
import type { Logger } from '../util/logger';
import type { Services } from '../services/container';
import { BodyAborted, BodyTooLarge, readBody } from './body';
import { serializeSessionCookie, tokenFrom } from './cookies';
import { isApiKey } from '../util/crypto';
import { endOfTurn } from '../util/turn';

export interface GraphQLHandlerDeps {
  apollo: ApolloServer<ResolverContext>;
  services: Services;
  log: Logger;
}

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

function sendJsonError(res: ServerResponse, status: number, message: string, code: string): void {
  const body = JSON.stringify({ errors: [{ message, extensions: { code } }] });
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

/** The client's X-Request-Id when it is a sane token, else a fresh UUID. */
export function requestIdFor(req: IncomingMessage): string {
  const rid = req.headers['x-request-id'];
  return typeof rid === 'string' && REQUEST_ID.test(rid) ? rid : randomUUID();
}

export function contextForRequest(req: IncomingMessage, services: Services, log: Logger, requestId: string = requestIdFor(req)): RequestContext {
  const { trustedProxies } = services.config.http;
  return buildRequestContext(services, log, {
    ip: clientIp(req, trustedProxies),
    userAgent: req.headers['user-agent'],
    secure: isSecure(req, trustedProxies),
    token: tokenFrom(req.headers.authorization, req.headers.cookie),
    requestId,
  });
}

/** Handles one /graphql request; its id (echoed in X-Request-Id) is bound to `ctx.log`. */
export function handleGraphQL(deps: GraphQLHandlerDeps, req: IncomingMessage, res: ServerResponse, search: string): Promise<void> {
  const requestId = requestIdFor(req);
  res.setHeader('X-Request-Id', requestId);
  return run(deps, req, res, search, requestId);
}

async function readJsonBody(deps: GraphQLHandlerDeps, req: IncomingMessage, res: ServerResponse): Promise<{ body: unknown } | null> {
  const limit = deps.services.config.http.bodyLimitBytes;
  let raw: string;
  try {
    raw = await readBody(req, limit);
  } catch (err) {
    if (err instanceof BodyAborted) {
      deps.log.debug({ reason: err.message }, 'request body aborted by the client');
      return null;
    }
    if (!(err instanceof BodyTooLarge)) throw err;
    // The rest of the body is not read: close the connection instead of draining it.
    res.setHeader('Connection', 'close');
    sendJsonError(res, 413, `Request body exceeds ${limit} bytes`, 'PAYLOAD_TOO_LARGE');
    return null;
  }
  const type = req.headers['content-type'] ?? '';
  // Other content types go to Apollo as text, whose CSRF prevention refuses them.
  if (!type.startsWith('application/json') && !type.startsWith('application/graphql-response+json')) return { body: raw };
  try {
    return { body: JSON.parse(raw) };
  } catch {
    sendJsonError(res, 400, 'Request body is not valid JSON', 'BAD_REQUEST');
    return null;
  }
}

async function run(deps: GraphQLHandlerDeps, req: IncomingMessage, res: ServerResponse, search: string, requestId: string): Promise<void> {
  let body: unknown;
  if (req.method === 'POST') {
    const read = await readJsonBody(deps, req, res);
    if (!read) return;
    body = read.body;
  }
  const headers = new HeaderMap();
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(', ') : v);
  const ctx = contextForRequest(req, deps.services, deps.log, requestId);
  // A service signing with an API key has no browser: its responses never set a cookie, whatever it calls.
  const signedWithKey = ctx.token !== null && isApiKey(ctx.token);
  const contextValue: ResolverContext = { ctx, services: deps.services };
  // The requests that arrived in this turn run together at its end: cheaper per request (util/turn.ts).
  await endOfTurn();
  const result = await deps.apollo.executeHTTPGraphQLRequest({
    httpGraphQLRequest: { method: req.method ?? 'GET', headers, search, body },
    context: async () => contextValue,
  });
  for (const [k, v] of result.headers) res.setHeader(k, v);
  for (const [k, v] of ctx.headers) res.setHeader(k, v);
  const cookie = signedWithKey ? null : serializeSessionCookie(ctx);
  if (cookie) res.setHeader('Set-Cookie', cookie);
  res.statusCode = result.status ?? 200;
  if (result.body.kind === 'complete') {
    res.end(result.body.string);
    return;
  }
  for await (const chunk of result.body.asyncIterator) res.write(chunk);
  res.end();
}
