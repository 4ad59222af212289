/**
 * email.send is no spam relay: a customer's job may only mail the customer's own
 * address (compared normalised: case, Unicode compatibility forms); admins may mail
 * anyone; internal callers are not held to it. Refused with FORBIDDEN, nothing stored.
 */
import { ADMIN, registerUser, startTestApp, ADMIN_ENV, adminToken, type GqlResult, type TestApp } from '../helpers/app';
import { ENQUEUE, ENQUEUE_MANY, enqueue, type JobView } from '../helpers/jobs';
import { wsClient } from '../helpers/ws';

let t: TestApp;
let admin: string;
let ann: { token: string; email: string };

beforeAll(async () => {
  t = await startTestApp(ADMIN_ENV);
  admin = await adminToken(t);
  ann = await registerUser(t, { email: `Ann.Quinn-${process.pid}@Example.com` });
});
afterAll(() => t.close());

const mail = (to: string): Record<string, unknown> => ({ type: 'email.send', data: { to, subject: 'Hi', body: 'Hello' } });
const firstError = (res: GqlResult): NonNullable<GqlResult['errors']>[number] | undefined => res.errors?.[0];
/** ASCII letters, digits, `@` and `.` in their fullwidth forms (U+FF01..), which NFKC maps back. */
const fullwidth = (s: string): string => s.replace(/[!-~]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0));

test('a customer may not mail another address: FORBIDDEN, nothing stored', async () => {
  const before = await t.app.services.jobs.counts();
  for (const to of ['victim@example.com', `ann.quinn-${process.pid}@example.org`, ADMIN.email]) {
    const res = await t.gql(ENQUEUE, { input: mail(to) }, { token: ann.token });
    expect(firstError(res)).toMatchObject({ message: expect.stringMatching(/own address/), extensions: { code: 'FORBIDDEN' } });
    expect(res.data).toBeNull();
  }
  expect(await t.app.services.jobs.counts()).toEqual(before);
});

test('a customer may mail their own address, in any case or Unicode compatibility form', async () => {
  const own = ann.email;
  for (const to of [own, own.toLowerCase(), own.toUpperCase(), fullwidth(own.toLowerCase()), `  ${own}  `]) {
    await expect(enqueue(t, ann.token, mail(to))).resolves.toMatchObject({ state: 'WAITING' });
  }
});

test('hostile shapes of another address around the own one are refused, none stored', async () => {
  const own = ann.email.toLowerCase();
  const [local, domain] = own.split('@');
  const shapes = [
    `${own},victim@example.com`,
    `${own} victim@example.com`,
    `victim@example.com <${own}>`,
    `"${own}"@example.net`,
    `${local}%victim@${domain}`,
    `${own}.evil.example`,
    `${own}\r\nBcc: victim@example.com`,
    `${own}\u0000`,
    `${local}@${domain.replace('a', '\u0430')}`, // Cyrillic a: looks alike, another domain
    `${fullwidth(local)}＠evil.example`,
    `${local}+tag@${domain}`,
    `${local}@{jobs}:${domain}`,
  ];
  const before = await t.app.services.jobs.counts();
  for (const to of shapes) {
    const res = await t.gql(ENQUEUE, { input: mail(to) }, { token: ann.token });
    expect([to, firstError(res)?.extensions?.code]).toEqual([to, expect.stringMatching(/^(FORBIDDEN|BAD_USER_INPUT)$/)]);
  }
  expect(await t.app.services.jobs.counts()).toEqual(before);
});

test('an admin may mail anyone', async () => {
  await expect(enqueue(t, admin, mail('anyone@example.net'))).resolves.toMatchObject({ state: 'WAITING' });
});

test('in a batch, the item to another address is named and nothing is stored', async () => {
  const before = await t.app.services.jobs.counts();
  const res = await t.gql(ENQUEUE_MANY, { inputs: [mail(ann.email), mail('victim@example.com'), mail(ann.email)] }, { token: ann.token });
  expect(firstError(res)).toMatchObject({ message: expect.stringMatching(/^inputs\[1\]: /), extensions: { code: 'FORBIDDEN' } });
  expect(await t.app.services.jobs.counts()).toEqual(before);
  const ok = await t.gql<{ enqueueJobs: JobView[] }>(ENQUEUE_MANY, { inputs: [mail(ann.email), mail('victim@example.com')] }, { token: admin });
  expect(ok.data?.enqueueJobs).toHaveLength(2);
});

test('over WebSocket too', async () => {
  const ws = wsClient(t.url, { token: ann.token });
  try {
    const res = await new Promise<GqlResult>((resolve, reject) => {
      let got = {} as GqlResult;
      ws.subscribe(
        { query: ENQUEUE, variables: { input: mail('victim@example.com') } },
        { next: (v) => (got = v as GqlResult), error: reject, complete: () => resolve(got) },
      );
    });
    expect(firstError(res)?.extensions?.code).toBe('FORBIDDEN');
  } finally {
    await ws.dispose();
  }
});

test('internal callers (enqueueInternal) may mail any address', async () => {
  await expect(t.app.services.jobs.enqueueInternal('email.send', { to: 'ops@example.com', subject: 's', body: 'b' })).resolves.toMatchObject({
    id: expect.any(String),
  });
});
