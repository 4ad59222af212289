/**
 * pino: JSON in production (and whenever stdout is not a terminal), readable
 * in development on a terminal. Lines written while a request is handled carry
 * its id because they are written through `ctx.log` (a child binding
 * `requestId`), which services take as an argument wherever they log inside a
 * request. An AsyncLocalStorage scope would do it implicitly, but on Node 20 it
 * turns on promise hooks for every promise in the process: about 45 µs of a
 * 260 µs request, measured in bench/me.ts.
 */
import pino, { type DestinationStream, type Logger } from 'pino';
import pretty from 'pino-pretty';
import type { Config } from '../config';

export type { Logger };

export interface LoggerOptions {
  /** Where lines go (tests capture them); default stdout. */
  destination?: DestinationStream;
  /** Readable output instead of JSON; default: not production and stdout is a terminal. */
  pretty?: boolean;
}

export function createLogger(config: Pick<Config, 'production' | 'logLevel'>, opts: LoggerOptions = {}): Logger {
  const readable = opts.pretty ?? (!config.production && process.stdout.isTTY === true);
  const options: pino.LoggerOptions = {
    level: config.logLevel,
    base: { service: 'gateway' },
    redact: { paths: ['req.headers.authorization', 'req.headers.cookie', '*.password', '*.token'], censor: '[redacted]' },
  };
  // In-process pretty stream rather than a worker-thread transport: lines are written before process.exit.
  if (readable)
    return pino(options, pretty({ destination: opts.destination ?? 1, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service', sync: true }));
  // Default: synchronous writes to stdout, so nothing is lost at process.exit.
  return opts.destination ? pino(options, opts.destination) : pino(options);
}
