/**
 * POST /collect: page views for `navigator.sendBeacon`, which can set no header. The body is the
 * trackPageViews JSON, `{"inputs": [{"page": ...}, ...]}` (or the bare array), sent as
 * `text/plain` (what sendBeacon sends for a string), `application/json`, or with no type; at
 * most {@link COLLECT_BODY_LIMIT} bytes. It runs as the trackPageViews mutation through Apollo
 * with every plugin (cost, rate limits, validation, errors), so the limits and answers are the
 * mutation's: 200 `{"recorded": n}`, or its status (400, 429 with Retry-After, ...) and errors.
 *
 * Safe from cross-site requests by construction: it reads no cookie and no Authorization
 * header, so it acts as an anonymous caller (rate limits and visitor-key budget by address;
 * the visitor is the `visitorId` sent, else the anonymous hash of address and User-Agent) and
 * changes no account's state.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HeaderMap } from '@apollo/server';
import type { ResolverContext } from '../resolvers/context';
import { BodyAborted, BodyTooLarge, readBody } from './body';
import { contextForRequest, requestIdFor, type GraphQLHandlerDeps } from './graphql';

/** 64 KiB: what browsers let sendBeacon queue per page; 100 views of short paths fit well within it. */
export const COLLECT_BODY_LIMIT = 64 * 1024;

const DOCUMENT = 'mutation Collect($inputs: [PageViewInput!]!) { trackPageViews(inputs: $inputs) }';

function reply(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store' });
  res.end(text);
}

const refuse = (res: ServerResponse, status: number, message: string, code: string): void =>
  reply(res, status, { errors: [{ message, extensions: { code } }] });

/** A status for errors Apollo answered with 200 (execution errors): ours are 5xx, the rest the caller's. */
function statusOf(errors: unknown[] | undefined): number {
  const code = (errors?.[0] as { extensions?: { code?: unknown } } | undefined)?.extensions?.code;
  return code === 'SERVICE_UNAVAILABLE' ? 503 : code === 'INTERNAL_SERVER_ERROR' || code === undefined ? 500 : 400;
}

/** The inputs of a body: `{"inputs": [...]}` or `[...]`; null for any other shape. */
function inputsOf(body: unknown): unknown[] | null {
  if (Array.isArray(body)) return body as unknown[];
  if (body !== null && typeof body === 'object' && Array.isArray((body as { inputs?: unknown }).inputs)) return (body as { inputs: unknown[] }).inputs;
  return null;
}

export async function handleCollect(deps: GraphQLHandlerDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const requestId = requestIdFor(req);
  res.setHeader('X-Request-Id', requestId);
  if (req.method !== 'POST') {
    res.setHeader('Allow', 'POST');
    return refuse(res, 405, 'POST page views to /collect', 'METHOD_NOT_ALLOWED');
  }
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (type !== '' && type !== 'text/plain' && type !== 'application/json') {
    return refuse(res, 415, 'Send the page views as JSON, typed text/plain or application/json', 'UNSUPPORTED_MEDIA_TYPE');
  }
  let raw: string;
  try {
    raw = await readBody(req, COLLECT_BODY_LIMIT);
  } catch (err) {
    if (err instanceof BodyAborted) return;
    if (!(err instanceof BodyTooLarge)) throw err;
    res.setHeader('Connection', 'close');
    return refuse(res, 413, `Request body exceeds ${COLLECT_BODY_LIMIT} bytes`, 'PAYLOAD_TOO_LARGE');
  }
  let inputs: unknown[] | null;
  try {
    inputs = inputsOf(JSON.parse(raw));
  } catch {
    inputs = null;
  }
  if (!inputs) return refuse(res, 400, 'The body must be JSON: {"inputs": [{"page": "/path"}, ...]}', 'BAD_REQUEST');

  const ctx = contextForRequest(req, deps.services, deps.log, requestId);
  // Credentials are never read here (see above): whatever the request carried, it acts as nobody.
  ctx.token = null;
  const contextValue: ResolverContext = { ctx, services: deps.services };
  const headers = new HeaderMap([['content-type', 'application/json']]);
  const result = await deps.apollo.executeHTTPGraphQLRequest({
    httpGraphQLRequest: { method: 'POST', headers, search: '', body: { query: DOCUMENT, variables: { inputs }, operationName: 'Collect' } },
    context: async () => contextValue,
  });
  for (const [k, v] of ctx.headers) res.setHeader(k, v);
  const text = result.body.kind === 'complete' ? result.body.string : '';
  let parsed: { data?: { trackPageViews?: number } | null; errors?: unknown[] } = {};
  try {
    parsed = JSON.parse(text) as typeof parsed;
  } catch {
    // Apollo always answers JSON for a POST; anything else is reported as it came.
  }
  const status = result.status ?? 200;
  if (status === 200 && !parsed.errors?.length && typeof parsed.data?.trackPageViews === 'number') {
    return reply(res, 200, { recorded: parsed.data.trackPageViews });
  }
  reply(res, status === 200 ? statusOf(parsed.errors) : status, { errors: parsed.errors ?? [] });
}
