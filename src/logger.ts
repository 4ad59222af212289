/** pino: JSON in production, pretty in development, silent-capable for tests. */
import pino, { type Logger } from 'pino';
import type { Config } from './config';

export type { Logger };

export function createLogger(config: Pick<Config, 'production' | 'logLevel'>): Logger {
  const pretty = !config.production && process.stdout.isTTY;
  return pino({
    level: config.logLevel,
    base: { service: 'gateway' },
    redact: { paths: ['req.headers.authorization', 'req.headers.cookie', '*.password', '*.token'], censor: '[redacted]' },
    ...(pretty ? { transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service' } } } : {}),
  });
}
