import type { IncomingMessage } from 'node:http';
import { z } from 'zod';
import type { Context } from '../context.js';
import type { ErrorCode } from '../core/errors.js';

/**
 * A REST route of the Letta shim, declared as data: its path, the zod schemas of its path parameters, query,
 * body and response, and a handler that calls the domain layer. The router validates requests against the
 * schemas, and the OpenAPI document and the docs page are generated from the same declarations.
 */

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

type AnyObject = z.ZodObject<z.ZodRawShape>;
type Out<S> = S extends z.ZodType ? z.output<S> : undefined;

export interface HandlerInput<P, Q, B> {
  params: Out<P>;
  query: Out<Q>;
  body: Out<B>;
  ctx: Context;
  /** The raw request, for routes that read their own body (`rawBody`) or look at headers. */
  request: IncomingMessage;
}

/** A response other than "200 with this JSON": another status, extra headers, or no body (204). */
export class Reply {
  constructor(
    readonly body: unknown,
    readonly status = 200,
    readonly headers: Record<string, string> = {},
  ) {}
}

export const noContent = () => new Reply(undefined, 204);

export interface RouteSpec<P extends AnyObject | undefined, Q extends AnyObject | undefined, B extends z.ZodType | undefined> {
  method: Method;
  /** Below /v1 (and /latest), with `{name}` placeholders, e.g. `/sources/{source_id}`. */
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  tags: string[];
  deprecated?: boolean;
  params?: P;
  query?: Q;
  body?: B;
  /** Largest accepted body in bytes (default DEFAULT_BODY_LIMIT). */
  bodyLimit?: number;
  /**
   * The handler reads the request body itself (multipart uploads): the router neither reads nor limits it,
   * and `body` only documents it, under `bodyMediaType`.
   */
  rawBody?: boolean;
  bodyMediaType?: string;
  /** The success status (200 unless Letta answers otherwise) and what the body is. */
  status?: number;
  response: z.ZodType;
  responseDescription?: string;
  /** Where Letta answers a domain error with another status than the default mapping (e.g. 400 for bad input). */
  errorStatus?: Partial<Record<ErrorCode, number>>;
  handler: (input: HandlerInput<P, Q, B>) => Promise<unknown>;
}

export interface Route extends Omit<RouteSpec<AnyObject | undefined, AnyObject | undefined, z.ZodType | undefined>, 'handler'> {
  handler: (input: HandlerInput<any, any, any>) => Promise<unknown>;
  /** Path split into literal segments and parameter names. */
  segments: ({ literal: string } | { param: string })[];
  /** Served without a key (publicRoute); its handler gets no context. */
  public?: true;
}

export const DEFAULT_BODY_LIMIT = 1024 * 1024;

function segmentsOf(spec: { path: string; operationId: string; params?: AnyObject }): Route['segments'] {
  const segments = spec.path
    .split('/')
    .filter(Boolean)
    .map((part): Route['segments'][number] => {
      const name = /^\{([a-z_]+)\}$/.exec(part)?.[1];
      return name ? { param: name } : { literal: part };
    });
  // A placeholder without a schema would reach the handler unvalidated; catch that when the table is built.
  const names = segments.flatMap((s) => ('param' in s ? [s.param] : []));
  const declared = Object.keys(spec.params?.shape ?? {});
  if (names.length !== declared.length || names.some((n) => !declared.includes(n))) {
    throw new Error(`${spec.operationId}: path placeholders (${names.join(', ')}) and params schema (${declared.join(', ')}) differ`);
  }
  return segments;
}

export function route<P extends AnyObject | undefined = undefined, Q extends AnyObject | undefined = undefined, B extends z.ZodType | undefined = undefined>(
  spec: RouteSpec<P, Q, B>,
): Route {
  return { ...(spec as unknown as Route), segments: segmentsOf(spec) };
}

/** A route anyone may call, without a key (Letta's health check): it reads no organization's data. */
export function publicRoute<Q extends AnyObject | undefined = undefined>(
  spec: Omit<RouteSpec<undefined, Q, undefined>, 'handler' | 'params' | 'body'> & { handler: (input: { query: Out<Q>; request: IncomingMessage }) => Promise<unknown> },
): Route {
  const { handler, ...rest } = spec;
  return { ...(rest as unknown as Route), segments: segmentsOf(spec), public: true, handler: ({ query, request }) => handler({ query, request }) };
}
