/**
 * Apollo Server's options for the gateway: one place, so that the app and the request-path
 * benchmark (bench/pipeline.ts) run the same pipeline.
 */
import type { ApolloServerOptions, ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginDisableSuggestions } from '@apollo/server/plugin/disableSuggestions';
import { ApolloServerPluginCacheControlDisabled, ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import type { GraphQLSchema } from 'graphql';
import type { Config } from '../config';
import type { ResolverContext } from '../resolvers/context';
import type { Logger } from '../util/logger';
import type { Metrics } from '../util/metrics';
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
  /** Plugins before the gateway's own (e.g. the HTTP drain) and after them (the modules'). */
  before?: Array<ApolloServerPlugin<ResolverContext>>;
  after?: Array<ApolloServerPlugin<ResolverContext>>;
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
    hideSchemaDetailsFromClientErrors: config.production,
    parseOptions: { maxTokens: config.graphql.limits.tokens },
    // Depth, aliases and directives are checked before validation, by the shape gate.
    validationRules: [refusedRule],
    // Suggestions are not computed at all in production (finding one compares an unknown name with every known one).
    validationOptions: { hideSuggestions: config.production, maxErrors: VALIDATION_MAX_ERRORS },
    formatError: makeFormatError(config.production),
    logger: log,
    plugins: [
      ...before,
      ApolloServerPluginLandingPageDisabled(),
      // No @cacheControl hints are used; Apollo's default cache-control plugin costs ~15 µs per request (docs/performance.md, "What changed, and what each was worth").
      ApolloServerPluginCacheControlDisabled(),
      ...(config.production ? [ApolloServerPluginDisableSuggestions()] : []),
      subscriptionsOverHttpPlugin(),
      errorPlugin(),
      metricsPlugin(metrics),
      shapeGatePlugin(config.graphql.limits),
      costPlugin(config.graphql.limits.cost),
      ...after,
    ],
  };
}
