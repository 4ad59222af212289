/**
 * Redis unreachable: ordinary requests fall back to a per-instance memory
 * limiter (fail open, still limited); login and register fail closed with
 * SERVICE_UNAVAILABLE; RATE_LIMIT_REDIS_DOWN=closed makes the default fail closed too.
 */
import { startTestApp, type TestApp } from '../helpers/app';
import { ownRedis, type OwnRedis } from '../helpers/redis';

let redis: OwnRedis;
let open: TestApp;
let closed: TestApp;

beforeAll(async () => {
  redis = await ownRedis();
  open = await startTestApp({ REDIS_URL: redis.url, RATE_LIMIT_DEFAULT: '3/1m' });
  closed = await startTestApp({ REDIS_URL: redis.url, RATE_LIMIT_DEFAULT: '3/1m', RATE_LIMIT_REDIS_DOWN: 'closed' });
}, 30_000);

afterAll(async () => {
  await open?.close();
  await closed?.close();
  await redis?.destroy();
});

test('with Redis up, the limit comes from Redis', async () => {
  const r = await open.gql('{ __typename }');
  expect(r.status).toBe(200);
  expect(r.headers.get('ratelimit')).toMatch(/^"default";r=2;/);
});

describe('with Redis stopped', () => {
  beforeAll(async () => {
    await redis.stop();
  });

  test('ordinary requests fail open onto a memory limiter that still limits', async () => {
    const rs = [];
    for (let i = 0; i < 4; i++) rs.push(await open.gql('{ __typename }'));
    expect(rs.map((r) => r.status)).toEqual([200, 200, 200, 429]);
    expect(rs[0].headers.get('ratelimit')).toMatch(/^"default";r=2;/);
    expect(rs[3].errors?.[0].extensions).toMatchObject({ code: 'RATE_LIMITED', policy: 'default' });
    expect(rs[3].headers.get('retry-after')).toMatch(/^\d+$/);
    const metrics = await (await fetch(`${open.url}/metrics`)).text();
    expect(metrics).toMatch(/rate_limit_store_unavailable_total\{fallback="memory"\} 4/);
  });

  test('login and register fail closed with SERVICE_UNAVAILABLE, before any resolver runs', async () => {
    const login = await open.gql('mutation { login(input: { email: "a@example.com", password: "x" }) { token } }');
    expect(login.status).toBe(503);
    expect(login.errors?.[0].extensions?.code).toBe('SERVICE_UNAVAILABLE');
    const register = await open.gql('mutation { register(input: { email: "b@example.com", password: "correct-horse-42", name: "B" }) { token } }');
    expect(register.errors?.[0].extensions?.code).toBe('SERVICE_UNAVAILABLE');
    const metrics = await (await fetch(`${open.url}/metrics`)).text();
    expect(metrics).toMatch(/rate_limit_store_unavailable_total\{fallback="closed"\} 2/);
  });

  test('RATE_LIMIT_REDIS_DOWN=closed makes the default policy fail closed as well', async () => {
    const r = await closed.gql('{ __typename }');
    expect(r.status).toBe(503);
    expect(r.errors?.[0].extensions?.code).toBe('SERVICE_UNAVAILABLE');
  });

  test('with Redis back, decisions come from Redis again', async () => {
    await redis.restart();
    let r = await open.gql('{ __typename }');
    for (let i = 0; i < 50 && r.status !== 200; i++) {
      await new Promise((res) => setTimeout(res, 100));
      r = await open.gql('{ __typename }');
    }
    // Redis kept its own count (one request before the stop): the memory limiter's refusals are gone.
    expect(r.status).toBe(200);
    expect(r.headers.get('ratelimit')).toMatch(/^"default";r=1;/);
  });
});
