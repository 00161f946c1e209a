import type { IncomingMessage, Server } from 'node:http';
import { GraphQLError, getOperationAST, type ExecutionArgs } from 'graphql';
import type { Context as WsContext, SubscribePayload } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import type { YogaServerInstance } from 'graphql-yoga';
import { WebSocketServer, type WebSocket } from 'ws';
import { keyFromHeaders, type Authenticator } from '../core/auth.js';
import { authenticateSocket, type AuthGate } from '../core/auth-gate.js';
import { paramsTooDeep } from '../core/graphql-json.js';
import { JsonDepthError } from '../core/json.js';
import type { Logger } from '../core/logger.js';
import type { Metrics } from '../core/metrics.js';
import { REQUEST_ID_HEADER, requestIdOf } from '../core/observability.js';
import { OpenSockets, revokedKeyError } from '../core/revocation.js';
import type { SubscriptionRegistry } from '../core/subscription-limits.js';
import type { Context } from '../context.js';
import type { ContextFor } from './context-factory.js';
import { toGraphQLError } from './graphql-errors.js';
import { header } from './http.js';

type WsExtra = { socket: WebSocket; request: IncomingMessage; context?: Context; key?: string };
type SocketContext = WsContext<Record<string, unknown> | undefined, WsExtra>;

export interface WebSocketParts {
  server: Server;
  yoga: YogaServerInstance<{ req?: IncomingMessage }, Context>;
  gate: AuthGate;
  authenticator: Authenticator;
  registry: SubscriptionRegistry;
  contextFor: ContextFor;
  log: Logger;
  metrics: Metrics;
  /** Runs a graphql-ws hook in a request scope of its own (see core/request-scope). */
  inScope: <T>(request: IncomingMessage, fn: () => Promise<T>) => Promise<T>;
  config: { WS_CONNECTION_INIT_TIMEOUT_MS: number; WS_KEEPALIVE_MS: number; JSON_MAX_DEPTH: number };
}

export interface GraphQLWebSockets {
  wss: WebSocketServer;
  /** Open connections, for revocation (core/revocation.ts). */
  openSockets: OpenSockets;
  /** Resolves once every operation under way has sent its `complete` (at once when none is). */
  drained(): Promise<void>;
}

/**
 * graphql-ws on the GraphQL path, through yoga's envelop pipeline (auth, limits, error masking), as in yoga's
 * graphql-ws example. The key comes from connection_init's payload or the upgrade request's headers.
 */
export function serveWebSockets(parts: WebSocketParts): GraphQLWebSockets {
  const { server, yoga, log, metrics, inScope, config } = parts;
  const wss = new WebSocketServer({ server, path: yoga.graphqlEndpoint });
  // Revocation reaches open connections: subscriptions (SSE and WebSocket) end, sockets close with 4403.
  const openSockets = new OpenSockets();
  const operations = new Operations();
  const subscribe = operationStarter(parts, openSockets);
  useServer<Record<string, unknown> | undefined, WsExtra>(
    {
      connectionInitWaitTimeout: config.WS_CONNECTION_INIT_TIMEOUT_MS,
      execute: (args) => (args.rootValue as { execute: (a: ExecutionArgs) => unknown }).execute(args) as never,
      subscribe: (args) => (args.rootValue as { subscribe: (a: ExecutionArgs) => unknown }).subscribe(args) as never,
      onConnect: (ctx) =>
        inScope(ctx.extra.request, () => connect(parts, openSockets, ctx)).catch((error: unknown) => {
          log.error({ err: error }, 'unexpected error in a WebSocket connection_init');
          return false;
        }),
      onSubscribe: (ctx, id, params) =>
        inScope(ctx.extra.request, async () => {
          const started = await subscribe(ctx, params);
          if (!Array.isArray(started)) operations.add(ctx, id);
          return started;
        }).catch((error: unknown) => {
          // Thrown, it would close the whole socket (4500): the operation fails alone, as a request would.
          log.error({ err: error }, 'unexpected error in a WebSocket subscribe');
          return [new GraphQLError('Unexpected error.', { extensions: { code: 'INTERNAL' } })];
        }),
      onComplete: (ctx, id) => guard(log, () => operations.done(ctx, id)),
      onClose: (ctx) =>
        guard(log, () => {
          openSockets.remove(ctx);
          operations.done(ctx);
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
  return { wss, openSockets, drained: () => operations.drained() };
}

/** connection_init: authenticates the socket and gives it its context; false closes it with 4403. */
async function connect({ gate, registry, contextFor, log }: WebSocketParts, openSockets: OpenSockets, ctx: SocketContext): Promise<boolean> {
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
}

/** A `subscribe` message: the execution arguments of the operation, or the errors that refuse it. */
function operationStarter({ yoga, authenticator, config }: WebSocketParts, openSockets: OpenSockets) {
  return async (ctx: SocketContext, params: SubscribePayload): Promise<ExecutionArgs | readonly GraphQLError[]> => {
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
    const args = { schema, operationName: params.operationName, document, variableValues: params.variables, contextValue, rootValue: { execute, subscribe } };
    const errors = validate(args.schema, args.document);
    if (errors.length) return errors;
    if (!getOperationAST(document, params.operationName)) {
      return [new GraphQLError('Unable to identify the operation to run (give operationName)', { extensions: { code: 'BAD_USER_INPUT' } })];
    }
    return args;
  };
}

/** Operations under way on each socket, so shutdown can wait for their `complete` messages to go out. */
class Operations {
  private readonly bySocket = new Map<object, Set<string>>();
  private onDrained: (() => void) | null = null;

  add(socket: object, id: string) {
    let ids = this.bySocket.get(socket);
    if (!ids) this.bySocket.set(socket, (ids = new Set()));
    ids.add(id);
  }

  /** One operation ended, or (no id) every operation of a closed socket. */
  done(socket: object, id?: string) {
    const ids = this.bySocket.get(socket);
    if (id === undefined) ids?.clear();
    else ids?.delete(id);
    if (ids?.size === 0) this.bySocket.delete(socket);
    if (this.bySocket.size === 0) this.onDrained?.();
  }

  drained(): Promise<void> {
    return this.bySocket.size ? new Promise<void>((resolve) => (this.onDrained = resolve)) : Promise.resolve();
  }
}

function guard(log: Logger, fn: () => void) {
  try {
    fn();
  } catch (error) {
    log.error({ err: error }, 'unexpected error in a WebSocket handler');
  }
}
