/**
 * The request path without I/O: `handleGraphQL` driven with in-memory requests
 * and a context whose session and user are already known, so what is measured
 * is parsing the HTTP request, Apollo's pipeline, plugins, execution and the
 * reply — the part that is the gateway's own CPU cost. Variants of the Apollo
 * set-up run alternately in one process and the best round of each is kept,
 * which makes the comparison hold up on a busy machine.
 */
import { Readable } from 'node:stream';
import { createHook } from 'node:async_hooks';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApolloServer, type ApolloServerOptions, type ApolloServerPlugin, type GraphQLRequestListener } from '@apollo/server';
import { ApolloServerPluginDisableSuggestions } from '@apollo/server/plugin/disableSuggestions';
import type { GraphQLSchema } from 'graphql';
import { gatewayApolloOptions, gatewayPlugins } from '../src/app/apollo';
import type { GatewayPlugin } from '../src/plugins/compose';
import { loadConfig } from '../src/config';
import type { ResolverContext } from '../src/resolvers/context';
import { handleGraphQL } from '../src/http/graphql';
import { createLogger } from '../src/util/logger';
import { Metrics } from '../src/util/metrics';
import { buildGatewaySchema } from '../src/app/schema';
import type { Services } from '../src/services/container';
import { parseOptions, type Bench } from './cli';

/** `{ me { id } }` by default; a list-heavy alternative shows how execution cost grows with the result. */
export const QUERIES = {
  me: '{ me { id } }',
  sessions: '{ me { id email name roles createdAt } mySessions { id createdAt lastSeenAt expiresAt userAgent ip current } }',
};

function fakeRequest(body: Buffer): IncomingMessage {
  const req = Readable.from([body]) as unknown as IncomingMessage;
  const headers = {
    host: '127.0.0.1',
    'content-type': 'application/json',
    'content-length': String(body.length),
    'user-agent': 'gateway-bench/1.0',
    authorization: 'Bearer abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG',
  };
  Object.assign(req, { method: 'POST', url: '/graphql', headers, socket: { remoteAddress: '127.0.0.1' } });
  return req;
}

function fakeResponse(done: (body: string) => void): ServerResponse {
  const res = {
    statusCode: 200,
    headersSent: false,
    setHeader() {},
    writeHead() {
      return res;
    },
    write() {},
    end(body?: string) {
      done(body ?? '');
    },
  };
  return res as unknown as ServerResponse;
}

/** The pipeline's configuration: production, rate limits off, no Redis reached. */
const pipelineConfig = (): ReturnType<typeof loadConfig> =>
  loadConfig({ NODE_ENV: 'production', LOG_LEVEL: 'silent', RATE_LIMIT_DEFAULT: 'off', REDIS_URL: 'redis://127.0.0.1:1' });

export type Variant = (schema: GraphQLSchema, base: ApolloServerOptions<ResolverContext>) => ApolloServerOptions<ResolverContext>;

export async function runPipelineBench(
  variants: Record<string, Variant>,
  opts: { requests: number; rounds: number; query?: string; listSize?: number },
  log: (l: string) => void = console.log,
): Promise<Record<string, number>> {
  const config = pipelineConfig();
  const log0 = createLogger(config);
  const schema = await buildGatewaySchema();
  const session = { id: 's', tokenHash: 'h', userId: 'u1', createdAt: 0, lastSeenAt: 0, expiresAt: Date.now() + 3_600_000, userAgent: null, ip: null };
  const user = { id: 'u1', email: 'a@b.c', name: 'A', roles: ['CUSTOMER'], createdAt: 0 };
  const body = Buffer.from(JSON.stringify({ query: opts.query ?? QUERIES.me }));
  const list = Array.from({ length: opts.listSize ?? 20 }, (_, i) => ({ ...session, id: `s${i}`, userAgent: 'Mozilla/5.0', ip: '10.0.0.1' }));
  const services = {
    config,
    sessions: { check: async () => ({ session, ended: null }), list: async () => list },
    users: { findById: async () => user },
  } as unknown as Services;
  const metrics = new Metrics();
  const base = gatewayApolloOptions({ config, schema, log: log0, metrics });
  const servers: Record<string, ApolloServer<ResolverContext>> = {};
  for (const [name, variant] of Object.entries(variants)) {
    servers[name] = new ApolloServer<ResolverContext>(variant(schema, { ...base, plugins: [...(base.plugins ?? [])] }));
    await servers[name].start();
  }
  const one = (apollo: ApolloServer<ResolverContext>): Promise<string> =>
    new Promise((resolve, reject) => {
      handleGraphQL({ apollo, services, log: log0 }, fakeRequest(body), fakeResponse(resolve), '').catch(reject);
    });
  for (const [name, apollo] of Object.entries(servers)) {
    const answer = await one(apollo);
    if (!answer.includes('"u1"')) throw new Error(`${name} answered ${answer}`);
  }
  const best: Record<string, number> = {};
  for (let round = 0; round < opts.rounds; round++) {
    for (const [name, apollo] of Object.entries(servers)) {
      const start = process.cpuUsage();
      for (let i = 0; i < opts.requests; i++) await one(apollo);
      const used = process.cpuUsage(start);
      const us = (used.user + used.system) / opts.requests;
      best[name] = Math.min(best[name] ?? Infinity, us);
    }
  }
  // Promises made per request: the same in every run, however busy the machine (counted after the timing:
  // a promise hook slows every promise while it is on).
  const promises: Record<string, number> = {};
  let made = 0;
  const hook = createHook({ init: (_id, type) => void (type === 'PROMISE' && made++) });
  for (const [name, apollo] of Object.entries(servers)) {
    const n = 1000;
    hook.enable();
    made = 0;
    for (let i = 0; i < n; i++) await one(apollo);
    hook.disable();
    promises[name] = made / n;
  }
  for (const [name, us] of Object.entries(best))
    log(
      `  ${name.padEnd(28)} ${us.toFixed(1)} µs CPU/request (best of ${opts.rounds} rounds of ${opts.requests}), ${promises[name].toFixed(1)} promises/request`,
    );
  for (const apollo of Object.values(servers)) await apollo.stop();
  return best;
}

/**
 * A gateway plugin as Apollo saw each of them before they were composed (plugins/compose.ts):
 * a plugin of its own, its listener's hooks async functions.
 */
function apart(p: GatewayPlugin<ResolverContext>): ApolloServerPlugin<ResolverContext> {
  const listener: GraphQLRequestListener<ResolverContext> = {};
  for (const [name, hook] of Object.entries(p.hooks ?? {}) as Array<[string, (rc: unknown) => unknown]>)
    (listener as Record<string, unknown>)[name] = async (rc: unknown) => hook.call(p.hooks, rc);
  return {
    serverWillStart: p.serverWillStart,
    requestDidStart: async (rc) => {
      p.requestDidStart?.(rc);
      return p.hooks ? listener : undefined;
    },
  };
}

/** Apollo set up as src/app.ts sets it up (src/apollo.ts). */
export const PIPELINE_VARIANTS: Record<string, Variant> = {
  'as shipped': (_s, base) => base,
  // The same plugins, each its own listener (and Apollo's suggestion plugin), as before they were composed.
  'plugins apart (before)': (_s, base) => {
    const shipped = base.plugins ?? [];
    const config = pipelineConfig();
    return {
      ...base,
      plugins: [...shipped.slice(0, -1), ApolloServerPluginDisableSuggestions(), ...gatewayPlugins(config, new Metrics()).map(apart)],
    };
  },
  // Experiments: the shipped plugins, one left out at a time (by position in gatewayApolloOptions' list).
  ...(process.env.BENCH_PLUGIN_DROP
    ? Object.fromEntries(
        process.env.BENCH_PLUGIN_DROP.split(',').map((n) => [
          `without plugin #${n}`,
          (_s: GraphQLSchema, base: ApolloServerOptions<ResolverContext>) => ({ ...base, plugins: (base.plugins ?? []).filter((_p, i) => i !== Number(n)) }),
        ]),
      )
    : {}),
};

const OPTIONS = [
  { flag: '--requests', value: '<n>', help: 'requests per variant per round', default: 5000 },
  { flag: '--rounds', value: '<n>', help: 'rounds; the best of each variant is kept', default: 5 },
  {
    flag: '--query',
    choices: Object.keys(QUERIES),
    help: "the document: me is { me { id } }; sessions adds the user's 20 sessions (list-heavy)",
    default: 'me',
  },
  { flag: '--json', help: 'results as JSON on stdout, and nothing else' },
] as const;

export const bench: Bench = {
  options: OPTIONS,
  notes: ["BENCH_PLUGIN_DROP=<i,j>: also measures the shipped set-up without the plugin at each of those positions in gatewayApolloOptions' list."],
  async run(argv) {
    const a = parseOptions(argv, OPTIONS);
    const json = a.has('--json');
    const opts = { requests: a.number('--requests'), rounds: a.number('--rounds'), query: QUERIES[a.string('--query') as keyof typeof QUERIES] };
    const result = await runPipelineBench(PIPELINE_VARIANTS, opts, json ? () => {} : console.log);
    if (json) console.log(JSON.stringify(result, null, 2));
  },
};
