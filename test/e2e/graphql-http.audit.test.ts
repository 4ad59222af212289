/**
 * The GraphQL-over-HTTP spec audits of the `graphql-http` package against the
 * running gateway: every MUST passes; SHOULD and MAY results are printed.
 */
import { serverAudits, type AuditResult } from 'graphql-http';
import { startTestApp, type TestApp } from '../helpers/app';

let t: TestApp;
const results: AuditResult[] = [];
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => {
  await t.close();
  const notOk = results.filter((r) => r.status !== 'ok');
  const summary = notOk.map((r) => `${r.status.toUpperCase()} ${r.name}: ${'reason' in r ? r.reason : ''}`).join('\n');
  console.log(`graphql-http audits: ${results.length - notOk.length}/${results.length} ok${summary ? `\n${summary}` : ''}`);
});

const audits = serverAudits({ url: () => `${t.url}/graphql`, fetchFn: fetch });

test.each(audits.map((a) => [a.name, a] as const))('%s', async (_name, audit) => {
  const result = await audit.fn();
  results.push(result);
  if (audit.name.startsWith('MUST')) expect(result.status === 'ok' ? 'ok' : `${result.status}: ${'reason' in result ? result.reason : ''}`).toBe('ok');
});

test('the audit list is the full one, MUSTs included', () => {
  expect(audits.filter((a) => a.name.startsWith('MUST')).length).toBeGreaterThanOrEqual(13);
});
