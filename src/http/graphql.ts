/**
 * GraphQL over HTTP on node:http, straight into ApolloServer.executeHTTPGraphQLRequest:
 * body limit (413), malformed JSON (400), context with lazy session, cookies and
 * extra headers from the context written with the response.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HeaderMap, type ApolloServer } from '@apollo/server';
import { buildContext, clientIp, isSecure, tokenFrom, type Context } from '../context';
import type { Logger } from '../logger';
import type { Services } from '../services';
import { BodyTooLarge, readBody } from './body';
import { serializeSessionCookie } from './cookies';

export interface GraphQLHandlerDeps {
  apollo: ApolloServer<Context>;
  services: Services;
  log: Logger;
}

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

function sendJsonError(res: ServerResponse, status: number, message: string, code: string): void {
  const body = JSON.stringify({ errors: [{ message, extensions: { code } }] });
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

export function contextForRequest(req: IncomingMessage, services: Services, log: Logger): Context {
  const { trustedProxies } = services.config;
  const rid = req.headers['x-request-id'];
  return buildContext(services, log, {
    ip: clientIp(req, trustedProxies),
    userAgent: req.headers['user-agent'],
    secure: isSecure(req, trustedProxies),
    token: tokenFrom(req.headers.authorization, req.headers.cookie),
    requestId: typeof rid === 'string' && REQUEST_ID.test(rid) ? rid : undefined,
  });
}

export async function handleGraphQL(deps: GraphQLHandlerDeps, req: IncomingMessage, res: ServerResponse, search: string): Promise<void> {
  let body: unknown;
  if (req.method === 'POST') {
    let raw: string;
    try {
      raw = await readBody(req, deps.services.config.bodyLimitBytes);
    } catch (err) {
      if (err instanceof BodyTooLarge) return sendJsonError(res, 413, `Request body exceeds ${deps.services.config.bodyLimitBytes} bytes`, 'PAYLOAD_TOO_LARGE');
      throw err;
    }
    const type = req.headers['content-type'] ?? '';
    if (type.startsWith('application/json') || type.startsWith('application/graphql-response+json')) {
      try {
        body = JSON.parse(raw);
      } catch {
        return sendJsonError(res, 400, 'Request body is not valid JSON', 'BAD_REQUEST');
      }
    } else {
      body = raw;
    }
  }
  const headers = new HeaderMap();
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(', ') : v);
  const ctx = contextForRequest(req, deps.services, deps.log);
  const result = await deps.apollo.executeHTTPGraphQLRequest({
    httpGraphQLRequest: { method: req.method ?? 'GET', headers, search, body },
    context: async () => ctx,
  });
  for (const [k, v] of result.headers) res.setHeader(k, v);
  for (const [k, v] of ctx.headers) res.setHeader(k, v);
  if (ctx.cookies.length) res.setHeader('Set-Cookie', ctx.cookies.map(serializeSessionCookie));
  res.setHeader('X-Request-Id', ctx.requestId);
  res.statusCode = result.status ?? 200;
  if (result.body.kind === 'complete') {
    res.end(result.body.string);
    return;
  }
  for await (const chunk of result.body.asyncIterator) res.write(chunk);
  res.end();
}
