/**
 * The audit log: every admin mutation appends who, what, target and when; only after it
 * succeeded; newest first; admins only; trimmed to about AUDIT_LOG_MAXLEN entries.
 */
import { ADMIN, loginAs, registerUser, startTestApp, type TestApp } from '../helpers/app';
import { rawRedis } from '../helpers/redis';

let t: TestApp;
let admin: string;
let adminId: string;
beforeAll(async () => {
  t = await startTestApp({ ADMIN_EMAIL: ADMIN.email, ADMIN_PASSWORD: ADMIN.password, AUDIT_LOG_MAXLEN: '100' });
  admin = await loginAs(t, ADMIN.email, ADMIN.password);
  adminId = (await t.gql<{ me: { id: string } }>('{ me { id } }', {}, { token: admin })).data!.me.id;
});
afterAll(() => t.close());

const AUDIT = 'query A($n: Int) { auditLog(limit: $n) { at actor action target } }';
type Entry = { at: string; actor: string; action: string; target: string };
const audit = async (n?: number): Promise<Entry[]> => (await t.gql<{ auditLog: Entry[] }>(AUDIT, { n }, { token: admin })).data!.auditLog;

test('each admin mutation is recorded with who, what, target and when, newest first', async () => {
  const before = Date.now();
  const ok = (r: { errors?: unknown }) => expect(r.errors).toBeUndefined();
  ok(await t.gql('mutation { upsertProduct(input: { id: "aud-1", name: "A", priceCents: 100, stock: 5 }) { id } }', {}, { token: admin }));
  ok(await t.gql('mutation { createExperiment(input: { key: "aud-exp", variants: ["a", "b"] }) { key } }', {}, { token: admin }));
  ok(await t.gql('mutation { stopExperiment(key: "aud-exp", winner: "b") { key } }', {}, { token: admin }));
  const entries = await audit(3);
  expect(entries.map((e) => [e.action, e.target, e.actor])).toEqual([
    ['stopExperiment', 'aud-exp', `user:${adminId}`],
    ['createExperiment', 'aud-exp', `user:${adminId}`],
    ['upsertProduct', 'aud-1', `user:${adminId}`],
  ]);
  for (const e of entries) expect(Date.parse(e.at)).toBeGreaterThanOrEqual(before - 1000);
});

test('a refused admin mutation is not recorded; customers may not read the log', async () => {
  const n = (await audit(100)).length;
  const res = await t.gql('mutation { stopExperiment(key: "no-such-exp") { key } }', {}, { token: admin });
  expect(res.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  expect((await audit(100)).length).toBe(n);
  const u = await registerUser(t);
  expect((await t.gql(AUDIT, {}, { token: u.token })).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  expect((await t.gql(AUDIT, {})).errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  expect((await t.gql(AUDIT, { n: 0 }, { token: admin })).errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
});

test('the log is bounded: about AUDIT_LOG_MAXLEN entries are kept', async () => {
  for (let i = 0; i < 300; i++)
    await t.gql(`mutation { upsertProduct(input: { id: "aud-b${i}", name: "B", priceCents: 1, stock: 1 }) { id } }`, {}, { token: admin });
  const r = rawRedis();
  try {
    // MAXLEN ~ trims whole macro nodes: a little over the bound, never far over.
    expect(await r.xlen(`${t.prefix}:audit:{audit}`)).toBeLessThan(300);
  } finally {
    r.disconnect();
  }
  expect((await audit(1))[0]).toMatchObject({ action: 'upsertProduct', target: 'aud-b299' });
});
