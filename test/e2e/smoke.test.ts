import { startTestApp, registerUser, type TestApp } from '../helpers/app';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t.close());

test('probes answer', async () => {
  expect((await fetch(`${t.url}/healthz`)).status).toBe(200);
  expect((await fetch(`${t.url}/readyz`)).status).toBe(200);
  const metrics = await (await fetch(`${t.url}/metrics`)).text();
  expect(metrics).toContain('graphql_requests_total');
});

test('register then me', async () => {
  const u = await registerUser(t);
  const res = await t.gql('{ me { id email } }', {}, { token: u.token });
  expect(res.data?.me).toEqual({ id: u.userId, email: u.email });
});
