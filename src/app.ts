import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { GraphQLError, type ExecutionArgs } from 'graphql';
import { createYoga, type Plugin, type YogaServerInstance } from 'graphql-yoga';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import type { Config } from './config.js';
import type { Context } from './context.js';
import { Authenticator, keyFromHeaders, type Actor } from './core/auth.js';
import type { Database } from './core/db/index.js';
import { PothosValidationError } from '@pothos/core';
import { AppError, badInput, fromPrismaError, unauthenticated } from './core/errors.js';
import type { Logger } from './core/logger.js';
import { ScopedClients } from './core/tenancy.js';
import { EmbeddingCatalog } from './domain/embedding-config.js';
import { schema } from './schema/index.js';

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
>;

export function buildApp(options: { config: AppConfig; db: Database; log: Logger }): App {
  const { config, db, log } = options;
  const embeddings = new EmbeddingCatalog(config);
  const scopedClients = new ScopedClients(db.prisma);
  const authenticator = new Authenticator(db.prisma, config.AUTH_CACHE_TTL_MS);
  const limits = { depth: config.GRAPHQL_MAX_DEPTH, complexity: config.GRAPHQL_MAX_COMPLEXITY, breadth: config.GRAPHQL_MAX_BREADTH };

  const contextFor = async (get: (name: string) => string | null | undefined): Promise<Context> => {
    const actor: Actor | null = await authenticator.authenticate(keyFromHeaders(get));
    if (!actor) throw toGraphQLError(unauthenticated());
    return { actor, db: scopedClients.for(actor.organizationId), log, limits, embeddings, authenticator };
  };

  const yoga = createYoga<{ req?: IncomingMessage }, Context>({
    schema,
    graphqlEndpoint: '/graphql',
    graphiql: config.GRAPHIQL ? { title: 'Quarry', headers: JSON.stringify({ Authorization: 'Bearer <your API key>' }) } : false,
    landingPage: false,
    logging: {
      debug: (...args) => log.debug({ args }, 'yoga'),
      info: (...args) => log.info({ args }, 'yoga'),
      warn: (...args) => log.warn({ args }, 'yoga'),
      error: (...args) => log.error({ args }, 'yoga'),
    },
    context: ({ request }) => contextFor((name) => request.headers.get(name)),
    plugins: [requestErrorsAreBadInput()],
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
        log.error({ err: original }, 'unexpected error');
        return new GraphQLError(message, {
          nodes: error instanceof GraphQLError ? error.nodes : undefined,
          path: error instanceof GraphQLError ? error.path : undefined,
          extensions: { code: 'INTERNAL' },
        });
      },
    },
  });

  const server = createServer((req, res) => route(req, res));
  const sockets = new Set<Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });

  async function route(req: IncomingMessage, res: ServerResponse) {
    const url = req.url ?? '/';
    const pathname = url.split('?')[0];
    if (pathname === '/healthz') return json(res, 200, { status: 'ok' });
    if (pathname === '/readyz') {
      try {
        await db.ping();
        return json(res, 200, { status: 'ok', database: db.kind });
      } catch (error) {
        log.warn({ err: error }, 'readiness check failed');
        return json(res, 503, { status: 'unavailable', database: db.kind });
      }
    }
    if (pathname === '/graphql') return yoga(req, res);
    return json(res, 404, { detail: 'Not Found' });
  }

  // graphql-ws on the same path, through yoga's envelop pipeline (auth, limits, error masking), as in
  // yoga's graphql-ws example. The key comes from connection_init's payload or the upgrade request's headers.
  const wss = new WebSocketServer({ server, path: yoga.graphqlEndpoint });
  type WsExtra = { request: IncomingMessage; context?: Context };
  useServer<Record<string, unknown> | undefined, WsExtra>(
    {
      execute: (args) => (args.rootValue as { execute: (a: ExecutionArgs) => unknown }).execute(args) as never,
      subscribe: (args) => (args.rootValue as { subscribe: (a: ExecutionArgs) => unknown }).subscribe(args) as never,
      onConnect: async (ctx) => {
        const payload = (ctx.connectionParams ?? {}) as Record<string, unknown>;
        const fromPayload = (name: string) => {
          const direct = payload[name] ?? payload[name.toLowerCase()] ?? (name === 'x-api-key' ? payload.apiKey : undefined);
          return typeof direct === 'string' ? direct : undefined;
        };
        const headers = ctx.extra.request.headers;
        try {
          ctx.extra.context = await contextFor((name) => fromPayload(name) ?? (headers[name] as string | undefined));
          return true;
        } catch {
          return false; // graphql-ws closes with 4403 Forbidden
        }
      },
      onSubscribe: async (ctx, _id, params) => {
        const { schema, execute, subscribe, parse, validate } = yoga.getEnveloped({
          ...ctx,
          req: ctx.extra.request,
          socket: ctx.extra.request.socket,
          params,
        });
        const args = {
          schema,
          operationName: params.operationName,
          document: parse(params.query),
          variableValues: params.variables,
          contextValue: ctx.extra.context!,
          rootValue: { execute, subscribe },
        };
        const errors = validate(args.schema, args.document);
        return errors.length ? errors : args;
      },
    },
    wss,
  );

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
        for (const client of wss.clients) client.close(1001, 'Server shutting down');
        wss.close();
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
    path: from?.path,
    originalError: error,
    extensions: { code: error.code, ...error.details, ...(error.code === 'UNAUTHENTICATED' ? { http: { status: 401 } } : {}) },
  });
}
