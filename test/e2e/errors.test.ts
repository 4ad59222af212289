/**
 * Production hygiene and logs: introspection and suggestions off, unexpected
 * errors masked with the request id while the detail goes only to the log,
 * and a request id on every log line of a request.
 */
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { loadConfig } from '../../src/config';
import { startApp, type App } from '../../src/app/app';
import { createLogger } from '../../src/util/logger';
import { sha256 } from '../../src/util/crypto';
import { gqlRequest, registerUser, testEnv, type TestApp } from '../helpers/app';
import { flushPrefix, rawRedis } from '../helpers/redis';

interface Line {
  level: number;
  msg?: string;
  requestId?: string;
  [k: string]: unknown;
}

/** An app whose logger writes JSON lines (the production format) into memory. */
async function appWithLog(overrides: Record<string, string>): Promise<{ app: App; url: string; lines: Line[]; raw: string[]; close(): Promise<void> }> {
  const config = loadConfig(testEnv({ LOG_LEVEL: 'info', ...overrides }));
  const raw: string[] = [];
  const lines: Line[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n').filter(Boolean)) {
        raw.push(l);
        lines.push(JSON.parse(l) as Line);
      }
      cb();
    },
  });
  const app = await startApp(config, { log: createLogger(config, { destination, pretty: false }) });
  const url = `http://127.0.0.1:${app.port}`;
  return {
    app,
    url,
    lines,
    raw,
    async close() {
      await app.close();
      await flushPrefix(config.redis.keyPrefix);
    },
  };
}

const gqlFor =
  (url: string): TestApp['gql'] =>
  (q, v, o) =>
    gqlRequest(url, q, v, o);

/** Makes the session of `token` unreadable for the touch script: a real corrupt record, not a mock. */
async function corruptSession(prefix: string, token: string): Promise<void> {
  const r = rawRedis();
  try {
    const key = `${prefix}:sess:{s:${sha256(token)}}`;
    expect(await r.exists(key)).toBe(1);
    await r.hset(key, 'exp', 'not-a-number');
  } finally {
    r.disconnect();
  }
}

describe('NODE_ENV=production', () => {
  let p: Awaited<ReturnType<typeof appWithLog>>;
  const gql: TestApp['gql'] = (q, v, o) => gqlRequest(p.url, q, v, o);
  beforeAll(async () => {
    p = await appWithLog({ NODE_ENV: 'production' });
  });
  afterAll(() => p.close());

  test('introspection is off', async () => {
    const res = await gql('{ __schema { queryType { name } } }');
    expect(res.status).toBe(400);
    expect(res.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(res.errors?.[0]?.message).toMatch(/introspection/i);
    expect((await gql('{ __type(name: "User") { name } }')).errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
  });

  test('__typename still works', async () => {
    expect((await gql('{ __typename }')).data).toEqual({ __typename: 'Query' });
  });

  test('field suggestions are off', async () => {
    const res = await gql('{ mee { id } }');
    expect(res.errors?.[0]?.message).toMatch(/Cannot query field "mee"/);
    expect(res.errors?.[0]?.message).not.toMatch(/Did you mean/);
  });

  test('argument and type suggestions are off too', async () => {
    for (const [query, shown] of [
      ['{ products(limitt: 2) { id } }', /Unknown argument "limitt"/],
      ['query Q($id: Idd!) { product(id: $id) { id } }', /Unknown type "Idd"/],
    ] as const) {
      const res = await gql(query);
      expect(res.status).toBe(400);
      expect(res.errors?.[0]?.message).toMatch(shown);
      expect(res.errors?.map((e) => e.message).join('\n')).not.toMatch(/Did you mean/);
    }
  });

  test('an unexpected error is masked as "Internal server error" with the request id; details only in the log', async () => {
    const u = await registerUser({ gql });
    await corruptSession(p.app.config.redis.keyPrefix, u.token);
    const res = await gql('{ me { id } }', {}, { token: u.token, headers: { 'x-request-id': 'prod-err-1' } });
    expect(res.errors).toHaveLength(1);
    expect(res.errors?.[0]).toEqual({ message: 'Internal server error', path: ['me'], extensions: { code: 'INTERNAL_SERVER_ERROR', requestId: 'prod-err-1' } });
    expect(res.headers.get('x-request-id')).toBe('prod-err-1');
    expect(JSON.stringify(res)).not.toMatch(/compare|user_script|stack|\.ts:/);
    const logged = p.lines.filter((l) => l.msg === 'unexpected error');
    expect(logged).toHaveLength(1);
    expect(logged[0].requestId).toBe('prod-err-1');
    expect(logged[0].level).toBe(50);
    expect(JSON.stringify(logged[0].err)).toMatch(/compare|number/);
    expect(JSON.stringify(logged[0].err)).toMatch(/stack/);
  });

  test('known client errors keep their message and code, without a stack trace', async () => {
    const res = await gql('mutation { login(input: { email: "nobody@example.com", password: "whatever-123" }) { token } }');
    expect(res.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(res.errors?.[0]?.message).not.toBe('Internal server error');
    expect(res.errors?.[0]?.extensions?.stacktrace).toBeUndefined();
  });

  test('INTROSPECTION=1 turns introspection back on in production', async () => {
    const on = await appWithLog({ NODE_ENV: 'production', INTROSPECTION: '1' });
    try {
      const res = await gqlRequest(on.url, '{ __schema { queryType { name } } }');
      expect(res.data).toEqual({ __schema: { queryType: { name: 'Query' } } });
    } finally {
      await on.close();
    }
  });
});

describe('development', () => {
  let d: Awaited<ReturnType<typeof appWithLog>>;
  beforeAll(async () => {
    d = await appWithLog({});
  });
  afterAll(() => d.close());

  test('introspection and suggestions are on', async () => {
    expect((await gqlRequest(d.url, '{ __schema { queryType { name } } }')).data).toEqual({ __schema: { queryType: { name: 'Query' } } });
    expect((await gqlRequest(d.url, '{ mee { id } }')).errors?.[0]?.message).toMatch(/Did you mean "me"/);
  });

  test('an unexpected error shows its message and the request id', async () => {
    const gql = gqlFor(d.url);
    const u = await registerUser({ gql });
    await corruptSession(d.app.config.redis.keyPrefix, u.token);
    const res = await gql('{ me { id } }', {}, { token: u.token });
    expect(res.errors?.[0]?.extensions?.code).toBe('INTERNAL_SERVER_ERROR');
    expect(res.errors?.[0]?.extensions?.requestId).toBe(res.headers.get('x-request-id'));
    expect(res.errors?.[0]?.message).not.toBe('Internal server error');
  });
});

describe('logs', () => {
  test('every line logged while handling a request carries its id, also from services that log through it', async () => {
    const l = await appWithLog({});
    try {
      const gql = gqlFor(l.url);
      const u = await registerUser({ gql });
      // The session service logs a suspected hijack through the request logger it is handed.
      const res = await gql('{ me { id } }', {}, { token: u.token, headers: { 'user-agent': 'Mozilla/5.0 Firefox/128.0', 'x-request-id': 'hijack-1' } });
      expect(res.data?.me).toBeNull();
      const warn = l.lines.find((x) => x.event === 'session.hijack_suspected');
      expect(warn).toBeDefined();
      expect(warn?.requestId).toBe('hijack-1');
      // Exactly one requestId key per line, even from loggers that bind it themselves.
      for (const line of l.raw) expect(line.match(/"requestId":/g)?.length ?? 0).toBeLessThanOrEqual(1);
      // Lines outside any request carry none.
      expect(l.lines.find((x) => x.msg === 'gateway listening')?.requestId).toBeUndefined();
    } finally {
      await l.close();
    }
  });

  test('a client that aborts its request body mid-way is no error of ours: logged below warn, and the gateway answers on', async () => {
    const l = await appWithLog({ LOG_LEVEL: 'debug' });
    try {
      const { port } = new URL(l.url);
      await new Promise<void>((resolve) => {
        const sock = connect(Number(port), '127.0.0.1', () => {
          sock.write('POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"query":"{ __typ');
          setTimeout(() => {
            sock.destroy();
            resolve();
          }, 100);
        });
      });
      await new Promise((r) => setTimeout(r, 200));
      expect((await gqlFor(l.url)('{ __typename }')).data).toEqual({ __typename: 'Query' });
      expect(l.lines.filter((x) => x.level >= 40)).toEqual([]);
      expect(l.lines.some((x) => x.msg === 'request body aborted by the client')).toBe(true);
    } finally {
      await l.close();
    }
  });

  test('production lines are JSON; development on a terminal is readable text', () => {
    const chunks: string[] = [];
    const destination = new Writable({
      write(c: Buffer, _e, cb) {
        chunks.push(c.toString());
        cb();
      },
    });
    createLogger({ production: true, logLevel: 'info' }, { destination }).info({ a: 1 }, 'hello json');
    expect(JSON.parse(chunks[0])).toMatchObject({ msg: 'hello json', a: 1, level: 30, service: 'gateway' });
    chunks.length = 0;
    createLogger({ production: false, logLevel: 'info' }, { destination, pretty: true }).info('hello pretty');
    const text = chunks.join('');
    expect(text).toContain('hello pretty');
    expect(text).toContain('INFO');
    expect(() => JSON.parse(text)).toThrow();
  });

  test('secrets are redacted', () => {
    const chunks: string[] = [];
    const destination = new Writable({
      write(c: Buffer, _e, cb) {
        chunks.push(c.toString());
        cb();
      },
    });
    createLogger({ production: true, logLevel: 'info' }, { destination }).info(
      { input: { password: 'hunter2-secret' }, req: { headers: { authorization: 'Bearer abc' } } },
      'x',
    );
    expect(chunks.join('')).not.toMatch(/hunter2|Bearer abc/);
  });
});
