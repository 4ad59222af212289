/**
 * Errors in one place. Known client errors pass through with their code; Redis
 * being unreachable becomes SERVICE_UNAVAILABLE (HTTP 503); input validation
 * becomes BAD_USER_INPUT with a message per field; anything else is logged with
 * the request id and, in production, masked as "Internal server error".
 */
import type { GatewayPlugin, RequestHooks } from './compose';
import { unwrapResolverError } from '@apollo/server/errors';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import type { ValidationError } from 'class-validator';
import type { ResolverContext } from '../resolvers/context';
import { AppError, ErrorCode, PUBLIC_CODES, invalidInputMessage } from '../util/errors';
import { isRedisUnavailable } from '../redis/connection';

const UNAVAILABLE_MESSAGE = 'The service is temporarily unavailable, try again shortly';

function fieldMessages(errors: ValidationError[], prefix = '', out: Record<string, string[]> = {}): Record<string, string[]> {
  for (const e of errors) {
    const path = prefix ? `${prefix}.${e.property}` : e.property;
    if (e.constraints) out[path] = Object.values(e.constraints).map((m) => m.replace(new RegExp(`^${e.property} `), ''));
    if (e.children?.length) fieldMessages(e.children, path, out);
  }
  return out;
}

type Ext = Record<string, unknown>;

/**
 * Apollo refuses a few requests before anything runs (a persisted query whose hash does not
 * match its text, an unsupported persisted-query version) with a 4xx status but no code: the
 * client's mistake, answered as BAD_REQUEST rather than masked and logged as an unexpected error.
 */
function isUncodedRefusal(error: unknown): boolean {
  const ext = (error as GraphQLError | undefined)?.extensions;
  const status = (ext?.http as { status?: unknown } | undefined)?.status;
  return ext !== undefined && ext.code === undefined && typeof status === 'number' && status >= 400 && status < 500;
}

/**
 * Apollo wraps each validation error in its own, coded GRAPHQL_VALIDATION_FAILED. A refusal of
 * ours reported through validation (the shape gate's QUERY_TOO_COMPLEX) keeps its own code.
 */
function ownCode(error: unknown, ext: Ext): Ext {
  const wrapped = error instanceof GraphQLError ? error.originalError : undefined;
  return ext.code === 'GRAPHQL_VALIDATION_FAILED' && wrapped instanceof AppError ? { ...ext, code: wrapped.code } : ext;
}

/** "Did you mean …?" names parts of the schema; graphql-js also adds it to variable errors (enum values), which no validation option hides. */
const SUGGESTION = / ?Did you mean .+\?$/;

/** The `formatError` for ApolloServer and graphql-ws. */
export function makeFormatError(production: boolean) {
  const format = formatWith(production);
  if (!production) return format;
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const out = format(formatted, error);
    return SUGGESTION.test(out.message) ? { ...out, message: out.message.replace(SUGGESTION, '') } : out;
  };
}

function formatWith(production: boolean) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const original = unwrapResolverError(error);
    const ext = ownCode(error, formatted.extensions ?? {});
    formatted = ext === formatted.extensions ? formatted : { ...formatted, extensions: ext };
    if (isRedisUnavailable(original)) {
      return { message: UNAVAILABLE_MESSAGE, path: formatted.path, extensions: { code: ErrorCode.SERVICE_UNAVAILABLE } };
    }
    if (Array.isArray(ext.validationErrors)) {
      const fields = fieldMessages(ext.validationErrors as ValidationError[]);
      return {
        message: invalidInputMessage(fields),
        path: formatted.path,
        locations: formatted.locations,
        extensions: { code: ErrorCode.BAD_USER_INPUT, fields },
      };
    }
    if (isUncodedRefusal(error)) return { message: formatted.message, extensions: { code: 'BAD_REQUEST' } };
    const code = typeof ext.code === 'string' ? ext.code : undefined;
    if (code && PUBLIC_CODES.has(code)) {
      // `http` is Apollo's status hint; over WebSocket nobody strips it, so it goes here.
      const { http: _http, ...noHttp } = ext;
      if (!production) return { ...formatted, extensions: noHttp };
      const { stacktrace: _drop, ...rest } = noHttp;
      return { ...formatted, extensions: rest };
    }
    const requestId = (error as GraphQLError | undefined)?.extensions?.requestId;
    if (production) {
      return { message: 'Internal server error', path: formatted.path, extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR, requestId } };
    }
    return { ...formatted, extensions: { ...ext, code: ErrorCode.INTERNAL_SERVER_ERROR, requestId } };
  };
}

/** The `extensions.code` the client sees for this error (before masking), e.g. for metrics. */
export function clientCode(err: GraphQLError): string {
  if (isRedisUnavailable(unwrapResolverError(err))) return ErrorCode.SERVICE_UNAVAILABLE;
  if (isUncodedRefusal(err)) return 'BAD_REQUEST';
  const ext = ownCode(err, err.extensions ?? {});
  if (Array.isArray(ext.validationErrors)) return ErrorCode.BAD_USER_INPUT;
  return typeof ext.code === 'string' && PUBLIC_CODES.has(ext.code) ? ext.code : ErrorCode.INTERNAL_SERVER_ERROR;
}

/** A refusal of the request itself (bad input, limits, auth), as opposed to a failure of ours or of Redis. */
function isClientError(err: GraphQLError): boolean {
  const code = err.extensions?.code;
  return (
    typeof code === 'string' && PUBLIC_CODES.has(code) && code !== (ErrorCode.SERVICE_UNAVAILABLE as string) && !isRedisUnavailable(unwrapResolverError(err))
  );
}

/** Tags unexpected errors with the request id, logs them, and answers 503 while Redis is down. */
export function errorPlugin(): GatewayPlugin<ResolverContext> {
  // One listener for every request (it keeps no per-request state): no allocation per request.
  const hooks: RequestHooks<ResolverContext> = {
    didEncounterErrors({ errors, contextValue, response, operationName }) {
      for (const err of errors) {
        const original = unwrapResolverError(err);
        if (isRedisUnavailable(original)) {
          response.http.status = 503;
          contextValue.ctx.log.warn({ err: (original as Error).message, operationName }, 'redis unavailable');
          continue;
        }
        const code = err.extensions?.code;
        if ((typeof code === 'string' && PUBLIC_CODES.has(code)) || isUncodedRefusal(err)) continue;
        err.extensions.requestId = contextValue.ctx.requestId;
        contextValue.ctx.log.error({ err: original, operationName, path: err.path }, 'unexpected error');
      }
    },
    willSendResponse({ response, errors }) {
      // Apollo answers 500 for any error thrown before execution (e.g. by a plugin) that carries
      // no status of its own; a refusal of the client's request is the client's error, never a 5xx.
      if (response.http.status === 500 && errors?.length && errors.every(isClientError)) response.http.status = 400;
    },
  };
  return { hooks };
}
