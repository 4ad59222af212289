/**
 * The request-path shortcuts keep their meaning: a document's cost is reused
 * only when no variable can change it.
 */
import { buildSchema, parse, type GraphQLSchema } from 'graphql';
import type { GraphQLRequestContextDidResolveOperation } from '@apollo/server';
import type { ResolverContext } from '../../src/resolvers/context';
import { buildRequestContext } from '../../src/services/context';
import { costPlugin } from '../../src/plugins/cost';

const schema: GraphQLSchema = buildSchema(`
  type Query { me: User, items(limit: Int): [Item!]!, broken: String, hello(name: String!): String! }
  type User { id: ID!, name: String! }
  type Item { id: ID!, owner: User }
`);
describe('cost plugin', () => {
  async function costOf(plugin: ReturnType<typeof costPlugin>, document: ReturnType<typeof parse>, variables: Record<string, unknown> = {}): Promise<number> {
    const contextValue = { ctx: { cost: 0 } } as ResolverContext;
    const operation = document.definitions[0];
    await plugin.hooks!.didResolveOperation!({
      schema,
      document,
      request: { variables },
      contextValue,
      operation,
    } as unknown as GraphQLRequestContextDidResolveOperation<ResolverContext>);
    return contextValue.ctx.cost;
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
  test("Apollo's per-request copy of the resolver context shares the request context, so it sees the token actAs sets", () => {
    const lookup = { sessions: {}, users: {} } as unknown as Parameters<typeof buildRequestContext>[0];
    const log = { child: () => log } as unknown as Parameters<typeof buildRequestContext>[1];
    const ctx = buildRequestContext(lookup, log, { ip: '127.0.0.1', secure: false, token: null });
    const contextValue = { ctx, services: {} } as ResolverContext;
    // What Apollo Server does to the context object of every request.
    const copy: ResolverContext = Object.assign(Object.create(Object.getPrototypeOf(contextValue)), contextValue);
    copy.ctx.actAs(null, 'new-token-0123456789');
    expect(ctx.token).toBe('new-token-0123456789');
    expect(copy.ctx).toBe(ctx);
  });
});
