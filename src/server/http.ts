import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Actor } from '../core/auth.js';
import { graphqlRefusalBody, type AuthGate, type GateOutcome } from '../core/auth-gate.js';
import type { Database } from '../core/db/index.js';
import { MultipartError, readGraphQLMultipart } from '../core/graphql-multipart.js';
import type { Logger } from '../core/logger.js';
import type { RedisConnections } from '../core/redis.js';
import { isRestPath } from '../rest/handler.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<void> | void;

export interface RouterParts {
  /** GraphQL (yoga) on /graphql. */
  graphql: Handler;
  /** The Letta REST shim (/v1, /latest, /openapi.json, /docs). */
  rest: Handler;
  /** Prometheus metrics on /metrics. */
  metrics: Handler;
  /** Answers a CORS preflight (true) or adds the headers of the policy (core/cors.ts). */
  cors: (req: IncomingMessage, res: ServerResponse) => boolean;
  gate: AuthGate;
  db: Database;
  redis?: RedisConnections | null;
  log: Logger;
  uploads: { maxBytes: number; maxFiles: number };
  jsonMaxDepth: number;
}

/** The HTTP routes: health, readiness, metrics, REST, GraphQL (multipart uploads streamed to disk first), else 404. */
export function httpRouter(parts: RouterParts): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const { graphql, rest, metrics, cors } = parts;
  const ready = readiness(parts);
  const multipart = multipartReader(parts);
  return async (req, res) => {
    const pathname = (req.url ?? '/').split('?')[0];
    if (cors(req, res)) return; // a preflight, answered
    if (pathname === '/healthz') return json(res, 200, { status: 'ok' });
    if (pathname === '/metrics') return metrics(req, res);
    if (pathname === '/readyz') return ready(res);
    if (isRestPath(pathname)) return rest(req, res);
    if (pathname === '/graphql') {
      if (req.method === 'POST' && req.headers['content-type']?.toLowerCase().startsWith('multipart/form-data')) {
        if (!(await multipart(req, res))) return;
      }
      return graphql(req, res);
    }
    return json(res, 404, { detail: 'Not Found' });
  };
}

/** Ready when the database answers and, with REDIS_URL, Redis does too (jobs and events go through it). */
function readiness({ db, redis, log }: RouterParts) {
  return async (res: ServerResponse) => {
    const [databaseUp, redisUp] = await Promise.all([
      db.ping().then(
        () => true,
        (error: unknown) => (log.warn({ err: error }, 'readiness check failed'), false),
      ),
      redis?.healthy() ?? true,
    ]);
    const ready = databaseUp && redisUp;
    return json(res, ready ? 200 : 503, { status: ready ? 'ok' : 'unavailable', database: db.kind, ...(redis ? { redis: redisUp ? 'ok' : 'unavailable' } : {}) });
  };
}

/** Largest `operations` or `map` field of a GraphQL multipart request (graphql-upload's default). */
const MULTIPART_FIELD_BYTES = 1_000_000;

/**
 * Uploads are streamed to disk before yoga sees the request: the key is checked first (yoga's gate reuses the
 * answer). False when the request was answered here (refused, or a bad body).
 */
function multipartReader({ gate, uploads, jsonMaxDepth }: RouterParts) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    const outcome = await gate.checkRequest(req, (name) => header(req, name), gate.addressOf(req));
    if (!('actor' in outcome)) return (refuse(res, outcome), false);
    try {
      // +1: a file of exactly MAX_UPLOAD_BYTES passes; one byte more fails in uploadFile with its own message.
      (req as IncomingMessage & { body?: unknown }).body = await readGraphQLMultipart(req, res, {
        maxFileBytes: uploads.maxBytes + 1,
        maxFiles: uploads.maxFiles,
        maxFieldBytes: MULTIPART_FIELD_BYTES,
        maxJsonDepth: jsonMaxDepth,
      });
      // What yoga now gets is the parsed operations, not the multipart body its 25 MB request limit counts.
      delete req.headers['content-length'];
      return true;
    } catch (error) {
      multipartError(res, error);
      return false;
    }
  };
}

export function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** A request the gate refused (401/429), answered before its body is read: the connection closes behind the answer. */
function refuse(res: ServerResponse, outcome: Exclude<GateOutcome, { actor: Actor }>) {
  res.writeHead(outcome.refusal.httpStatus, { 'content-type': 'application/json; charset=utf-8', connection: 'close', ...outcome.headers });
  res.end(JSON.stringify(graphqlRefusalBody(outcome.refusal)));
}

/** A multipart request that was refused, as a GraphQL error response. */
function multipartError(res: ServerResponse, error: unknown) {
  if (!(error instanceof MultipartError)) throw error;
  res.setHeader('connection', 'close'); // the rest of the body is not read
  // 499 (the client left) has no one to answer; 400 is as good a status as any for the log.
  return json(res, error.status === 413 ? 413 : 400, { errors: [{ message: error.message, extensions: { code: error.code } }] });
}

export function json(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
}
