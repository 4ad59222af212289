/**
 * email.send through SMTP (SMTP_URL): a real SMTP server (smtp-server, from the
 * nodemailer project) on an ephemeral port receives the message the worker
 * sends; a re-run of the same job sends nothing more; the Message-ID carries
 * the job id so receivers can drop a duplicate after a crash between send and marker.
 */
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { registerUser, startTestApp, type TestApp } from '../helpers/app';
import { enqueue, jobOf, waitFor } from '../helpers/jobs';

interface Received {
  from: string;
  to: string[];
  raw: string;
}

let server: SMTPServer;
const received: Received[] = [];
let t: TestApp;

beforeAll(async () => {
  server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, done) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        received.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks).toString('utf8'),
        });
        done();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.server.address() as AddressInfo).port;
  t = await startTestApp({ WORKER: '1', SMTP_URL: `smtp://127.0.0.1:${port}`, MAIL_FROM: 'shop@example.com' });
});

afterAll(async () => {
  await t?.close();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

test('email.send with SMTP_URL delivers once through the SMTP server, with the job id in the Message-ID', async () => {
  // A customer's email.send goes to the customer's own address.
  const u = await registerUser(t, { email: 'ann@example.com' });
  const job = await enqueue(t, u.token, {
    type: 'email.send',
    data: { to: 'ann@example.com', subject: 'Welcome aboard', body: 'Hello Ann,\nyour account is ready.' },
  });
  const done = await waitFor('the job to complete', async () => {
    const j = await jobOf(t, u.token, job.id);
    return j?.state === 'COMPLETED' ? j : null;
  });
  expect(done.result).toMatchObject({ transport: 'smtp', duplicate: false });
  expect(received).toHaveLength(1);
  const [mail] = received;
  expect(mail.from).toBe('shop@example.com');
  expect(mail.to).toEqual(['ann@example.com']);
  expect(mail.raw).toMatch(/^Subject: Welcome aboard\r?$/m);
  expect(mail.raw).toMatch(new RegExp(`^Message-ID: <${job.id}@example\\.com>\\r?$`, 'mi'));
  expect(mail.raw).toContain('your account is ready.');

  // The job runs again (a retry, or stalled-job recovery): nothing more is sent.
  const again = await t.app.services.mail.send(job.id, { to: 'ann@example.com', subject: 'Welcome aboard', body: 'x' });
  expect(again).toEqual({ transport: 'smtp', duplicate: true });
  expect(received).toHaveLength(1);
});

test('an SMTP server that refuses the message fails the attempt, which is retried', async () => {
  const refusing = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onRcptTo(_address, _session, done) {
      done(Object.assign(new Error('mailbox unavailable'), { responseCode: 450 }));
    },
  });
  await new Promise<void>((resolve) => refusing.listen(0, '127.0.0.1', () => resolve()));
  const port = (refusing.server.address() as AddressInfo).port;
  const r = await startTestApp({ WORKER: '1', SMTP_URL: `smtp://127.0.0.1:${port}`, JOB_BACKOFF: '100ms' });
  try {
    const u = await registerUser(r, { email: 'bob@example.com' });
    const job = await enqueue(r, u.token, { type: 'email.send', data: { to: 'bob@example.com', subject: 's', body: 'b' }, maxAttempts: 2 });
    const failed = await waitFor('the job to be dead-lettered', async () => {
      const j = await jobOf(r, u.token, job.id);
      return j?.state === 'FAILED' ? j : null;
    });
    expect(failed.attempts).toBe(2);
    expect(failed.error).toMatch(/mailbox unavailable|450/);
  } finally {
    await r.close();
    await new Promise<void>((resolve) => refusing.close(() => resolve()));
  }
});
