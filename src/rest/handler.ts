import type { IncomingMessage, ServerResponse } from 'node:http';
import type { z } from 'zod';
import type { Context } from '../context.js';
import { atLeast } from '../core/auth.js';
import { AppError, ERROR_CODES, fromPrismaError } from '../core/errors.js';
import { excerpt, parseJson } from '../core/json.js';
import type { Logger } from '../core/logger.js';
import { noteRoute } from '../core/observability.js';
import { renderDocsPage } from './docs.js';
import { buildOpenApi } from './openapi.js';
import { DEFAULT_BODY_LIMIT, Reply, type Route } from './route.js';
import { exampleId, queryObject, RequestValidationError, toValidationIssues, type Location, type ValidationIssue } from './validation.js';

/**
 * The Letta REST shim's HTTP entry point: matches `/v1/…` and `/latest/…` (with or without a trailing slash,
 * never redirecting), authenticates, validates path, query and body against the route's schemas, runs the
 * handler and writes Letta's JSON: `{"detail": …}` errors with Letta's status codes. Also serves
 * `/openapi.json` and `/docs`, generated from the same route table.
 */

export const API_PREFIXES = ['/v1', '/latest'] as const;

export interface RestOptions {
  routes: Route[];
  log: Logger;
  /**
   * The request's context, or why it is refused (a missing, unknown, revoked or expired key: 401; too many
   * failed attempts: 429), decided from the headers alone.
   */
  authenticate(req: IncomingMessage): Promise<{ ctx: Context } | { refusal: AppError; headers: Record<string, string> }>;
  /** Deepest nesting accepted in a JSON body (JSON_MAX_DEPTH). */
  jsonMaxDepth: number;
}

export function isRestPath(pathname: string): boolean {
  return (
    pathname === '/openapi.json' ||
    pathname === '/docs' ||
    pathname === '/docs/' ||
    API_PREFIXES.some((prefix) => pathname === prefix || pathname.startsWith(`${prefix}/`))
  );
}

/** Thrown inside the pipeline to answer at once with a status and a `detail`. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
    readonly headers: Record<string, string> = {},
  ) {
    super(typeof body.detail === 'string' ? body.detail : `HTTP ${status}`);
  }
}

function validationError(issues: ValidationIssue[]): HttpError {
  // The client's input is echoed as FastAPI does, but only an excerpt: a huge or deeply nested value stays out of the body.
  const body: Record<string, unknown> = {
    detail: issues.slice(0, MAX_ISSUES).map((issue) => ({ ...issue, input: excerpt(issue.input), ...(issue.ctx ? { ctx: excerpt(issue.ctx) } : {}) })),
  };
  // Letta 0.13+ adds examples of well-formed ids when a path id failed its pattern.
  const examples = issues.flatMap((issue) => {
    const prefix = issue.loc[0] === 'path' && issue.type === 'string_pattern_mismatch' ? /'([a-z_]+)-\{uuid4\}'/.exec(issue.msg)?.[1] : undefined;
    return prefix ? [exampleId(prefix)] : [];
  });
  if (examples.length) body.examples = examples;
  return new HttpError(422, body);
}

function parse<S extends z.ZodType>(schema: S | undefined, value: unknown, where: Location): z.output<S> | undefined {
  if (!schema) return undefined;
  const result = schema.safeParse(value);
  if (!result.success) throw validationError(toValidationIssues(result.error, where, value));
  return result.data;
}

/** Issues listed in one 422 body (a body with 100,000 wrong items gets the first ones). */
const MAX_ISSUES = 20;

/** How much of a refused body is read (and thrown away) so the 413 reaches the client before the connection closes. */
const DRAIN_MAX = 8 * 1024 * 1024;

/**
 * Reads and discards the rest of a refused body, then lets the connection close (the response says
 * `connection: close`): closing at once with unread bytes makes TCP reset the connection, and the client may
 * lose the 413. Past DRAIN_MAX bytes or a few seconds the socket is cut anyway.
 */
function discard(req: IncomingMessage) {
  let drained = 0;
  const timer = setTimeout(() => req.socket.destroy(), 5000).unref();
  req.on('data', (chunk: Buffer) => {
    drained += chunk.length;
    if (drained > DRAIN_MAX) req.socket.destroy();
  });
  req.on('end', () => clearTimeout(timer));
  req.on('close', () => clearTimeout(timer));
  req.resume();
}

/**
 * A route reading its own body (`rawBody`) that answers before all of it arrived (too large, refused before
 * reading, or stopped by an error after the file): the rest is dropped with the connection, as for a body the
 * router refuses. Returns the header that says so.
 */
function dropUnread(req: IncomingMessage, route: Route | undefined): Record<string, string> {
  if (!route?.rawBody || req.complete) return {};
  req.unpipe();
  discard(req);
  return { connection: 'close' };
}

const tooLarge = (limit: number) => new HttpError(413, { detail: `Request body is larger than the limit of ${limit} bytes` }, { connection: 'close' });

/** The body, up to `limit` bytes: one that grows past the limit (sent without a Content-Length) is refused at once. */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) return void chunks.push(chunk);
      req.off('data', onData).off('end', onEnd).off('error', onError);
      discard(req);
      reject(tooLarge(limit));
    };
    const onEnd = () => resolve(Buffer.concat(chunks));
    const onError = (error: Error) => reject(error);
    req.on('data', onData).on('end', onEnd).on('error', onError);
  });
}

/**
 * A JSON body as FastAPI reads one: with no Content-Type, or `application/json` or `application/…+json`, the bytes
 * are parsed (nested at most `maxDepth` deep); under any other type they are not JSON, and a route expecting an
 * object answers 422 as FastAPI does.
 */
function parseJsonBody(raw: Buffer, req: IncomingMessage, maxDepth: number): unknown {
  if (raw.length === 0) return undefined;
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (type.startsWith('multipart/')) {
    throw validationError([{ type: 'model_attributes_type', loc: ['body'], msg: 'Input should be a JSON object, not a multipart form', input: null }]);
  }
  if (type && !isJsonType(type)) {
    throw validationError([
      {
        type: 'model_attributes_type',
        loc: ['body'],
        msg: `Input should be a valid dictionary or object to extract fields from (send JSON with Content-Type: application/json, not ${type})`,
        input: raw.toString('utf8', 0, 256),
      },
    ]);
  }
  try {
    return parseJson(raw.toString('utf8'), maxDepth);
  } catch (error) {
    throw validationError([{ type: 'json_invalid', loc: ['body', 0], msg: 'JSON decode error', input: {}, ctx: { error: (error as Error).message } }]);
  }
}

const isJsonType = (type: string) => type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json'));

/** WHATWG URL parsing resolves `.` and `..` segments (also written `%2e`): such a path names no route of ours. */
const DOT_SEGMENTS = new Set(['.', '..', '%2e', '.%2e', '%2e.', '%2e%2e']);
const hasDotSegment = (rawPath: string) => rawPath.split(/[/\\]/).some((segment) => DOT_SEGMENTS.has(segment.toLowerCase()));

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new HttpError(400, { detail: `Malformed percent-encoding in path segment "${segment}"` });
  }
}

function match(route: Route, parts: string[]): Record<string, string> | null {
  if (route.segments.length !== parts.length) return null;
  const params: Record<string, string> = {};
  for (const [i, segment] of route.segments.entries()) {
    if ('literal' in segment) {
      if (segment.literal !== parts[i]) return null;
    } else {
      params[segment.param] = parts[i];
    }
  }
  return params;
}

/** Whether the path's values fit the route's parameters (ids of the right kind), whatever the method. */
function namesResource(route: Route, raw: Record<string, string>): boolean {
  if (!route.params) return true;
  try {
    return route.params.safeParse(Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, decodeSegment(v)]))).success;
  } catch {
    return false;
  }
}

/** Domain errors as Letta status codes; anything unknown is a 500 whose cause is logged, never sent. */
function errorReply(error: unknown, route: Route | undefined, log: Logger): { status: number; body: unknown; headers: Record<string, string> } {
  if (error instanceof HttpError) return { status: error.status, body: error.body, headers: error.headers };
  if (error instanceof RequestValidationError) {
    const { status, body, headers } = validationError(error.issues);
    return { status, body, headers };
  }
  const known = error instanceof AppError ? error : fromPrismaError(error);
  if (known) {
    const status = route?.errorStatus?.[known.code] ?? ERROR_CODES[known.code];
    // Letta's 1.x client retries every 409 (Letta's lock timeouts); Quarry's conflicts (a name in use, a finished
    // run) do not resolve by retrying, so it is told not to.
    const headers: Record<string, string> = known.code === 'UNAUTHENTICATED' ? { 'www-authenticate': 'Bearer' } : known.code === 'CONFLICT' ? { 'x-should-retry': 'false' } : {};
    return { status, body: { detail: known.message }, headers };
  }
  log.error({ err: error, operation: route?.operationId }, 'unexpected error in REST handler');
  return { status: 500, body: { detail: 'An unknown error occurred' }, headers: {} };
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  if (status === 204) {
    res.writeHead(status, headers);
    res.end();
    return;
  }
  // Letta answers deletes with a literal `null` body: undefined becomes null too.
  let text: string;
  try {
    text = JSON.stringify(body === undefined ? null : body);
  } catch {
    // A body that cannot be serialised (a bug upstream) must not take the request, or the process, down with it.
    status = 500;
    text = JSON.stringify({ detail: 'An unknown error occurred' });
  }
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), ...headers });
  res.end(text);
}

export function createRestHandler(options: RestOptions) {
  const { routes, log } = options;
  let openapi: string | undefined;
  let docs: string | undefined;

  return async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://quarry');
    const pathname = url.pathname;
    if (pathname === '/openapi.json' && (req.method === 'GET' || req.method === 'HEAD')) {
      openapi ??= JSON.stringify(buildOpenApi(routes));
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-cache' });
      res.end(req.method === 'HEAD' ? undefined : openapi);
      return;
    }
    if ((pathname === '/docs' || pathname === '/docs/') && (req.method === 'GET' || req.method === 'HEAD')) {
      docs ??= renderDocsPage(buildOpenApi(routes));
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache' });
      res.end(req.method === 'HEAD' ? undefined : docs);
      return;
    }

    let current: Route | undefined;
    try {
      if (hasDotSegment((req.url ?? '/').split('?')[0])) throw new HttpError(404, { detail: 'Not Found' });
      const prefix = API_PREFIXES.find((p) => pathname === p || pathname.startsWith(`${p}/`));
      // Letta declares collections with a trailing slash and redirects the other form; both are served here.
      const rest = prefix ? pathname.slice(prefix.length).replace(/\/$/, '') : '';
      const parts = rest.split('/').filter((p, i) => i > 0 || p !== '');
      if (parts.some((p) => p === '')) throw new HttpError(404, { detail: 'Not Found' });

      let found: { route: Route; raw: Record<string, string> } | undefined;
      const allowed = new Set<string>();
      for (const candidate of routes) {
        const raw = match(candidate, parts);
        if (!raw) continue;
        if (candidate.method === req.method) {
          found = { route: candidate, raw };
          break;
        }
        // Only a path that names the resource the way this route does makes a 405: `POST /v1/tools/search` is not
        // a wrong method on `/tools/{tool_id}` ("search" is no tool id) but a path Quarry does not serve.
        if (namesResource(candidate, raw)) allowed.add(candidate.method);
      }
      if (!found) {
        if (allowed.size) throw new HttpError(405, { detail: 'Method Not Allowed' }, { allow: [...allowed].join(', ') });
        throw new HttpError(404, { detail: 'Not Found' });
      }
      // The access log and the HTTP metrics name the route by its template, never by the ids in the path.
      noteRoute(`${prefix}${found.route.path}`);
      // Authentication comes before the body and validation: an anonymous caller learns nothing about ids or
      // bodies, and its body is never read (the connection closes behind the answer; `current` is not set yet, so
      // nothing drains it).
      // A public route (the health check) is served to anyone and its handler gets no context.
      const auth = found.route.public ? { ctx: null } : await options.authenticate(req);
      if ('refusal' in auth) {
        throw new HttpError(auth.refusal.httpStatus, { detail: auth.refusal.message }, { ...auth.headers, ...(req.complete ? {} : { connection: 'close' }) });
      }
      const { ctx } = auth;
      // A read-only key reads: every route that changes something is refused, before its body is read.
      if (ctx && found.route.method !== 'GET' && !atLeast(ctx.actor.role, 'MEMBER')) {
        throw new HttpError(403, { detail: `This API key is read-only (role ${ctx.actor.role}): ${found.route.method} is not allowed` }, req.complete ? {} : { connection: 'close' });
      }
      current = found.route;

      const limit = current.bodyLimit ?? DEFAULT_BODY_LIMIT;
      // A body declared too large is refused before it is read.
      if (!current.rawBody && Number(req.headers['content-length']) > limit) {
        discard(req);
        throw tooLarge(limit);
      }

      const rawParams = Object.fromEntries(Object.entries(found.raw).map(([k, v]) => [k, decodeSegment(v)]));
      const params = parse(current.params, rawParams, 'path');
      const query = parse(current.query, queryObject(url.searchParams, current.query), 'query');
      let body: unknown;
      if (!current.rawBody) {
        const raw = await readBody(req, limit);
        if (current.body) body = parse(current.body, parseJsonBody(raw, req, options.jsonMaxDepth), 'body');
      }

      const result = await current.handler({ params, query, body, ctx: ctx as Context, request: req });
      if (result instanceof Reply) send(res, result.status, result.body, { ...result.headers, ...dropUnread(req, current) });
      else send(res, current.status ?? 200, result, dropUnread(req, current));
    } catch (error) {
      const { status, body, headers } = errorReply(error, current, log);
      if (!res.headersSent) send(res, status, body, { ...headers, ...dropUnread(req, current) });
      else res.destroy();
    }
  };
}
