/**
 * The gateway's plugins composed into one Apollo plugin keep the meaning Apollo gives separate
 * plugins: hooks run in the plugins' order, a throwing hook refuses the request while the others
 * of that phase still run, a pending answer is waited for, parsing's end hooks run last plugin
 * first, and a plugin without hooks costs a request nothing. Driven through a real ApolloServer.
 */
import { ApolloServer } from '@apollo/server';
import { GraphQLError, buildSchema } from 'graphql';
import { composePlugins, DONE, type GatewayPlugin } from '../../src/plugins/compose';

interface Ctx {
  seen: string[];
}

const typeDefs = 'type Query { hello: String }';

async function run(plugins: Array<GatewayPlugin<Ctx>>, query = '{ hello }'): Promise<{ seen: string[]; body: unknown; listeners: number }> {
  const seen: string[] = [];
  let listeners = 0;
  const counting = composePlugins(plugins);
  const apollo = new ApolloServer<Ctx>({
    schema: buildSchema(typeDefs),
    rootValue: { hello: () => (seen.push('resolver'), 'world') },
    plugins: [
      {
        ...counting,
        async requestDidStart(rc) {
          const l = await counting.requestDidStart!(rc);
          if (l) listeners++;
          return l;
        },
      },
    ],
  });
  await apollo.start();
  try {
    const res = await apollo.executeOperation({ query }, { contextValue: { seen } });
    return { seen, body: res.body.kind === 'single' ? res.body.singleResult : null, listeners };
  } finally {
    await apollo.stop();
  }
}

const mark = (name: string): GatewayPlugin<Ctx> => ({
  hooks: {
    didResolveOperation: ({ contextValue }) => void contextValue.seen.push(`${name}:operation`),
    willSendResponse: ({ contextValue }) => void contextValue.seen.push(`${name}:send`),
  },
});

describe('composePlugins', () => {
  test('hooks run in the order of the plugins, before the resolvers; one listener per request', async () => {
    const r = await run([mark('a'), mark('b'), mark('c')]);
    expect(r.seen).toEqual(['a:operation', 'b:operation', 'c:operation', 'resolver', 'a:send', 'b:send', 'c:send']);
    expect(r.listeners).toBe(1);
  });

  test('a later plugin sees what an earlier one set in the same phase (the rate limiter reads the cost)', async () => {
    const costs = new WeakMap<object, number>();
    const r = await run([
      { hooks: { didResolveOperation: ({ contextValue }) => void costs.set(contextValue, 7) } },
      { hooks: { didResolveOperation: ({ contextValue }) => void contextValue.seen.push(`cost ${costs.get(contextValue)}`) } },
    ]);
    expect(r.seen[0]).toBe('cost 7');
  });

  test('a hook that throws refuses the request with its error; the other hooks of that phase still ran', async () => {
    const r = await run([
      {
        hooks: {
          didResolveOperation: () => {
            throw new GraphQLError('refused here', { extensions: { code: 'BAD_REQUEST' } });
          },
        },
      },
      mark('after'),
    ]);
    expect(r.seen).toContain('after:operation');
    expect(r.seen).not.toContain('resolver');
    expect(r.body).toMatchObject({ errors: [{ message: 'refused here', extensions: { code: 'BAD_REQUEST' } }] });
  });

  test('a rejected answer refuses the request too, and a pending one is waited for before execution', async () => {
    const refused = await run([{ hooks: { didResolveOperation: () => Promise.reject(new GraphQLError('later', { extensions: { code: 'RATE_LIMITED' } })) } }]);
    expect(refused.seen).toEqual([]);
    expect(refused.body).toMatchObject({ errors: [{ message: 'later' }] });
    const slow = await run([
      {
        hooks: {
          didResolveOperation: ({ contextValue }) => new Promise<void>((resolve) => setTimeout(() => (contextValue.seen.push('waited'), resolve()), 20)),
        },
      },
      { hooks: { didResolveOperation: () => DONE } },
    ]);
    expect(slow.seen).toEqual(['waited', 'resolver']);
  });

  test("parsing's end hooks run once parsing ends, the last plugin's first", async () => {
    const ending = (name: string): GatewayPlugin<Ctx> => ({
      hooks: {
        parsingDidStart: ({ contextValue }) => {
          contextValue.seen.push(`${name}:parse`);
          return async (err) => void contextValue.seen.push(`${name}:parsed${err ? ' with an error' : ''}`);
        },
      },
    });
    expect((await run([ending('a'), ending('b')])).seen).toEqual(['a:parse', 'b:parse', 'b:parsed', 'a:parsed', 'resolver']);
    expect((await run([ending('a'), ending('b')], '{ hello')).seen).toEqual(['a:parse', 'b:parse', 'b:parsed with an error', 'a:parsed with an error']);
  });

  test('errors reach didEncounterErrors; requestDidStart work runs for every request; no hooks, no listener', async () => {
    const starts: string[] = [];
    const r = await run(
      [
        { requestDidStart: () => void starts.push('start') },
        { hooks: { didEncounterErrors: ({ contextValue, errors }) => void contextValue.seen.push(`errors ${errors.length}`) } },
      ],
      '{ nope }',
    );
    expect(starts).toEqual(['start']);
    expect(r.seen).toEqual(['errors 1']);
    const none = await run([{ requestDidStart: () => void starts.push('again') }]);
    expect(none.listeners).toBe(0);
    expect(none.seen).toEqual(['resolver']);
    expect(starts).toEqual(['start', 'again']);
  });

  test('serverWillStart of every plugin runs when the server starts', async () => {
    const started: string[] = [];
    await run([{ serverWillStart: async () => void started.push('a') }, { serverWillStart: async () => void started.push('b') }]);
    expect(started.sort()).toEqual(['a', 'b']);
  });
});
