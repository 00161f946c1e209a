import { z } from 'zod';
import { docs } from './registry.js';
import type { Route } from './route.js';

/**
 * The OpenAPI 3.1 document of the shim, generated from the route table: zod schemas become JSON Schema
 * (draft 2020-12, which OpenAPI 3.1 uses), and named schemas become `components.schemas` entries.
 */

type Json = Record<string, unknown>;

const ERROR = { type: 'object', properties: { detail: { type: 'string' } }, required: ['detail'] };
const VALIDATION_ERROR = {
  type: 'object',
  description:
    'A request that fails validation gets FastAPI’s list of errors, as Letta’s server sends it (before 0.13), with `examples` of well-formed ids ' +
    'when a path id was malformed; a value the domain refuses (e.g. a name too long) gets a string.',
  properties: {
    detail: {
      anyOf: [{ type: 'string' }, {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          type: { type: 'string' },
          loc: { type: 'array', items: { anyOf: [{ type: 'string' }, { type: 'integer' }] } },
          msg: { type: 'string' },
          input: {},
          ctx: { type: 'object' },
        },
        required: ['type', 'loc', 'msg'],
      },
      }],
    },
    examples: { type: 'array', items: { type: 'string' } },
  },
  required: ['detail'],
};

function errorResponse(description: string, schema: string) {
  return { description, content: { 'application/json': { schema: { $ref: `#/components/schemas/${schema}` } } } };
}

class Converter {
  readonly schemas: Record<string, Json> = { HTTPError: ERROR, HTTPValidationError: VALIDATION_ERROR };

  convert(schema: z.ZodType, io: 'input' | 'output'): Json {
    const json = z.toJSONSchema(schema, { metadata: docs, io, unrepresentable: 'any', target: 'draft-2020-12' }) as Json;
    const { $schema: _s, $defs, ...rest } = json;
    for (const [id, def] of Object.entries(($defs ?? {}) as Record<string, Json>)) this.schemas[id] ??= this.rewrite(def);
    return this.rewrite(rest);
  }

  private rewrite(value: Json): Json {
    return JSON.parse(JSON.stringify(value).replaceAll('"#/$defs/', '"#/components/schemas/')) as Json;
  }
}

function parameters(converter: Converter, schema: z.ZodObject<z.ZodRawShape> | undefined, where: 'path' | 'query'): Json[] {
  if (!schema) return [];
  return Object.entries(schema.shape).map(([name, field]) => {
    const json = converter.convert(field as z.ZodType, 'output');
    const { description, deprecated, ...rest } = json;
    const required = where === 'path' || !(field as z.ZodType).safeParse(undefined).success;
    return {
      name,
      in: where,
      required,
      ...(description ? { description } : {}),
      ...(deprecated ? { deprecated: true } : {}),
      ...(rest.type === 'array' ? { style: 'form', explode: true } : {}),
      schema: rest,
    };
  });
}

export function buildOpenApi(routes: Route[]): Json {
  const converter = new Converter();
  const paths: Record<string, Record<string, Json>> = {};
  for (const r of routes) {
    const path = `/v1${r.path}`;
    const responses: Record<string, Json> = {};
    const success = r.status ?? 200;
    responses[String(success)] =
      success === 204
        ? { description: r.responseDescription ?? 'No content.' }
        : { description: r.responseDescription ?? 'Success.', content: { 'application/json': { schema: converter.convert(r.response, 'output') } } };
    if (!r.public) responses['401'] = { $ref: '#/components/responses/Unauthorized' };
    if (r.params) responses['404'] = { $ref: '#/components/responses/NotFound' };
    if (r.params || r.query || r.body) responses['422'] = { $ref: '#/components/responses/ValidationError' };
    // Routes reading their own body (uploads) limit it themselves.
    if (r.body) responses['413'] = { $ref: '#/components/responses/PayloadTooLarge' };
    if (r.bodyMediaType === 'multipart/form-data') responses['415'] = { $ref: '#/components/responses/UnsupportedMediaType' };
    // An upload queues a processing job: refused, storing nothing, while the job queue is unreachable.
    if (r.bodyMediaType === 'multipart/form-data') responses['503'] = { $ref: '#/components/responses/ServiceUnavailable' };
    responses.default = { $ref: '#/components/responses/Error' };

    const operation: Json = {
      operationId: r.operationId,
      summary: r.summary,
      ...(r.description ? { description: r.description } : {}),
      tags: r.tags,
      ...(r.deprecated ? { deprecated: true } : {}),
      ...(r.public ? { security: [] } : {}),
      parameters: [...parameters(converter, r.params, 'path'), ...parameters(converter, r.query, 'query')],
      ...(r.body
        ? {
            requestBody: {
              required: !r.body.safeParse(undefined).success,
              content: { [r.bodyMediaType ?? 'application/json']: { schema: converter.convert(r.body, 'input') } },
            },
          }
        : {}),
      responses,
    };
    (paths[path] ??= {})[r.method.toLowerCase()] = operation;
  }

  return {
    openapi: '3.1.0',
    info: {
      title: 'Quarry — Letta-compatible REST API',
      version: '0.1.0',
      description:
        'Letta’s REST dialect for sources (folders), files, passages, agents, tools, jobs, runs and batch messages, over Quarry’s domain. ' +
        'Every path is also served under `/latest` instead of `/v1`, with or without a trailing slash (no redirects). Authenticate with ' +
        '`Authorization: Bearer <key>` or `X-API-Key: <key>`; Letta’s `user_id`, `x-organization-id` and `x-project-id` headers are ignored. ' +
        'Errors are `{"detail": …}` with Letta’s status codes; ids in paths must be `<prefix>-<uuid4>` (else 422).',
    },
    servers: [{ url: '/' }],
    security: [{ bearerAuth: [] }, { apiKeyAuth: [] }],
    tags: [...new Set(routes.flatMap((r) => r.tags))].map((name) => ({ name })),
    paths,
    components: {
      schemas: converter.schemas,
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', description: 'A Quarry API key.' },
        apiKeyAuth: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
      },
      responses: {
        Unauthorized: errorResponse('No API key, or an unknown, revoked or expired one.', 'HTTPError'),
        NotFound: errorResponse('No such object in your organization (another organization’s ids are not found either).', 'HTTPError'),
        ValidationError: errorResponse('A malformed id, query parameter or body.', 'HTTPValidationError'),
        PayloadTooLarge: errorResponse('The body is larger than the route accepts.', 'HTTPError'),
        UnsupportedMediaType: errorResponse('An uploaded file of a type Quarry cannot read; the detail lists the supported types.', 'HTTPError'),
        ServiceUnavailable: errorResponse('The job queue is unreachable for now (Redis down): nothing was stored; try again.', 'HTTPError'),
        Error: errorResponse('Another error: 400/409 for a request the domain refuses, 403, 500.', 'HTTPError'),
      },
    },
  };
}
