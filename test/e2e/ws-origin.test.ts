/**
 * The WebSocket origin rule (contract "WebSocket origin"): an upgrade whose
 * `Origin` is present and is neither the gateway's own origin nor listed in
 * CORS_ORIGINS is refused with HTTP 403 before any message, even when it
 * carries a valid session cookie (cross-site WebSocket hijacking). No `Origin`
 * (a non-browser client) is allowed. Driven with a raw `ws` client so the
 * handshake's status is visible.
 */
import WebSocket from 'ws';
import { registerUser, startTestApp, type TestApp } from '../helpers/app';

const LISTED = 'http://localhost:5173';
const PROTOCOL = 'graphql-transport-ws';

interface Refused {
  status: number;
  body: string;
  /** Frames received before the refusal: must stay empty. */
  messages: string[];
}
interface Accepted {
  status: 101;
  /** What `{ me { id } }` answered over the socket. */
  meId: string | null;
}

/**
 * Opens `/graphql` with `headers`; on 101 it sends connection_init and asks
 * `{ me { id } }`, so an accepted socket proves which session it acts as.
 */
function handshake(httpUrl: string, headers: Record<string, string>): Promise<Refused | Accepted> {
  const url = `${httpUrl.replace(/^http/, 'ws')}/graphql`;
  return new Promise((resolve, reject) => {
    const messages: string[] = [];
    const ws = new WebSocket(url, PROTOCOL, { headers: { 'user-agent': 'node-test', ...headers } });
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`no answer from ${url}: ${JSON.stringify(messages)}`));
    }, 5000);
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, body, messages });
      });
    });
    ws.on('open', () => ws.send(JSON.stringify({ type: 'connection_init' })));
    ws.on('message', (raw) => {
      const text = (raw as Buffer).toString();
      messages.push(text);
      const msg = JSON.parse(text) as { type: string; payload?: { data?: { me?: { id: string } | null } } };
      if (msg.type === 'connection_ack') ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: '{ me { id } }' } }));
      if (msg.type === 'next') {
        clearTimeout(timer);
        ws.close();
        resolve({ status: 101, meId: msg.payload?.data?.me?.id ?? null });
      }
    });
    ws.on('close', (code) => {
      clearTimeout(timer);
      reject(new Error(`closed with ${code} after ${JSON.stringify(messages)}`));
    });
    ws.on('error', () => {});
  });
}

let t: TestApp;
let own: string;
let cookie: string;
let userId: string;
beforeAll(async () => {
  t = await startTestApp({ CORS_ORIGINS: `https://shop.example.com, ${LISTED}` });
  own = new URL(t.url).origin;
  const u = await registerUser(t);
  cookie = `gw_session=${u.token}`;
  userId = u.userId;
});
afterAll(() => t.close());

describe('refused with 403 before any message', () => {
  test('Origin: https://evil.example with a valid session cookie', async () => {
    const r = await handshake(t.url, { origin: 'https://evil.example', cookie });
    expect(r).toEqual({ status: 403, body: expect.any(String), messages: [] });
  });

  // Near misses of the own origin and the listed one: exact matches only. `O` stands for the own origin.
  const nearMisses: Array<[string, (o: string) => string]> = [
    ['null', () => 'null'],
    ['empty', () => ''],
    ['O.evil.example', (o) => `${o}.evil.example`],
    ['O over https', (o) => o.replace('http://', 'https://')],
    ['O/', (o) => `${o}/`],
    ['O in upper case', (o) => o.toUpperCase()],
    ['O with another port', (o) => `${o}1`],
    [`${LISTED}/`, () => `${LISTED}/`],
    [`${LISTED}0`, () => `${LISTED}0`],
    ['http://localhost', () => 'http://localhost'],
    ['https://localhost:5173', () => 'https://localhost:5173'],
    ['a list of origins', () => `${LISTED}, https://evil.example`],
    ['https://shop.example.com.evil.example', () => 'https://shop.example.com.evil.example'],
    ['a fragment naming a listed origin', () => 'https://evil.example:443#https://shop.example.com'],
    ['key separators and escapes', () => 'http://evil.example/{}:%00'],
    ['a 4000-character host', () => `https://${'a'.repeat(4000)}.example`],
  ];
  test.each(nearMisses)('Origin: %s', async (_name, originOf) => {
    const r = await handshake(t.url, { origin: originOf(own), cookie });
    expect(r).toEqual({ status: 403, body: expect.any(String), messages: [] });
  });

  test('a forged X-Forwarded-Host from a peer that is no trusted proxy does not make an origin "own"', async () => {
    const r = await handshake(t.url, { origin: 'https://evil.example', 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https', cookie });
    expect(r).toMatchObject({ status: 403, messages: [] });
  });
});

describe('accepted', () => {
  test('no Origin header (a non-browser client)', async () => {
    expect(await handshake(t.url, { cookie })).toEqual({ status: 101, meId: userId });
  });

  test('the gateway’s own origin (scheme + Host), as GraphiQL and the dashboard send it', async () => {
    expect(await handshake(t.url, { origin: own, cookie })).toEqual({ status: 101, meId: userId });
    const port = new URL(t.url).port;
    expect(await handshake(t.url, { origin: `http://localhost:${port}`, host: `localhost:${port}`, cookie })).toEqual({ status: 101, meId: userId });
  });

  test('an origin listed in CORS_ORIGINS', async () => {
    expect(await handshake(t.url, { origin: LISTED, cookie })).toEqual({ status: 101, meId: userId });
    expect(await handshake(t.url, { origin: 'https://shop.example.com' })).toEqual({ status: 101, meId: null });
  });
});

describe('behind a trusted proxy', () => {
  let p: TestApp;
  beforeAll(async () => {
    p = await startTestApp({ TRUSTED_PROXIES: '127.0.0.1' });
  });
  afterAll(() => p.close());

  const forwarded = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'api.example.com' };

  test('the own origin is the public one the proxy forwards (X-Forwarded-Proto + X-Forwarded-Host)', async () => {
    expect(await handshake(p.url, { ...forwarded, origin: 'https://api.example.com' })).toMatchObject({ status: 101 });
    expect(await handshake(p.url, { 'x-forwarded-proto': 'https', origin: `https://${new URL(p.url).host}` })).toMatchObject({ status: 101 });
  });

  test('other origins are still refused', async () => {
    expect(await handshake(p.url, { ...forwarded, origin: 'http://api.example.com' })).toMatchObject({ status: 403, messages: [] });
    expect(await handshake(p.url, { ...forwarded, origin: 'https://evil.example' })).toMatchObject({ status: 403, messages: [] });
    expect(await handshake(p.url, { 'x-forwarded-host': 'api.example.com', origin: 'https://api.example.com' })).toMatchObject({ status: 403, messages: [] });
  });
});
