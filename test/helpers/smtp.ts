/** A real SMTP server (smtp-server, from the nodemailer project) on an ephemeral port that keeps what it receives. */
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  from: string;
  to: string[];
  /** The message as sent: headers and body, CRLF line ends, quoted-printable as the sender encoded it. */
  raw: string;
  /** The text body with quoted-printable soft breaks and escapes undone. */
  text: string;
}

export interface SmtpCatcher {
  /** `smtp://127.0.0.1:<port>`, for SMTP_URL. */
  url: string;
  received: ReceivedMail[];
  /** Resolves with the `n`th message (1-based, default the first) sent to `to`, or rejects after `timeoutMs`. */
  next(to: string, n?: number, timeoutMs?: number): Promise<ReceivedMail>;
  close(): Promise<void>;
}

/** Undoes quoted-printable (nodemailer's default for long or non-ASCII text) on the part after the headers. */
function textOf(raw: string): string {
  const at = raw.indexOf('\r\n\r\n');
  const body = at >= 0 ? raw.slice(at + 4) : raw;
  if (!/^Content-Transfer-Encoding: quoted-printable\r?$/im.test(raw.slice(0, at))) return body;
  return body.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

export async function smtpCatcher(): Promise<SmtpCatcher> {
  const received: ReceivedMail[] = [];
  const waiters = new Set<() => void>();
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, done) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        received.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw,
          text: textOf(raw),
        });
        for (const w of waiters) w();
        done();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.server.address() as AddressInfo).port;
  const find = (to: string, n: number): ReceivedMail | undefined => received.filter((m) => m.to.includes(to))[n - 1];
  return {
    url: `smtp://127.0.0.1:${port}`,
    received,
    next(to, n = 1, timeoutMs = 10_000) {
      const found = find(to, n);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const m = find(to, n);
          if (!m) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(m);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no message ${n} to ${to} within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.add(check);
      });
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
