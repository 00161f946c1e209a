import { randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { errorCode } from './graphql-metrics.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import { requestScope, type RequestScope } from './request-scope.js';
import { inServerSpan } from './tracing.js';
import { SpanStatusCode } from '@opentelemetry/api';

/**
 * What every HTTP request gets on its way through the server: a request id (the client's `X-Request-Id` when it is
 * a sane one, else a new UUID) sent back on the response and carried by the request's scope (so every log line and
 * every job the request makes has it), one access-log line when it ends, and its duration in
 * quarry_http_request_duration_seconds by route template. And `/metrics`, on the main port behind METRICS_TOKEN
 * or on a port of its own (METRICS_PORT).
 */

export const REQUEST_ID_HEADER = 'x-request-id';
/** Accepted request ids: 1-128 characters that are safe in a header, a log line and a database column. */
const REQUEST_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

/** Paths served outside GraphQL and REST, reported under their own name; any other unmatched path is `other`. */
const FIXED_ROUTES = new Set(['/graphql', '/healthz', '/readyz', '/metrics', '/openapi.json', '/docs', '/docs/']);
/** Probes and scrapes: logged at debug, not info, so they do not bury the requests people make. */
const QUIET_ROUTES = new Set(['/healthz', '/readyz', '/metrics']);
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

const requestIds = new WeakMap<IncomingMessage, string>();

/** The request's id: the one it was sent with if acceptable, else a new one (the same answer every time it is asked). */
export function requestIdOf(req: IncomingMessage): string {
  let id = requestIds.get(req);
  if (!id) {
    const given = req.headers[REQUEST_ID_HEADER];
    const value = Array.isArray(given) ? given[0] : given;
    id = value && REQUEST_ID.test(value) ? value : randomUUID();
    requestIds.set(req, id);
  }
  return id;
}

export interface ObservedServer {
  /** Runs `serve` for the request in its own scope, with its id, access log line and metrics. */
  handle(req: IncomingMessage, res: ServerResponse, serve: () => Promise<void>): Promise<void>;
  /** Runs a WebSocket hook in a scope carrying the id of the connection's upgrade request. */
  inSocketScope<T>(request: IncomingMessage, fn: () => Promise<T>): Promise<T>;
}

export function observeHttp(log: Logger, metrics: Metrics): ObservedServer {
  return {
    handle(req, res, serve) {
      const started = performance.now();
      const requestId = requestIdOf(req);
      res.setHeader(REQUEST_ID_HEADER, requestId);
      const scope: RequestScope = { kind: 'http', method: req.method, url: req.url?.slice(0, 200), requestId };
      // The request's trace span (a no-op without tracing), named by its route template once served.
      return inServerSpan(req.headers, `${req.method} request`, (span) => {
        res.once('close', () => {
          const { route, status } = finished(scope, req, res, performance.now() - started);
          span.updateName(`${req.method} ${route}`);
          span.setAttributes({ 'http.request.method': req.method ?? 'OTHER', 'http.route': route, 'http.response.status_code': status, 'quarry.request_id': requestId });
          if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
          span.end();
        });
        return requestScope.run(scope, serve);
      });
    },
    inSocketScope(request, fn) {
      return requestScope.run({ kind: 'ws', url: request.url?.slice(0, 200), requestId: requestIdOf(request), route: '/graphql' }, fn);
    },
  };

  function finished(scope: RequestScope, req: IncomingMessage, res: ServerResponse, ms: number) {
    const path = (req.url ?? '/').split('?')[0];
    const route = scope.route ?? (FIXED_ROUTES.has(path) ? path : 'other');
    const method = METHODS.has(req.method ?? '') ? req.method! : 'OTHER';
    // A response cut before it was sent (the client left, a timeout) is reported as nginx does: 499.
    const status = res.writableFinished ? res.statusCode : 499;
    metrics.httpDuration.observe({ method, route, status: String(status) }, ms / 1000);
    const level = status >= 500 ? 'error' : status === 429 ? 'warn' : QUIET_ROUTES.has(route) ? 'debug' : 'info';
    log[level](
      { requestId: scope.requestId, method, route, path: path.slice(0, 200), status, durationMs: Math.round(ms * 10) / 10, organizationId: scope.organizationId },
      'request',
    );
    return { route, status };
  }
}

/** Records the authenticated caller's organization on the request being served (for its access log line). */
export function noteOrganization(organizationId: string): void {
  const scope = requestScope.getStore();
  if (scope) scope.organizationId = organizationId;
}

/** Records the route template that serves the request (REST routes: their path template). */
export function noteRoute(route: string): void {
  const scope = requestScope.getStore();
  if (scope) scope.route = route;
}

/**
 * `GET /metrics` on the main port: served only when METRICS_TOKEN is set, to a scraper sending it as a bearer token
 * (Prometheus's `authorization: { credentials: … }`); without a token configured the path does not exist here.
 */
export function metricsEndpoint(metrics: Metrics, token: string | undefined) {
  const expected = token ? Buffer.from(`Bearer ${token}`) : null;
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (!expected) return plain(res, 404, 'Not Found');
    const given = Buffer.from(req.headers.authorization ?? '');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      res.setHeader('www-authenticate', 'Bearer');
      return plain(res, 401, 'A valid metrics token is required (Authorization: Bearer <METRICS_TOKEN>)');
    }
    return exposition(metrics, req, res);
  };
}

/** A server of its own for `/metrics` (METRICS_PORT), for a scraper on a private network: no token asked. */
export async function serveMetrics(metrics: Metrics, port: number, host: string, log: Logger): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') return plain(res, 404, 'Not Found');
    exposition(metrics, req, res).catch((error: unknown) => {
      log.error({ err: error }, 'collecting metrics failed');
      if (!res.headersSent) plain(res, 500, 'Collecting metrics failed');
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  const actual = typeof address === 'object' && address ? address.port : port;
  log.info({ url: `http://${host.includes(':') ? `[${host}]` : host}:${actual}/metrics` }, 'metrics listening');
  return {
    server,
    port: actual,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

async function exposition(metrics: Metrics, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    return plain(res, 405, 'Method Not Allowed');
  }
  const { body, contentType } = await metrics.exposition();
  res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' });
  res.end(req.method === 'HEAD' ? undefined : body);
}

function plain(res: ServerResponse, status: number, text: string) {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
  res.end(text);
}

/**
 * Yoga's log calls. The errors it reports at `error` are the ones maskError replaced: a client's mistake (bad input,
 * a missing key, an unknown id) is logged at debug (the request's access line already says how it ended), a
 * dependency being away at warn, and only an unexpected failure at error, with its stack.
 */
export function yogaLogger(log: Logger) {
  return {
    debug: (...args: unknown[]) => log.debug({ args }, 'yoga'),
    info: (...args: unknown[]) => log.info({ args }, 'yoga'),
    warn: (...args: unknown[]) => log.warn({ args }, 'yoga'),
    error: (...args: unknown[]) => {
      for (const error of args) {
        const code = errorCode(error);
        if (code === 'INTERNAL') log.error({ err: error }, 'unexpected error in a GraphQL operation');
        else if (code === 'SERVICE_UNAVAILABLE') log.warn({ err: error, code }, 'GraphQL operation failed: a dependency is unavailable');
        else log.debug({ err: error, code }, 'GraphQL client error');
      }
    },
  };
}
