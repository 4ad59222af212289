/**
 * A tripwire under the whole request path: while a gateway (with its worker) serves
 * every kind of request, including job data with code-shaped keys that BullMQ packs
 * with msgpackr (whose record reader can generate code) and subscriptions over
 * WebSocket, nothing may construct a function from text or call eval. Modules here
 * share the test's global object, so replacing `Function` and `eval` on it sees any
 * `new Function(...)` or `eval(...)` they make.
 */
import { registerUser, startTestApp, ADMIN_ENV, adminToken, type TestApp } from '../helpers/app';
import { waitForState } from '../helpers/jobs';
import { collect, wsClient } from '../helpers/ws';

const calls: string[] = [];
const realFunction = globalThis.Function;
const realEval = globalThis.eval;

function arm(): void {
  globalThis.Function = new Proxy(realFunction, {
    construct(target, args) {
      calls.push(`new Function(${args.map(String).join(', ')})`);
      return Reflect.construct(target, args);
    },
    apply(target, self, args) {
      calls.push(`Function(${args.map(String).join(', ')})`);
      return Reflect.apply(target, self, args);
    },
  });
  globalThis.eval = ((code: string) => {
    calls.push(`eval(${String(code)})`);
    return realEval(code);
  }) as typeof eval;
}

function disarm(): void {
  globalThis.Function = realFunction;
  globalThis.eval = realEval;
}

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ ...ADMIN_ENV, WORKER: '1', RATE_LIMIT_DEFAULT: '600/1m' });
});
afterAll(async () => {
  disarm();
  await t.close();
});

const HOSTILE_KEYS = [
  '__proto__x',
  'a"b',
  "'); process.exit(1); //",
  '}}){',
  'constructor',
  'x\\u0027y',
  '\u2028',
  '$__MAGIC_DATE__33a9e76d_02e0_4128_8e92_3530ad3da74d',
];

test('serving queries, mutations, jobs and subscriptions generates no code', async () => {
  arm();
  const user = await registerUser(t);
  const admin = await adminToken(t);
  const data: Record<string, unknown> = { to: user.email, subject: 'hi', body: 'b' };
  for (const k of HOSTILE_KEYS) data[k] = { [k]: [k, 1, true, null] };
  const enqueue = await t.gql<{ enqueueJobs: Array<{ id: string }> }>(
    'mutation E($inputs: [EnqueueJobInput!]!) { enqueueJobs(inputs: $inputs) { id } }',
    {
      inputs: [
        { type: 'email.send', data },
        { type: 'email.send', data, priority: 5, idempotencyKey: HOSTILE_KEYS[2].replace(/ /g, '') },
      ],
    },
    { token: user.token },
  );
  expect(enqueue.errors).toBeUndefined();
  for (const job of enqueue.data!.enqueueJobs) await waitForState(t, user.token, job.id, 'COMPLETED');

  const ws = wsClient(t.url, { token: admin });
  const live = collect(ws, 'subscription { analyticsEvents { type page } }', {}, 1, 5000);
  await new Promise((r) => setTimeout(r, 200));
  for (const page of HOSTILE_KEYS) await t.gql('mutation P($i: PageViewInput!) { trackPageView(input: $i) }', { i: { page: `/${page}` } });
  await live.done;
  await ws.dispose();
  await t.gql('{ products(limit: 5) { id name } me { id } }', undefined, { token: user.token });
  await t.gql('{ nope }');
  await t.gql('{ product(id: "x\\"__MAGIC_DATE__33a9e76d_02e0_4128_8e92_3530ad3da74d1") { id } }');
  disarm();

  expect(live.events.length).toBeGreaterThan(0);
  expect(calls).toEqual([]);
});
