/**
 * Apollo Server's options for the gateway: one place, so that the app and the request-path
 * benchmark (bench/pipeline.ts) run the same pipeline.
 */
import type { ApolloServerOptions, ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled, ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import type { GraphQLSchema } from 'graphql';
import type { Config } from '../config';
import type { ResolverContext } from '../resolvers/context';
import type { Logger } from '../util/logger';
import type { Metrics } from '../util/metrics';
import { composePlugins, type GatewayPlugin } from '../plugins/compose';
import { costPlugin } from '../plugins/cost';
import { errorPlugin, makeFormatError } from '../plugins/errors';
import { subscriptionsOverHttpPlugin } from '../plugins/http-operations';
import { metricsPlugin } from '../plugins/metrics';
import { VALIDATION_MAX_ERRORS } from '../plugins/query-limits';
import { refusedRule, shapeGatePlugin } from '../plugins/shape-gate';

export interface GatewayApolloDeps {
  config: Config;
  schema: GraphQLSchema;
  log: Logger;
  metrics: Metrics;
  /** Apollo plugins before the gateway's own (e.g. the HTTP drain). */
  before?: Array<ApolloServerPlugin<ResolverContext>>;
  /** Gateway plugins after its own (the modules'), composed with them. */
  after?: Array<GatewayPlugin<ResolverContext>>;
}

export function gatewayApolloOptions({ config, schema, log, metrics, before = [], after = [] }: GatewayApolloDeps): ApolloServerOptions<ResolverContext> {
  return {
    // Executed by graphql-js: no code is ever generated from a request (SECURITY.md).
    schema,
    introspection: config.graphql.introspection,
    csrfPrevention: true,
    allowBatchedHttpRequests: false,
    // src/index.ts owns SIGTERM/SIGINT; Apollo's own handler would re-raise the signal and kill the process mid-drain.
    stopOnTerminationSignals: false,
    includeStacktraceInErrorResponses: !config.production,
    parseOptions: { maxTokens: config.graphql.limits.tokens },
    // Depth, aliases and directives are checked before validation, by the shape gate.
    validationRules: [refusedRule],
    // Suggestions are not computed at all in production (finding one compares an unknown name with every known one).
    // That is all Apollo's hideSchemaDetailsFromClientErrors and DisableSuggestions plugin would do, at the price of a
    // listener on every request, after the fact: neither is used.
    validationOptions: { hideSuggestions: config.production, maxErrors: VALIDATION_MAX_ERRORS },
    formatError: makeFormatError(config.production),
    logger: log,
    plugins: [
      ...before,
      ApolloServerPluginLandingPageDisabled(),
      // No @cacheControl hints are used; Apollo's default cache-control plugin costs ~15 µs per request (docs/performance.md, "What changed, and what each was worth").
      ApolloServerPluginCacheControlDisabled(),
      // One listener for every request instead of one per plugin (plugins/compose.ts).
      composePlugins(gatewayPlugins(config, metrics, after)),
    ],
  };
}

/** The gateway's own plugins, in order: the cost plugin sets ctx.cost before the modules' rate limiter reads it. */
export function gatewayPlugins(config: Config, metrics: Metrics, after: Array<GatewayPlugin<ResolverContext>> = []): Array<GatewayPlugin<ResolverContext>> {
  return [
    subscriptionsOverHttpPlugin(),
    errorPlugin(),
    metricsPlugin(metrics),
    shapeGatePlugin(config.graphql.limits),
    costPlugin(config.graphql.limits.cost),
    ...after,
  ];
}
