/**
 * CORS on /graphql (contract "cross-origin browsers"): an origin listed in
 * CORS_ORIGINS gets a 204 preflight naming it, with credentials, the methods
 * GET and POST and the headers clients send; its actual responses name it and
 * expose the rate-limit and request-id headers. Any other origin gets no
 * Access-Control-Allow-* header at all, while its request still runs as it
 * would for a non-browser client. Every /graphql response varies by Origin.
 */
import { request as httpRequest } from 'node:http';
import { startTestApp, type TestApp } from '../helpers/app';

const SHOP = 'https://shop.example.com';
const VITE = 'http://localhost:5173';

interface Raw {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTP request with exactly these headers (fetch would add or refuse some, such as Origin). */
function send(base: string, method: string, path: string, headers: Record<string, string>, body?: string): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      `${base}${path}`,
      { method, headers: body === undefined ? headers : { ...headers, 'content-length': String(Buffer.byteLength(body)) } },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const preflight = (base: string, origin: string, requestHeaders = 'content-type', method = 'POST'): Promise<Raw> =>
  send(base, 'OPTIONS', '/graphql', { origin, 'access-control-request-method': method, 'access-control-request-headers': requestHeaders });

const post = (base: string, headers: Record<string, string>, query = '{ __typename }'): Promise<Raw> =>
  send(base, 'POST', '/graphql', { 'content-type': 'application/json', 'user-agent': 'node-test', ...headers }, JSON.stringify({ query }));

/** The response's Access-Control-* header names. */
const corsHeaders = (r: Raw): string[] => Object.keys(r.headers).filter((h) => h.startsWith('access-control-'));
const allowHeaders = (r: Raw): string[] => Object.keys(r.headers).filter((h) => h.startsWith('access-control-allow-'));
const varies = (r: Raw): string[] =>
  String(r.headers.vary ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase());

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ CORS_ORIGINS: `${SHOP},${VITE}`, RATE_LIMIT_DEFAULT: '1000/1m', BODY_LIMIT_BYTES: '4096' });
});
afterAll(() => t.close());

describe('preflight (OPTIONS /graphql)', () => {
  test.each([SHOP, VITE])('from listed %s: 204 with exactly the contract’s headers', async (origin) => {
    const r = await preflight(t.url, origin, 'content-type,authorization,apollo-require-preflight');
    expect(r.status).toBe(204);
    expect(r.body).toBe('');
    expect(r.headers['access-control-allow-origin']).toBe(origin);
    expect(r.headers['access-control-allow-credentials']).toBe('true');
    expect(r.headers['access-control-allow-methods']).toBe('GET,POST');
    expect(r.headers['access-control-allow-headers']).toBe('content-type,authorization,apollo-require-preflight,x-request-id');
    expect(r.headers['access-control-max-age']).toBe('600');
    expect(allowHeaders(r).sort()).toEqual([
      'access-control-allow-credentials',
      'access-control-allow-headers',
      'access-control-allow-methods',
      'access-control-allow-origin',
    ]);
    expect(varies(r)).toContain('origin');
  });

  // Near misses of the listed origins, and hostile shapes: exact matches only.
  test.each(
    [
      'https://evil.example',
      'null',
      '',
      `${SHOP}/`,
      `${SHOP}:443`,
      SHOP.toUpperCase(),
      'http://shop.example.com',
      `${SHOP}.evil.example`,
      'https://evil.example#https://shop.example.com',
      'https://xshop.example.com',
      `${SHOP}, ${VITE}`,
      `${VITE}0`,
      'http://localhost:5174',
      '*',
      'https://{gw}:evil%00',
      `https://${'a'.repeat(4000)}.example`,
    ].map((o) => [o.length > 60 ? `${o.slice(0, 40)}… (${o.length} characters)` : o, o]),
  )('from unlisted %j: no Access-Control-Allow-* header', async (_label, origin) => {
    const r = await preflight(t.url, origin);
    expect(allowHeaders(r)).toEqual([]);
    expect(corsHeaders(r)).toEqual([]);
    expect(r.status).toBeLessThan(500);
    expect(varies(r)).toContain('origin');
  });

  test('without an Origin: a plain OPTIONS, no CORS headers', async () => {
    const r = await send(t.url, 'OPTIONS', '/graphql', {});
    expect(r.status).toBe(204);
    expect(r.headers.allow).toBe('GET, POST, OPTIONS');
    expect(corsHeaders(r)).toEqual([]);
  });

  test('CORS answers /graphql only: /metrics, /healthz, /dashboard name no origin', async () => {
    for (const path of ['/metrics', '/healthz', '/dashboard', '/assets/graphiql-init.js']) {
      const r = await send(t.url, 'GET', path, { origin: SHOP });
      expect(corsHeaders(r)).toEqual([]);
      const pre = await send(t.url, 'OPTIONS', path, { origin: SHOP, 'access-control-request-method': 'GET' });
      expect(corsHeaders(pre)).toEqual([]);
    }
  });
});

describe('actual requests', () => {
  test('a POST from a listed origin names it, allows credentials and exposes what a client reads', async () => {
    const r = await post(t.url, { origin: SHOP, 'x-request-id': 'cors-test-1' });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toEqual({ data: { __typename: 'Query' } });
    expect(r.headers['access-control-allow-origin']).toBe(SHOP);
    expect(r.headers['access-control-allow-credentials']).toBe('true');
    expect(r.headers['access-control-expose-headers']).toBe('RateLimit,RateLimit-Policy,Retry-After,X-Request-Id');
    expect(r.headers['x-request-id']).toBe('cors-test-1');
    expect(r.headers.ratelimit).toBeDefined();
    expect(varies(r)).toContain('origin');
  });

  test('a GET query from a listed origin names it too', async () => {
    const r = await send(t.url, 'GET', `/graphql?query=${encodeURIComponent('{ __typename }')}`, { origin: VITE, 'apollo-require-preflight': 'true' });
    expect(r.status).toBe(200);
    expect(r.headers['access-control-allow-origin']).toBe(VITE);
    expect(r.headers['access-control-allow-credentials']).toBe('true');
  });

  test('a POST from an unlisted origin still runs (the browser withholds the answer), with no Access-Control-* header', async () => {
    const r = await post(t.url, { origin: 'https://evil.example' });
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toEqual({ data: { __typename: 'Query' } });
    expect(corsHeaders(r)).toEqual([]);
    expect(varies(r)).toContain('origin');
  });

  test('no Origin: no CORS headers, and still Vary: Origin for caches', async () => {
    const r = await post(t.url, {});
    expect(corsHeaders(r)).toEqual([]);
    expect(varies(r)).toContain('origin');
  });

  test('Apollo’s CSRF prevention stays on for listed origins: a simple text/plain POST is refused and runs nothing', async () => {
    const r = await send(t.url, 'POST', '/graphql', { origin: SHOP, 'content-type': 'text/plain' }, '{"query":"mutation { startGuestSession { token } }"}');
    expect(r.status).toBe(400);
    expect(r.body).toMatch(/Cross-Site Request Forgery/);
    expect(r.headers['set-cookie']).toBeUndefined();
  });

  test('refusals carry the CORS headers, so the listed page can read why (413, 405)', async () => {
    const big = await send(t.url, 'POST', '/graphql', { origin: SHOP, 'content-type': 'application/json' }, `{"query":"${' '.repeat(8192)}"}`);
    expect(big.status).toBe(413);
    expect(big.headers['access-control-allow-origin']).toBe(SHOP);
    const put = await send(t.url, 'PUT', '/graphql', { origin: SHOP });
    expect(put.status).toBe(405);
    expect(put.headers['access-control-allow-origin']).toBe(SHOP);
  });
});

describe('rate-limited', () => {
  let r: TestApp;
  beforeAll(async () => {
    r = await startTestApp({ CORS_ORIGINS: SHOP, RATE_LIMIT_DEFAULT: '1/1m' });
  });
  afterAll(() => r.close());

  test('a 429 names the listed origin and exposes Retry-After, so the page can wait', async () => {
    expect((await post(r.url, { origin: SHOP })).status).toBe(200);
    const limited = await post(r.url, { origin: SHOP });
    expect(limited.status).toBe(429);
    expect(limited.headers['access-control-allow-origin']).toBe(SHOP);
    expect(limited.headers['access-control-expose-headers']).toContain('Retry-After');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
  });
});

describe('CORS_ORIGINS unset (the default)', () => {
  let d: TestApp;
  beforeAll(async () => {
    d = await startTestApp();
  });
  afterAll(() => d.close());

  test('no origin is allowed: no Access-Control-* header on preflight or POST', async () => {
    const pre = await preflight(d.url, SHOP);
    expect(corsHeaders(pre)).toEqual([]);
    const r = await post(d.url, { origin: SHOP });
    expect(r.status).toBe(200);
    expect(corsHeaders(r)).toEqual([]);
  });
});
