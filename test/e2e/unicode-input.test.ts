/**
 * Text that is not text: a lone UTF-16 surrogate, which JSON can carry ("\ud800") and GraphQL's
 * String accepts, has no UTF-8 form. It used to reach a Redis script's JSON decoder and come back
 * as an INTERNAL_SERVER_ERROR (found by the fuzz test: a product named "\ud800"). Every variable,
 * at any depth, value or key, is now refused with BAD_USER_INPUT before anything runs, over HTTP
 * and WebSocket alike; well-formed text, surrogate pairs included, goes through unchanged.
 */
import type { Client } from 'graphql-ws';
import { ADMIN_ENV, adminToken, startTestApp, type GqlResult, type TestApp } from '../helpers/app';
import { execute, wsClient } from '../helpers/ws';

let t: TestApp;
let admin: string;
let socket: Client;
beforeAll(async () => {
  t = await startTestApp(ADMIN_ENV);
  admin = await adminToken(t);
  socket = wsClient(t.url, { token: admin });
});
afterAll(async () => {
  await socket?.dispose();
  await t?.close();
});

const UPSERT = 'mutation U($input: ProductInput!) { upsertProduct(input: $input) { id name } }';
const TRACK = 'mutation T($input: PageViewInput!) { trackPageView(input: $input) }';

type Answer = { status?: number; data?: Record<string, any> | null; errors?: Array<{ message: string; extensions?: Record<string, any> }> };

async function send(transport: 'http' | 'ws', query: string, variables: Record<string, unknown>): Promise<Answer> {
  if (transport === 'ws') return execute(socket, query, variables);
  return t.gql(query, variables, { token: admin });
}

let n = 0;
const product = (name: string): Record<string, unknown> => ({ input: { id: `uni-${n++}`, name, priceCents: 100, stock: 1 } });

const REFUSED: Array<[string, string, Record<string, unknown>]> = [
  ['a lone high surrogate in a product name', UPSERT, product('\ud800')],
  ['a lone low surrogate after text', UPSERT, product('ok \udc00')],
  ['a pair the wrong way round', UPSERT, product('\udc00\ud800')],
  ['a high surrogate at the very end', UPSERT, product('name\udbff')],
  ['a lone surrogate in a page view', TRACK, { input: { page: '/p\ud83d' } }],
  ['a lone surrogate in a key of an input object', TRACK, { input: { page: '/p', '\ud800': 'x' } }],
];

describe.each(['http', 'ws'] as const)('over %s', (transport) => {
  test.each(REFUSED)('%s is BAD_USER_INPUT and stores nothing', async (_name, query, variables) => {
    const r = await send(transport, query, variables);
    expect(r.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(r.errors?.[0]?.message).toMatch(/well-formed Unicode/);
    expect(r.data ?? null).toBeNull();
    // Over HTTP, a client error's status, as for variables that do not fit their types.
    if (transport === 'http') expect((r as GqlResult).status).toBe(400);
    const id = (variables.input as { id?: string }).id;
    if (id) expect((await t.gql('query P($id: ID!) { product(id: $id) { id } }', { id })).data?.product).toBeNull();
  });

  test('well-formed text goes through unchanged: a surrogate pair, accents and CJK', async () => {
    const name = 'Grinning 😀 café 東京';
    const vars = product(name);
    const r = await send(transport, UPSERT, vars);
    expect(r.errors).toBeUndefined();
    expect(r.data?.upsertProduct.name).toBe(name);
    const id = (vars.input as { id: string }).id;
    expect((await t.gql('query P($id: ID!) { product(id: $id) { name } }', { id })).data?.product.name).toBe(name);
  });
});
