/**
 * Property-based fuzzing of every mutation and of the raw /graphql request, against one real gateway.
 *
 * For any input (valid-looking, boundary, hostile or of the wrong type; sent as variables, as inline
 * literals, or aliased many times in one document) and for every caller (anonymous, guest, signed-in
 * user, admin), the gateway answers below 500 with a JSON GraphQL response whose every error carries a
 * documented `extensions.code`. An INTERNAL_SERVER_ERROR is an unexpected error escaping a resolver,
 * so it fails the property. After each property the gateway must still be healthy: /healthz and
 * /readyz answer 200 and `{ me { id } }` still returns the signed-in user.
 *
 * FUZZ_RUNS sets the runs per property (default 30); FUZZ_SEED replays a run (the seed is printed).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { buildSchema } from 'graphql';
import { ErrorCode, PUBLIC_CODES } from '../../src/util/errors';
import { MAX_PRICE_CENTS } from '../../src/types/commerce/product.input';
import { ADMIN, loginAs, registerUser, startTestApp, ADMIN_ENV, type TestApp } from '../helpers/app';

const RUNS = Number(process.env.FUZZ_RUNS ?? 30);
const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : Date.now() ^ (Math.random() * 0x7fffffff);
// Shrinking replays requests one by one; past this it stops and reports the smallest failure found so far.
const FC_PARAMS = { numRuns: RUNS, seed: SEED, interruptAfterTimeLimit: 40_000, markInterruptAsFailure: false };
jest.setTimeout(90_000);

/** What a client may see: the contract's codes, Apollo's request codes, and the HTTP layer's 413. */
const DOCUMENTED_CODES: ReadonlySet<string> = new Set([...PUBLIC_CODES, 'PAYLOAD_TOO_LARGE']);
const USER_AGENT = 'fuzz-client/1.0';

// ---------------------------------------------------------------------------------------------
// Raw JSON: numbers and nesting that JSON.stringify cannot produce (1e400, -0, 100 000 levels).
// ---------------------------------------------------------------------------------------------

/** A value written into the JSON body verbatim. */
class Raw {
  constructor(readonly text: string) {}
}

const RAW_MARK = '\u0001raw';

/** JSON.stringify, except that {@link Raw} values are spliced in as written. */
function toJson(value: unknown): string {
  const raws: string[] = [];
  const text = JSON.stringify(value, function (this: unknown, _key, v: unknown) {
    if (v instanceof Raw) {
      raws.push(v.text);
      return `${RAW_MARK}${raws.length - 1}\u0001`;
    }
    return v;
  });
  if (text === undefined) return 'null';
  return raws.length ? text.replace(/"\\u0001raw(\d+)\\u0001"/g, (_m, i: string) => raws[Number(i)]) : text;
}

const NAME = /^[_A-Za-z][_0-9A-Za-z]*$/;

/** A GraphQL literal for an inline argument; anything without a literal form makes a document that must be refused. */
function literal(v: unknown): string {
  if (v instanceof Raw) return v.text;
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[${v.map(literal).join(', ')}]`;
  if (typeof v === 'object') {
    return `{${Object.entries(v as Record<string, unknown>)
      .map(([k, x]) => `${NAME.test(k) ? k : JSON.stringify(k)}: ${literal(x)}`)
      .join(', ')}}`;
  }
  // What is left: numbers, booleans and null, which GraphQL writes as JSON does.
  return JSON.stringify(v) ?? 'null';
}

const deepObject = (depth: number): Raw => new Raw(`${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`);
const deepArray = (depth: number): Raw => new Raw(`{"a":${'['.repeat(depth)}${']'.repeat(depth)}}`);

// ---------------------------------------------------------------------------------------------
// Generators shared by every input.
// ---------------------------------------------------------------------------------------------

const NASTY_STRINGS = [
  '',
  ' ',
  '\t\r\n',
  '\u0000',
  'a\u0000b',
  '\u0000'.repeat(1000),
  '\u202Egnp.exe',
  '\u200F\u200E\u200B',
  '\uFEFF',
  '\uD800',
  '\uDFFFx',
  '\uFFFF',
  '😀'.repeat(64),
  '👩‍👩‍👧‍👦',
  'Z̤͔ͧ̑̓ä͖̭̈̇lͮ̒ͫǫ̗̻̈́',
  '𝕳𝖊𝖑𝖑𝖔',
  'مرحبا',
  '١٢٣',
  'ﷺ',
  '\r\nX-Injected: 1',
  '../../../../etc/passwd',
  "' OR 1=1 --",
  '<script>alert(1)</script>',
  '${jndi:ldap://x}',
  '{{7*7}}',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  '*',
  '?',
  '[a-z]',
  '{tag}',
  'gw:*',
  '}{',
  '\\',
  '"',
  "'",
  '%00%ff',
  '\u0001',
  'null',
  'undefined',
  'NaN',
  'Infinity',
  '-0',
  '1e309',
  'true',
  '[]',
  '{}',
  'x'.repeat(10_000),
  'é'.repeat(10_000),
  ' '.repeat(300),
  'a'.repeat(65),
  'a'.repeat(129),
  'a'.repeat(257),
];

const hostileString: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...NASTY_STRINGS) },
  { weight: 2, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }) },
  { weight: 1, arbitrary: fc.tuple(fc.string({ minLength: 1, maxLength: 3 }), fc.integer({ min: 100, max: 20_000 })).map(([s, n]) => s.repeat(n)) },
);

const hostileNumber: fc.Arbitrary<unknown> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.constantFrom<unknown>(
      0,
      -0,
      1,
      -1,
      2147483647,
      -2147483648,
      2147483648,
      -2147483649,
      Number.MAX_SAFE_INTEGER,
      -Number.MAX_SAFE_INTEGER,
      2 ** 53 + 2,
      1e21,
      -1e21,
      1e308,
      -1e308,
      5e-324,
      0.5,
      1.5,
      -1.5,
      99.999,
      100,
      1001,
      2_592_000_001,
      1_000_000_001,
    ),
  },
  {
    weight: 2,
    arbitrary: fc
      .constantFrom(
        '1e400',
        '-1e400',
        '123456789012345678901234567890',
        '-0',
        '0.0',
        '1.0',
        '2147483647.0',
        '1E2',
        '0.1e1',
        'NaN',
        'Infinity',
        '-Infinity',
        '0x10',
        '1_000',
        '01',
        '+1',
        '.5',
        '5.',
      )
      .map((t) => new Raw(t)),
  },
  { weight: 2, arbitrary: fc.integer() },
  { weight: 1, arbitrary: fc.double() },
  { weight: 1, arbitrary: fc.constantFrom<unknown>('1', '99', '', 'NaN', true, false) },
);

/** Not what the field declares at all. */
const wrongType: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.string({ maxLength: 10 }),
  fc.double(),
  fc.constant([]),
  fc.constant({}),
  fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 5 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }),
);

/** A field: what a careful client sends, and what an attacker or a broken client sends instead. */
interface FieldGen {
  valid: fc.Arbitrary<unknown>;
  bad: fc.Arbitrary<unknown>;
}

const MISSING = fc.constant(undefined);

/** A string field: hostile text, the wrong type, or left out. */
const str = (valid: fc.Arbitrary<unknown>): FieldGen => ({
  valid,
  bad: fc.oneof({ weight: 5, arbitrary: hostileString }, { weight: 1, arbitrary: wrongType }, { weight: 1, arbitrary: MISSING }),
});

/** An Int field: numbers beyond Int, floats, NaN-ish raw JSON, the wrong type, or left out. */
const int = (valid: fc.Arbitrary<number | undefined>): FieldGen => ({
  valid,
  bad: fc.oneof({ weight: 5, arbitrary: hostileNumber }, { weight: 1, arbitrary: wrongType }, { weight: 1, arbitrary: MISSING }),
});

/** A Boolean field: text, numbers, the wrong type, or left out. */
const bool = (valid: fc.Arbitrary<boolean>): FieldGen => ({
  valid,
  bad: fc.oneof(
    { weight: 2, arbitrary: hostileString },
    { weight: 2, arbitrary: hostileNumber },
    { weight: 1, arbitrary: wrongType },
    { weight: 1, arbitrary: MISSING },
  ),
});

const mapFields = (fields: Record<string, FieldGen>, side: keyof FieldGen): Record<string, fc.Arbitrary<unknown>> =>
  Object.fromEntries(Object.entries(fields).map(([k, f]) => [k, f[side]]));

/**
 * Every field valid except a few (none, one, or several) replaced by a bad value. Mostly one at a
 * time: a single bad field among valid ones reaches the deepest code that field feeds.
 */
function someBad(fields: Record<string, FieldGen>, atLeastOne: boolean): fc.Arbitrary<Record<string, unknown>> {
  const keys = Object.keys(fields);
  if (keys.length === 0) return fc.constant({});
  const which = fc.oneof(
    { weight: atLeastOne ? 0 : 2, arbitrary: fc.constant<string[]>([]) },
    { weight: 5, arbitrary: fc.constantFrom(...keys).map((k) => [k]) },
    { weight: 1, arbitrary: fc.subarray(keys, { minLength: 1 }) },
  );
  return fc.tuple(fc.record(mapFields(fields, 'valid')), fc.record(mapFields(fields, 'bad')), which).map(([good, bad, names]) => {
    const out: Record<string, unknown> = { ...good };
    for (const k of names) out[k] = bad[k];
    for (const k of Object.keys(out)) if (out[k] === undefined) delete out[k];
    return out;
  });
}

const unknownFields = fc.dictionary(
  fc.oneof(fc.constantFrom('__proto__', 'constructor', 'admin', 'roles', 'id', 'userId'), fc.string({ maxLength: 12 })),
  fc.jsonValue({ maxDepth: 2 }),
  { minKeys: 1, maxKeys: 3 },
);

/** An input object: valid, with bad fields, with unknown fields, with fields left out, or not an object. */
function obj(fields: Record<string, FieldGen>): FieldGen {
  const valid = fc.record(mapFields(fields, 'valid'));
  return {
    valid,
    bad: fc.oneof(
      { weight: 8, arbitrary: someBad(fields, true) },
      { weight: 1, arbitrary: fc.tuple(valid, unknownFields).map(([r, extra]) => ({ ...extra, ...r })) },
      { weight: 1, arbitrary: fc.record(mapFields(fields, 'valid'), { requiredKeys: [] }) },
      { weight: 1, arbitrary: wrongType },
    ),
  };
}

/** A list: with a bad item, empty, very long (of `filler`, a small valid item), or not a list. */
function list(item: FieldGen, valid: fc.Arbitrary<unknown[]>, filler: fc.Arbitrary<unknown> = item.valid): FieldGen {
  return {
    valid,
    bad: fc.oneof(
      {
        weight: 3,
        arbitrary: fc.tuple(valid, item.bad, fc.nat()).map(([xs, x, i]) => {
          const out = [...xs];
          out[xs.length ? i % xs.length : 0] = x;
          return out;
        }),
      },
      { weight: 1, arbitrary: fc.constant([]) },
      { weight: 2, arbitrary: fc.tuple(filler, fc.constantFrom(11, 101, 1000, 100_000)).map(([x, n]) => Array.from({ length: n }, () => x)) },
      { weight: 1, arbitrary: fc.array(item.bad, { maxLength: 12 }) },
      { weight: 1, arbitrary: wrongType },
    ),
  };
}

const email = fc.oneof(
  fc.emailAddress(),
  fc.nat().map((n) => `fuzz-${n}@example.com`),
  fc.constantFrom(' Fuzz@Example.COM ', 'a@b', 'a@b.c', '@example.com', 'x@'),
);
const password = fc.oneof(fc.stringMatching(/^[A-Za-z]{5,40}\d{5,40}$/), fc.string({ minLength: 10, maxLength: 130 }));
/** The seeded catalog (boundary prices and stock), an unknown id, and well-formed random ids. */
const SEEDED_PRODUCTS = ['fz-basic', 'fz-max', 'fz-free', 'fz-none', 'fz-eur'];
const productId = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...SEEDED_PRODUCTS, 'nope') },
  { weight: 1, arbitrary: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/) },
);
const experimentKey = fc.oneof(fc.constantFrom('fz-exp', 'fz-exp-w'), fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/));
const flagKey = fc.oneof(fc.constant('fz-flag'), fc.stringMatching(/^[A-Za-z0-9_.-]{1,64}$/));
const visitorId = fc.oneof(fc.stringMatching(/^[A-Za-z0-9_.:@-]{1,128}$/), fc.uuid());
const optional = <T>(a: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> => fc.option(a, { nil: undefined, freq: 3 });

// ---------------------------------------------------------------------------------------------
// The gateway and its callers.
// ---------------------------------------------------------------------------------------------

let t: TestApp;
const shared = { guest: '', user: '', userId: '', userSessionId: '', admin: '' };
/** Signs in anew for mutations that end or replace the caller's session; never the user the health check uses. */
const sessionUser = { email: `fuzz-sessions-${process.pid}@example.com`, password: 'fuzz-sessions-42' };
const seededJobIds: string[] = [];
/** Orders of the shared user, for cancelOrder (the first cancel takes, the rest answer as for a cancelled order). */
const seededOrderIds: string[] = [];

type Who = 'anonymous' | 'guest' | 'user' | 'admin';
const CALLERS: Who[] = ['anonymous', 'guest', 'user', 'admin'];

/** The test's own GraphQL calls, with the user agent every fuzzed request carries (a session is bound to its agent's family). */
const gql: TestApp['gql'] = (q, v, o) => t.gql(q, v, { ...o, headers: { 'user-agent': USER_AGENT, ...o?.headers } });

async function guestToken(): Promise<string> {
  const res = await gql<{ startGuestSession: { token: string } }>('mutation { startGuestSession { token } }');
  if (!res.data?.startGuestSession) throw new Error(`startGuestSession failed: ${JSON.stringify(res.errors)}`);
  return res.data.startGuestSession.token;
}

const login = (who: { email: string; password: string }): Promise<string> => loginAs({ gql }, who.email, who.password);

/** The caller's token: the shared one, or a fresh session when the mutation may end it. */
async function tokenFor(who: Who, fresh: boolean): Promise<string | null> {
  if (who === 'anonymous') return null;
  if (!fresh) return shared[who];
  if (who === 'guest') return guestToken();
  return login(who === 'admin' ? ADMIN : sessionUser);
}

// ---------------------------------------------------------------------------------------------
// Requests and what every answer must look like.
// ---------------------------------------------------------------------------------------------

interface Answer {
  status: number;
  type: string;
  text: string;
}

/** No answer within this is a failure of its own (a request the server dropped, or one that hangs it). */
const ANSWER_TIMEOUT_MS = 15_000;

async function send(method: string, path: string, headers: Record<string, string>, body?: string | Uint8Array): Promise<Answer> {
  try {
    const res = await fetch(`${t.url}${path}`, { method, headers, body, signal: AbortSignal.timeout(ANSWER_TIMEOUT_MS) });
    return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() };
  } catch (err) {
    throw new Error(`${method} ${cut(path, 200)}: no answer (${(err as Error).message})`, { cause: err });
  }
}

const cut = (s: string, n = 1500): string => (s.length > n ? `${s.slice(0, n)}… (${s.length} chars)` : s);

interface GraphQLAnswer {
  data?: Record<string, unknown> | null;
  errors?: Array<{ message: string; extensions?: { code?: unknown } }>;
}

/** Throws unless `a` is a sound GraphQL answer: below 500, JSON, every error with a documented code. */
function assertSound(a: Answer): GraphQLAnswer {
  const fail = (why: string): never => {
    throw new Error(`${why}\nHTTP ${a.status} ${a.type}\n${cut(a.text)}`);
  };
  if (a.status >= 500) fail('5xx answer');
  if (!a.type.includes('json')) fail('answer is not JSON');
  let body: unknown;
  try {
    body = JSON.parse(a.text);
  } catch {
    return fail('body does not parse as JSON');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return fail('body is not a JSON object');
  const r = body as Record<string, unknown>;
  const unknownKeys = Object.keys(r).filter((k) => !['data', 'errors', 'extensions'].includes(k));
  if (unknownKeys.length) fail(`unexpected top-level keys ${unknownKeys.join(', ')}`);
  if (!('data' in r) && !('errors' in r)) fail('neither data nor errors');
  if ('errors' in r) {
    if (!Array.isArray(r.errors) || r.errors.length === 0) fail('errors is not a non-empty list');
    for (const e of r.errors as unknown[]) {
      const err = e as { message?: unknown; extensions?: { code?: unknown } };
      if (typeof err?.message !== 'string') fail('an error without a message');
      const code = err.extensions?.code;
      if (code === ErrorCode.INTERNAL_SERVER_ERROR) fail('unexpected error escaped (INTERNAL_SERVER_ERROR)');
      if (typeof code !== 'string' || !DOCUMENTED_CODES.has(code)) fail(`undocumented error code ${String(code)}`);
    }
  }
  if (a.status !== 200 && !('errors' in r)) fail('a refusal without errors');
  if (a.status === 200 && !('errors' in r) && (typeof r.data !== 'object' || r.data === null)) fail('success without data');
  return r;
}

interface GraphQLBody {
  query: string;
  variables?: unknown;
  operationName?: unknown;
}

async function post(body: GraphQLBody, token: string | null): Promise<Answer> {
  const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': USER_AGENT };
  if (token) headers.authorization = `Bearer ${token}`;
  return send('POST', '/graphql', headers, toJson(body));
}

// ---------------------------------------------------------------------------------------------
// Mutations: arguments, selections, and the documents built from them.
// ---------------------------------------------------------------------------------------------

interface Arg extends FieldGen {
  name: string;
  type: string;
}

interface MutationSpec {
  field: string;
  args: Arg[];
  select: string;
  /** Ends or replaces the caller's session, so each run gets a fresh one. */
  ownsSession?: boolean;
  /** Acts on the caller's cart, so each run starts from a cart of its own (part of the counterexample). */
  usesCart?: boolean;
}

const PRODUCT = 'id name priceCents currency stock';
const CART = `items { product { ${PRODUCT} } quantity lineTotalCents } itemCount subtotalCents currency`;
const AUTH = 'token user { id email name roles createdAt } session { id createdAt expiresAt lastSeenAt current ip userAgent }';
const ORDER = 'id status items { productId name quantity unitPriceCents } totalCents currency createdAt updatedAt';
const JOB = 'id type state priority progress attempts maxAttempts data result error createdAt finishedAt';
const EXPERIMENT =
  'key control createdAt totalExposures sampleRatioPValue sampleRatioMismatch unattributedConversions warnings ' +
  'variants { name weight exposures conversions conversionEvents conversionRate revenueCents pValue chanceToBeatControl upliftVsControl significant }';

const idOf = (valid: fc.Arbitrary<string>): FieldGen => ({
  valid: fc.oneof(valid, fc.stringMatching(/^[A-Za-z0-9_-]{1,48}$/)),
  // ID takes an integer too: send some, in and out of range.
  bad: fc.oneof(
    { weight: 4, arbitrary: hostileString },
    { weight: 2, arbitrary: hostileNumber },
    { weight: 1, arbitrary: wrongType },
    { weight: 1, arbitrary: MISSING },
  ),
});

const variantName = fc.stringMatching(/^[A-Za-z0-9_-]{1,32}$/);
const weight = fc.integer({ min: 1, max: 10_000 });

/** Distinct variants with as many weights, or none. */
const experimentInput: FieldGen = (() => {
  const variants = fc.uniqueArray(variantName, { minLength: 2, maxLength: 10 });
  const valid = variants.chain((vs) =>
    fc.record({
      key: experimentKey,
      variants: fc.constant(vs),
      weights: fc.option(fc.array(weight, { minLength: vs.length, maxLength: vs.length }), { nil: undefined }),
    }),
  );
  const fields = {
    key: str(experimentKey),
    variants: list(str(variantName), variants),
    weights: list(int(weight), fc.array(weight, { minLength: 2, maxLength: 10 })),
  };
  return { valid, bad: obj(fields).bad };
})();

/** Job data the job types accept, and JSON objects they refuse; a few kilobytes at most. */
const smallJobData = fc.oneof(
  { weight: 4, arbitrary: fc.record({ to: email, subject: fc.string({ maxLength: 200 }), body: fc.string({ maxLength: 2000 }) }) },
  {
    weight: 3,
    arbitrary: fc.record({
      url: fc.constantFrom(
        'https://hooks.example.com/x',
        'http://hooks.example.com:8080/x',
        'http://127.0.0.1:6379/',
        'http://169.254.169.254/latest/meta-data',
        'http://[::1]/',
        'https://user:pw@hooks.example.com/',
        'file:///etc/passwd',
      ),
      payload: fc.jsonValue({ maxDepth: 4 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ orderId: fc.stringMatching(/^[0-9a-f]{32}$/) }) },
  { weight: 1, arbitrary: fc.dictionary(fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 5 }), { maxKeys: 8 }) },
  { weight: 1, arbitrary: fc.constantFrom(10, 64, 65, 100).map(deepObject) },
);

/** The same, and objects up to hundreds of kilobytes: wide, or nested far deeper than any stack. */
const jobData: FieldGen = {
  valid: fc.oneof(
    { weight: 5, arbitrary: smallJobData },
    { weight: 1, arbitrary: fc.integer({ min: 10, max: 100_000 }).map((n) => ({ list: Array.from({ length: n }, (_, i) => i) })) },
    { weight: 2, arbitrary: fc.constantFrom(1000, 5000, 20_000, 100_000).map(deepObject) },
    { weight: 2, arbitrary: fc.constantFrom(1000, 10_000, 100_000, 400_000).map(deepArray) },
  ),
  bad: fc.oneof(wrongType, MISSING),
};

const enqueueFields = (data: FieldGen): Record<string, FieldGen> => ({
  type: str(
    fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom('email.send', 'webhook.deliver') },
      { weight: 1, arbitrary: fc.constantFrom('order.process', 'sms.send') },
      { weight: 1, arbitrary: fc.stringMatching(/^[a-z][a-z0-9]*(\.[a-z][a-z0-9-]*)+$/) },
    ),
  ),
  data,
  priority: int(optional(fc.integer({ min: -1000, max: 1000 }))),
  delayMs: int(optional(fc.integer({ min: 0, max: 30 * 86_400_000 }))),
  maxAttempts: int(optional(fc.integer({ min: 1, max: 25 }))),
  idempotencyKey: str(optional(fc.stringMatching(/^[\x21-\x7e]{1,128}$/))),
});

const enqueueInput = obj(enqueueFields(jobData));

const jobType = fc.oneof(fc.constantFrom('email.send', 'webhook.deliver', 'order.process'), fc.stringMatching(/^[a-z][a-z0-9]*(\.[a-z][a-z0-9-]*)+$/));
const policyName = fc.oneof(
  fc.constantFrom('default', 'address', 'login-ip', 'checkout', 'rate-limit-status', 'blocklist'),
  fc.stringMatching(/^[A-Za-z0-9_-]{1,40}$/),
);
// Rate limits are off on the fuzzed gateway: a block is stored but refuses nothing, so the health checks still pass.
const identity = fc.oneof(
  fc.constantFrom('ip:192.0.2.1', 'ip:::ffff:192.0.2.1', 'ip:2001:db8::1', 'user:fz-user', 'key:fz-key'),
  fc.stringMatching(/^(user|key):[A-Za-z0-9_-]{1,64}$/),
  fc.ipV4().map((ip) => `ip:${ip}`),
  fc.ipV6().map((ip) => `ip:${ip}`),
);
const smallEnqueueInput = obj(enqueueFields({ valid: smallJobData, bad: jobData.bad }));

/** 1 to 100 small jobs, sometimes with one large one among them. */
const enqueueBatch = list(
  smallEnqueueInput,
  fc
    .tuple(fc.array(smallEnqueueInput.valid, { minLength: 1, maxLength: 100 }), fc.option(enqueueInput.valid, { nil: undefined, freq: 4 }), fc.nat())
    .map(([xs, big, i]) => {
      const out: unknown[] = [...xs];
      if (big !== undefined) out[i % out.length] = big;
      return out;
    }),
  fc.constant({ type: 'email.send', data: { to: 'a@example.com', subject: 's', body: 'b' } }),
);

/** A page view: any path with a query and fragment (UTM values among them), any referrer. */
const pageViewInput = obj({
  page: str(
    fc.webUrl({ withQueryParameters: true, withFragments: true }).map((u) => {
      const url = new URL(u);
      return url.pathname + url.search + url.hash;
    }),
  ),
  referrer: str(optional(fc.webUrl({ withQueryParameters: true, withFragments: true }))),
  visitorId: str(optional(visitorId)),
});

function specs(): MutationSpec[] {
  const jobId = idOf(fc.constantFrom(...seededJobIds));
  return [
    {
      field: 'addToCart',
      args: [{ name: 'input', type: 'AddToCartInput!', ...obj({ productId: str(productId), quantity: int(fc.integer({ min: 1, max: 99 })) }) }],
      select: CART,
      usesCart: true,
    },
    {
      field: 'assignVariant',
      args: [
        { name: 'experiment', type: 'String!', ...str(experimentKey) },
        { name: 'visitorId', type: 'String', ...str(optional(visitorId)) },
      ],
      select: '',
    },
    {
      field: 'adjustStock',
      args: [
        // Its own product: the cart properties rely on the seeded stock.
        { name: 'productId', type: 'ID!', ...idOf(fc.constantFrom('fz-adjust', 'fzu-nope')) },
        { name: 'delta', type: 'Int!', ...int(fc.integer({ min: -1_000_000_000, max: 1_000_000_000 })) },
      ],
      select: PRODUCT,
    },
    { field: 'cancelJob', args: [{ name: 'id', type: 'ID!', ...jobId }], select: '' },
    {
      field: 'cancelOrder',
      args: [{ name: 'id', type: 'ID!', ...idOf(fc.oneof(fc.constantFrom(...seededOrderIds), fc.stringMatching(/^[0-9a-f]{32}$/))) }],
      select: ORDER,
    },
    {
      field: 'checkout',
      args: [{ name: 'idempotencyKey', type: 'String', ...str(optional(fc.string({ minLength: 1, maxLength: 200 }))) }],
      select: ORDER,
      usesCart: true,
    },
    // Never the right current password: a changed password would lock the fuzz out of its own accounts.
    {
      field: 'changePassword',
      args: [
        { name: 'currentPassword', type: 'String!', ...str(password) },
        { name: 'newPassword', type: 'String!', ...str(password) },
      ],
      select: '',
      ownsSession: true,
    },
    { field: 'clearCart', args: [], select: CART, usesCart: true },
    {
      field: 'createApiKey',
      args: [
        {
          name: 'name',
          type: 'String!',
          ...str(fc.oneof(fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$/), fc.string({ minLength: 1, maxLength: 80 }))),
        },
        { name: 'roles', type: '[Role!]!', ...list(str(fc.constantFrom('ADMIN', 'CUSTOMER')), fc.subarray(['ADMIN', 'CUSTOMER'], { minLength: 1 })) },
      ],
      select: 'key apiKey { id name roles createdAt lastUsedAt }',
    },
    { field: 'createExperiment', args: [{ name: 'input', type: 'ExperimentInput!', ...experimentInput }], select: EXPERIMENT },
    { field: 'deleteFlag', args: [{ name: 'key', type: 'String!', ...str(flagKey) }], select: '' },
    { field: 'enqueueJob', args: [{ name: 'input', type: 'EnqueueJobInput!', ...enqueueInput }], select: JOB },
    { field: 'enqueueJobs', args: [{ name: 'inputs', type: '[EnqueueJobInput!]!', ...enqueueBatch }], select: JOB },
    {
      field: 'login',
      args: [
        {
          name: 'input',
          type: 'LoginInput!',
          ...obj({
            email: str(fc.oneof(email, fc.constantFrom(sessionUser.email, ADMIN.email))),
            password: str(fc.oneof(password, fc.constant(sessionUser.password))),
          }),
        },
      ],
      select: AUTH,
      ownsSession: true,
    },
    { field: 'logout', args: [], select: '', ownsSession: true },
    {
      field: 'requestPasswordReset',
      args: [{ name: 'email', type: 'String!', ...str(fc.oneof(email, fc.constantFrom(sessionUser.email, ADMIN.email))) }],
      select: '',
    },
    {
      field: 'register',
      args: [
        {
          name: 'input',
          type: 'RegisterInput!',
          ...obj({ email: str(email), password: str(password), name: str(fc.string({ minLength: 1, maxLength: 100 })) }),
        },
      ],
      select: AUTH,
      ownsSession: true,
    },
    { field: 'removeFromCart', args: [{ name: 'productId', type: 'ID!', ...idOf(productId) }], select: CART, usesCart: true },
    {
      field: 'resetPassword',
      args: [
        { name: 'token', type: 'String!', ...str(fc.oneof(fc.stringMatching(/^[A-Za-z0-9_-]{43}$/), fc.string({ maxLength: 200 }))) },
        { name: 'newPassword', type: 'String!', ...str(password) },
      ],
      select: '',
    },
    { field: 'retryJob', args: [{ name: 'id', type: 'ID!', ...jobId }], select: JOB },
    { field: 'revokeApiKey', args: [{ name: 'id', type: 'ID!', ...idOf(fc.stringMatching(/^[0-9a-f]{32}$/)) }], select: '' },
    { field: 'retryFailedJobs', args: [{ name: 'type', type: 'String', ...str(optional(jobType)) }], select: '' },
    { field: 'purgeFailedJobs', args: [{ name: 'type', type: 'String', ...str(optional(jobType)) }], select: '' },
    {
      field: 'setRateLimitPolicy',
      args: [
        {
          name: 'input',
          type: 'RateLimitPolicyInput!',
          ...obj({
            name: str(policyName),
            points: int(fc.integer({ min: 1, max: 1_000_000 })),
            windowSeconds: int(fc.integer({ min: 1, max: 604_800 })),
            burst: int(optional(fc.integer({ min: 1, max: 1_000_000 }))),
          }),
        },
      ],
      select: 'name points windowSeconds burst overridden configured { points windowSeconds burst }',
    },
    { field: 'resetRateLimitPolicy', args: [{ name: 'name', type: 'String!', ...str(policyName) }], select: 'name points overridden' },
    {
      field: 'blockClient',
      args: [
        { name: 'identity', type: 'String!', ...str(identity) },
        { name: 'seconds', type: 'Int!', ...int(fc.integer({ min: 1, max: 2_592_000 })) },
      ],
      select: '',
    },
    { field: 'unblockClient', args: [{ name: 'identity', type: 'String!', ...str(identity) }], select: '' },
    { field: 'revokeOtherSessions', args: [], select: '', ownsSession: true },
    // Another user's session id among them: revoking it must not touch that user (the health check signs in as them).
    { field: 'revokeSession', args: [{ name: 'id', type: 'ID!', ...idOf(fc.constant(shared.userSessionId)) }], select: '', ownsSession: true },
    // Never the health check's user: ids of no user, or well-formed random ones.
    { field: 'revokeUserSessions', args: [{ name: 'userId', type: 'ID!', ...idOf(fc.stringMatching(/^[0-9a-f]{32}$/)) }], select: '' },
    // Likewise: ids of no user, so no fuzzed call demotes the admin the other cases sign in as.
    {
      field: 'setUserRoles',
      args: [
        { name: 'userId', type: 'ID!', ...idOf(fc.stringMatching(/^[0-9a-f]{32}$/)) },
        { name: 'roles', type: '[Role!]!', ...list(str(fc.constantFrom('ADMIN', 'CUSTOMER')), fc.subarray(['ADMIN', 'CUSTOMER'])) },
      ],
      select: 'id roles',
    },
    {
      field: 'setCartItemQuantity',
      args: [
        { name: 'productId', type: 'ID!', ...idOf(productId) },
        { name: 'quantity', type: 'Int!', ...int(fc.integer({ min: 0, max: 99 })) },
      ],
      select: CART,
      usesCart: true,
    },
    {
      field: 'setFlag',
      args: [
        {
          name: 'input',
          type: 'FlagInput!',
          ...obj({ key: str(flagKey), enabled: bool(fc.boolean()), rolloutPercent: int(optional(fc.integer({ min: 0, max: 100 }))) }),
        },
      ],
      select: 'key enabled rolloutPercent updatedAt',
    },
    { field: 'startGuestSession', args: [], select: AUTH },
    {
      field: 'stopExperiment',
      args: [
        { name: 'key', type: 'String!', ...str(experimentKey) },
        { name: 'winner', type: 'String', ...str(optional(fc.oneof(fc.constantFrom('a', 'b', 'control', 'x', 'y'), fc.string({ maxLength: 300 })))) },
      ],
      select: EXPERIMENT,
    },
    {
      field: 'trackConversion',
      args: [
        {
          name: 'input',
          type: 'ConversionInput!',
          ...obj({
            type: str(fc.stringMatching(/^[A-Za-z0-9_.:-]{1,64}$/)),
            valueCents: int(optional(fc.integer({ min: 0, max: 100_000_000 }))),
            experiment: str(optional(experimentKey)),
            visitorId: str(optional(visitorId)),
          }),
        },
      ],
      select: '',
    },
    { field: 'trackPageView', args: [{ name: 'input', type: 'PageViewInput!', ...pageViewInput }], select: '' },
    {
      field: 'trackPageViews',
      args: [{ name: 'inputs', type: '[PageViewInput!]!', ...list(pageViewInput, fc.array(pageViewInput.valid, { minLength: 1, maxLength: 100 })) }],
      select: '',
    },
    {
      field: 'upsertProduct',
      args: [
        {
          name: 'input',
          type: 'ProductInput!',
          ...obj({
            // Never a seeded id: the cart properties rely on the seeded prices and stock.
            id: str(fc.stringMatching(/^fzu-[A-Za-z0-9._-]{1,60}$/)),
            name: str(fc.string({ minLength: 1, maxLength: 200 })),
            priceCents: int(fc.integer({ min: 0, max: MAX_PRICE_CENTS })),
            stock: int(fc.integer({ min: 0, max: 1_000_000_000 })),
            currency: str(optional(fc.constantFrom('USD', 'EUR', 'JPY', 'XXX', 'XTS', 'usd', 'US', 'EURO'))),
          }),
        },
      ],
      select: PRODUCT,
    },
  ];
}

const selection = (s: MutationSpec): string => (s.select ? ` { ${s.select} }` : '');

/** `mutation Fuzz($a: T) { r0: field(a: $a) { … } }`, the arguments as variables. */
function withVariables(s: MutationSpec, values: Record<string, unknown>, aliases = 1): GraphQLBody {
  const decls = s.args.map((a) => `$${a.name}: ${a.type}`).join(', ');
  const call = s.args.length ? `(${s.args.map((a) => `${a.name}: $${a.name}`).join(', ')})` : '';
  const fields = Array.from({ length: aliases }, (_, i) => `r${i}: ${s.field}${call}${selection(s)}`).join('\n  ');
  return { query: `mutation Fuzz${decls ? `(${decls})` : ''} {\n  ${fields}\n}`, variables: values };
}

/** The same with the arguments written inline. */
function withLiterals(s: MutationSpec, values: Record<string, unknown>): GraphQLBody {
  const given = Object.entries(values);
  const call = given.length ? `(${given.map(([n, v]) => `${n}: ${literal(v)}`).join(', ')})` : '';
  return { query: `mutation {\n  r0: ${s.field}${call}${selection(s)}\n}` };
}

interface Mangling {
  types: string[];
  vars: Record<string, unknown>;
  opName: unknown;
  stray: unknown;
  notObject: unknown;
}

/** Variables declared with other types, unknown variables or arguments, stray operation names, variables that are not an object. */
function mangled(s: MutationSpec, values: Record<string, unknown>, m: Mangling): GraphQLBody {
  const decls = s.args.map((a, i) => `$${a.name}: ${m.types[i % m.types.length]}`).join(', ');
  const call = s.args.map((a) => `${a.name}: $${a.name}`);
  if (m.stray !== undefined) call.push(`unknownArg: ${literal(m.stray)}`);
  const query = `mutation Fuzz${decls ? `(${decls})` : ''} { r0: ${s.field}${call.length ? `(${call.join(', ')})` : ''}${selection(s)} }`;
  const variables = m.notObject !== undefined ? m.notObject : { ...m.vars, ...values };
  return { query, variables, ...(m.opName !== undefined ? { operationName: m.opName } : {}) };
}

function requests(s: MutationSpec): fc.Arbitrary<GraphQLBody> {
  const values = someBad(Object.fromEntries(s.args.map((a) => [a.name, a])), false);
  const mangling: fc.Arbitrary<Mangling> = fc.record({
    types: fc.array(
      fc.constantFrom('String', 'String!', 'Int', 'Float!', 'ID', 'Boolean', 'JSONObject', '[String!]', 'AddToCartInput', 'NoSuchType', 'ProductInput!'),
      { minLength: 1, maxLength: 3 },
    ),
    vars: fc.dictionary(fc.oneof(fc.constantFrom('input', '__proto__', 'id'), fc.string({ maxLength: 10 })), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }),
    opName: fc.option(fc.oneof(fc.constant('Fuzz'), fc.constant('Other'), hostileString, wrongType), { nil: undefined }),
    stray: fc.option(fc.jsonValue({ maxDepth: 2 }), { nil: undefined, freq: 3 }),
    notObject: fc.option(fc.oneof(fc.string({ maxLength: 20 }), fc.integer(), fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 3 }), fc.boolean()), {
      nil: undefined,
      freq: 4,
    }),
  });
  return fc.oneof(
    { weight: 6, arbitrary: values.map((v) => withVariables(s, v)) },
    { weight: 2, arbitrary: values.map((v) => withLiterals(s, v)) },
    { weight: 1, arbitrary: fc.tuple(values, fc.integer({ min: 2, max: 20 })).map(([v, n]) => withVariables(s, v, n)) },
    { weight: 1, arbitrary: fc.tuple(values, mangling).map(([v, m]) => mangled(s, v, m)) },
  );
}

/** Lines a cart starts a run with: the seeded products, any quantity a client may ask for. */
const cartLines = fc.array(fc.record({ productId: fc.constantFrom(...SEEDED_PRODUCTS), quantity: fc.integer({ min: 1, max: 99 }) }), { maxLength: 4 });

/**
 * Empties the caller's cart and adds `lines`; each answer must be sound too (a line may be refused,
 * e.g. out of stock). Only the item count is read here, so the mutation under test is the one whose
 * full answer is checked.
 */
async function prepareCart(token: string, lines: Array<{ productId: string; quantity: number }>): Promise<void> {
  assertSound(await post({ query: 'mutation { clearCart { itemCount } }' }, token));
  for (const input of lines) {
    assertSound(await post({ query: 'mutation Prepare($input: AddToCartInput!) { addToCart(input: $input) { itemCount } }', variables: { input } }, token));
  }
}

/** Throws unless every alias of a successful answer has its field. */
function assertMutationAnswer(a: Answer, req: GraphQLBody): void {
  const body = assertSound(a);
  if (a.status !== 200 || body.errors) return;
  for (const alias of req.query.match(/\br\d+(?=:)/g) ?? []) {
    if (body.data?.[alias] === undefined) throw new Error(`success without ${alias}\n${cut(a.text)}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Health, checked after every property.
// ---------------------------------------------------------------------------------------------

async function assertHealthy(): Promise<void> {
  const health = await send('GET', '/healthz', {});
  const ready = await send('GET', '/readyz', {});
  expect([health.status, ready.status]).toEqual([200, 200]);
  const me = await gql<{ me: { id: string } | null }>('{ me { id } }', undefined, { token: shared.user });
  expect(me.status).toBe(200);
  expect(me.errors).toBeUndefined();
  expect(me.data?.me?.id).toBe(shared.userId);
}

// ---------------------------------------------------------------------------------------------

beforeAll(async () => {
  process.stdout.write(`fuzz.property: seed ${SEED}, ${RUNS} runs per property (replay with FUZZ_SEED=${SEED})\n`);
  t = await startTestApp({ ...ADMIN_ENV, WEBHOOK_ALLOWED_HOSTS: 'hooks.example.com' });
  shared.admin = await login(ADMIN);
  const user = await registerUser({ gql });
  Object.assign(shared, { user: user.token, userId: user.userId, userSessionId: user.sessionId });
  const ownAddress = new Map([
    [shared.user, user.email],
    [shared.admin, 'a@example.com'],
  ]);
  await registerUser({ gql }, sessionUser);
  shared.guest = await guestToken();

  // A catalog at the documented bounds: free, the highest price, the most stock, none left, another currency.
  const products = [
    { id: 'fz-basic', name: 'Basic', priceCents: 1000, stock: 1_000_000 },
    { id: 'fz-max', name: 'Most expensive', priceCents: MAX_PRICE_CENTS, stock: 1_000_000_000 },
    { id: 'fz-free', name: 'Free', priceCents: 0, stock: 1_000_000_000 },
    { id: 'fz-none', name: 'Sold out', priceCents: 500, stock: 0 },
    { id: 'fz-eur', name: 'In euros', priceCents: 700, stock: 1_000_000, currency: 'EUR' },
    { id: 'fz-adjust', name: 'Adjusted', priceCents: 100, stock: 1000 },
  ];
  for (const input of products) {
    const res = await gql('mutation U($input: ProductInput!) { upsertProduct(input: $input) { id } }', { input }, { token: shared.admin });
    if (!res.data?.upsertProduct) throw new Error(`upsert failed: ${JSON.stringify(res.errors)}`);
  }
  for (const input of [
    { key: 'fz-exp', variants: ['a', 'b'] },
    { key: 'fz-exp-w', variants: ['control', 'x', 'y'], weights: [1, 1, 10_000] },
  ]) {
    const res = await gql('mutation E($input: ExperimentInput!) { createExperiment(input: $input) { key } }', { input }, { token: shared.admin });
    if (!res.data?.createExperiment) throw new Error(`createExperiment failed: ${JSON.stringify(res.errors)}`);
  }
  for (const token of [shared.user, shared.admin]) {
    // A customer's email.send goes to the customer's own address.
    const input = { type: 'email.send', data: { to: ownAddress.get(token), subject: 's', body: 'b' }, delayMs: 3_600_000 };
    const res = await gql<{ enqueueJob: { id: string } }>('mutation J($input: EnqueueJobInput!) { enqueueJob(input: $input) { id } }', { input }, { token });
    if (!res.data?.enqueueJob) throw new Error(`enqueueJob failed: ${JSON.stringify(res.errors)}`);
    seededJobIds.push(res.data.enqueueJob.id);
  }
  for (let i = 0; i < 3; i++) {
    await gql('mutation { addToCart(input: { productId: "fz-adjust", quantity: 1 }) { itemCount } }', {}, { token: shared.user });
    const res = await gql<{ checkout: { id: string } }>('mutation { checkout { id } }', {}, { token: shared.user });
    if (!res.data?.checkout) throw new Error(`checkout failed: ${JSON.stringify(res.errors)}`);
    seededOrderIds.push(res.data.checkout.id);
  }
});
afterAll(() => t?.close());

const MUTATIONS = [
  'addToCart',
  'adjustStock',
  'assignVariant',
  'cancelJob',
  'cancelOrder',
  'changePassword',
  'checkout',
  'clearCart',
  'createApiKey',
  'createExperiment',
  'deleteFlag',
  'enqueueJob',
  'enqueueJobs',
  'login',
  'logout',
  'register',
  'blockClient',
  'purgeFailedJobs',
  'removeFromCart',
  'requestPasswordReset',
  'resetPassword',
  'resetRateLimitPolicy',
  'retryFailedJobs',
  'retryJob',
  'revokeApiKey',
  'revokeOtherSessions',
  'revokeSession',
  'revokeUserSessions',
  'setCartItemQuantity',
  'setFlag',
  'setRateLimitPolicy',
  'setUserRoles',
  'startGuestSession',
  'stopExperiment',
  'trackConversion',
  'trackPageView',
  'trackPageViews',
  'unblockClient',
  'upsertProduct',
];

test('the fuzzed mutations are every mutation of the schema', () => {
  const schema = buildSchema(readFileSync(path.join(__dirname, '../../schema/schema.graphql'), 'utf8'));
  expect(Object.keys(schema.getMutationType()?.getFields() ?? {}).sort()).toEqual([...MUTATIONS].sort());
  expect(
    specs()
      .map((s) => s.field)
      .sort(),
  ).toEqual([...MUTATIONS].sort());
});

describe('every mutation, any input, any caller', () => {
  const cases = MUTATIONS.flatMap((f) => CALLERS.map((who) => [f, who] as const));

  test.each(cases)('%s as %s', async (field, who) => {
    const spec = specs().find((s) => s.field === field);
    if (!spec) throw new Error(`no spec for ${field}`);
    const startCart = spec.usesCart && who !== 'anonymous' ? cartLines : fc.constant<Array<{ productId: string; quantity: number }>>([]);
    try {
      await fc.assert(
        fc.asyncProperty(startCart, requests(spec), async (lines, req) => {
          const token = await tokenFor(who, spec.ownsSession === true);
          if (spec.usesCart && token) await prepareCart(token, lines);
          assertMutationAnswer(await post(req, token), req);
        }),
        FC_PARAMS,
      );
    } finally {
      // Fresh admin sign-ins may evict the shared admin session (SESSIONS_PER_USER), and revokeOtherSessions ends it.
      if (spec.ownsSession && who === 'admin') shared.admin = await login(ADMIN);
    }
    await assertHealthy();
  });
});

// ---------------------------------------------------------------------------------------------
// The raw request: bodies, content types, headers, methods. 4xx is fine; 5xx never.
// ---------------------------------------------------------------------------------------------

const headerText = (max: number): fc.Arbitrary<string> => fc.stringMatching(new RegExp(`^[\\x20-\\x7e]{0,${max}}$`));

const OPERATIONS = [
  'mutation { logout }',
  'mutation { startGuestSession { token } }',
  'mutation { trackPageView(input: { page: "/raw" }) }',
  'mutation { clearCart { itemCount } }',
  'mutation M($i: AddToCartInput!) { addToCart(input: $i) { itemCount } }',
  '{ me { id } }',
  '{ __typename }',
  'subscription { liveStats { totalPageViews } }',
  'query A { __typename } mutation B { logout }',
  '{ __schema { types { name fields { name type { name ofType { name ofType { name } } } } } } }',
];

/** Documents at and beyond the parser's and validator's limits. */
const hugeQuery: fc.Arbitrary<string> = fc.tuple(fc.integer({ min: 0, max: 7 }), fc.constantFrom(50, 5000, 100_000)).map(([kind, n]) => {
  switch (kind) {
    case 0:
      return '{'.repeat(n);
    case 1:
      return `${'{ me '.repeat(n)}${'}'.repeat(n)}`;
    case 2:
      return `mutation { ${Array.from({ length: Math.min(n, 20_000) }, (_, i) => `l${i}: logout`).join(' ')} }`;
    case 3:
      return `query Q(${Array.from({ length: Math.min(n, 20_000) }, (_, i) => `$v${i}: Int`).join(', ')}) { __typename }`;
    case 4:
      return `{ __typename ${'@skip(if: false) '.repeat(Math.min(n, 20_000))}}`;
    case 5:
      return `# ${'x'.repeat(n * 5)}\n{ __typename }`;
    case 6:
      return `{ product(id: "${'x'.repeat(n * 5)}") { id } }`;
    default:
      return `fragment F0 on Query { __typename } ${Array.from({ length: 40 }, (_, i) => `fragment F${i + 1} on Query { ...F${i} ...F${i} }`).join(' ')} { ...F40 }`;
  }
});

const queryText: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...OPERATIONS) },
  { weight: 2, arbitrary: hugeQuery },
  { weight: 2, arbitrary: hostileString },
  { weight: 1, arbitrary: wrongType },
);

const graphqlObject = fc.record(
  {
    query: queryText,
    variables: fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.constant({ i: { productId: 'fz-basic', quantity: 1 } }), fc.string({ maxLength: 30 })),
    operationName: fc.oneof(fc.constantFrom('A', 'B', 'M'), hostileString, wrongType),
    extensions: fc.oneof(
      fc.jsonValue({ maxDepth: 3 }),
      fc.constant({ persistedQuery: { version: 1, sha256Hash: 'ecf4edb46db40b5132295c0291d62fb65d6759a9eedfa4d5d612dd5ec54a6b38' } }),
    ),
  },
  { requiredKeys: ['query'] },
);

const rawBody: fc.Arbitrary<string | Uint8Array> = fc.oneof(
  { weight: 6, arbitrary: graphqlObject.map(toJson) },
  { weight: 1, arbitrary: graphqlObject.map(({ query: _query, ...rest }) => toJson(rest)) },
  { weight: 2, arbitrary: fc.array(graphqlObject, { maxLength: 50 }).map(toJson) },
  { weight: 1, arbitrary: fc.jsonValue().map(toJson) },
  {
    weight: 2,
    arbitrary: graphqlObject.chain((o) => {
      const s = toJson(o);
      return fc.nat({ max: s.length }).map((n) => s.slice(0, n));
    }),
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '',
      ' ',
      'null',
      '[]',
      '{}',
      '"{ __typename }"',
      '{"query":"{ __typename }",}',
      '{"query":"{ __typename }","variables":{"a":NaN}}',
      '\uFEFF{"query":"{ __typename }"}',
      '{"query":"{ __typename }"}{"query":"{ __typename }"}',
      '{"query":"{ __typename }","query":"mutation { logout }"}',
      `{"query":"{ __typename }","variables":${deepObject(100_000).text}}`,
      `{"query":"{ __typename }","extensions":${deepArray(400_000).text}}`,
      `{"query":"${'x'.repeat(1_100_000)}"}`,
      '{"__proto__":{"query":"{ __typename }"}}',
      '{"query":{"toString":"{ __typename }"}}',
    ),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }) },
);

const contentType: fc.Arbitrary<string | undefined> = fc.oneof(
  { weight: 6, arbitrary: fc.constant('application/json') },
  {
    weight: 4,
    arbitrary: fc.constantFrom<string | undefined>(
      undefined,
      'application/json; charset=utf-8',
      'application/json; charset=latin1',
      'application/graphql-response+json',
      'application/graphql',
      'text/plain',
      'text/plain; charset=utf-8',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/xml',
      'APPLICATION/JSON',
      'application/jsonx',
      '*/*',
      '',
    ),
  },
  { weight: 1, arbitrary: headerText(40) },
);

const extraHeaders = fc.record(
  {
    accept: fc.constantFrom(
      'application/json',
      'application/graphql-response+json',
      'application/graphql-response+json, application/json;q=0.9',
      '*/*',
      'image/png',
      'application/xml',
      '',
    ),
    authorization: fc.oneof(
      headerText(60).map((s) => `Bearer ${s}`),
      fc.constantFrom('Bearer', 'Bearer ', 'Basic YTpi', 'bearer x', 'Bearer a b'),
    ),
    cookie: fc.oneof(
      headerText(60).map((s) => `gw_session=${s}`),
      fc.constantFrom('gw_session=', 'gw_session', ';;;', 'gw_session=a; gw_session=b'),
    ),
    'apollo-require-preflight': fc.constantFrom('true', 'false', ''),
    'x-request-id': headerText(100),
    'x-forwarded-for': fc.oneof(fc.ipV4(), fc.ipV6(), headerText(40)),
    'user-agent': headerText(200),
  },
  { requiredKeys: [] },
);

/** Sound when the gateway answered: node itself refuses over-long request lines and headers (431) without a body. */
function assertSoundRaw(a: Answer): void {
  if (a.status === 431) return;
  assertSound(a);
}

describe('the raw request', () => {
  test('random POST bodies, content types and headers: a JSON GraphQL answer, never 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(rawBody, contentType, extraHeaders, async (body, type, headers) => {
        const h: Record<string, string> = { ...headers };
        if (type !== undefined) h['content-type'] = type;
        // Without a content type a string body would be sent as text/plain; bytes carry none.
        const payload = type === undefined && typeof body === 'string' ? new TextEncoder().encode(body) : body;
        assertSoundRaw(await send('POST', '/graphql', h, payload));
      }),
      { ...FC_PARAMS, numRuns: RUNS * 3 },
    );
    await assertHealthy();
  });

  test('random POST /collect bodies, content types and headers: what was recorded, or a 4xx with errors; never 5xx', async () => {
    const batch = list(pageViewInput, fc.array(pageViewInput.valid, { minLength: 1, maxLength: 100 }));
    const inputs = fc.oneof(batch.valid, batch.bad);
    const body: fc.Arbitrary<string | Uint8Array> = fc.oneof(
      { weight: 4, arbitrary: inputs.map((xs) => toJson({ inputs: xs })) },
      { weight: 2, arbitrary: inputs.map(toJson) },
      { weight: 2, arbitrary: rawBody },
    );
    await fc.assert(
      fc.asyncProperty(body, contentType, extraHeaders, async (b, type, headers) => {
        const h: Record<string, string> = { ...headers };
        if (type !== undefined) h['content-type'] = type;
        const payload = type === undefined && typeof b === 'string' ? new TextEncoder().encode(b) : b;
        const a = await send('POST', '/collect', h, payload);
        if (a.status === 431) return;
        const sound = a.status === 200 ? /^\{"recorded":\d+\}$/.test(a.text) : a.status < 500 && a.text.includes('"errors"');
        if (!sound) throw new Error(`POST /collect: HTTP ${a.status}\n${cut(a.text)}`);
      }),
      { ...FC_PARAMS, numRuns: RUNS * 2 },
    );
    await assertHealthy();
  });

  test('random GET requests: a JSON GraphQL answer, never 5xx', async () => {
    const params = fc.record(
      {
        query: queryText.map((q) => (typeof q === 'string' ? q : toJson(q))),
        variables: fc.oneof(fc.jsonValue({ maxDepth: 3 }).map(toJson), fc.string({ maxLength: 40 })),
        operationName: fc.oneof(fc.constantFrom('A', 'B'), fc.string({ maxLength: 20 })),
        extensions: fc.oneof(fc.jsonValue({ maxDepth: 2 }).map(toJson), fc.string({ maxLength: 20 })),
      },
      { requiredKeys: [] },
    );
    const stray = fc.dictionary(fc.string({ maxLength: 10 }), fc.string({ maxLength: 20 }), { maxKeys: 3 });
    await fc.assert(
      fc.asyncProperty(params, stray, extraHeaders, async (p, s, headers) => {
        const search = new URLSearchParams({ ...s, ...p }).toString();
        const accept = headers.accept ?? 'application/json';
        assertSoundRaw(await send('GET', `/graphql?${search}`, { ...headers, accept }));
      }),
      { ...FC_PARAMS, numRuns: RUNS * 2 },
    );
    await assertHealthy();
  });

  test('any method on any path: never 5xx', async () => {
    const method = fc.constantFrom('GET', 'HEAD', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'FUZZ');
    const route = fc.oneof(
      fc.constantFrom(
        '/graphql',
        '/graphql/',
        '/GRAPHQL',
        '/healthz',
        '/readyz',
        '/metrics',
        '/dashboard',
        '/collect',
        '/',
        '/assets/',
        '/assets/../package.json',
        '/assets/%2e%2e/%2e%2e/package.json',
        '/assets/%00',
        '//graphql',
        '/graphql?query=%',
        '//%',
        '//[',
        '//:',
        '//@',
        '//a:b:c/graphql',
      ),
      fc.webPath(),
      headerText(60).map((s) => `/${encodeURIComponent(s)}`),
    );
    await fc.assert(
      fc.asyncProperty(method, route, async (m, r) => {
        const a = await send(m, r, { 'user-agent': USER_AGENT });
        if (a.status >= 500) throw new Error(`${m} ${r}: HTTP ${a.status}\n${cut(a.text)}`);
      }),
      { ...FC_PARAMS, numRuns: RUNS },
    );
    await assertHealthy();
  });
});
