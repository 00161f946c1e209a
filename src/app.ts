import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { YogaServerInstance } from 'graphql-yoga';
import type { Config } from './core/config.js';
import type { Context } from './context.js';
import { Authenticator, inactiveKeys } from './core/auth.js';
import { AuthGate } from './core/auth-gate.js';
import { AuthThrottle } from './core/auth-throttle.js';
import { watchRevocations } from './core/revocation.js';
import type { Database } from './core/db/index.js';
import { Metrics } from './core/metrics.js';
import { metricsEndpoint, observeHttp } from './core/observability.js';
import { applyConnectionCap, serverOptions } from './core/connection-limits.js';
import { corsPolicy } from './core/cors.js';
import type { Tracing } from './core/tracing.js';
import type { Logger } from './core/logger.js';
import type { RedisConnections } from './core/redis.js';
import { SubscriptionRegistry } from './core/subscription-limits.js';
import { EmbeddingCatalog } from './embeddings/config.js';
import { Embedders } from './embeddings/index.js';
import type { IngestionService } from './ingest/worker.js';
import type { CallbackSweeper } from './domain/callbacks.js';
import type { EventBus } from './core/events.js';
import { EventHub } from './core/live.js';
import { createRestHandler } from './rest/handler.js';
import { lettaRoutes } from './rest/routes/index.js';
import { contextFactory } from './server/context-factory.js';
import { header, httpRouter, json } from './server/http.js';
import { gracefulStop } from './server/shutdown.js';
import { serveWebSockets } from './server/websocket.js';
import { graphqlServer } from './server/yoga.js';

/**
 * The HTTP server: GraphQL (yoga) on /graphql with graphql-ws on the same path, health endpoints, and
 * graceful shutdown. Built as a value so tests own its lifecycle.
 */
export interface App {
  server: Server;
  yoga: YogaServerInstance<{ req?: IncomingMessage }, Context>;
  listen(port?: number, host?: string): Promise<{ port: number; url: string }>;
  /** Stops accepting, lets in-flight requests finish (up to the timeout), closes sockets. Leaves the database open. */
  stop(): Promise<void>;
  /** This app's subscribers over its event bus (core/live.ts). */
  hub: EventHub;
}

type AppConfig = Pick<
  Config,
  | 'GRAPHQL_MAX_DEPTH'
  | 'GRAPHQL_MAX_COMPLEXITY'
  | 'GRAPHQL_MAX_BREADTH'
  | 'GRAPHIQL'
  | 'SHUTDOWN_TIMEOUT_MS'
  | 'DEFAULT_EMBEDDING'
  | 'OPENAI_API_KEY'
  | 'OPENAI_BASE_URL'
  | 'AUTH_CACHE_TTL_MS'
  | 'MAX_UPLOAD_BYTES'
  | 'MAX_UPLOAD_FILES'
  | 'SUBSCRIPTIONS_PER_CONNECTION'
  | 'SUBSCRIPTIONS_PER_ORGANIZATION'
  | 'WS_KEEPALIVE_MS'
  | 'WS_CONNECTION_INIT_TIMEOUT_MS'
  | 'REDIS_URL'
  | 'REDIS_PREFIX'
  | 'AUTH_FAILURES_PER_ADDRESS'
  | 'AUTH_FAILURES_PER_KEY_PREFIX'
  | 'AUTH_FAILURE_WINDOW_S'
  | 'JSON_MAX_DEPTH'
  | 'GRAPHQL_MAX_TOKENS'
  | 'GRAPHQL_MAX_LIST_SIZE'
  | 'GRAPHQL_INTROSPECTION'
  | 'GRAPHQL_SUGGESTIONS'
  | 'CORS_ORIGINS'
  | 'MAX_CONNECTIONS'
  | 'HEADERS_TIMEOUT_MS'
  | 'REQUEST_TIMEOUT_MS'
  | 'TRUSTED_PROXIES'
  | 'METRICS_TOKEN'
>;

export function buildApp(options: {
  config: AppConfig;
  db: Database;
  log: Logger;
  ingest: IngestionService;
  /** The process's callback sweeper (domain/callbacks.ts), made by the entry point. */
  callbacks: CallbackSweeper;
  /** The process's event bus (core/events.ts), made by the entry point. */
  events: EventBus;
  redis?: RedisConnections | null;
  metrics?: Metrics;
  /** OpenTelemetry tracing, when on (core/tracing.ts). */
  tracing?: Tracing | null;
}): App {
  const { config, db, log, ingest, callbacks, events, redis } = options;
  const metrics = options.metrics ?? new Metrics();
  const observed = observeHttp(log, metrics);
  const uploads = { maxBytes: config.MAX_UPLOAD_BYTES, maxFiles: config.MAX_UPLOAD_FILES };
  const embeddings = new EmbeddingCatalog(config);
  const embedders = new Embedders(embeddings.env, { observer: (provider) => metrics.embeddingObserver(provider) });
  const authenticator = new Authenticator(db.prisma, config.AUTH_CACHE_TTL_MS);
  const gate = authGate(config, authenticator, redis, log);
  const registry = new SubscriptionRegistry({ perConnection: config.SUBSCRIPTIONS_PER_CONNECTION, perOrganization: config.SUBSCRIPTIONS_PER_ORGANIZATION });
  const hub = new EventHub(events);
  const contextFor = contextFactory({ db, log, ingest, callbacks, events, hub, embeddings, embedders, authenticator, registry, uploads });
  const yoga = graphqlServer({ config, gate, contextFor, metrics, log, tracing: options.tracing });

  // The Letta REST shim (/v1, /latest, /openapi.json, /docs): GraphQL's authentication and tenant-scoped clients.
  const rest = createRestHandler({
    routes: lettaRoutes(),
    log,
    authenticate: async (req) => {
      const outcome = await gate.checkRequest(req, (name) => header(req, name), gate.addressOf(req));
      return 'actor' in outcome ? { ctx: contextFor(outcome.actor) } : outcome;
    },
    jsonMaxDepth: config.JSON_MAX_DEPTH,
  });
  const connectionLimits = { maxConnections: config.MAX_CONNECTIONS, headersTimeoutMs: config.HEADERS_TIMEOUT_MS, requestTimeoutMs: config.REQUEST_TIMEOUT_MS };
  const route = httpRouter({
    graphql: yoga,
    rest,
    metrics: metricsEndpoint(metrics, config.METRICS_TOKEN),
    cors: corsPolicy(config.CORS_ORIGINS),
    gate,
    db,
    redis,
    log,
    uploads,
    jsonMaxDepth: config.JSON_MAX_DEPTH,
  });
  // Every request runs in its own scope, and nothing it throws leaves it: the process serves everybody else.
  const server = createServer(serverOptions(connectionLimits), (req, res) =>
    void observed.handle(req, res, () => route(req, res).catch((error: unknown) => requestFailed(log, res, error))),
  );
  metrics.observeSubscriptions(() => registry.count());
  metrics.observePool(db.poolStats);
  applyConnectionCap(server, connectionLimits, log);

  const ws = serveWebSockets({
    server, yoga, gate, authenticator, registry, contextFor, log, metrics, config,
    inScope: (request, fn) => observed.inSocketScope(request, fn),
  });
  // Revocation reaches open connections: subscriptions (SSE and WebSocket) end, sockets close with 4403.
  const stopRevocationWatch = watchRevocations({
    holders: [registry, ws.openSockets],
    authenticator,
    inactive: (ids) => inactiveKeys(db.prisma, ids),
    intervalMs: config.AUTH_CACHE_TTL_MS > 0 ? config.AUTH_CACHE_TTL_MS : 1000,
    log,
  });
  const stop = gracefulStop({
    server,
    wss: ws.wss,
    completeSubscriptions: () => registry.close(),
    wsDrained: ws.drained,
    stopWatches: stopRevocationWatch,
    timeoutMs: config.SHUTDOWN_TIMEOUT_MS,
    log,
  });
  return { server, yoga, listen: (port, host) => listen(server, port, host), stop, hub };
}

function authGate(config: AppConfig, authenticator: Authenticator, redis: RedisConnections | null | undefined, log: Logger): AuthGate {
  const throttle = new AuthThrottle({
    perAddress: config.AUTH_FAILURES_PER_ADDRESS,
    perKeyPrefix: config.AUTH_FAILURES_PER_KEY_PREFIX,
    windowS: config.AUTH_FAILURE_WINDOW_S,
    redis: redis?.commands(),
    redisPrefix: config.REDIS_PREFIX,
    log,
  });
  return new AuthGate(authenticator, throttle, config.TRUSTED_PROXIES);
}

function requestFailed(log: Logger, res: ServerResponse, error: unknown) {
  log.error({ err: error }, 'unexpected error while serving a request');
  try {
    if (res.headersSent) res.destroy();
    else json(res, 500, { errors: [{ message: 'Unexpected error.', extensions: { code: 'INTERNAL' } }] });
  } catch {
    res.destroy();
  }
}

function listen(server: Server, port = 0, host = '127.0.0.1'): Promise<{ port: number; url: string }> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const address = server.address();
      const actual = typeof address === 'object' && address ? address.port : port;
      resolve({ port: actual, url: `http://${host.includes(':') ? `[${host}]` : host}:${actual}` });
    });
  });
}
