/** Query limits refuse before execution, as GraphQL errors with a 4xx status, never 5xx. */
import { getIntrospectionQuery } from 'graphql';
import { Cluster, type Redis } from 'ioredis';
import { startTestApp, registerUser, type GqlResult, type TestApp } from '../helpers/app';
import { rawRedis } from '../helpers/redis';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ QUERY_MAX_DEPTH: '12', QUERY_MAX_ALIASES: '5', QUERY_MAX_DIRECTIVES: '3', QUERY_MAX_TOKENS: '300', QUERY_MAX_COST: '20' });
});
afterAll(() => t.close());

function refused(res: GqlResult, code: string, message: RegExp): void {
  expect(res.status).toBeGreaterThanOrEqual(400);
  expect(res.status).toBeLessThan(500);
  expect(res.data ?? null).toBeNull();
  expect(res.errors?.[0]?.extensions?.code).toBe(code);
  expect(res.errors?.[0]?.message).toMatch(message);
}

test('depth: at QUERY_MAX_DEPTH passes, one deeper is refused before anything runs', async () => {
  const shallow = await startTestApp({ QUERY_MAX_DEPTH: '2' });
  try {
    const ok = await shallow.gql('{ me { id } }');
    expect(ok.status).toBe(200);
    expect(ok.errors).toBeUndefined();
    const before = await countSessions(shallow.prefix);
    refused(await shallow.gql('mutation { startGuestSession { user { id } } }'), 'GRAPHQL_VALIDATION_FAILED', /too many nested levels: the maximum is 2/);
    expect(await countSessions(shallow.prefix)).toBe(before);
  } finally {
    await shallow.close();
  }
});

test('depth through fragments counts like inline selections', async () => {
  const shallow = await startTestApp({ QUERY_MAX_DEPTH: '2' });
  try {
    refused(
      await shallow.gql('mutation { startGuestSession { ...P } } fragment P on AuthPayload { session { id } }'),
      'GRAPHQL_VALIDATION_FAILED',
      /too many nested levels/,
    );
  } finally {
    await shallow.close();
  }
});

test('introspection cycles (fields { type { fields ... } }) are refused', async () => {
  const res = await t.gql('{ __schema { types { fields { type { fields { type { fields { type { fields { name } } } } } } } } } }');
  expect(res.status).toBe(400);
  expect(res.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
});

test('aliases: 5 pass, 6 are refused', async () => {
  const q = (n: number) => `{ ${Array.from({ length: n }, (_, i) => `a${i}: __typename`).join(' ')} }`;
  const ok = await t.gql(q(5));
  expect(ok.errors).toBeUndefined();
  expect(ok.data?.a4).toBe('Query');
  refused(await t.gql(q(6)), 'GRAPHQL_VALIDATION_FAILED', /too many aliases: the maximum is 5/);
});

test('directives: 3 pass, 4 are refused', async () => {
  const q = (n: number) => `{ ${Array.from({ length: n }, () => '__typename @include(if: true)').join(' ')} }`;
  expect((await t.gql(q(3))).errors).toBeUndefined();
  refused(await t.gql(q(4)), 'GRAPHQL_VALIDATION_FAILED', /too many directives: the maximum is 3/);
});

test('tokens: a document over QUERY_MAX_TOKENS is refused at parse time', async () => {
  const long = `{ ${Array.from({ length: 400 }, () => '__typename').join(' ')} }`;
  refused(await t.gql(long), 'GRAPHQL_PARSE_FAILED', /300 tokens/);
});

test('cost: under the ceiling runs, over it is refused with QUERY_TOO_COMPLEX and nothing runs', async () => {
  const u = await registerUser(t);
  const ok = await t.gql('{ me { id } mySessions { id } }', {}, { token: u.token });
  expect(ok.errors).toBeUndefined();
  // 21 root fields of cost 1 each (the alias limit is raised by a second app below).
  const wide = await startTestApp({ QUERY_MAX_COST: '20', QUERY_MAX_ALIASES: '100' });
  try {
    const q = (n: number) => `mutation { ${Array.from({ length: n }, (_, i) => `g${i}: startGuestSession { token }`).join(' ')} }`;
    const before = await countSessions(wide.prefix);
    const res = await wide.gql(q(21));
    // 21 root fields cost at least 21: refused by the document's shape, before validation.
    refused(res, 'QUERY_TOO_COMPLEX', /Query cost is at least 21, over the maximum of 20/);
    expect(res.errors?.[0]?.extensions).toMatchObject({ minCost: 21, maxCost: 20 });
    expect(await countSessions(wide.prefix)).toBe(before);
    // What only the full estimate sees (a list of 20 orders, each with its items) is refused by it.
    const list = await wide.gql('{ myOrders(limit: 20) { items { productId } } }');
    refused(list, 'QUERY_TOO_COMPLEX', /Query cost 21 exceeds the maximum of 20/);
    expect(list.errors?.[0]?.extensions).toMatchObject({ cost: 21, maxCost: 20 });
    const fine = await wide.gql(q(20));
    expect(fine.errors).toBeUndefined();
    expect(await countSessions(wide.prefix)).toBe(before + 20);
  } finally {
    await wide.close();
  }
});

test('variables that do not fit their types are a 400 with BAD_USER_INPUT, not a 5xx', async () => {
  const res = await t.gql('mutation R($input: RegisterInput!) { register(input: $input) { token } }', { input: { email: 'x@example.com' } });
  expect(res.status).toBe(400);
  expect(res.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  const missing = await t.gql('mutation R($input: RegisterInput!) { register(input: $input) { token } }', {});
  expect(missing.status).toBe(400);
  expect(missing.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
});

test('a costed variable shape is no pass: same-shaped variables that do not fit are a 400 BAD_USER_INPUT, and other lengths are costed anew', async () => {
  const u = await registerUser(t);
  const M = 'mutation M($inputs: [EnqueueJobInput!]!) { enqueueJobs(inputs: $inputs) { id } }';
  const mail = { type: 'email.send', data: { to: u.email, subject: 's', body: 'b' } };
  const ok = await t.gql(M, { inputs: [mail] }, { token: u.token });
  expect(ok.errors).toBeUndefined();
  for (const bad of [{ ...mail, priority: 'high' }, { ...mail, unknownField: 1 }, { data: {} }, { ...mail, data: [1] }]) {
    const res = await t.gql(M, { inputs: [bad] }, { token: u.token });
    expect(res.status).toBe(400);
    expect(res.data ?? null).toBeNull();
    expect(res.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(res.errors?.[0]?.message).toMatch(/^Variable "\$inputs" got invalid value .* at "inputs\[0\]/);
  }
  expect((await t.gql(M, { inputs: Array.from({ length: 20 }, () => mail) }, { token: u.token })).errors).toBeUndefined();
  refused(
    await t.gql(M, { inputs: Array.from({ length: 21 }, () => mail) }, { token: u.token }),
    'QUERY_TOO_COMPLEX',
    /Query cost 21 exceeds the maximum of 20/,
  );
});

test('fragments that expand exponentially are refused fast, not computed', async () => {
  const big = await startTestApp({ QUERY_MAX_TOKENS: '5000' });
  try {
    let q = '{ ...F0 }\n';
    for (let i = 0; i < 40; i++) q += `fragment F${i} on Query { ...F${i + 1} ...F${i + 1} }\n`;
    q += 'fragment F40 on Query { __typename }\n';
    const started = Date.now();
    const res = await big.gql(q);
    expect(Date.now() - started).toBeLessThan(2000);
    refused(res, 'QUERY_TOO_COMPLEX', /more than 10000 fields/);
  } finally {
    await big.close();
  }
});

test("GraphiQL's introspection query passes the default limits", async () => {
  const dflt = await startTestApp();
  try {
    const res = await dflt.gql(
      getIntrospectionQuery({ descriptions: true, inputValueDeprecation: true, specifiedByUrl: true, directiveIsRepeatable: true, schemaDescription: true }),
    );
    expect(res.errors).toBeUndefined();
    expect(res.status).toBe(200);
    expect(res.data?.__schema?.queryType?.name).toBe('Query');
  } finally {
    await dflt.close();
  }
});

/** Session keys under a prefix, on every master in cluster mode (SCAN sees one node only). */
async function countSessions(prefix: string): Promise<number> {
  const r = rawRedis() as unknown as Redis | Cluster;
  try {
    if (r instanceof Cluster) await new Promise<void>((resolve) => (r.status === 'ready' ? resolve() : r.once('ready', () => resolve())));
    let n = 0;
    for (const node of r instanceof Cluster ? r.nodes('master') : [r]) {
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', `${prefix}:sess:*`, 'COUNT', 1000);
        cursor = next;
        n += keys.length;
      } while (cursor !== '0');
    }
    return n;
  } finally {
    r.disconnect();
  }
}
