/**
 * Accounts over HTTP and WebSocket on two gateways sharing one Redis: changePassword (rules, a wrong
 * current password counted as a failed sign-in, every other session ended on both instances and their
 * sockets closed), the password reset through a real SMTP server (the test reads the token from the
 * email it receives; single use, expiry, cap per user, throttles, the same answer for unknown
 * addresses, no token in job data or anywhere in Redis), the reset as the owner's way in past sign-in
 * throttling, and revokeUserSessions for admins (audited).
 */
import type { Client } from 'graphql-ws';
import { loginAs, registerUser, startTestApp, type GqlResult, type TestApp } from '../helpers/app';
import { startInstances, type Instances } from '../helpers/instances';
import { within as eventually } from '../helpers/eventually';
import { readPrefix } from '../helpers/redis';
import { smtpCatcher, type ReceivedMail, type SmtpCatcher } from '../helpers/smtp';
import { execute, wsConnect, type WsConnection } from '../helpers/ws';
import { waitFor } from '../helpers/jobs';
import { RESET_TOKEN_REFUSED } from '../../src/services/sessions/auth.service';
import { MAIL_SECRET_PLACEHOLDER } from '../../src/services/jobs/mail-secret';

const CHANGE = 'mutation C($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }';
const REQUEST = 'mutation R($e: String!) { requestPasswordReset(email: $e) }';
const RESET = 'mutation P($t: String!, $n: String!) { resetPassword(token: $t, newPassword: $n) }';
const REVOKE_USER = 'mutation V($u: ID!) { revokeUserSessions(userId: $u) }';
const LOGIN = 'mutation L($i: LoginInput!) { login(input: $i) { token } }';
const ME = '{ me { id } }';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const within = <T>(p: Promise<T>, ms: number): Promise<T | 'timeout'> => Promise.race([p, sleep(ms).then(() => 'timeout' as const)]);
const code = (r: { errors?: GqlResult['errors'] }) => r.errors?.[0]?.extensions?.code;
/** The token a reset email carries, in PASSWORD_RESET_URL's link or alone. */
const tokenIn = (mail: ReceivedMail): string => {
  const m = /token=([A-Za-z0-9_-]{43})\b/.exec(mail.text) ?? /^([A-Za-z0-9_-]{43})\r?$/m.exec(mail.text);
  if (!m) throw new Error(`no token in ${mail.text}`);
  return m[1];
};
/** What every secret of the file was, to look for in Redis at the end. */
const secrets = new Set<string>();

const open: Client[] = [];
const track = (c: WsConnection): WsConnection => {
  open.push(c.client);
  return c;
};
afterEach(async () => {
  await Promise.all(open.splice(0).map(async (c) => c.dispose()));
});

let smtp: SmtpCatcher;
let pair: Instances;
let a: TestApp;
let b: TestApp;
beforeAll(async () => {
  smtp = await smtpCatcher();
  // Jobs of both instances run on a's worker: one queue.
  pair = await startInstances(
    { SMTP_URL: smtp.url, MAIL_FROM: 'accounts@example.com', PASSWORD_RESET_URL: 'https://shop.example.com/reset?token={token}' },
    { admin: true, a: { WORKER: '1' } },
  );
  ({ a, b } = pair);
});
afterAll(async () => {
  await pair?.close();
  await smtp?.close();
});

/** Asks for a reset of `email` and returns the token of the `n`th email that reaches it. */
async function resetToken(t: TestApp, email: string, n = 1, opts = {}): Promise<string> {
  const res = await t.gql(REQUEST, { e: email }, opts);
  expect(res.data?.requestPasswordReset).toBe(true);
  const token = tokenIn(await smtp.next(email, n));
  secrets.add(token);
  return token;
}

describe('changePassword', () => {
  test('ends every other session at once on both instances and closes their sockets; the caller stays signed in', async () => {
    const u = await registerUser(a);
    const onB = await loginAs(b, u.email, u.password);
    const another = await loginAs(a, u.email, u.password);
    const socketB = track(wsConnect(b.url, { params: { authorization: `Bearer ${onB}` } }));
    const socketA = track(wsConnect(a.url, { params: { authorization: `Bearer ${another}` } }));
    const mine = track(wsConnect(b.url, { params: { authorization: `Bearer ${u.token}` } }));
    await Promise.all([socketB.connected, socketA.connected, mine.connected]);
    expect((await b.gql(ME, {}, { token: onB })).data?.me?.id).toBe(u.userId);

    const started = performance.now();
    const res = await a.gql(CHANGE, { c: u.password, n: 'brand-new-pass-1' }, { token: u.token });
    const answered = performance.now();
    expect(res.data?.changePassword).toBe(true);
    secrets.add('brand-new-pass-1');
    // Refused on the other instance within a second: the session is gone from Redis and its drop published
    // before the answer; b normally reads the drop before the next request, a loaded b may serve one from its cache first.
    const refusedAfter = await eventually(1000, async () => (await b.gql(ME, {}, { token: onB })).data?.me === null);
    expect(refusedAfter).toBeLessThan(1000);
    expect(await within(Promise.all([socketB.closed, socketA.closed]), 1000)).toEqual([4401, 4401]);
    const closedAfter = performance.now() - answered;
    console.log(
      `changePassword: answered in ${(answered - started).toFixed(1)} ms; the other instance refused the session ${refusedAfter.toFixed(1)} ms and closed its socket ${closedAfter.toFixed(1)} ms after the answer`,
    );

    expect((await b.gql(ME, {}, { token: u.token })).data?.me?.id).toBe(u.userId);
    expect(mine.isClosed()).toBe(false);
    expect(code(await a.gql(LOGIN, { i: { email: u.email, password: u.password } }))).toBe('UNAUTHENTICATED');
    expect((await b.gql(LOGIN, { i: { email: u.email, password: 'brand-new-pass-1' } })).data?.login.token).toHaveLength(43);
  });

  test('the rules of register, a wrong current password (UNAUTHENTICATED), no caller or an API key: over HTTP and WebSocket', async () => {
    const u = await registerUser(a);
    const ws = track(wsConnect(b.url, { params: { authorization: `Bearer ${u.token}` } }));
    await ws.connected;
    for (const [n, why] of [
      ['short-1', 'must be at least 10 characters long'],
      ['no-digits-here', 'must contain a digit'],
      ['1234567890', 'must contain a letter'],
      [`x1${'y'.repeat(127)}`, 'must be at most 128 characters long'],
    ]) {
      const http = await a.gql(CHANGE, { c: u.password, n }, { token: u.token });
      const overWs = await execute(ws.client, CHANGE, { c: u.password, n });
      for (const r of [http, overWs]) {
        expect(code(r)).toBe('BAD_USER_INPUT');
        expect(r.errors?.[0].extensions?.fields?.newPassword).toContain(why);
      }
    }
    const wrongHttp = await a.gql(CHANGE, { c: 'not-the-password-1', n: 'another-pass-22' }, { token: u.token });
    const wrongWs = await execute(ws.client, CHANGE, { c: 'not-the-password-1', n: 'another-pass-22' });
    for (const r of [wrongHttp, wrongWs]) {
      expect(code(r)).toBe('UNAUTHENTICATED');
      expect(r.errors?.[0].message).toBe('The current password is wrong');
    }
    expect(code(await a.gql(CHANGE, { c: u.password, n: 'another-pass-22' }))).toBe('UNAUTHENTICATED');
    // The password did not change.
    expect((await a.gql(LOGIN, { i: { email: u.email, password: u.password } })).data?.login.token).toHaveLength(43);
    // Over the socket, the right one works.
    expect((await execute(ws.client, CHANGE, { c: u.password, n: 'over-the-socket-3' })).data?.changePassword).toBe(true);
    secrets.add('over-the-socket-3');
  });
});

describe('changePassword is a sign-in attempt (sign-in throttling)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ RATE_LIMIT_DEFAULT: '600/1m', LOGIN_FAILURES_PER_PAIR: '3/1h' });
  });
  afterAll(() => t.close());

  test('wrong current passwords spend the (email, address) budget that login spends: then even the right one waits', async () => {
    const u = await registerUser(t);
    for (let i = 0; i < 3; i++)
      expect(code(await t.gql(CHANGE, { c: `wrong-password-${i}`, n: 'next-password-1' }, { token: u.token }))).toBe('UNAUTHENTICATED');
    const refused = await t.gql(CHANGE, { c: u.password, n: 'next-password-1' }, { token: u.token });
    expect(refused.status).toBe(429);
    expect(refused.errors?.[0].extensions).toMatchObject({ code: 'RATE_LIMITED', policy: 'login-failures-pair' });
    const login = await t.gql(LOGIN, { i: { email: u.email, password: u.password } });
    expect(login.errors?.[0].extensions).toMatchObject({ code: 'RATE_LIMITED', policy: 'login-failures-pair' });
  });

  test('a right one gives its point back and resets the count, as a successful login does', async () => {
    const u = await registerUser(t);
    for (let i = 0; i < 2; i++)
      expect(code(await t.gql(CHANGE, { c: `wrong-password-${i}`, n: 'next-password-1' }, { token: u.token }))).toBe('UNAUTHENTICATED');
    expect((await t.gql(CHANGE, { c: u.password, n: 'next-password-1' }, { token: u.token })).data?.changePassword).toBe(true);
    for (let i = 0; i < 3; i++) expect(code(await t.gql(CHANGE, { c: `wrong-again-${i}`, n: 'next-password-2' }, { token: u.token }))).toBe('UNAUTHENTICATED');
    expect(code(await t.gql(CHANGE, { c: 'next-password-1', n: 'next-password-2' }, { token: u.token }))).toBe('RATE_LIMITED');
  });
});

describe('password reset through a real SMTP server', () => {
  test('the email carries a one-time token; resetting ends every session on both instances and closes their sockets', async () => {
    const u = await registerUser(a);
    const onB = await loginAs(b, u.email, u.password);
    const socketA = track(wsConnect(a.url, { params: { authorization: `Bearer ${u.token}` } }));
    const socketB = track(wsConnect(b.url, { params: { authorization: `Bearer ${onB}` } }));
    await Promise.all([socketA.connected, socketB.connected]);

    // Asked on b, the address as a user may type it.
    expect((await b.gql(REQUEST, { e: ` ${u.email.toUpperCase()} ` })).data?.requestPasswordReset).toBe(true);
    const mail = await smtp.next(u.email);
    const token = tokenIn(mail);
    secrets.add(token);
    expect(mail.from).toBe('accounts@example.com');
    expect(mail.to).toEqual([u.email]);
    expect(mail.raw).toMatch(/^Subject: Reset your password\r?$/m);
    expect(mail.text).toContain(`https://shop.example.com/reset?token=${token}`);
    expect(mail.text).toContain('within 30 minutes');
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);

    const res = await a.gql(RESET, { t: token, n: 'after-reset-pass-1' });
    expect(res.data?.resetPassword).toBe(true);
    secrets.add('after-reset-pass-1');
    expect(await within(Promise.all([socketA.closed, socketB.closed]), 1000)).toEqual([4401, 4401]);
    expect((await a.gql(ME, {}, { token: u.token })).data?.me).toBeNull();
    expect((await b.gql(ME, {}, { token: onB })).data?.me).toBeNull();
    expect(code(await b.gql(LOGIN, { i: { email: u.email, password: u.password } }))).toBe('UNAUTHENTICATED');
    expect((await b.gql(LOGIN, { i: { email: u.email, password: 'after-reset-pass-1' } })).data?.login.token).toHaveLength(43);

    // Used, unknown, malformed: one answer.
    for (const t of [token, 'Q'.repeat(43), 'x', '']) {
      const again = await b.gql(RESET, { t, n: 'once-more-pass-2' });
      expect(again.errors?.[0]).toMatchObject({
        message: RESET_TOKEN_REFUSED,
        extensions: { code: 'BAD_USER_INPUT', fields: { token: ['is invalid, used or expired'] } },
      });
    }
  });

  test('the job that sent it holds no token: its data has a placeholder and a reference to a box that is gone', async () => {
    const u = await registerUser(a);
    const token = await resetToken(a, u.email);
    // The message is out before the job is marked COMPLETED.
    const job = await waitFor('the email job to complete', async () => {
      const res = await a.gql<{ jobs: Array<{ id: string; type: string; data: any; result: any }> }>(
        '{ jobs(state: COMPLETED, limit: 500) { id type data result } }',
        {},
        { token: pair.admin },
      );
      return res.data?.jobs.find((j) => j.type === 'email.send' && j.data.to === u.email);
    });
    expect(JSON.stringify(job)).not.toContain(token);
    expect(job.data.body).toContain(`https://shop.example.com/reset?token=${MAIL_SECRET_PLACEHOLDER}`);
    expect(job.data.secret).toEqual({ ref: expect.stringMatching(/^[0-9a-f]{32}$/), key: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) });
    expect(job.result).toEqual({ transport: 'smtp', duplicate: false });
    const boxes = (await readPrefix(pair.prefix)).filter((k) => k.key.includes(':secret:'));
    expect(boxes.map((k) => k.key)).not.toContain(`${pair.prefix}:outbox:{outbox}:secret:${job.data.secret.ref}`);
  });

  test('an unknown address gets the same answer and no email; a client cannot make email.send carry a secret', async () => {
    const nobody = `nobody-${Date.now()}@example.com`;
    expect((await b.gql(REQUEST, { e: nobody })).data?.requestPasswordReset).toBe(true);
    // Jobs run in order on one worker: once a later email arrived, none for `nobody` is coming.
    const u = await registerUser(a);
    await resetToken(a, u.email);
    expect(smtp.received.filter((m) => m.to.includes(nobody))).toEqual([]);
    // Invalid addresses are refused alike, whoever asks; hostile shapes are an address or refused, nothing else.
    expect(code(await a.gql(REQUEST, { e: 'not an address' }))).toBe('BAD_USER_INPUT');
    const hostile = [
      'a{b}c@example.com',
      'x:y@example.com',
      '*@example.com',
      `${'a'.repeat(300)}@example.com`,
      '"q"@example.com',
      'a@b}{.com',
      '\u0000@example.com',
    ];
    for (const e of hostile) {
      const r = await b.gql(REQUEST, { e });
      expect(r.data?.requestPasswordReset === true || code(r) === 'BAD_USER_INPUT').toBe(true);
    }
    const keys = (await readPrefix(pair.prefix)).map((k) => k.key);
    for (const e of hostile) expect(keys.filter((k) => k.includes(e.trim().toLowerCase()))).toEqual([]);

    const enqueue = await a.gql(
      'mutation E($i: EnqueueJobInput!) { enqueueJob(input: $i) { id data } }',
      {
        i: {
          type: 'email.send',
          data: { to: u.email, subject: 's', body: `x ${MAIL_SECRET_PLACEHOLDER}`, secret: { ref: '0'.repeat(32), key: 'A'.repeat(43) } },
        },
      },
      { token: u.token },
    );
    expect(enqueue.data?.enqueueJob.data).toEqual({ to: u.email, subject: 's', body: `x ${MAIL_SECRET_PLACEHOLDER}` });
  });

  test('at most PASSWORD_RESET_PER_USER (3) live tokens: a fourth ends the oldest; a reset ends the rest', async () => {
    const u = await registerUser(a);
    const tokens: string[] = [];
    for (let n = 1; n <= 4; n++) tokens.push(await resetToken(n % 2 ? a : b, u.email, n));
    expect(new Set(tokens).size).toBe(4);
    expect((await a.gql(RESET, { t: tokens[0], n: 'capped-pass-1' })).errors?.[0].message).toBe(RESET_TOKEN_REFUSED);
    expect((await b.gql(RESET, { t: tokens[1], n: 'capped-pass-1' })).data?.resetPassword).toBe(true);
    for (const t of tokens.slice(2)) expect((await a.gql(RESET, { t, n: 'capped-pass-2' })).errors?.[0].message).toBe(RESET_TOKEN_REFUSED);
  });

  test('one token used at once on both instances works once', async () => {
    const u = await registerUser(a);
    const token = await resetToken(a, u.email);
    const results = await Promise.all([a.gql(RESET, { t: token, n: 'race-pass-aaa-1' }), b.gql(RESET, { t: token, n: 'race-pass-bbb-2' })]);
    expect(results.filter((r) => r.data?.resetPassword === true)).toHaveLength(1);
    expect(results.filter((r) => r.errors?.[0].message === RESET_TOKEN_REFUSED)).toHaveLength(1);
  });

  test('over WebSocket: request and reset on an anonymous connection', async () => {
    const u = await registerUser(a);
    const ws = track(wsConnect(b.url));
    await ws.connected;
    expect((await execute(ws.client, REQUEST, { e: u.email })).data?.requestPasswordReset).toBe(true);
    const token = tokenIn(await smtp.next(u.email));
    secrets.add(token);
    expect(code(await execute(ws.client, RESET, { t: token, n: 'short' }))).toBe('BAD_USER_INPUT');
    // A refused new password does not use the token up.
    expect((await execute(ws.client, RESET, { t: token, n: 'socket-reset-pass-1' })).data?.resetPassword).toBe(true);
    expect((await execute(ws.client, RESET, { t: token, n: 'socket-reset-pass-2' })).errors?.[0].message).toBe(RESET_TOKEN_REFUSED);
    expect((await a.gql(LOGIN, { i: { email: u.email, password: 'socket-reset-pass-1' } })).data?.login.token).toHaveLength(43);
  });
});

describe('an expired token', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ SMTP_URL: smtp.url, WORKER: '1', PASSWORD_RESET_TTL: '2s' });
  });
  afterAll(() => t.close());

  test('is refused with the same answer', async () => {
    const u = await registerUser(t);
    const asked = Date.now();
    const token = await resetToken(t, u.email);
    await sleep(Math.max(0, asked + 2100 - Date.now()));
    expect((await t.gql(RESET, { t: token, n: 'too-late-pass-1' })).errors?.[0]).toMatchObject({
      message: RESET_TOKEN_REFUSED,
      extensions: { code: 'BAD_USER_INPUT' },
    });
    expect((await t.gql(LOGIN, { i: { email: u.email, password: u.password } })).data?.login.token).toHaveLength(43);
  });
});

describe('throttles, and the reset as the owner’s way in', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({
      SMTP_URL: smtp.url,
      WORKER: '1',
      RATE_LIMIT_DEFAULT: '600/1m',
      LOGIN_FAILURES_PER_EMAIL: '2/1d',
      TRUSTED_PROXIES: '127.0.0.1',
    });
  });
  afterAll(() => t.close());
  const from = (ip: string) => ({ headers: { 'x-forwarded-for': ip } });

  test('per email: 3 an hour, for a known address and an unknown one alike', async () => {
    const u = await registerUser(t);
    for (const email of [u.email, `unknown-${u.email}`]) {
      for (let i = 0; i < 3; i++) expect((await t.gql(REQUEST, { e: email }, from(`10.1.0.${i + 1}`))).data?.requestPasswordReset).toBe(true);
      const refused = await t.gql(REQUEST, { e: email.toUpperCase() }, from('10.1.0.9'));
      expect(refused.status).toBe(429);
      expect(refused.errors?.[0].extensions).toMatchObject({ code: 'RATE_LIMITED', policy: 'password-reset-email' });
    }
  });

  test('per address: 5 at once, then 10 an hour', async () => {
    for (let i = 0; i < 5; i++) expect((await t.gql(REQUEST, { e: `someone-${i}@example.org` }, from('10.2.0.1'))).data?.requestPasswordReset).toBe(true);
    const refused = await t.gql(REQUEST, { e: 'someone-else@example.org' }, from('10.2.0.1'));
    expect(refused.errors?.[0].extensions).toMatchObject({ code: 'RATE_LIMITED', policy: 'password-reset-ip' });
  });

  test('when guesses from elsewhere have spent the per-email ceiling, the owner resets from a new address and signs in from it', async () => {
    const u = await registerUser(t);
    // Two wrong passwords from two addresses spend LOGIN_FAILURES_PER_EMAIL (2 a day).
    for (const ip of ['10.3.0.1', '10.3.0.2'])
      expect(code(await t.gql(LOGIN, { i: { email: u.email, password: 'guess-number-1' } }, from(ip)))).toBe('UNAUTHENTICATED');
    const owner = from('10.3.0.99');
    const blocked = await t.gql(LOGIN, { i: { email: u.email, password: u.password } }, owner);
    expect(blocked.errors?.[0].extensions).toMatchObject({ code: 'RATE_LIMITED', policy: 'login-failures-email' });

    const token = await resetToken(t, u.email, 1, owner);
    expect((await t.gql(RESET, { t: token, n: 'owner-is-back-1' }, owner)).data?.resetPassword).toBe(true);
    secrets.add('owner-is-back-1');
    expect((await t.gql(LOGIN, { i: { email: u.email, password: 'owner-is-back-1' } }, owner)).data?.login.token).toHaveLength(43);
    // Others' addresses are still held to the ceiling.
    expect(code(await t.gql(LOGIN, { i: { email: u.email, password: 'owner-is-back-1' } }, from('10.3.0.3')))).toBe('RATE_LIMITED');
  });
});

describe('revokeUserSessions', () => {
  test('an admin ends every session of a user, on both instances, with their sockets; it is in the audit log', async () => {
    const u = await registerUser(a);
    const onB = await loginAs(b, u.email, u.password);
    const socket = track(wsConnect(b.url, { params: { authorization: `Bearer ${onB}` } }));
    await socket.connected;
    const res = await b.gql(REVOKE_USER, { u: u.userId }, { token: pair.admin });
    expect(res.data?.revokeUserSessions).toBe(2);
    expect(await within(socket.closed, 1000)).toBe(4401);
    expect((await a.gql(ME, {}, { token: u.token })).data?.me).toBeNull();
    expect((await a.gql(ME, {}, { token: onB })).data?.me).toBeNull();
    expect((await b.gql(REVOKE_USER, { u: u.userId }, { token: pair.admin })).data?.revokeUserSessions).toBe(0);

    const adminId = (await a.gql(ME, {}, { token: pair.admin })).data?.me?.id;
    const log = await a.gql('{ auditLog(limit: 20) { actor action target } }', {}, { token: pair.admin });
    expect(log.data?.auditLog).toContainEqual({ actor: `user:${adminId}`, action: 'revokeUserSessions', target: u.userId });
  });

  test('a customer is FORBIDDEN, an anonymous caller UNAUTHENTICATED; ids of no user end nothing', async () => {
    const u = await registerUser(a);
    const other = await registerUser(a);
    expect(code(await a.gql(REVOKE_USER, { u: other.userId }, { token: u.token }))).toBe('FORBIDDEN');
    expect(code(await a.gql(REVOKE_USER, { u: other.userId }))).toBe('UNAUTHENTICATED');
    expect((await a.gql(ME, {}, { token: other.token })).data?.me?.id).toBe(other.userId);
    for (const id of ['x}:{u:' + other.userId, `${other.userId}}`, '*', 'a'.repeat(1000), '0'.repeat(32)]) {
      expect((await a.gql(REVOKE_USER, { u: id }, { token: pair.admin })).data?.revokeUserSessions).toBe(0);
    }
    expect((await a.gql(ME, {}, { token: other.token })).data?.me?.id).toBe(other.userId);
  });
});

describe('what Redis holds afterwards', () => {
  test('no reset token and no password of this file appears in any key or value under the two instances’ prefix', async () => {
    expect(secrets.size).toBeGreaterThan(10);
    const all = await readPrefix(pair.prefix);
    expect(all.length).toBeGreaterThan(20);
    for (const { key, body } of all) {
      for (const s of secrets) {
        expect(key).not.toContain(s);
        expect(body).not.toContain(s);
      }
    }
  });
});
