/**
 * What refusing a document costs, and who pays: the document (4,900 unknown
 * fields, 28 KB) over HTTP and WebSocket is stopped by the token limit, or by its shape
 * before validation when the limit is raised, and charged by its size; a socket that keeps
 * sending documents that fail is closed (1008); one client address holds a bounded number
 * of sockets (WS_MAX_CONNECTIONS_PER_IP, 1008 past it).
 */
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { startTestApp, type TestApp } from '../helpers/app';

const ATTACK = `{ ${Array.from({ length: 4900 }, (_, i) => `f${i}`).join(' ')} }`;
const PROXY = { TRUSTED_PROXIES: '127.0.0.1' };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** `p`, or 'still open' after `ms` (the timer is cleared either way, so nothing outlives the test). */
function within<T>(p: Promise<T>, ms: number): Promise<T | 'still open'> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<'still open'>((r) => (timer = setTimeout(() => r('still open'), ms)))]).finally(() => clearTimeout(timer));
}
let ipSeq = 0;
const freshIp = (): string => `192.0.2.${++ipSeq}`;

async function post(
  t: TestApp,
  query: string,
  ip: string,
): Promise<{ status: number; errors?: Array<{ message: string; extensions?: Record<string, unknown> }>; remaining: number }> {
  const res = await t.gql(query, undefined, { headers: { 'x-forwarded-for': ip } });
  return { status: res.status, errors: res.errors, remaining: Number(/"default";r=(\d+)/.exec(res.headers.get('ratelimit') ?? '')?.[1] ?? NaN) };
}

interface Socket {
  client: Client;
  closed: Promise<{ code: number; reason: string }>;
  isClosed(): boolean;
  opened: Promise<void>;
}

function socket(url: string, ip: string): Socket {
  class WithAddress extends WebSocket {
    constructor(address: string, protocols?: string | string[]) {
      super(address, protocols, { headers: { 'user-agent': 'node-test', 'x-forwarded-for': ip } });
    }
  }
  let onClosed!: (c: { code: number; reason: string }) => void;
  let onOpened!: () => void;
  let closedFlag = false;
  const closed = new Promise<{ code: number; reason: string }>((r) => (onClosed = r));
  const opened = new Promise<void>((r) => (onOpened = r));
  const client = createClient({
    url: `${url.replace(/^http/, 'ws')}/graphql`,
    webSocketImpl: WithAddress,
    lazy: false,
    retryAttempts: 0,
    onNonLazyError: () => {},
    on: {
      connected: () => onOpened(),
      closed: (e) => {
        closedFlag = true;
        const { code, reason } = e as { code: number; reason: string };
        onClosed({ code, reason });
      },
    },
  });
  return { client, closed, opened, isClosed: () => closedFlag };
}

/** One operation; resolves with its errors (an `error` message or a result's), or none. */
function run(
  client: Client,
  query: string,
): Promise<{ refused: boolean; errors: Array<{ message: string; extensions?: Record<string, unknown> }>; data?: unknown }> {
  return new Promise((resolve) => {
    let out: { refused: boolean; errors: Array<{ message: string; extensions?: Record<string, unknown> }>; data?: unknown } = { refused: false, errors: [] };
    client.subscribe(
      { query },
      {
        next: (v) => (out = { refused: false, errors: (v.errors ?? []) as typeof out.errors, data: v.data }),
        error: (e) =>
          resolve({ refused: true, errors: (Array.isArray(e) ? e : [{ message: String((e as { reason?: string }).reason ?? e) }]) as typeof out.errors }),
        complete: () => resolve(out),
      },
    );
  });
}

const remainingOver = async (client: Client): Promise<number> =>
  ((await run(client, '{ rateLimitStatus { remaining } }')).data as { rateLimitStatus: { remaining: number } }).rateLimitStatus.remaining;

const sockets: Socket[] = [];
const track = (s: Socket): Socket => (sockets.push(s), s);
afterEach(async () => {
  await Promise.all(sockets.splice(0).map(async (s) => s.client.dispose()));
});

describe("the issue's document: 4,900 unknown fields, 28 KB", () => {
  let byDefault: TestApp;
  let raised: TestApp;
  beforeAll(async () => {
    // An hour's window: the budget read after a request is still what it left.
    [byDefault, raised] = await Promise.all([
      startTestApp({ RATE_LIMIT_DEFAULT: '600/1h', ...PROXY }),
      startTestApp({ RATE_LIMIT_DEFAULT: '600/1h', QUERY_MAX_TOKENS: '6000', ...PROXY }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([byDefault.close(), raised.close()]);
  });

  test('is 28,293 bytes: 28 points', () => {
    expect(Buffer.byteLength(ATTACK)).toBe(28_293);
  });

  test('HTTP, default limits: stopped by the token limit and charged 28 points', async () => {
    const r = await post(byDefault, ATTACK, freshIp());
    expect(r.status).toBe(400);
    expect(r.errors?.[0]).toMatchObject({ message: expect.stringMatching(/more tha[nt] 1000 tokens/), extensions: { code: 'GRAPHQL_PARSE_FAILED' } });
    expect(r.remaining).toBe(600 - 28);
  });

  test('WebSocket, default limits: the same answer and the same charge', async () => {
    const s = track(socket(byDefault.url, freshIp()));
    const r = await run(s.client, ATTACK);
    expect(r.refused).toBe(true);
    expect(r.errors[0]).toMatchObject({ message: expect.stringMatching(/more tha[nt] 1000 tokens/), extensions: { code: 'GRAPHQL_PARSE_FAILED' } });
    expect(await remainingOver(s.client)).toBe(600 - 28);
  });

  test('HTTP, QUERY_MAX_TOKENS raised past it: refused by its shape, never validated', async () => {
    const r = await post(raised, ATTACK, freshIp());
    expect(r.status).toBe(400);
    // Validation would have answered "Cannot query field "f0" on type "Query"" (100 times).
    expect(r.errors).toEqual([
      {
        message: 'Query cost is at least 4900, over the maximum of 1000',
        extensions: expect.objectContaining({ code: 'QUERY_TOO_COMPLEX', minCost: 4900, maxCost: 1000 }),
      },
    ]);
    expect(r.remaining).toBe(600 - 28);
  });

  test('WebSocket, QUERY_MAX_TOKENS raised past it: the same', async () => {
    const s = track(socket(raised.url, freshIp()));
    const r = await run(s.client, ATTACK);
    expect(r.refused).toBe(true);
    expect(r.errors).toEqual([
      {
        message: 'Query cost is at least 4900, over the maximum of 1000',
        extensions: expect.objectContaining({ code: 'QUERY_TOO_COMPLEX', minCost: 4900, maxCost: 1000 }),
      },
    ]);
    expect(await remainingOver(s.client)).toBe(600 - 28);
  });
});

describe('validation errors', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ ...PROXY });
  });
  afterAll(() => t.close());

  test('at most 10 are reported (each costs a stack trace and a scan of the document), over HTTP and WebSocket alike', async () => {
    const q = `{ me { ${Array.from({ length: 15 }, (_, i) => `nope${i}`).join(' ')} } }`;
    const expected = [
      ...Array.from({ length: 10 }, (_, i) =>
        expect.objectContaining({
          message: expect.stringMatching(new RegExp(`^Cannot query field "nope${i}" on type "User"\\.`)),
          extensions: expect.objectContaining({ code: 'GRAPHQL_VALIDATION_FAILED' }),
        }),
      ),
      expect.objectContaining({
        message: 'Too many validation errors, error limit reached. Validation aborted.',
        extensions: expect.objectContaining({ code: 'GRAPHQL_VALIDATION_FAILED' }),
      }),
    ];
    expect((await post(t, q, freshIp())).errors).toEqual(expected);
    const s = track(socket(t.url, freshIp()));
    expect((await run(s.client, q)).errors).toEqual(expected);
  });
});

describe('a socket that keeps sending documents that fail', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ ...PROXY });
  });
  afterAll(() => t.close());

  test('is closed with 1008 at the 20th within a minute; valid documents do not count, nor do other sockets', async () => {
    const ip = freshIp();
    const s = track(socket(t.url, ip));
    const other = track(socket(t.url, ip));
    await Promise.all([s.opened, other.opened]);
    const bad = ['{', '{ nope }', '{ me { id } me { nope } }', `{ ${'a: __typename '.repeat(101)}}`];
    for (let i = 0; i < 19; i++) {
      const r = await run(s.client, bad[i % bad.length]);
      expect(r.refused).toBe(true);
      expect(['GRAPHQL_PARSE_FAILED', 'GRAPHQL_VALIDATION_FAILED']).toContain(r.errors[0].extensions?.code);
      expect((await run(s.client, '{ __typename }')).data).toEqual({ __typename: 'Query' });
    }
    expect(s.isClosed()).toBe(false);
    for (let i = 0; i < 19; i++) await run(other.client, '{');
    const last = await run(s.client, '{');
    expect(last.errors[0].extensions?.code).toBe('GRAPHQL_PARSE_FAILED');
    expect(await within(s.closed, 2000)).toEqual({ code: 1008, reason: 'More than 19 invalid documents in a minute' });
    // The other socket of the same client had 19: still open, and its own 20th closes it.
    expect(other.isClosed()).toBe(false);
    expect((await run(other.client, '{ __typename }')).data).toEqual({ __typename: 'Query' });
  });
});

/** A raw graphql-transport-ws socket, acknowledged, that records every message in arrival order. */
async function rawSocket(url: string, ip: string, log: string[], name: string): Promise<WebSocket> {
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws', { headers: { 'x-forwarded-for': ip } });
  await new Promise<void>((resolve, reject) => {
    ws.once('error', reject);
    ws.once('open', () => ws.send(JSON.stringify({ type: 'connection_init' })));
    ws.on('message', (data) => {
      const msg = JSON.parse((data as Buffer).toString()) as { type: string; id?: string };
      if (msg.type === 'connection_ack') resolve();
      else log.push(`${name}:${msg.type}:${msg.id}`);
    });
  });
  return ws;
}

describe('one socket cannot hold the gateway', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ ...PROXY });
  });
  afterAll(() => t.close());

  test('its documents are checked one at a time, with other clients served in between', async () => {
    // 995 unknown fields inside `me`: 1,000 tokens, the most validation work a document can ask for by default.
    const heavy = `{ me { ${Array.from({ length: 995 }, (_, i) => `f${i}`).join(' ')} } }`;
    const log: string[] = [];
    const a = await rawSocket(t.url, freshIp(), log, 'a');
    const b = await rawSocket(t.url, freshIp(), log, 'b');
    try {
      for (let i = 1; i <= 19; i++) a.send(JSON.stringify({ id: String(i), type: 'subscribe', payload: { query: heavy } }));
      await sleep(5);
      b.send(JSON.stringify({ id: 'x', type: 'subscribe', payload: { query: '{ __typename }' } }));
      for (let i = 0; i < 400 && log.filter((l) => l.startsWith('a:error')).length < 19; i++) await sleep(25);
      expect(log.filter((l) => l.startsWith('a:error'))).toHaveLength(19);
      // Without turns, b waited for all of a's 19 validations; with them, for about one.
      expect(log.indexOf('b:complete:x')).toBeGreaterThanOrEqual(0);
      expect(log.indexOf('b:complete:x')).toBeLessThan(log.indexOf('a:error:10'));
    } finally {
      a.close();
      b.close();
    }
  });
});

describe('WS_MAX_CONNECTIONS_PER_IP', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ WS_MAX_CONNECTIONS_PER_IP: '3', ...PROXY });
  });
  afterAll(() => t.close());

  test('one address holds at most that many sockets; past it the socket is closed with 1008; others are not affected', async () => {
    const a = freshIp();
    const first = [track(socket(t.url, a)), track(socket(t.url, a)), track(socket(t.url, a))];
    await Promise.all(first.map((s) => s.opened));
    const extra = track(socket(t.url, a));
    expect(await within(extra.closed, 2000)).toEqual({ code: 1008, reason: 'Too many WebSocket connections from this address' });
    const elsewhere = track(socket(t.url, freshIp()));
    await elsewhere.opened;
    expect((await run(elsewhere.client, '{ __typename }')).data).toEqual({ __typename: 'Query' });
    // A closed one frees its place.
    await first[0].client.dispose();
    await first[0].closed;
    await sleep(50);
    const again = track(socket(t.url, a));
    await again.opened;
    expect((await run(again.client, '{ __typename }')).data).toEqual({ __typename: 'Query' });
    expect(first.slice(1).every((s) => !s.isClosed())).toBe(true);
  });
});

describe('RATE_LIMIT_DEFAULT=off', () => {
  test('turns the charge off like every limit: refused documents cost nothing', async () => {
    const off = await startTestApp({ RATE_LIMIT_DEFAULT: 'off', ...PROXY });
    try {
      const r = await post(off, ATTACK, freshIp());
      expect(r.errors?.[0]?.extensions?.code).toBe('GRAPHQL_PARSE_FAILED');
      expect(Number.isNaN(r.remaining)).toBe(true);
      const s = track(socket(off.url, freshIp()));
      await run(s.client, ATTACK);
      expect((await run(s.client, '{ rateLimitStatus { unlimited } }')).data).toEqual({ rateLimitStatus: { unlimited: true } });
    } finally {
      await off.close();
    }
  });
});
