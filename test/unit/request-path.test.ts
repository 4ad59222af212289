/**
 * The request-path shortcuts keep their meaning: graphql-jit answers like
 * graphql-js (errors included, as real GraphQLErrors), and a document's cost is
 * reused only when no variable can change it.
 */
import { GraphQLError, buildSchema, execute, parse, type GraphQLSchema } from 'graphql';
import type { GraphQLRequestContextDidResolveOperation } from '@apollo/server';
import { buildContext, type Context } from '../../src/context';
import { costPlugin } from '../../src/plugins/cost';
import { jitExecutor } from '../../src/plugins/jit-executor';

const schema: GraphQLSchema = buildSchema(`
  type Query { me: User, items(limit: Int): [Item!]!, broken: String, hello(name: String!): String! }
  type User { id: ID!, name: String! }
  type Item { id: ID!, owner: User }
`);
const fields = schema.getQueryType()!.getFields();
fields.me.resolve = () => ({ id: 'u1', name: 'Ada' });
fields.items.resolve = (_r, args: { limit?: number }) => Array.from({ length: args.limit ?? 2 }, (_, i) => ({ id: `i${i}` }));
fields.broken.resolve = () => {
  throw Object.assign(new Error('redis is down'), { code: 'ECONNREFUSED' });
};
fields.hello.resolve = (_r, args: { name: string }) => `hello ${args.name}`;

type ExecutorArg = Parameters<ReturnType<typeof jitExecutor>>[0];
const run = (executor: ReturnType<typeof jitExecutor>, query: string, variables?: Record<string, unknown>, document = parse(query)) =>
  executor({ document, request: { query, variables }, context: {}, schema } as unknown as ExecutorArg);

describe('graphql-jit executor', () => {
  const executor = jitExecutor(schema);

  test('answers what graphql-js answers', async () => {
    for (const [query, variables] of [['{ me { id name } items(limit: 3) { id } }', undefined], ['query Q($n: String!) { hello(name: $n) }', { n: 'you' }]] as const) {
      const expected = await execute({ schema, document: parse(query), variableValues: variables });
      expect(await run(executor, query, variables)).toEqual(JSON.parse(JSON.stringify(expected)));
    }
  });

  test('resolver errors come back as graphql-js GraphQLErrors with path, original error and an extensions object', async () => {
    const result = await run(executor, '{ broken me { id } }');
    expect(result.data).toEqual({ broken: null, me: { id: 'u1' } });
    const [err] = result.errors!;
    expect(err).toBeInstanceOf(GraphQLError);
    expect(Object.getPrototypeOf(err)).toBe(GraphQLError.prototype);
    expect(err.path).toEqual(['broken']);
    expect(err.locations).toEqual([{ line: 1, column: 3 }]);
    expect((err.originalError as Error & { code?: string }).code).toBe('ECONNREFUSED');
    expect(err.extensions).toEqual({});
    // Plugins tag errors in place (e.g. the request id); graphql-jit's own errors are read-only.
    (err.extensions as Record<string, unknown>).requestId = 'r1';
    expect(err.toJSON()).toMatchObject({ message: 'redis is down', path: ['broken'], extensions: { requestId: 'r1' } });
  });

  test('variable errors are reported, not thrown', async () => {
    const result = await run(executor, 'query Q($n: String!) { hello(name: $n) }', {});
    expect(result.data).toBeUndefined();
    expect(result.errors?.[0]).toBeInstanceOf(GraphQLError);
    expect(result.errors?.[0].message).toMatch(/\$n/);
  });

  test('one document is compiled once and reused with new variables', async () => {
    const query = 'query Q($n: String!) { hello(name: $n) }';
    const document = parse(query);
    expect((await run(executor, query, { n: 'a' }, document)).data).toEqual({ hello: 'hello a' });
    expect((await run(executor, query, { n: 'b' }, document)).data).toEqual({ hello: 'hello b' });
  });
});

describe('cost plugin', () => {
  async function costOf(plugin: ReturnType<typeof costPlugin>, document: ReturnType<typeof parse>, variables: Record<string, unknown> = {}): Promise<number> {
    const contextValue = { cost: 0 } as Context;
    const listener = await plugin.requestDidStart!({} as never);
    const operation = document.definitions[0];
    await listener!.didResolveOperation!({ schema, document, request: { variables }, contextValue, operation } as unknown as GraphQLRequestContextDidResolveOperation<Context>);
    return contextValue.cost;
  }

  test('a document without variables costs the same every time', async () => {
    const plugin = costPlugin(1000);
    const doc = parse('{ items(limit: 20) { owner { id } } }');
    const first = await costOf(plugin, doc);
    expect(first).toBeGreaterThan(10);
    expect(await costOf(plugin, doc)).toBe(first);
  });

  test('a document with variables is costed per request', async () => {
    const plugin = costPlugin(1000);
    const doc = parse('query Q($n: Int) { items(limit: $n) { owner { id } } }');
    const small = await costOf(plugin, doc, { n: 2 });
    const large = await costOf(plugin, doc, { n: 50 });
    expect(large).toBeGreaterThan(small);
    expect(await costOf(plugin, doc, { n: 2 })).toBe(small);
  });

  test('the ceiling still refuses a cached document', async () => {
    const plugin = costPlugin(30);
    const doc = parse('{ items(limit: 100) { owner { id } } }');
    await expect(costOf(plugin, doc)).rejects.toThrow(/exceeds the maximum of 30/);
    await expect(costOf(plugin, doc)).rejects.toThrow(/exceeds the maximum of 30/);
  });
});

describe('context', () => {
  test("Apollo's per-request copy sees the token that actAs sets", () => {
    const services = { sessions: {}, users: {} } as unknown as Parameters<typeof buildContext>[0];
    const log = { child: () => log } as unknown as Parameters<typeof buildContext>[1];
    const ctx = buildContext(services, log, { ip: '127.0.0.1', secure: false, token: null });
    // What Apollo Server does to the context object of every request.
    const copy: Context = Object.assign(Object.create(Object.getPrototypeOf(ctx)), ctx);
    copy.actAs(null, 'new-token-0123456789');
    expect(copy.token).toBe('new-token-0123456789');
  });
});
