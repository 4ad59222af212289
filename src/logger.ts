/**
 * pino: JSON in production (and whenever stdout is not a terminal), readable
 * in development on a terminal. Every line logged while a request is being
 * handled carries that request's id, whichever logger wrote it: the HTTP layer
 * runs each request inside {@link withRequestId}, and the logger adds the id
 * unless the line already has one (ctx.log binds it as well).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import pino, { symbols, type DestinationStream, type Logger } from 'pino';
import pretty from 'pino-pretty';
import type { Config } from './config';

export type { Logger };

const scope = new AsyncLocalStorage<string>();

/** Runs `fn` with `requestId` attached to every log line written during it (including async work it starts). */
export function withRequestId<T>(requestId: string, fn: () => T): T {
  return scope.run(requestId, fn);
}

/** The id of the request being handled, if any. */
export const currentRequestId = (): string | undefined => scope.getStore();

export interface LoggerOptions {
  /** Where lines go (tests capture them); default stdout. */
  destination?: DestinationStream;
  /** Readable output instead of JSON; default: not production and stdout is a terminal. */
  pretty?: boolean;
}

/** True when `logger` (a child) already binds a requestId, so the mixin must not add a second one. */
function bindsRequestId(logger: Logger): boolean {
  const chindings = (logger as unknown as Record<symbol, string | undefined>)[symbols.chindingsSym];
  return chindings !== undefined && chindings.includes('"requestId":');
}

export function createLogger(config: Pick<Config, 'production' | 'logLevel'>, opts: LoggerOptions = {}): Logger {
  const readable = opts.pretty ?? (!config.production && process.stdout.isTTY === true);
  const options: pino.LoggerOptions = {
    level: config.logLevel,
    base: { service: 'gateway' },
    redact: { paths: ['req.headers.authorization', 'req.headers.cookie', '*.password', '*.token'], censor: '[redacted]' },
    mixin(_obj, _level, logger) {
      const requestId = scope.getStore();
      return requestId === undefined || bindsRequestId(logger) ? {} : { requestId };
    },
  };
  // In-process pretty stream rather than a worker-thread transport: lines are written before process.exit.
  if (readable) return pino(options, pretty({ destination: opts.destination ?? 1, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service', sync: true }));
  // Default: synchronous writes to stdout, so nothing is lost at process.exit.
  return opts.destination ? pino(options, opts.destination) : pino(options);
}
