import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { GraphQLError, getOperationAST, type ExecutionArgs } from 'graphql';
import { createYoga, type Plugin, type YogaServerInstance } from 'graphql-yoga';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Config } from './core/config.js';
import type { Context } from './context.js';
import { Authenticator, inactiveKeys, keyFromHeaders, type Actor } from './core/auth.js';
import { AuthGate, authenticateSocket, graphqlRefusalBody, useAuthGate, type GateOutcome } from './core/auth-gate.js';
import { AuthThrottle } from './core/auth-throttle.js';
import { OpenSockets, revokedKeyError, watchRevocations } from './core/revocation.js';
import type { Database } from './core/db/index.js';
import { PothosValidationError } from '@pothos/core';
import { AppError, badInput, fromPrismaError, unauthenticated } from './core/errors.js';
import { useSubscriptionExecution } from './core/live.js';
import { useQueryJit } from './core/graphql-jit.js';
import { paramsTooDeep, useJsonDepthLimit } from './core/graphql-json.js';
import { JsonDepthError } from './core/json.js';
import { MultipartError, readGraphQLMultipart } from './core/graphql-multipart.js';
import { graphiqlOptions, renderOfflineGraphiQL } from './core/graphiql.js';
import { useGraphQLMetrics } from './core/graphql-metrics.js';
import { Metrics } from './core/metrics.js';
import { metricsEndpoint, noteOrganization, observeHttp, REQUEST_ID_HEADER, requestIdOf, yogaLogger } from './core/observability.js';
import { applyConnectionCap, serverOptions } from './core/connection-limits.js';
import { corsPolicy } from './core/cors.js';
import type { Tracing } from './core/tracing.js';
import { parserCaches, useQueryLimits } from './core/query-limits.js';
import { useSchemaDisclosure } from './core/schema-disclosure.js';
import type { Logger } from './core/logger.js';
import type { RedisConnections } from './core/redis.js';
import { SubscriptionRegistry, type SubscriptionConnection } from './core/subscription-limits.js';
import { ScopedClients } from './core/tenancy.js';
import { OrgReader } from './domain/reads/org-reader.js';
import { EmbeddingCatalog } from './embeddings/config.js';
import { Embedders } from './embeddings/index.js';
import type { IngestionService } from './ingest/worker.js';
import { schema } from './schema/index.js';
import { createRestHandler, isRestPath } from './rest/handler.js';
import { lettaRoutes } from './rest/routes/index.js';

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
  redis?: RedisConnections | null;
  metrics?: Metrics;
  /** OpenTelemetry tracing, when on (core/tracing.ts). */
  tracing?: Tracing | null;
}): App {
  const { config, db, log, ingest, redis } = options;
  const metrics = options.metrics ?? new Metrics();
  const observed = observeHttp(log, metrics);
  const uploads = { maxBytes: config.MAX_UPLOAD_BYTES, maxFiles: config.MAX_UPLOAD_FILES };
  const transact: Context['transact'] = (fn) => db.withRunner((runner) => runner.transaction(fn));
  const embeddings = new EmbeddingCatalog(config);
  const embedders = new Embedders(embeddings.env, { observer: (provider) => metrics.embeddingObserver(provider) });
  const scopedClients = new ScopedClients(db.prisma);
  const tenants: Context['tenants'] = { for: (organizationId) => scopedClients.for(organizationId), root: db.prisma };
  const authenticator = new Authenticator(db.prisma, config.AUTH_CACHE_TTL_MS);
  const throttle = new AuthThrottle({
    perAddress: config.AUTH_FAILURES_PER_ADDRESS,
    perKeyPrefix: config.AUTH_FAILURES_PER_KEY_PREFIX,
    windowS: config.AUTH_FAILURE_WINDOW_S,
    redis: redis?.commands(),
    redisPrefix: config.REDIS_PREFIX,
    log,
  });
  const gate = new AuthGate(authenticator, throttle, config.TRUSTED_PROXIES);
  const queryLimits = {
    maxTokens: config.GRAPHQL_MAX_TOKENS,
    maxDepth: config.GRAPHQL_MAX_DEPTH,
    maxBreadth: config.GRAPHQL_MAX_BREADTH,
    maxComplexity: config.GRAPHQL_MAX_COMPLEXITY,
    maxListSize: config.GRAPHQL_MAX_LIST_SIZE,
  };
  const connectionLimits = { maxConnections: config.MAX_CONNECTIONS, headersTimeoutMs: config.HEADERS_TIMEOUT_MS, requestTimeoutMs: config.REQUEST_TIMEOUT_MS };
  const applyCors = corsPolicy(config.CORS_ORIGINS);
  const registry = new SubscriptionRegistry({ perConnection: config.SUBSCRIPTIONS_PER_CONNECTION, perOrganization: config.SUBSCRIPTIONS_PER_ORGANIZATION });

  /** The context of an authenticated caller. An HTTP request (SSE included) is a connection of its own; a WebSocket passes its own. */
  const contextFor = (actor: Actor | undefined, connection?: SubscriptionConnection): Context => {
    if (!actor) throw toGraphQLError(unauthenticated()); // unreachable: the gate answered already
    noteOrganization(actor.organizationId);
    connection ??= registry.connection(actor.apiKeyId);
    return {
      actor, db: scopedClients.for(actor.organizationId), tenants, reader: new OrgReader(db.sql, actor.organizationId), log, embeddings, embedders, authenticator, ingest, uploads, transact,
      subscriptions: { registry, connection },
    };
  };

  const yoga = createYoga<{ req?: IncomingMessage }, Context>({
    schema,
    graphqlEndpoint: '/graphql',
    graphiql: config.GRAPHIQL ? graphiqlOptions : false,
    renderGraphiQL: renderOfflineGraphiQL,
    landingPage: false,
    // The server's own CORS policy covers every route (core/cors.ts).
    cors: false,
    parserAndValidationCache: parserCaches(),
    // Multipart bodies are parsed by graphql-upload-ts before yoga (see route), streaming files to disk.
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
      requestErrorsAreBadInput(),
      useSubscriptionExecution(),
      useQueryJit(schema),
      // Last: it wraps whichever execution the plugins above chose.
      ...(options.tracing ? [options.tracing.graphqlPlugin()] : []),
    ],
    maskedErrors: {
      maskError(error, message) {
        const original = error instanceof GraphQLError ? (error.originalError ?? error) : error;
        if (original instanceof GraphQLError && original.extensions?.code) return original;
        const known =
          original instanceof AppError
            ? original
            : original instanceof PothosValidationError
              ? badInput(original.message)
              : fromPrismaError(original);
        if (known) return toGraphQLError(known, error instanceof GraphQLError ? error : undefined);
        if (error instanceof GraphQLError && !error.path) {
          // Request-level errors raised before any resolver ran: variables that do not coerce.
          return new GraphQLError(error.message, { nodes: error.nodes, extensions: { ...error.extensions, code: 'BAD_USER_INPUT' } });
        }
        if (error instanceof GraphQLError && !error.originalError) return error;
        // Logged by yoga's logger (yogaLogger), which gets every error this function replaces.
        return new GraphQLError(message, {
          nodes: error instanceof GraphQLError ? error.nodes : undefined,
          source: error instanceof GraphQLError ? error.source : undefined,
          positions: error instanceof GraphQLError ? error.positions : undefined,
          path: error instanceof GraphQLError ? error.path : undefined,
          extensions: { code: 'INTERNAL' },
        });
      },
    },
  });

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

  // Every request runs in its own scope, and nothing it throws leaves it: the process serves everybody else.
  const server = createServer(serverOptions(connectionLimits), (req, res) =>
    void observed.handle(req, res, () => route(req, res).catch((error: unknown) => requestFailed(res, error))),
  );
  const serveMetrics = metricsEndpoint(metrics, config.METRICS_TOKEN);
  metrics.observeSubscriptions(() => registry.count());
  metrics.observePool(db.poolStats);
  applyConnectionCap(server, connectionLimits, log);
  function requestFailed(res: ServerResponse, error: unknown) {
    log.error({ err: error }, 'unexpected error while serving a request');
    try {
      if (res.headersSent) res.destroy();
      else json(res, 500, { errors: [{ message: 'Unexpected error.', extensions: { code: 'INTERNAL' } }] });
    } catch {
      res.destroy();
    }
  }
  const sockets = new Set<Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });

  async function route(req: IncomingMessage, res: ServerResponse) {
    const url = req.url ?? '/';
    const pathname = url.split('?')[0];
    if (applyCors(req, res)) return; // a preflight, answered
    if (pathname === '/healthz') return json(res, 200, { status: 'ok' });
    if (pathname === '/metrics') return serveMetrics(req, res);
    if (pathname === '/readyz') {
      // Ready when the database answers and, with REDIS_URL, Redis does too (jobs and events go through it).
      const [databaseUp, redisUp] = await Promise.all([
        db.ping().then(
          () => true,
          (error: unknown) => (log.warn({ err: error }, 'readiness check failed'), false),
        ),
        redis?.healthy() ?? true,
      ]);
      const ready = databaseUp && redisUp;
      return json(res, ready ? 200 : 503, { status: ready ? 'ok' : 'unavailable', database: db.kind, ...(redis ? { redis: redisUp ? 'ok' : 'unavailable' } : {}) });
    }
    if (isRestPath(pathname)) return rest(req, res);
    if (pathname === '/graphql') {
      if (req.method === 'POST' && req.headers['content-type']?.toLowerCase().startsWith('multipart/form-data')) {
        // Uploads are streamed to disk before yoga sees the request: the key is checked first (yoga's gate reuses the answer).
        const outcome = await gate.checkRequest(req, (name) => header(req, name), gate.addressOf(req));
        if (!('actor' in outcome)) return refuse(res, outcome);
        try {
          // +1: a file of exactly MAX_UPLOAD_BYTES passes; one byte more fails in uploadFile with its own message.
          (req as IncomingMessage & { body?: unknown }).body = await readGraphQLMultipart(req, res, {
            maxFileBytes: uploads.maxBytes + 1,
            maxFiles: uploads.maxFiles,
            maxFieldBytes: MULTIPART_FIELD_BYTES,
            maxJsonDepth: config.JSON_MAX_DEPTH,
          });
          // What yoga now gets is the parsed operations, not the multipart body its 25 MB request limit counts.
          delete req.headers['content-length'];
        } catch (error) {
          return multipartError(res, error);
        }
      }
      return yoga(req, res);
    }
    return json(res, 404, { detail: 'Not Found' });
  }

  // graphql-ws on the same path, through yoga's envelop pipeline (auth, limits, error masking), as in
  // yoga's graphql-ws example. The key comes from connection_init's payload or the upgrade request's headers.
  const wss = new WebSocketServer({ server, path: yoga.graphqlEndpoint });
  type WsExtra = { socket: WebSocket; request: IncomingMessage; context?: Context; key?: string };
  // Revocation reaches open connections: subscriptions (SSE and WebSocket) end, sockets close with 4403.
  const openSockets = new OpenSockets();
  const stopRevocationWatch = watchRevocations({
    holders: [registry, openSockets],
    authenticator,
    inactive: (ids) => inactiveKeys(db.prisma, ids),
    intervalMs: config.AUTH_CACHE_TTL_MS > 0 ? config.AUTH_CACHE_TTL_MS : 1000,
    log,
  });
  // Operations under way on each socket, so shutdown can wait for their `complete` messages to go out.
  const wsOperations = new Map<object, Set<string>>();
  let wsDrained: (() => void) | null = null;
  const wsOperationDone = (socketCtx: object, id?: string) => {
    const ids = wsOperations.get(socketCtx);
    if (id === undefined) ids?.clear();
    else ids?.delete(id);
    if (ids?.size === 0) wsOperations.delete(socketCtx);
    if (wsOperations.size === 0) wsDrained?.();
  };
  useServer<Record<string, unknown> | undefined, WsExtra>(
    {
      connectionInitWaitTimeout: config.WS_CONNECTION_INIT_TIMEOUT_MS,
      execute: (args) => (args.rootValue as { execute: (a: ExecutionArgs) => unknown }).execute(args) as never,
      subscribe: (args) => (args.rootValue as { subscribe: (a: ExecutionArgs) => unknown }).subscribe(args) as never,
      onConnect: (ctx) => inWsScope(ctx.extra.request, async () => {
        const payload = (ctx.connectionParams ?? {}) as Record<string, unknown>;
        const fromPayload = (name: string) => {
          const direct = payload[name] ?? payload[name.toLowerCase()] ?? (name === 'x-api-key' ? payload.apiKey : undefined);
          return typeof direct === 'string' ? direct : undefined;
        };
        const request = ctx.extra.request;
        const key = keyFromHeaders((name) => fromPayload(name) ?? header(request, name));
        const { socket } = ctx.extra;
        const actor = await authenticateSocket(gate, key, request, socket, log);
        if (!actor) return false; // graphql-ws closes with 4403 Forbidden (unless closed with 4429/4500 already)
        ctx.extra.context = contextFor(actor, registry.connection(actor.apiKeyId));
        ctx.extra.key = key!;
        openSockets.add(ctx, actor.apiKeyId, () => socket.close(4403, 'Forbidden: the API key was revoked or has expired'));
        return true;
      }).catch((error: unknown) => {
        log.error({ err: error }, 'unexpected error in a WebSocket connection_init');
        return false;
      }),
      onSubscribe: (ctx, id, params) => inWsScope(ctx.extra.request, async () => {
        // The key may have been revoked since the connection opened: no new operation then.
        if (openSockets.isRevoked(ctx) || !(await authenticator.authenticate(ctx.extra.key ?? null).catch(() => ctx.extra.context!.actor))) {
          ctx.extra.socket.close(4403, 'Forbidden: the API key was revoked or has expired');
          return [toGraphQLError(revokedKeyError())];
        }
        // The message was parsed by graphql-ws: its depth is checked here, as every HTTP body's is when parsed.
        if (paramsTooDeep(params, config.JSON_MAX_DEPTH)) {
          return [new GraphQLError(new JsonDepthError(config.JSON_MAX_DEPTH).message, { extensions: { code: 'BAD_USER_INPUT' } })];
        }
        // One context per operation (resolvers cache per context object, and operations must not share caches), and
        // the same object envelop's hooks see from parse to execute: the metrics plugin keys its labels on it.
        const contextValue = { ...ctx.extra.context!, req: ctx.extra.request, socket: ctx.extra.request.socket, params };
        const { schema, execute, subscribe, parse, validate } = yoga.getEnveloped(contextValue);
        let document;
        try {
          document = parse(params.query);
        } catch (error) {
          // A syntax error or a limit is the client's, answered as an `error` message (thrown, it would close the socket with 4500).
          if (error instanceof GraphQLError && error.extensions?.code) return [error];
          return [new GraphQLError(error instanceof Error ? error.message : 'Invalid query', { extensions: { code: 'BAD_USER_INPUT' } })];
        }
        const args = {
          schema,
          operationName: params.operationName,
          document,
          variableValues: params.variables,
          contextValue,
          rootValue: { execute, subscribe },
        };
        const errors = validate(args.schema, args.document);
        if (errors.length) return errors;
        if (!getOperationAST(document, params.operationName)) {
          return [new GraphQLError('Unable to identify the operation to run (give operationName)', { extensions: { code: 'BAD_USER_INPUT' } })];
        }
        let ids = wsOperations.get(ctx);
        if (!ids) wsOperations.set(ctx, (ids = new Set()));
        ids.add(id);
        return args;
      }).catch((error: unknown) => {
        // Thrown, it would close the whole socket (4500): the operation fails alone, as a request would.
        log.error({ err: error }, 'unexpected error in a WebSocket subscribe');
        return [new GraphQLError('Unexpected error.', { extensions: { code: 'INTERNAL' } })];
      }),
      onComplete: (ctx, id) => guardWs(() => wsOperationDone(ctx, id)),
      onClose: (ctx) =>
        guardWs(() => {
          openSockets.remove(ctx);
          wsOperationDone(ctx);
        }),
    },
    wss,
    config.WS_KEEPALIVE_MS,
  );

  // A socket may report more than the one error graphql-ws listens for; none of them may end the process.
  wss.on('connection', (socket) => {
    socket.on('error', (error) => log.debug({ err: error }, 'WebSocket error'));
    metrics.websockets.inc();
    socket.once('close', () => metrics.websockets.dec());
  });
  // The upgrade's answer carries the connection's request id, which every log line of its operations has.
  wss.on('headers', (headers, request) => headers.push(`${REQUEST_ID_HEADER}: ${requestIdOf(request)}`));

  /** Runs a graphql-ws hook in a request scope of its own (see core/request-scope). */
  function inWsScope<T>(request: IncomingMessage, fn: () => Promise<T>): Promise<T> {
    return observed.inSocketScope(request, fn);
  }
  function guardWs(fn: () => void) {
    try {
      fn();
    } catch (error) {
      log.error({ err: error }, 'unexpected error in a WebSocket handler');
    }
  }

  let stopping: Promise<void> | undefined;

  return {
    server,
    yoga,
    listen(port = 0, host = '127.0.0.1') {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          const address = server.address();
          const actual = typeof address === 'object' && address ? address.port : port;
          resolve({ port: actual, url: `http://${host.includes(':') ? `[${host}]` : host}:${actual}` });
        });
      });
    },
    stop() {
      stopping ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        // Complete open subscriptions first: WebSocket clients get `complete` for each, SSE streams end cleanly.
        const drained = wsOperations.size ? new Promise<void>((resolve) => (wsDrained = resolve)) : Promise.resolve();
        const completed = registry.close().then(() => drained).then(() => new Promise((resolve) => setImmediate(resolve)));
        const limit = new Promise((resolve) => setTimeout(resolve, config.SHUTDOWN_TIMEOUT_MS).unref());
        await Promise.race([completed, limit]);
        for (const client of wss.clients) client.close(1001, 'Server shutting down');
        wss.close();
        stopRevocationWatch();
        server.closeIdleConnections();
        const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), config.SHUTDOWN_TIMEOUT_MS).unref());
        if ((await Promise.race([closed, timeout])) === 'timeout') {
          log.warn({ open: sockets.size }, 'shutdown timeout: closing remaining connections');
          server.closeAllConnections();
          for (const s of sockets) s.destroy();
          await closed;
        }
      })();
      return stopping;
    },
  };
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** A request the gate refused (401/429), answered before its body is read: the connection closes behind the answer. */
function refuse(res: ServerResponse, outcome: Exclude<GateOutcome, { actor: Actor }>) {
  res.writeHead(outcome.refusal.httpStatus, { 'content-type': 'application/json; charset=utf-8', connection: 'close', ...outcome.headers });
  res.end(JSON.stringify(graphqlRefusalBody(outcome.refusal)));
}

/** Largest `operations` or `map` field of a GraphQL multipart request (graphql-upload's default). */
const MULTIPART_FIELD_BYTES = 1_000_000;

/** A multipart request that was refused, as a GraphQL error response. */
function multipartError(res: ServerResponse, error: unknown) {
  if (!(error instanceof MultipartError)) throw error;
  res.setHeader('connection', 'close'); // the rest of the body is not read
  // 499 (the client left) has no one to answer; 400 is as good a status as any for the log.
  return json(res, error.status === 413 ? 413 : 400, { errors: [{ message: error.message, extensions: { code: error.code } }] });
}

function json(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
}

/**
 * A query that does not validate (unknown field, unknown enum value…) is the client's mistake: BAD_USER_INPUT,
 * so every error a client sees carries a code. (Variables that do not coerce are handled in maskError.)
 */
function requestErrorsAreBadInput(): Plugin {
  const withCode = (e: GraphQLError) =>
    e.extensions?.code ? e : new GraphQLError(e.message, { nodes: e.nodes, source: e.source, positions: e.positions, path: e.path, originalError: e.originalError, extensions: { ...e.extensions, code: 'BAD_USER_INPUT' } });
  return {
    onValidate: () => ({ result, setResult }) => {
      if (result.length) setResult(result.map((e) => (e instanceof GraphQLError ? withCode(e) : e)));
    },
  };
}

export function toGraphQLError(error: AppError, from?: GraphQLError): GraphQLError {
  return new GraphQLError(error.message, {
    nodes: from?.nodes,
    // Errors of compiled queries have no AST nodes, only a source and positions (core/graphql-jit.ts).
    source: from?.source,
    positions: from?.positions,
    path: from?.path,
    originalError: error,
    extensions: { code: error.code, ...error.details, ...(error.code === 'UNAUTHENTICATED' ? { http: { status: 401 } } : {}) },
  });
}
