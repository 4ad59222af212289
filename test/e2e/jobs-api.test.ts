/** enqueueJob / job / cancelJob / jobs / queueStats: validation, who sees what, idempotency, cancel. No workers run here. */
import { registerUser, startTestApp, ADMIN_ENV, adminToken, type TestApp } from '../helpers/app';
import { CANCEL, ENQUEUE, JOB, JOB_FIELDS, enqueue, jobOf, webhookReceiver, type JobView, type Receiver } from '../helpers/jobs';

let t: TestApp;
let receiver: Receiver;
let admin: string;
let alice: { token: string; userId: string; email: string };
let bob: { token: string; userId: string; email: string };

// Alice's own address: a customer's email.send may only go to the customer's own address.
const email = { type: 'email.send', data: { to: 'someone@example.com', subject: 'Hi', body: 'Hello' } };
const toSelf = (u: { email: string }): typeof email => ({ ...email, data: { ...email.data, to: u.email } });

beforeAll(async () => {
  receiver = await webhookReceiver();
  t = await startTestApp({ ...ADMIN_ENV, WEBHOOK_ALLOWED_HOSTS: `${receiver.host},hooks.example.com`, JOB_MAX_DATA_BYTES: '2048' });
  admin = await adminToken(t);
  alice = await registerUser(t, { email: email.data.to });
  bob = await registerUser(t);
});
afterAll(async () => {
  await t.close();
  await receiver.close();
});

const codeOf = (res: { errors?: Array<{ extensions?: Record<string, unknown> }> }): unknown => res.errors?.[0]?.extensions?.code;

describe('enqueueJob', () => {
  test('returns a WAITING job with the data, default priority 0 and 3 attempts', async () => {
    const job = await enqueue(t, alice.token, email);
    expect(job).toMatchObject({
      type: 'email.send',
      state: 'WAITING',
      priority: 0,
      progress: 0,
      attempts: 0,
      maxAttempts: 3,
      data: email.data,
      result: null,
      error: null,
      finishedAt: null,
    });
    expect(Date.now() - Date.parse(job.createdAt)).toBeLessThan(5000);
    expect(job.id).toMatch(/^[A-Za-z0-9_-]{8,}$/);
  });

  test('a delayed job is DELAYED and keeps its priority and attempts', async () => {
    const job = await enqueue(t, alice.token, { ...email, delayMs: 60_000, priority: 7, maxAttempts: 5 });
    expect(job).toMatchObject({ state: 'DELAYED', priority: 7, maxAttempts: 5 });
    expect(await jobOf(t, alice.token, job.id)).toMatchObject({ state: 'DELAYED', priority: 7, maxAttempts: 5 });
  });

  test.each([
    ['an unknown type', { type: 'sms.send', data: {} }],
    ['an internal type', { type: 'order.process', data: { orderId: 'a'.repeat(32) } }],
    ['an invalid address', { type: 'email.send', data: { to: 'not-an-address', subject: 's', body: 'b' } }],
    ['a header-breaking address', { type: 'email.send', data: { to: 'a@example.com\r\nBcc: x@example.com', subject: 's', body: 'b' } }],
    ['a missing subject', { type: 'email.send', data: { to: 'a@example.com', body: 'b' } }],
    ['a webhook host outside WEBHOOK_ALLOWED_HOSTS', { type: 'webhook.deliver', data: { url: 'http://evil.example.com/hook', payload: {} } }],
    ['a webhook on another port of an allowed host', { type: 'webhook.deliver', data: { url: 'http://hooks.example.com:8080/x', payload: {} } }],
    ['a non-http webhook url', { type: 'webhook.deliver', data: { url: 'file:///etc/passwd', payload: {} } }],
    ['a webhook without payload', { type: 'webhook.deliver', data: { url: 'https://hooks.example.com/x' } }],
    ['data over JOB_MAX_DATA_BYTES', { type: 'email.send', data: { to: 'a@example.com', subject: 's', body: 'x'.repeat(3000) } }],
    ['a priority out of range', { ...email, priority: 1001 }],
    ['a negative delay', { ...email, delayMs: -1 }],
    ['zero attempts', { ...email, maxAttempts: 0 }],
  ])('refuses %s with BAD_USER_INPUT', async (_what, input) => {
    const res = await t.gql(ENQUEUE, { input }, { token: alice.token });
    expect(codeOf(res)).toBe('BAD_USER_INPUT');
    expect(res.data).toBeNull();
  });

  const nested = (levels: number): Record<string, unknown> => (levels <= 1 ? {} : { a: nested(levels - 1) });
  test.each([
    ['type', { type: 'Email Send', data: {} }, 'must be a job type such as email.send'],
    ['type', { type: `a.${'b'.repeat(63)}`, data: {} }, 'must be shorter than or equal to 64 characters'],
    ['data', { ...email, data: { ...email.data, deep: nested(70) } }, 'must nest at most 64 levels deep'],
    ['priority', { ...email, priority: -1001 }, 'must not be less than -1000'],
    // Past 24 days but within GraphQL's Int (larger values are refused by GraphQL itself).
    ['delayMs', { ...email, delayMs: 2_100_000_000 }, 'must not be greater than 2073600000'],
    ['maxAttempts', { ...email, maxAttempts: 26 }, 'must not be greater than 25'],
    ['idempotencyKey', { ...email, idempotencyKey: 'has space' }, 'must be 1 to 128 printable ASCII characters'],
    ['idempotencyKey', { ...email, idempotencyKey: 'k'.repeat(129) }, 'must be 1 to 128 printable ASCII characters'],
  ])('names the field out of bounds: %s', async (field, input, message) => {
    const res = await t.gql(ENQUEUE, { input }, { token: alice.token });
    expect(res.errors?.[0]).toMatchObject({
      message: `Invalid input: ${field} ${message}`,
      extensions: { code: 'BAD_USER_INPUT', fields: { [field]: [message] } },
    });
  });

  test('names every field out of bounds at once, and takes the bounds themselves', async () => {
    const res = await t.gql(ENQUEUE, { input: { ...email, priority: 2000, maxAttempts: 0 } }, { token: alice.token });
    expect(res.errors?.[0]?.extensions?.fields).toEqual({ priority: ['must not be greater than 1000'], maxAttempts: ['must not be less than 1'] });
    const edges = {
      ...email,
      priority: -1000,
      delayMs: 24 * 86_400_000,
      maxAttempts: 25,
      idempotencyKey: '~'.repeat(128),
      data: { ...email.data, deep: nested(63) },
    };
    expect(await enqueue(t, alice.token, edges)).toMatchObject({ state: 'DELAYED', priority: -1000, maxAttempts: 25 });
  });

  test('accepts allowed webhook targets: host:port entries and bare hosts on the default port', async () => {
    await expect(enqueue(t, alice.token, { type: 'webhook.deliver', data: { url: `${receiver.url}/hook`, payload: { a: 1 } } })).resolves.toMatchObject({
      state: 'WAITING',
    });
    await expect(enqueue(t, alice.token, { type: 'webhook.deliver', data: { url: 'https://hooks.example.com/x', payload: [1, 2] } })).resolves.toMatchObject({
      state: 'WAITING',
    });
  });

  test('needs a signed-in user', async () => {
    expect(codeOf(await t.gql(ENQUEUE, { input: email }))).toBe('UNAUTHENTICATED');
  });
});

describe('enqueueJobs', () => {
  const ENQUEUE_MANY = `mutation M($inputs: [EnqueueJobInput!]!) { enqueueJobs(inputs: $inputs) { ${JOB_FIELDS} } }`;
  const mail = (n: number): typeof email => ({ type: 'email.send', data: { ...email.data, subject: `batch ${n}` } });

  test('enqueues every item in order, each readable by its creator only', async () => {
    const inputs = [mail(0), { ...mail(1), priority: 5 }, { ...mail(2), delayMs: 60_000 }];
    const before = await t.app.services.jobs.counts();
    const res = await t.gql(ENQUEUE_MANY, { inputs }, { token: alice.token });
    expect(res.errors).toBeUndefined();
    const jobs = res.data?.enqueueJobs as JobView[];
    expect(jobs.map((j) => [j.data.subject, j.state, j.priority])).toEqual([
      ['batch 0', 'WAITING', 0],
      ['batch 1', 'WAITING', 5],
      ['batch 2', 'DELAYED', 0],
    ]);
    expect(new Set(jobs.map((j) => j.id)).size).toBe(3);
    for (const j of jobs) expect(await jobOf(t, alice.token, j.id)).toMatchObject({ id: j.id, data: j.data });
    expect(await jobOf(t, bob.token, jobs[0].id)).toBeNull();
    const after = await t.app.services.jobs.counts();
    expect([after.waiting - before.waiting, after.delayed - before.delayed]).toEqual([2, 1]);
  });

  test('one bad item refuses the batch, names it, and enqueues nothing', async () => {
    const before = await t.app.services.jobs.counts();
    const bad = { type: 'email.send', data: { to: 'not-an-address', subject: 's', body: 'b' } };
    const res = await t.gql(ENQUEUE_MANY, { inputs: [mail(0), bad, mail(2)] }, { token: alice.token });
    expect(codeOf(res)).toBe('BAD_USER_INPUT');
    expect(res.errors?.[0]?.message).toMatch(/^inputs\[1\]: /);
    expect(Object.keys(res.errors?.[0]?.extensions?.fields ?? {})[0]).toMatch(/^inputs\[1\]\./);
    const unknown = await t.gql(ENQUEUE_MANY, { inputs: [mail(0), { type: 'order.process', data: { orderId: 'a'.repeat(32) } }] }, { token: alice.token });
    expect(unknown.errors?.[0]?.message).toMatch(/^inputs\[1\]: Unknown job type/);
    // Input-class validation (priority range) applies to every item.
    const range = await t.gql(ENQUEUE_MANY, { inputs: [mail(0), { ...mail(1), priority: 5000 }] }, { token: alice.token });
    expect(codeOf(range)).toBe('BAD_USER_INPUT');
    expect(range.errors?.[0]?.extensions?.fields).toEqual({ 'inputs[1].priority': ['must not be greater than 1000'] });
    expect(await t.app.services.jobs.counts()).toEqual(before);
  });

  test('holds 1 to 100 items, and costs one point per item', async () => {
    expect(codeOf(await t.gql(ENQUEUE_MANY, { inputs: [] }, { token: alice.token }))).toBe('BAD_USER_INPUT');
    const tooMany = Array.from({ length: 101 }, (_, i) => mail(i));
    expect(codeOf(await t.gql(ENQUEUE_MANY, { inputs: tooMany }, { token: alice.token }))).toBe('BAD_USER_INPUT');
    const limited = await startTestApp({ RATE_LIMIT_DEFAULT: '30/1m' });
    try {
      const u = await registerUser(limited, { email: email.data.to });
      const twenty = Array.from({ length: 20 }, (_, i) => mail(i));
      const first = await limited.gql(ENQUEUE_MANY, { inputs: twenty }, { token: u.token });
      expect(first.data?.enqueueJobs).toHaveLength(20);
      expect(Number(/r=(\d+)/.exec(first.headers.get('ratelimit') ?? '')?.[1])).toBe(10);
      const second = await limited.gql(ENQUEUE_MANY, { inputs: twenty }, { token: u.token });
      expect(codeOf(second)).toBe('RATE_LIMITED');
    } finally {
      await limited.close();
    }
  });

  test('idempotency keys work per item: a repeated batch returns the same jobs', async () => {
    const inputs = [0, 1].map((n) => ({ ...mail(n), idempotencyKey: `batch-key-${n}` }));
    const a = (await t.gql(ENQUEUE_MANY, { inputs }, { token: alice.token })).data?.enqueueJobs as JobView[];
    const b = (await t.gql(ENQUEUE_MANY, { inputs }, { token: alice.token })).data?.enqueueJobs as JobView[];
    expect(b.map((j) => j.id)).toEqual(a.map((j) => j.id));
    expect(a[0].id).not.toBe(a[1].id);
    // The single mutation with the same key names the same job.
    expect((await enqueue(t, alice.token, inputs[0])).id).toBe(a[0].id);
  });
});

describe('idempotencyKey', () => {
  test('the same key from the same user returns the same job; another user gets their own', async () => {
    const first = await enqueue(t, alice.token, { ...email, idempotencyKey: 'order-42-mail' });
    const again = await enqueue(t, alice.token, { ...email, data: { ...email.data, subject: 'changed' }, idempotencyKey: 'order-42-mail' });
    expect(again.id).toBe(first.id);
    expect(again.data).toEqual(email.data);
    const other = await enqueue(t, bob.token, { ...toSelf(bob), idempotencyKey: 'order-42-mail' });
    expect(other.id).not.toBe(first.id);
  });

  test('concurrent requests with one key create one job', async () => {
    const before = (await t.app.services.jobs.counts()).waiting;
    const jobs = await Promise.all(Array.from({ length: 20 }, () => enqueue(t, alice.token, { ...email, idempotencyKey: 'burst' })));
    expect(new Set(jobs.map((j) => j.id)).size).toBe(1);
    expect((await t.app.services.jobs.counts()).waiting).toBe(before + 1);
  });
});

describe('who sees what', () => {
  let job: JobView;
  beforeAll(async () => {
    job = await enqueue(t, alice.token, email);
  });

  test('the creator and admins read a job; another user gets null, as for an unknown id', async () => {
    expect((await jobOf(t, alice.token, job.id))?.id).toBe(job.id);
    expect((await jobOf(t, admin, job.id))?.id).toBe(job.id);
    expect(await jobOf(t, bob.token, job.id)).toBeNull();
    expect(await jobOf(t, bob.token, 'j00000000000000000000000000000000')).toBeNull();
    expect(codeOf(await t.gql(JOB, { id: job.id }))).toBe('UNAUTHENTICATED');
  });

  test("another user's cancel is NOT_FOUND, exactly as for an unknown id, and leaves the job", async () => {
    const foreign = await t.gql(CANCEL, { id: job.id }, { token: bob.token });
    const unknown = await t.gql(CANCEL, { id: 'jdoesnotexist' }, { token: bob.token });
    expect(codeOf(foreign)).toBe('NOT_FOUND');
    expect(foreign.errors?.[0]?.message).toBe(unknown.errors?.[0]?.message);
    expect((await jobOf(t, alice.token, job.id))?.state).toBe('WAITING');
  });

  test('jobs(state) and queueStats are admin-only', async () => {
    const list = `{ jobs(state: WAITING, limit: 500) { ${JOB_FIELDS} } }`;
    expect(codeOf(await t.gql(list, {}, { token: alice.token }))).toBe('FORBIDDEN');
    expect(codeOf(await t.gql('{ queueStats { waiting } }', {}, { token: alice.token }))).toBe('FORBIDDEN');
    const res = await t.gql<{ jobs: JobView[] }>(list, {}, { token: admin });
    expect(res.data?.jobs.map((j) => j.id)).toContain(job.id);
    expect(res.data?.jobs.every((j) => j.state === 'WAITING')).toBe(true);
    const stats = await t.gql<{ queueStats: Record<string, number> }>('{ queueStats { waiting delayed active completed failed } }', {}, { token: admin });
    expect(stats.data?.queueStats.waiting).toBeGreaterThanOrEqual(1);
    expect(stats.data?.queueStats.delayed).toBeGreaterThanOrEqual(1);
    expect(stats.data?.queueStats).toMatchObject({ active: 0, completed: 0, failed: 0 });
  });

  test('jobs lists pending jobs in run order: higher priority first, FIFO within one', async () => {
    const a = await enqueue(t, alice.token, { ...email, priority: 900 });
    const b = await enqueue(t, alice.token, { ...email, priority: 950 });
    const c = await enqueue(t, alice.token, { ...email, priority: 900 });
    const res = await t.gql<{ jobs: JobView[] }>('{ jobs(state: WAITING, limit: 3) { id priority } }', {}, { token: admin });
    expect(res.data?.jobs).toEqual([
      { id: b.id, priority: 950 },
      { id: a.id, priority: 900 },
      { id: c.id, priority: 900 },
    ]);
  });
});

describe('cancelJob', () => {
  test('removes a waiting job and a delayed job; the job is then gone', async () => {
    const waiting = await enqueue(t, alice.token, email);
    const delayed = await enqueue(t, alice.token, { ...email, delayMs: 60_000 });
    for (const j of [waiting, delayed]) {
      const res = await t.gql<{ cancelJob: boolean }>(CANCEL, { id: j.id }, { token: alice.token });
      expect(res.data?.cancelJob).toBe(true);
      expect(await jobOf(t, alice.token, j.id)).toBeNull();
    }
  });

  test("an admin may cancel anyone's job", async () => {
    const j = await enqueue(t, bob.token, toSelf(bob));
    expect((await t.gql<{ cancelJob: boolean }>(CANCEL, { id: j.id }, { token: admin })).data?.cancelJob).toBe(true);
  });

  test('many concurrent cancels of one job: exactly one succeeds', async () => {
    const j = await enqueue(t, alice.token, email);
    const results = await Promise.all(
      Array.from({ length: 10 }, () => t.app.services.jobs.cancel({ userId: alice.userId, admin: false }, j.id).catch(() => false)),
    );
    expect(results.filter(Boolean)).toHaveLength(1);
  });
});
