/** A pino logger that keeps every line in memory, for asserting what a process logged. */
import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';

export interface LogLine {
  level: number;
  msg?: string;
  [key: string]: unknown;
}

export function captureLogger(level = 'debug'): { log: Logger; lines: LogLine[]; text(): string } {
  const lines: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l) lines.push(JSON.parse(l) as LogLine);
      cb();
    },
  });
  return { log: pino({ level }, sink), lines, text: () => lines.map((l) => JSON.stringify(l)).join('\n') };
}

/** pino's numeric level for warn. */
export const WARN = 40;
