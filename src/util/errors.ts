/**
 * Client-facing errors: one enum of codes, one GraphQLError subclass per use.
 * Anything else that reaches the client is masked by the error plugin.
 */
import { GraphQLError } from 'graphql';

export enum ErrorCode {
  UNAUTHENTICATED = 'UNAUTHENTICATED',
  FORBIDDEN = 'FORBIDDEN',
  BAD_USER_INPUT = 'BAD_USER_INPUT',
  NOT_FOUND = 'NOT_FOUND',
  OUT_OF_STOCK = 'OUT_OF_STOCK',
  RATE_LIMITED = 'RATE_LIMITED',
  QUOTA_EXCEEDED = 'QUOTA_EXCEEDED',
  SERVICE_UNAVAILABLE = 'SERVICE_UNAVAILABLE',
  QUERY_TOO_COMPLEX = 'QUERY_TOO_COMPLEX',
  INTERNAL_SERVER_ERROR = 'INTERNAL_SERVER_ERROR',
}

const HTTP_STATUS: Partial<Record<ErrorCode, number>> = {
  [ErrorCode.RATE_LIMITED]: 429,
  [ErrorCode.SERVICE_UNAVAILABLE]: 503,
  [ErrorCode.QUERY_TOO_COMPLEX]: 400,
};

export class AppError extends GraphQLError {
  constructor(
    readonly code: ErrorCode,
    message: string,
    extra: Record<string, unknown> = {},
  ) {
    const status = HTTP_STATUS[code];
    // Apollo turns `extensions.http` into the response status and strips it from the body.
    super(message, { extensions: { code, ...extra, ...(status ? { http: { status } } : {}) } });
    this.name = 'AppError';
  }
}

export const unauthenticated = (message = 'You must be signed in'): AppError => new AppError(ErrorCode.UNAUTHENTICATED, message);
/** The session this request presented was ended by it: its token came from another browser or app. */
export const sessionEnded = (): AppError =>
  new AppError(
    ErrorCode.UNAUTHENTICATED,
    'Your session was ended because it was used from a different browser or app than the one that signed in; sign in again',
    { reason: 'SESSION_CLIENT_CHANGED' },
  );
export const SESSION_ENDED_CLOSE_REASON = 'Session ended: used from a different browser or app';
export const forbidden = (message = 'You are not allowed to do this'): AppError => new AppError(ErrorCode.FORBIDDEN, message);
export const notFound = (what: string): AppError => new AppError(ErrorCode.NOT_FOUND, `${what} not found`);
export const badInput = (message: string, fields?: Record<string, string[]>): AppError =>
  new AppError(ErrorCode.BAD_USER_INPUT, message, fields ? { fields } : {});
/** `priority must not be greater than 1000; type ...`: each field with its problems. */
export const fieldSummary = (fields: Record<string, string[]>): string =>
  Object.entries(fields)
    .map(([f, m]) => `${f} ${m.join(', ')}`)
    .join('; ');
/** `Invalid input: <fieldSummary>`, the message of every input class's errors. */
export const invalidInputMessage = (fields: Record<string, string[]>): string => `Invalid input: ${fieldSummary(fields)}`;
/** BAD_USER_INPUT naming each field's problems, as class-validator's errors on an input class read. */
export const invalidInput = (fields: Record<string, string[]>): AppError => badInput(invalidInputMessage(fields), fields);
/** What QUOTA_EXCEEDED tells the client: which quota, its limit, what is in use, and what the request would add. */
export interface QuotaDetails {
  quota: string;
  limit: number;
  used: number;
  requested: number;
}
export const quotaExceeded = (message: string, details: QuotaDetails): AppError => new AppError(ErrorCode.QUOTA_EXCEEDED, message, { ...details });
export const serviceUnavailable = (): AppError => new AppError(ErrorCode.SERVICE_UNAVAILABLE, 'The service is temporarily unavailable, try again shortly');

/** Codes a client may see; anything else is masked in production. */
export const PUBLIC_CODES: ReadonlySet<string> = new Set([
  ...Object.values(ErrorCode).filter((c) => c !== ErrorCode.INTERNAL_SERVER_ERROR),
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_REQUEST',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'OPERATION_RESOLUTION_FAILURE',
]);
