/**
 * One table of rules, each run over HTTP and over WebSocket (the graphql-ws client)
 * against real gateways in development and in production: introspection, suggestions,
 * parse errors, depth, aliases, directives, tokens, cost, the cost of a list whose
 * `limit` is omitted, the shape check that refuses before validation, variables,
 * operation names, auth, and what each request costs the caller's default budget
 * (refused documents by their size). Every row expects the same code and message on
 * both transports. What WebSocket cannot carry is asserted as its equivalent: an HTTP
 * status of 400 or more is an `error` message there (refused before anything ran),
 * below 400 a result; the RateLimit header's remaining points are what
 * `rateLimitStatus` reports over either transport.
 */
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { gqlRequest, registerUser, startTestApp, type TestApp } from '../helpers/app';

type Mode = 'development' | 'production';
type Transport = 'http' | 'ws';

interface Expectation {
  /** The first error's extensions.code; absent: no error. */
  code?: string;
  message?: RegExp;
  notMessage?: RegExp;
  extensions?: Record<string, unknown>;
  data?: unknown;
  /** Over HTTP; over WebSocket, 400 and above is an `error` message and below a result. */
  status: number;
  /** Default-budget points the request costs the caller. */
  points: number;
}

interface Row {
  rule: string;
  query: string;
  variables?: Record<string, unknown>;
  operationName?: string;
  /** Default: anonymous. A customer is a freshly registered user, so every row starts from a full budget. */
  as?: 'customer';
  expect: Expectation | Record<Mode, Expectation>;
}

const LIMITS = { QUERY_MAX_DEPTH: '3', QUERY_MAX_ALIASES: '3', QUERY_MAX_DIRECTIVES: '2', QUERY_MAX_TOKENS: '300', QUERY_MAX_COST: '40' };
/** Over an hour: a point comes back every 6 s, so the budget read after a request is still what it left. */
const BUDGET = 600;
/** A document that does not parse, 3,000 bytes long: charged 3 points (one per started KiB). */
const BIG_SYNTAX_ERROR = `{ me { id ${' '.repeat(2980)}`;
const tooDeep = '{ analytics { experiments { variants { name } } } }';
const refusedBefore = (code: string, message: RegExp, extra: Partial<Expectation> = {}): Expectation => ({ code, message, status: 400, points: 1, ...extra });

const ROWS: Row[] = [
  {
    rule: 'introspection follows INTROSPECTION (off in production)',
    query: '{ __schema { queryType { name } } }',
    expect: {
      development: { data: { __schema: { queryType: { name: 'Query' } } }, status: 200, points: 1 },
      production: refusedBefore('GRAPHQL_VALIDATION_FAILED', /introspection is not allowed/, { extensions: { validationErrorCode: 'INTROSPECTION_DISABLED' } }),
    },
  },
  {
    rule: '__type is introspection too',
    query: '{ __type(name: "User") { name } }',
    expect: {
      development: { data: { __type: { name: 'User' } }, status: 200, points: 1 },
      production: refusedBefore('GRAPHQL_VALIDATION_FAILED', /introspection is not allowed/),
    },
  },
  { rule: '__typename is always allowed', query: '{ __typename }', expect: { data: { __typename: 'Query' }, status: 200, points: 1 } },
  {
    rule: 'field suggestions only outside production',
    query: '{ mee { id } }',
    expect: {
      development: refusedBefore('GRAPHQL_VALIDATION_FAILED', /Cannot query field "mee" on type "Query"\. Did you mean "me"\?/),
      production: refusedBefore('GRAPHQL_VALIDATION_FAILED', /^Cannot query field "mee" on type "Query"\.$/, { notMessage: /Did you mean/ }),
    },
  },
  {
    rule: 'argument suggestions only outside production',
    query: '{ products(limt: 5) { id } }',
    expect: {
      development: refusedBefore('GRAPHQL_VALIDATION_FAILED', /Unknown argument "limt" on field "Query\.products"\. Did you mean "limit"\?/),
      production: refusedBefore('GRAPHQL_VALIDATION_FAILED', /^Unknown argument "limt" on field "Query\.products"\.$/),
    },
  },
  {
    rule: 'enum value suggestions in variables only outside production',
    query: 'query J($s: JobState!) { jobs(state: $s) { id } }',
    variables: { s: 'WAITIN' },
    expect: {
      development: refusedBefore('BAD_USER_INPUT', /Did you mean the enum value "WAITING"\?/),
      production: refusedBefore('BAD_USER_INPUT', /^Variable "\$s" got invalid value "WAITIN"; Value "WAITIN" does not exist in "JobState" enum\.$/),
    },
  },
  {
    rule: 'a syntax error is GRAPHQL_PARSE_FAILED',
    query: '{ me { id }',
    expect: refusedBefore('GRAPHQL_PARSE_FAILED', /^Syntax Error: Expected Name, found <EOF>\.$/),
  },
  {
    rule: 'depth over QUERY_MAX_DEPTH',
    query: tooDeep,
    expect: refusedBefore('GRAPHQL_VALIDATION_FAILED', /^Query has too many nested levels: the maximum is 3$/, { extensions: { limit: 'nested levels' } }),
  },
  {
    rule: 'aliases over QUERY_MAX_ALIASES',
    query: '{ a: __typename b: __typename c: __typename d: __typename }',
    expect: refusedBefore('GRAPHQL_VALIDATION_FAILED', /^Query has too many aliases: the maximum is 3$/, { extensions: { limit: 'aliases' } }),
  },
  {
    rule: 'directives over QUERY_MAX_DIRECTIVES',
    query: '{ __typename @include(if: true) __typename @skip(if: false) __typename @include(if: true) }',
    expect: refusedBefore('GRAPHQL_VALIDATION_FAILED', /^Query has too many directives: the maximum is 2$/, { extensions: { limit: 'directives' } }),
  },
  {
    rule: 'tokens over QUERY_MAX_TOKENS, charged by size',
    query: `{ ${Array.from({ length: 400 }, () => '__typename').join(' ')} }`,
    expect: refusedBefore('GRAPHQL_PARSE_FAILED', /^Syntax Error: Document contains more tha[nt] 300 tokens\. Parsing aborted\.$/, { points: 5 }),
  },
  {
    rule: 'a refused document is charged one point per started KiB',
    query: BIG_SYNTAX_ERROR,
    expect: refusedBefore('GRAPHQL_PARSE_FAILED', /^Syntax Error/, { points: 3 }),
  },
  {
    rule: 'cost over QUERY_MAX_COST',
    query: '{ myOrders(limit: 40) { id items { productId } } }',
    expect: refusedBefore('QUERY_TOO_COMPLEX', /^Query cost 41 exceeds the maximum of 40$/, { extensions: { cost: 41, maxCost: 40 } }),
  },
  {
    rule: 'a list whose limit is omitted costs its real maximum (myOrders returns up to 50)',
    query: '{ myOrders { id items { productId } } }',
    expect: refusedBefore('QUERY_TOO_COMPLEX', /^Query cost 51 exceeds the maximum of 40$/, { extensions: { cost: 51, maxCost: 40 } }),
  },
  {
    rule: 'an operation is charged its cost',
    query: '{ myOrders(limit: 5) { id items { productId } } }',
    as: 'customer',
    expect: { data: { myOrders: [] }, status: 200, points: 6 },
  },
  {
    rule: 'plainly over the cost ceiling: refused by its shape, before validation',
    query: `{ ${Array.from({ length: 50 }, (_, i) => `f${i}`).join(' ')} }`,
    expect: refusedBefore('QUERY_TOO_COMPLEX', /^Query cost is at least 50, over the maximum of 40$/, { extensions: { minCost: 50, maxCost: 40 } }),
  },
  {
    rule: 'variables that do not fit their types',
    query: 'query P($n: Int!) { products(limit: $n) { id } }',
    variables: { n: 'many' },
    expect: refusedBefore('BAD_USER_INPUT', /^Variable "\$n" got invalid value "many"; Int cannot represent non-integer value: "many"$/),
  },
  {
    rule: 'an unknown operation name',
    query: 'query A { __typename }',
    operationName: 'B',
    expect: refusedBefore('OPERATION_RESOLUTION_FAILURE', /^Unknown operation named "B"\.$/),
  },
  {
    rule: 'signed-in only: UNAUTHENTICATED',
    query: '{ mySessions { id } }',
    expect: { code: 'UNAUTHENTICATED', message: /^You must be signed in$/, data: null, status: 200, points: 1 },
  },
  {
    rule: 'admin only: FORBIDDEN',
    query: '{ instances { id } }',
    as: 'customer',
    expect: { code: 'FORBIDDEN', message: /^You are not allowed to do this$/, data: null, status: 200, points: 1 },
  },
];

interface Outcome {
  /** HTTP status; over WebSocket 400 for an `error` message, 200 for a result. */
  status: number;
  data?: unknown;
  errors?: Array<{ message: string; extensions?: Record<string, unknown> }>;
  /** Default-budget points left after the request. */
  remaining: number;
}

let ipSeq = 0;
const freshIp = (): string => `198.18.${Math.floor(++ipSeq / 250)}.${(ipSeq % 250) + 1}`;
const STATUS = '{ rateLimitStatus { remaining } }';

function wsClient(url: string, ip: string, token: string | undefined): Client {
  class Socket extends WebSocket {
    constructor(address: string, protocols?: string | string[]) {
      super(address, protocols, { headers: { 'user-agent': 'node-test', 'x-forwarded-for': ip } });
    }
  }
  return createClient({
    url: `${url.replace(/^http/, 'ws')}/graphql`,
    webSocketImpl: Socket,
    connectionParams: token ? { authorization: `Bearer ${token}` } : undefined,
    retryAttempts: 0,
    lazy: true,
  });
}

function overWs(client: Client, query: string, variables?: Record<string, unknown>, operationName?: string): Promise<Omit<Outcome, 'remaining'>> {
  return new Promise((resolve, reject) => {
    let result: Omit<Outcome, 'remaining'> = { status: 200 };
    client.subscribe(
      { query, variables, operationName },
      {
        next: (v) => (result = { status: 200, data: v.data, errors: v.errors as Outcome['errors'] }),
        error: (e) => (Array.isArray(e) ? resolve({ status: 400, errors: e as Outcome['errors'] }) : reject(e as Error)),
        complete: () => resolve(result),
      },
    );
  });
}

async function run(t: TestApp, transport: Transport, row: Row): Promise<Outcome> {
  const ip = freshIp();
  const from = { headers: { 'x-forwarded-for': ip } };
  const token = row.as === 'customer' ? (await registerUser({ gql: (q, v, o) => gqlRequest(t.url, q, v, { ...o, ...from }) })).token : undefined;
  if (transport === 'http') {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'node-test',
      ...from.headers,
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    };
    const res = await fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ query: row.query, variables: row.variables, operationName: row.operationName }),
    });
    const body = (await res.json()) as Pick<Outcome, 'data' | 'errors'>;
    const remaining = Number(/^"default";r=(\d+);/.exec(res.headers.get('ratelimit') ?? '')?.[1] ?? NaN);
    return { status: res.status, data: body.data, errors: body.errors, remaining };
  }
  const client = wsClient(t.url, ip, token);
  try {
    const out = await overWs(client, row.query, row.variables, row.operationName);
    const status = await overWs(client, STATUS);
    return { ...out, remaining: (status.data as { rateLimitStatus: { remaining: number } }).rateLimitStatus.remaining };
  } finally {
    await client.dispose();
  }
}

const gateways: Partial<Record<Mode, TestApp>> = {};
beforeAll(async () => {
  const env = { ...LIMITS, RATE_LIMIT_DEFAULT: `${BUDGET}/1h`, TRUSTED_PROXIES: '127.0.0.1' };
  [gateways.development, gateways.production] = await Promise.all([startTestApp(env), startTestApp({ ...env, NODE_ENV: 'production' })]);
});
afterAll(async () => {
  await Promise.all(Object.values(gateways).map((g) => g.close()));
});

const cases = ROWS.flatMap((row) =>
  (['development', 'production'] as const).flatMap((mode) => (['http', 'ws'] as const).map((transport) => [row.rule, mode, transport, row] as const)),
);

describe.each(['development', 'production'] as const)('%s', (mode) => {
  test.each(cases.filter((c) => c[1] === mode).map(([rule, , transport, row]) => [rule, transport, row] as const))('%s (%s)', async (_rule, transport, row) => {
    const want = 'status' in row.expect ? row.expect : row.expect[mode];
    const got = await run(gateways[mode]!, transport, row);
    const first = got.errors?.[0];
    expect({ status: got.status >= 400 ? 'refused' : 'ran', code: first?.extensions?.code }).toEqual({
      status: want.status >= 400 ? 'refused' : 'ran',
      code: want.code,
    });
    if (transport === 'http') expect(got.status).toBe(want.status);
    if (want.message) expect(first?.message).toMatch(want.message);
    if (want.notMessage) expect(JSON.stringify(got.errors)).not.toMatch(want.notMessage);
    if (want.extensions) expect(first?.extensions).toMatchObject(want.extensions);
    if ('data' in want) expect(got.data ?? null).toEqual(want.data);
    if (!want.code) expect(got.errors).toBeUndefined();
    // Never an internal error, and never a hint of the schema in production.
    expect(JSON.stringify(got.errors ?? [])).not.toMatch(/INTERNAL_SERVER_ERROR/);
    if (mode === 'production') expect(JSON.stringify(got.errors ?? [])).not.toMatch(/Did you mean|stacktrace/);
    expect(got.remaining).toBe(BUDGET - want.points);
  });
});
