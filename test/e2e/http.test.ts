/** GraphQL over HTTP hygiene: CSRF prevention, no batching, body limit, malformed JSON, GET for queries, probes, metrics. */
import { request as httpRequest } from 'node:http';
import { startTestApp, registerUser, type TestApp } from '../helpers/app';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ BODY_LIMIT_BYTES: String(64 * 1024) });
});
afterAll(() => t.close());

const post = (body: string, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
  fetch(`${t.url}/graphql`, { method: 'POST', headers, body });

async function json(res: Response): Promise<{ data?: any; errors?: Array<{ message: string; extensions?: Record<string, any> }> }> {
  return JSON.parse(await res.text());
}

describe('CSRF prevention', () => {
  test('a simple-request POST (text/plain, no preflight header) is refused and does not run', async () => {
    const res = await post('{"query":"mutation { startGuestSession { token } }"}', { 'content-type': 'text/plain' });
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(/Cross-Site Request Forgery/);
    expect(res.headers.get('set-cookie')).toBeNull();
  });

  test('form-encoded and missing content types are refused too', async () => {
    expect((await post('query=%7B__typename%7D', { 'content-type': 'application/x-www-form-urlencoded' })).status).toBe(400);
    expect((await post('{"query":"{ __typename }"}', {})).status).toBe(400);
  });

  test('GET without a preflight header is refused; with apollo-require-preflight it runs', async () => {
    const url = `${t.url}/graphql?query=${encodeURIComponent('{ __typename }')}`;
    expect((await fetch(url)).status).toBe(400);
    const ok = await fetch(url, { headers: { 'apollo-require-preflight': 'true' } });
    expect(ok.status).toBe(200);
    expect(await json(ok)).toEqual({ data: { __typename: 'Query' } });
  });

  test('a JSON POST needs no extra header', async () => {
    const res = await post(JSON.stringify({ query: '{ __typename }' }));
    expect(res.status).toBe(200);
    expect((await json(res)).data).toEqual({ __typename: 'Query' });
  });
});

test('GET refuses mutations (405) and runs nothing', async () => {
  const url = `${t.url}/graphql?query=${encodeURIComponent('mutation { startGuestSession { token } }')}`;
  const res = await fetch(url, { headers: { 'apollo-require-preflight': 'true' } });
  expect(res.status).toBe(405);
  expect(res.headers.get('set-cookie')).toBeNull();
  expect((await json(res)).errors?.[0]?.message).toMatch(/not mutation/i);
});

test('GET with variables and operationName in the query string', async () => {
  const q = new URLSearchParams({
    query: 'query A { a: __typename } query B($x: Boolean!) { b: __typename @include(if: $x) }',
    operationName: 'B',
    variables: '{"x":true}',
  });
  const res = await fetch(`${t.url}/graphql?${q.toString()}`, { headers: { 'apollo-require-preflight': 'true' } });
  expect(await json(res)).toEqual({ data: { b: 'Query' } });
});

test('batched requests (an array body) are refused', async () => {
  const res = await post(JSON.stringify([{ query: '{ __typename }' }, { query: '{ __typename }' }]));
  expect(res.status).toBe(400);
  expect(await res.text()).toMatch(/batching/i);
});

describe('request body', () => {
  test('malformed JSON answers 400 with a GraphQL error', async () => {
    const res = await post('{"query": "{ __typename }"');
    expect(res.status).toBe(400);
    const body = await json(res);
    expect(body.errors?.[0]?.extensions?.code).toBe('BAD_REQUEST');
  });

  test('an empty JSON body answers 400', async () => {
    expect((await post('')).status).toBe(400);
  });

  test('a body over BODY_LIMIT_BYTES answers 413 (declared length)', async () => {
    const big = JSON.stringify({ query: '{ __typename }', variables: { pad: 'x'.repeat(70 * 1024) } });
    const res = await post(big);
    expect(res.status).toBe(413);
    expect((await json(res)).errors?.[0]?.extensions?.code).toBe('PAYLOAD_TOO_LARGE');
  });

  test('a chunked body that grows over the limit answers 413 without reading it all', async () => {
    let sent = 0;
    let answered = false;
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(
        `${t.url}/graphql`,
        { method: 'POST', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } },
        (res) => {
          answered = true;
          res.resume();
          resolve(res.statusCode ?? 0);
          req.destroy();
        },
      );
      req.on('error', reject);
      req.write('{"query":"{ __typename }","variables":{"pad":"');
      const chunk = 'x'.repeat(16 * 1024);
      // Keeps sending (up to 8 MB) until the server answers; it must answer long before that.
      const pump = (): void => {
        if (answered || req.destroyed || sent > 8 * 1024 * 1024) return;
        sent += chunk.length;
        if (req.write(chunk)) setImmediate(pump);
        else req.once('drain', pump);
      };
      pump();
    });
    expect(status).toBe(413);
    expect(sent).toBeLessThan(4 * 1024 * 1024);
  });

  test('a body just under the limit is accepted', async () => {
    const ok = JSON.stringify({ query: '{ __typename }', variables: { pad: 'x'.repeat(60 * 1024) } });
    expect((await post(ok)).status).toBe(200);
  });

  test('the default limit is 1 MB', async () => {
    const dflt = await startTestApp();
    try {
      const body = (n: number) => JSON.stringify({ query: '{ __typename }', variables: { pad: 'x'.repeat(n) } });
      expect((await fetch(`${dflt.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body(1024 * 1024) })).status).toBe(
        413,
      );
      expect((await fetch(`${dflt.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body(1000 * 1000) })).status).toBe(
        200,
      );
    } finally {
      await dflt.close();
    }
  });
});

describe('request id', () => {
  test('a valid X-Request-Id is echoed; otherwise one is generated', async () => {
    const mine = await post(JSON.stringify({ query: '{ __typename }' }), { 'content-type': 'application/json', 'x-request-id': 'client-abc.123' });
    expect(mine.headers.get('x-request-id')).toBe('client-abc.123');
    const bad = await post(JSON.stringify({ query: '{ __typename }' }), { 'content-type': 'application/json', 'x-request-id': 'has spaces and <html>' });
    expect(bad.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const none = await post(JSON.stringify({ query: '{ __typename }' }));
    expect(none.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(none.headers.get('x-request-id')).not.toBe(bad.headers.get('x-request-id'));
  });

  test('refusals before GraphQL (413, 400) carry the request id too', async () => {
    const res = await post('{nope', { 'content-type': 'application/json', 'x-request-id': 'rid-400' });
    expect(res.headers.get('x-request-id')).toBe('rid-400');
  });
});

describe('routes', () => {
  test('/healthz 200, /readyz 200, unknown path 404, PUT /graphql 405', async () => {
    expect((await fetch(`${t.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${t.url}/readyz`)).status).toBe(200);
    expect((await fetch(`${t.url}/nope`)).status).toBe(404);
    const put = await fetch(`${t.url}/graphql`, { method: 'PUT', body: '{}' });
    expect(put.status).toBe(405);
    expect(put.headers.get('allow')).toBe('GET, POST');
  });

  test('a browser GET /graphql gets GraphiQL; a GET with a query gets JSON', async () => {
    const page = await fetch(`${t.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    const q = await fetch(`${t.url}/graphql?query=${encodeURIComponent('{ __typename }')}`, {
      headers: { accept: 'text/html,application/json', 'apollo-require-preflight': '1' },
    });
    expect(q.headers.get('content-type')).toMatch(/json/);
  });
});

test('/metrics: Prometheus text with request counts and latency per operation, errors by code, Redis command latency', async () => {
  const m = await startTestApp();
  try {
    const u = await registerUser(m);
    for (let i = 0; i < 3; i++) await m.gql('query Me { me { id } }', {}, { token: u.token });
    await m.gql('mutation Login($input: LoginInput!) { login(input: $input) { token } }', { input: { email: u.email, password: 'wrong-password-1' } });
    await m.gql('{ nope }');
    const res = await fetch(`${m.url}/metrics`);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    const value = (re: RegExp): number => Number(re.exec(text)?.[1] ?? NaN);
    expect(value(/^graphql_requests_total\{operation="Me",type="query",outcome="ok"\} (\d+)$/m)).toBe(3);
    expect(value(/^graphql_request_duration_seconds_count\{operation="Me",type="query"\} (\d+)$/m)).toBe(3);
    expect(value(/^graphql_request_duration_seconds_bucket\{le="\+Inf",operation="Me",type="query"\} (\d+)$/m)).toBe(3);
    expect(value(/^graphql_requests_total\{operation="Login",type="mutation",outcome="error"\} (\d+)$/m)).toBe(1);
    expect(value(/^graphql_errors_total\{code="UNAUTHENTICATED"\} (\d+)$/m)).toBe(1);
    expect(value(/^graphql_errors_total\{code="GRAPHQL_VALIDATION_FAILED"\} (\d+)$/m)).toBe(1);
    expect(value(/^redis_command_duration_seconds_count\{command="evalsha"\} (\d+)$/m)).toBeGreaterThanOrEqual(3);
    expect(text).toMatch(/^redis_command_duration_seconds_bucket\{le="0\.001",command="/m);
    expect(text).toMatch(/^process_cpu_seconds_total /m);
  } finally {
    await m.close();
  }
});

test('/metrics: operation names are bounded so clients cannot grow the label set without limit', async () => {
  const m = await startTestApp();
  try {
    for (let i = 0; i < 230; i++) await m.gql(`query Op${i} { __typename }`);
    const text = await (await fetch(`${m.url}/metrics`)).text();
    const names = new Set([...text.matchAll(/^graphql_requests_total\{operation="([^"]+)"/gm)].map((x) => x[1]));
    expect(names.size).toBeLessThanOrEqual(201);
    expect(names.has('Op0')).toBe(true);
    expect(names.has('other')).toBe(true);
  } finally {
    await m.close();
  }
});

describe('/metrics kept private', () => {
  test('METRICS_TOKEN: /metrics answers only with that bearer token', async () => {
    const m = await startTestApp({ METRICS_TOKEN: 'scrape-token-0123456789' });
    try {
      const none = await fetch(`${m.url}/metrics`);
      expect(none.status).toBe(401);
      expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect((await fetch(`${m.url}/metrics`, { headers: { authorization: 'Bearer wrong-token-0123456789' } })).status).toBe(401);
      const ok = await fetch(`${m.url}/metrics`, { headers: { authorization: 'Bearer scrape-token-0123456789' } });
      expect(ok.status).toBe(200);
      expect(await ok.text()).toMatch(/^process_cpu_seconds_total /m);
    } finally {
      await m.close();
    }
  });

  test('METRICS_PORT: /metrics moves to its own listener and the public port no longer serves it', async () => {
    const m = await startTestApp({ METRICS_PORT: '0' });
    try {
      expect((await fetch(`${m.url}/metrics`)).status).toBe(404);
      expect(m.app.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(m.app.metricsUrl).not.toBe(m.url);
      const res = await fetch(`${m.app.metricsUrl}/metrics`);
      expect(res.status).toBe(200);
      expect(await res.text()).toMatch(/^process_cpu_seconds_total /m);
      // Nothing else is served there.
      expect((await fetch(`${m.app.metricsUrl}/graphql?query=%7B__typename%7D`)).status).toBe(404);
    } finally {
      await m.close();
    }
  });
});
