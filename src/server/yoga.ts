import type { IncomingMessage } from 'node:http';
import { createYoga, type YogaServerInstance } from 'graphql-yoga';
import type { Config } from '../core/config.js';
import { useAuthGate, type AuthGate } from '../core/auth-gate.js';
import { useQueryJit } from '../core/graphql-jit.js';
import { useJsonDepthLimit } from '../core/graphql-json.js';
import { useGraphQLMetrics } from '../core/graphql-metrics.js';
import { graphiqlOptions, renderOfflineGraphiQL } from '../core/graphiql.js';
import { useSubscriptionExecution } from '../core/live.js';
import type { Logger } from '../core/logger.js';
import type { Metrics } from '../core/metrics.js';
import { yogaLogger } from '../core/observability.js';
import { parserCaches, useQueryLimits } from '../core/query-limits.js';
import { useSchemaDisclosure } from '../core/schema-disclosure.js';
import type { Tracing } from '../core/tracing.js';
import type { Context } from '../context.js';
import { schema } from '../schema/index.js';
import type { ContextFor } from './context-factory.js';
import { maskError, useBadInputCodes } from './graphql-errors.js';

export type YogaConfig = Pick<
  Config,
  | 'GRAPHIQL'
  | 'JSON_MAX_DEPTH'
  | 'GRAPHQL_MAX_TOKENS'
  | 'GRAPHQL_MAX_DEPTH'
  | 'GRAPHQL_MAX_BREADTH'
  | 'GRAPHQL_MAX_COMPLEXITY'
  | 'GRAPHQL_MAX_LIST_SIZE'
  | 'GRAPHQL_INTROSPECTION'
  | 'GRAPHQL_SUGGESTIONS'
>;

/** GraphQL over HTTP (yoga) on /graphql, with its plugins in the order they must run. */
export function graphqlServer(parts: {
  config: YogaConfig;
  gate: AuthGate;
  contextFor: ContextFor;
  metrics: Metrics;
  log: Logger;
  tracing?: Tracing | null;
}): YogaServerInstance<{ req?: IncomingMessage }, Context> {
  const { config, gate, contextFor, metrics, log, tracing } = parts;
  const queryLimits = {
    maxTokens: config.GRAPHQL_MAX_TOKENS,
    maxDepth: config.GRAPHQL_MAX_DEPTH,
    maxBreadth: config.GRAPHQL_MAX_BREADTH,
    maxComplexity: config.GRAPHQL_MAX_COMPLEXITY,
    maxListSize: config.GRAPHQL_MAX_LIST_SIZE,
  };
  return createYoga<{ req?: IncomingMessage }, Context>({
    schema,
    graphqlEndpoint: '/graphql',
    graphiql: config.GRAPHIQL ? graphiqlOptions : false,
    renderGraphiQL: renderOfflineGraphiQL,
    landingPage: false,
    // The server's own CORS policy covers every route (core/cors.ts).
    cors: false,
    parserAndValidationCache: parserCaches(),
    // Multipart bodies are parsed by graphql-upload-ts before yoga (server/http.ts), streaming files to disk.
    multipart: false,
    logging: yogaLogger(log),
    context: ({ request }) => contextFor(gate.actorOf(request)),
    // The gate first: nothing below it (body parsing, validation) runs for a caller without a valid key.
    plugins: [
      useAuthGate(gate, log),
      useGraphQLMetrics(metrics),
      useJsonDepthLimit(config.JSON_MAX_DEPTH),
      useQueryLimits(queryLimits),
      useSchemaDisclosure({ introspection: config.GRAPHQL_INTROSPECTION, suggestions: config.GRAPHQL_SUGGESTIONS }),
      useBadInputCodes(),
      useSubscriptionExecution(),
      useQueryJit(schema),
      // Last: it wraps whichever execution the plugins above chose.
      ...(tracing ? [tracing.graphqlPlugin()] : []),
    ],
    maskedErrors: { maskError },
  });
}
