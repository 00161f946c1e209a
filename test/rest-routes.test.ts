import SwaggerParser from '@apidevtools/swagger-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { docs } from '../src/rest/registry.js';
import { DEFAULT_BODY_LIMIT, type Route } from '../src/rest/route.js';
import { lettaRoutes } from '../src/rest/routes/index.js';
import { exampleId } from '../src/rest/validation.js';
import { createTestApp, type TestApp } from './support/app.js';
import { databaseKinds } from './support/db.js';
import { buildWorld, jsonClient, multipartBody, PYTHON_TOOL, rawRequest, type HttpResult, type World } from './support/rest.js';

/**
 * Every route of the Letta shim, driven from the route table itself: each needs a fixture here (a valid request
 * against a populated organization), and then gets
 * - a tenancy test: another organization sends the same request and gets a 404 (ids of the first one) or an
 *   answer holding none of the first organization's ids; the owner then gets the documented success, whose body
 *   matches the route's response schema (the one the OpenAPI document shows);
 * - malformed-input tests generated from its schemas: bad and wrong-prefix path ids, bad JSON, wrong types,
 *   unknown enum values and unknown fields in bodies, query values that do not parse, an oversized body;
 * - a 401 without a key.
 */

const routes = lettaRoutes();

interface Request {
  params?: Record<string, string>;
  query?: Record<string, string | string[]>;
  /** A JSON body. */
  body?: unknown;
  /** Any other body (a multipart upload for a `rawBody` route). */
  raw?: { body: string | Buffer; contentType: string };
}

interface Fixture {
  request: (w: World) => Request;
  /** What another organization gets: 404, or a success that shows none of the owner's ids. */
  tenancy: 'notFound' | 'isolated';
  /** Checks on the owner's success body. */
  check?: (body: any, w: World) => void;
}

const SHOUT_TOOL = `def shout(text: str) -> str:
    """Repeat text loudly.

    Args:
        text: What to shout.
    """
    return text.upper()
`;

const sourceFixtures = (kind: 'sources' | 'folders'): Record<string, Fixture> => {
  const noun = kind === 'sources' ? 'source' : 'folder';
  const id = `${noun}_id`;
  return {
    [`count_${kind}`]: { tenancy: 'isolated', request: () => ({}), check: (body) => expect(body).toBe(2) },
    [`get_${kind}_metadata`]: {
      tenancy: 'isolated',
      request: () => ({ query: { include_detailed_per_source_metadata: 'true' } }),
      check: (body) => expect(body).toMatchObject({ total_sources: 2, total_files: 2, sources: [{ source_name: 'kb', file_count: 2 }, { source_name: 'spare', file_count: 0 }] }),
    },
    [`get_${noun}_id_by_name`]: { tenancy: 'notFound', request: () => ({ params: { [`${noun}_name`]: 'kb' } }), check: (body, w) => expect(body).toBe(w.source.id) },
    [`list_${kind}`]: {
      tenancy: 'isolated',
      request: () => ({ query: { limit: '10', name: 'K' } }),
      check: (body, w) => expect(body.map((s: any) => s.id)).toEqual([w.source.id]),
    },
    [`create_${noun}`]: {
      tenancy: 'isolated',
      request: () => ({ body: { name: 'fresh', embedding: 'local/lexical-384', embedding_chunk_size: 256, metadata: { team: 'docs' } } }),
      check: (body) => expect(body).toMatchObject({ name: 'fresh', metadata: { team: 'docs' }, embedding_config: { embedding_chunk_size: 256, embedding_dim: 384 } }),
    },
    [`retrieve_${noun}`]: { tenancy: 'notFound', request: (w) => ({ params: { [id]: w.source.id } }), check: (body) => expect(body.name).toBe('kb') },
    [`modify_${noun}`]: {
      tenancy: 'notFound',
      request: (w) => ({ params: { [id]: w.source.id }, body: { description: 'changed', name: null } }),
      check: (body) => expect(body).toMatchObject({ name: 'kb', description: 'changed' }),
    },
    [`delete_${noun}`]: { tenancy: 'notFound', request: (w) => ({ params: { [id]: w.source.id } }), check: (body) => expect(body).toBeNull() },
    [`get_agents_for_${noun}`]: { tenancy: 'notFound', request: (w) => ({ params: { [id]: w.source.id } }), check: (body, w) => expect(body).toEqual([w.agentId]) },
    [`list_${noun}_passages`]: {
      tenancy: 'notFound',
      request: (w) => ({ params: { [id]: w.source.id }, query: { order: 'asc' } }),
      check: (body, w) => expect(body.map((p: any) => p.id)).toEqual(w.passages.map((p) => p.id)),
    },
    [`list_${noun}_files`]: {
      tenancy: 'notFound',
      request: (w) => ({ params: { [id]: w.source.id }, query: { include_content: 'true', order: 'asc' } }),
      check: (body) => expect(body.map((f: any) => [f.file_name, f.content?.slice(0, 5)])).toEqual([['notes.txt', 'First'], ['guide.md', '# Gui']]),
    },
    [`get_${noun}_file`]: {
      tenancy: 'notFound',
      request: (w) => ({ params: { [id]: w.source.id, file_id: w.files[0].id } }),
      check: (body) => expect(body).toMatchObject({ file_name: 'notes.txt', processing_status: 'completed', content: null }),
    },
    [`upload_file_to_${noun}`]: {
      tenancy: 'notFound',
      request: (w) => ({
        params: { [id]: w.source.id },
        query: { duplicate_handling: 'error' },
        raw: multipartBody([{ name: 'file', filename: 'upload.txt', type: 'text/plain', content: 'Uploaded words.' }]),
      }),
      check: (body, w) => expect(body).toMatchObject({ source_id: w.source.id, file_name: 'kb/upload.txt', original_file_name: 'upload.txt', file_size: 15, processing_status: 'pending' }),
    },
    [`upload_${noun}_file`]: {
      tenancy: 'notFound',
      request: (w) => ({ params: { [id]: w.source.id }, raw: multipartBody([{ name: 'file', filename: 'notes.txt', type: 'application/octet-stream', content: 'Again.' }]) }),
      // The world already has notes.txt: the default handling numbers the new one.
      check: (body) => expect(body).toMatchObject({ file_name: 'kb/notes_(1).txt', original_file_name: 'notes.txt', file_type: 'text/plain' }),
    },
    [`delete_file_from_${noun}`]: { tenancy: 'notFound', request: (w) => ({ params: { [id]: w.source.id, file_id: w.files[0].id } }) },
    [`delete_${noun}_file`]: { tenancy: 'notFound', request: (w) => ({ params: { [id]: w.source.id, file_id: w.files[1].id } }) },
  };
};

const FIXTURES: Record<string, Fixture> = {
  ...sourceFixtures('sources'),
  ...sourceFixtures('folders'),
  bulk_upsert_sources: {
    tenancy: 'isolated',
    request: () => ({ body: { sources: [{ name: 'kb', description: 'bulk' }, { name: 'added' }] } }),
    check: (body, w) => {
      expect(body.map((s: any) => [s.name, s.description])).toEqual([['kb', 'bulk'], ['added', null]]);
      expect(body[0].id).toBe(w.source.id);
    },
  },
  attach_source_legacy: {
    tenancy: 'notFound',
    request: (w) => ({ params: { source_id: w.other.id }, query: { agent_id: w.agentId } }),
    check: (body, w) => expect(body.id).toBe(w.other.id),
  },
  detach_source_legacy: { tenancy: 'notFound', request: (w) => ({ params: { source_id: w.source.id }, query: { agent_id: w.agentId } }) },
  list_agents: { tenancy: 'isolated', request: () => ({ query: { tags: [] as string[] } }), check: (body, w) => expect(body.map((a: any) => a.id)).toEqual([w.agentId]) },
  create_agent: {
    tenancy: 'notFound',
    request: (w) => ({ body: { name: 'second', source_ids: [w.source.id], memory_blocks: [{ label: 'persona', value: 'kind' }], include_base_tools: false } }),
    check: (body, w) => {
      expect(body.sources.map((s: any) => s.id)).toEqual([w.source.id]);
      expect(body.tools.map((t: any) => t.name).sort()).toEqual(['grep_files', 'open_files', 'semantic_search_files']);
    },
  },
  retrieve_agent: { tenancy: 'notFound', request: (w) => ({ params: { agent_id: w.agentId } }), check: (body) => expect(body.memory.file_blocks).toHaveLength(2) },
  delete_agent: { tenancy: 'notFound', request: (w) => ({ params: { agent_id: w.agentId } }) },
  ...Object.fromEntries(
    (['source', 'folder'] as const).flatMap((noun) => [
      [
        `attach_${noun}_to_agent`,
        {
          tenancy: 'notFound',
          request: (w: World) => ({ params: { agent_id: w.agentId, [`${noun}_id`]: w.other.id } }),
          check: (body: any, w: World) => expect(body.sources.map((s: any) => s.id)).toEqual([w.source.id, w.other.id]),
        },
      ],
      [
        `detach_${noun}_from_agent`,
        {
          tenancy: 'notFound',
          request: (w: World) => ({ params: { agent_id: w.agentId, [`${noun}_id`]: w.source.id } }),
          check: (body: any) => expect(body.sources).toEqual([]),
        },
      ],
      [`list_agent_${noun}s`, { tenancy: 'notFound', request: (w: World) => ({ params: { agent_id: w.agentId } }), check: (body: any) => expect(body).toHaveLength(1) }],
    ]),
  ),
  attach_source_by_body: { tenancy: 'notFound', request: (w) => ({ params: { agent_id: w.agentId }, body: { source_id: w.other.id } }) },
  detach_source_by_path: { tenancy: 'notFound', request: (w) => ({ params: { agent_id: w.agentId, source_id: w.source.id } }) },
  list_agent_tools: { tenancy: 'notFound', request: (w) => ({ params: { agent_id: w.agentId }, query: { limit: '50' } }), check: (body) => expect(body.length).toBe(4) },
  attach_tool: { tenancy: 'notFound', request: (w) => ({ params: { agent_id: w.agentId, tool_id: w.toolId } }) },
  detach_tool: { tenancy: 'notFound', request: (w) => ({ params: { agent_id: w.agentId, tool_id: w.toolId } }), check: (body) => expect(body.tools.some((t: any) => t.name === 'roll_dice')).toBe(false) },
  list_agent_files: {
    tenancy: 'notFound',
    request: (w) => ({ params: { agent_id: w.agentId }, query: { is_open: 'true' } }),
    check: (body) => expect(body).toMatchObject({ has_more: false, next_cursor: null, files: [{ is_open: true }, { is_open: true }] }),
  },
  close_all_open_files: { tenancy: 'notFound', request: (w) => ({ params: { agent_id: w.agentId } }), check: (body) => expect(body).toEqual(['kb/guide.md', 'kb/notes.txt']) },
  open_file: { tenancy: 'notFound', request: (w) => ({ params: { agent_id: w.agentId, file_id: w.files[0].id } }), check: (body) => expect(body).toEqual([]) },
  close_file: { tenancy: 'notFound', request: (w) => ({ params: { agent_id: w.agentId, file_id: w.files[0].id } }) },
  list_core_memory_variables: { tenancy: 'notFound', request: (w) => ({ params: { agent_id: w.agentId } }), check: (body) => expect(body).toEqual({ variables: {} }) },
  create_template_from_agent: { tenancy: 'notFound', request: (w) => ({ params: { agent_id: w.agentId }, body: { name: 'helper-template' } }), check: (body) => expect(body).toMatchObject({ templateName: 'helper-template', version: 1 }) },
  version_agent_template: { tenancy: 'notFound', request: (w) => ({ params: { agent_id: w.agentId }, body: { message: 'first save' } }), check: (body) => expect(body).toMatchObject({ templateName: 'helper', version: 1 }) },
  count_tools: { tenancy: 'isolated', request: () => ({}), check: (body) => expect(body).toBe(1) },
  list_tools: { tenancy: 'isolated', request: () => ({ query: { tool_types: ['custom'] } }), check: (body, w) => expect(body.map((t: any) => t.id)).toEqual([w.toolId]) },
  create_tool: { tenancy: 'isolated', request: () => ({ body: { source_code: SHOUT_TOOL, tags: ['loud'] } }), check: (body) => expect(body).toMatchObject({ name: 'shout', tool_type: 'custom', tags: ['loud'] }) },
  upsert_tool: { tenancy: 'isolated', request: () => ({ body: { source_code: PYTHON_TOOL, description: 'dice' } }), check: (body, w) => expect(body).toMatchObject({ id: w.toolId, description: 'dice' }) },
  add_base_tools: { tenancy: 'isolated', request: () => ({}), check: (body) => expect(body.length).toBeGreaterThan(3) },
  retrieve_tool: { tenancy: 'notFound', request: (w) => ({ params: { tool_id: w.toolId } }), check: (body) => expect(body.name).toBe('roll_dice') },
  modify_tool: { tenancy: 'notFound', request: (w) => ({ params: { tool_id: w.toolId }, body: { tags: ['games'], return_char_limit: 100 } }), check: (body) => expect(body).toMatchObject({ tags: ['games'], return_char_limit: 100 }) },
  delete_tool: { tenancy: 'notFound', request: (w) => ({ params: { tool_id: w.toolId } }), check: (body) => expect(body).toBeNull() },
  list_jobs: { tenancy: 'isolated', request: (w) => ({ query: { source_id: w.source.id, statuses: ['created'] } }), check: (body, w) => expect(body.map((j: any) => j.id)).toEqual([w.jobId]) },
  list_active_jobs: { tenancy: 'isolated', request: () => ({}), check: (body, w) => expect(body.map((j: any) => j.id)).toEqual([w.jobId]) },
  retrieve_job: { tenancy: 'notFound', request: (w) => ({ params: { job_id: w.jobId } }), check: (body, w) => expect(body.metadata).toMatchObject({ source_id: w.source.id }) },
  cancel_job: { tenancy: 'notFound', request: (w) => ({ params: { job_id: w.jobId } }), check: (body) => expect(body.status).toBe('cancelled') },
  delete_job: { tenancy: 'notFound', request: (w) => ({ params: { job_id: w.jobId } }), check: (body, w) => expect(body.id).toBe(w.jobId) },
  list_runs: { tenancy: 'isolated', request: (w) => ({ query: { agent_id: w.agentId, statuses: ['running'] } }), check: (body, w) => expect(body.map((r: any) => r.id)).toEqual([w.runId]) },
  list_active_runs: { tenancy: 'isolated', request: (w) => ({ query: { agent_ids: [w.agentId] } }), check: (body, w) => expect(body.map((r: any) => r.id)).toEqual([w.runId]) },
  retrieve_run: { tenancy: 'notFound', request: (w) => ({ params: { run_id: w.runId } }), check: (body) => expect(body).toMatchObject({ status: 'running', job_type: 'run' }) },
  retrieve_run_usage: {
    tenancy: 'notFound',
    request: (w) => ({ params: { run_id: w.runId } }),
    check: (body) =>
      expect(body).toEqual({
        prompt_tokens: 100,
        completion_tokens: 20,
        total_tokens: 120,
        prompt_tokens_details: { cached_tokens: 5, cache_read_tokens: null, cache_creation_tokens: null },
        completion_tokens_details: null,
      }),
  },
  list_run_steps: {
    tenancy: 'notFound',
    request: (w) => ({ params: { run_id: w.runId }, query: { order: 'asc', limit: '5' } }),
    check: (body, w) => expect(body).toMatchObject([{ id: w.stepId, run_id: w.runId, agent_id: w.agentId, prompt_tokens: 100, total_tokens: 120, model_handle: 'openai/gpt-4o-mini' }]),
  },
  list_steps: {
    tenancy: 'isolated',
    request: (w) => ({ query: { agent_id: w.agentId, model: 'openai/gpt-4o-mini', start_date: '2020-01-01T00:00:00Z' } }),
    check: (body, w) => expect(body.map((s: any) => s.id)).toEqual([w.stepId]),
  },
  retrieve_step: { tenancy: 'notFound', request: (w) => ({ params: { step_id: w.stepId } }), check: (body, w) => expect(body).toMatchObject({ id: w.stepId, cached_input_tokens: 5 }) },
  modify_agent: {
    tenancy: 'notFound',
    request: (w) => ({ params: { agent_id: w.agentId }, body: { description: 'changed', model: 'openai/gpt-4o', source_ids: [w.other.id], tool_ids: [w.toolId] } }),
    check: (body, w) => {
      expect(body).toMatchObject({ name: 'helper', description: 'changed', llm_config: { handle: 'openai/gpt-4o', context_window: 128000 } });
      expect(body.sources.map((s: any) => s.id)).toEqual([w.other.id]);
      // The new source brings the file tools back after tool_ids set the tools to roll_dice alone.
      expect(body.tools.map((t: any) => t.name).sort()).toEqual(['grep_files', 'open_files', 'roll_dice', 'semantic_search_files']);
      expect(body.memory.file_blocks).toEqual([]);
    },
  },
  check_health: { tenancy: 'isolated', request: () => ({}), check: (body) => expect(body).toEqual({ version: expect.any(String), status: 'ok' }) },
  list_embedding_models: { tenancy: 'isolated', request: () => ({}), check: (body) => expect(body.map((m: any) => m.handle)).toContain('local/lexical-384') },
  ...Object.fromEntries(
    ['search_tools', 'import_agent', 'export_agent', 'list_messages', 'send_message', 'create_agent_message_stream', 'create_agent_message_async', 'list_run_messages', 'retrieve_stream', 'list_models'].map(
      (id) => [
        id,
        {
          tenancy: 'isolated',
          request: (w: World) => ({ params: { agent_id: w.agentId, run_id: w.runId } }),
          check: (body: any) => expect(body.detail).toMatch(/is not implemented by this server/),
        } satisfies Fixture,
      ],
    ),
  ),
  list_batch_messages: { tenancy: 'notFound', request: (w) => ({ params: { batch_id: w.batchId } }), check: (body, w) => expect(body.messages.map((m: any) => m.id)).toEqual([...w.messageIds].reverse()) },
  list_batch_run_messages: { tenancy: 'notFound', request: (w) => ({ params: { batch_id: w.batchId }, query: { sort_descending: 'false' } }), check: (body, w) => expect(body.messages.map((m: any) => m.id)).toEqual(w.messageIds) },
};

// ───────────────────────────── request building ─────────────────────────────

function pathOf(r: Route, params: Record<string, string> = {}, prefix = '/v1'): string {
  return prefix + r.segments.map((s) => `/${'literal' in s ? s.literal : encodeURIComponent(params[s.param])}`).join('');
}

function queryString(query: Record<string, string | string[]> = {}): string {
  const search = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) for (const item of Array.isArray(v) ? v : [v]) search.append(k, item);
  const text = search.toString();
  return text ? `?${text}` : '';
}

function send(base: string, key: string | null, r: Route, req: Request, overrides: { body?: string; headers?: Record<string, string> } = {}): Promise<HttpResult> {
  const body = overrides.body ?? req.raw?.body ?? (req.body === undefined ? undefined : JSON.stringify(req.body));
  const contentType = overrides.body === undefined && req.raw ? req.raw.contentType : 'application/json';
  return rawRequest(base, {
    method: r.method,
    path: pathOf(r, req.params) + queryString(req.query),
    headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(body !== undefined ? { 'content-type': contentType } : {}), ...overrides.headers },
    body,
  });
}

// ───────────────────────────── schema introspection ─────────────────────────────

function unwrap(schema: z.ZodType): z.ZodType {
  let s = schema;
  while (s instanceof z.ZodOptional || s instanceof z.ZodNullable || s instanceof z.ZodDefault) s = s.unwrap() as z.ZodType;
  return s;
}

/** The id prefix of an id schema, read from its documented example. */
function idPrefixOf(schema: z.ZodType): string | null {
  const example = docs.get(unwrap(schema))?.examples?.[0];
  return typeof example === 'string' ? example.replace(/-[0-9a-f-]{36}$/, '') : null;
}

/** A query value the field refuses: text where a number, boolean, enum value or id is expected. */
function badQueryValue(field: z.ZodType): string | null {
  const inner = unwrap(field);
  const candidates = ['abc', 'sideways', '-1', '1e9', ''];
  for (const value of candidates) {
    const parsed = inner instanceof z.ZodArray ? field.safeParse([value]) : field.safeParse(value);
    if (!parsed.success) return value;
  }
  return null;
}

/** A JSON value of the wrong type for a body field (a number for text, text for a number or list…). */
function wrongTypeValue(field: z.ZodType): unknown {
  for (const value of [12345, 'text', true, ['a'], { a: 1 }]) {
    if (typeof value === 'string' && unwrap(field) instanceof z.ZodEnum) continue; // that is the enum case
    if (!field.safeParse(value).success) return value;
  }
  return undefined;
}

function bodyObject(r: Route): z.ZodObject<z.ZodRawShape> | null {
  const body = r.body ? unwrap(r.body) : null;
  return body instanceof z.ZodObject ? body : null;
}

// ───────────────────────────── tests ─────────────────────────────

describe('the route table', () => {
  it('has a fixture for every route, and every fixture names a route', () => {
    const ids = routes.map((r) => r.operationId);
    expect(ids.filter((id) => !FIXTURES[id])).toEqual([]);
    expect(Object.keys(FIXTURES).filter((id) => !ids.includes(id))).toEqual([]);
  });

  it('serves every Letta path the issue lists', () => {
    const served = new Set(routes.map((r) => `${r.method} ${r.path}`));
    for (const expected of [
      'GET /sources', 'POST /sources', 'GET /sources/count', 'GET /sources/{source_id}', 'GET /sources/name/{source_name}', 'PATCH /sources/{source_id}',
      'DELETE /sources/{source_id}', 'GET /sources/metadata', 'GET /sources/{source_id}/agents', 'GET /sources/{source_id}/passages',
      'GET /sources/{source_id}/files', 'GET /sources/{source_id}/files/{file_id}', 'DELETE /sources/{source_id}/{file_id}',
      'DELETE /sources/{source_id}/files/{file_id}', 'POST /sources/bulk', 'GET /folders', 'POST /folders', 'GET /folders/{folder_id}/files',
      'DELETE /folders/{folder_id}/{file_id}', 'PATCH /agents/{agent_id}/sources/attach/{source_id}', 'PATCH /agents/{agent_id}/sources/detach/{source_id}',
      'PATCH /agents/{agent_id}/folders/attach/{folder_id}', 'PATCH /agents/{agent_id}/folders/detach/{folder_id}', 'GET /agents/{agent_id}/sources',
      'GET /agents/{agent_id}/folders', 'GET /agents/{agent_id}/files', 'GET /agents/{agent_id}/core-memory/variables', 'POST /agents/{agent_id}/template',
      'POST /agents/{agent_id}/version-template', 'POST /agents', 'GET /agents', 'GET /agents/{agent_id}', 'DELETE /agents/{agent_id}', 'GET /tools',
      'GET /tools/count', 'POST /tools', 'PUT /tools', 'GET /tools/{tool_id}', 'PATCH /tools/{tool_id}', 'DELETE /tools/{tool_id}', 'GET /jobs',
      'GET /jobs/active', 'GET /jobs/{job_id}', 'PATCH /jobs/{job_id}/cancel', 'DELETE /jobs/{job_id}', 'GET /runs', 'GET /runs/{run_id}',
      'GET /runs/{run_id}/usage', 'GET /messages/batches/{batch_id}/messages', 'GET /batch-runs/{batch_id}/messages',
      'POST /sources/{source_id}/upload', 'POST /sources/{source_id}/files', 'POST /folders/{folder_id}/upload', 'POST /folders/{folder_id}/files',
      // Letta 0.12+ routes the 1.x client calls
      'PATCH /agents/{agent_id}', 'GET /runs/{run_id}/steps', 'GET /steps', 'GET /steps/{step_id}', 'GET /health', 'GET /models/embedding',
      'POST /tools/search', 'POST /agents/import',
    ]) {
      expect(served, expected).toContain(expected);
    }
  });
});

describe.each(databaseKinds())('REST routes on %s', (kind) => {
  let t: TestApp;
  let base: string;
  let shared: World;
  beforeAll(async () => {
    t = await createTestApp(kind, {}, {}, { workers: false });
    base = (await t.app.listen()).url;
    shared = await buildWorld(t);
  });
  afterAll(() => t.close());

  describe.each(routes.map((r) => [`${r.method} ${r.path} (${r.operationId})`, r] as const))('%s', (_name, r) => {
    const fixture = FIXTURES[r.operationId];

    it('is invisible to another organization; its owner gets the documented answer', async () => {
      // Reads share one world; anything that writes gets its own.
      const w = r.method === 'GET' ? shared : await buildWorld(t);
      const stranger = await t.seed();
      const req = fixture.request(w);

      const theirs = await send(base, stranger.apiKey, r, req);
      if (fixture.tenancy === 'notFound') {
        expect(theirs.status, theirs.text).toBe(404);
        expect(typeof theirs.body.detail).toBe('string');
      } else {
        expect(theirs.status, theirs.text).toBe(r.status ?? 200);
      }
      // A 404 may name the id it was asked for; nothing else of the owner's may show.
      const asked = JSON.stringify(req);
      for (const id of w.ids.filter((id) => !asked.includes(id))) expect(theirs.text).not.toContain(id);

      const mine = await send(base, w.key, r, req);
      expect(mine.status, mine.text).toBe(r.status ?? 200);
      if (mine.status === 204) {
        expect(mine.text).toBe('');
      } else {
        const parsed = r.response.safeParse(mine.body);
        expect(parsed.success, `response does not match its schema: ${parsed.error?.message}\n${mine.text.slice(0, 500)}`).toBe(true);
        fixture.check?.(mine.body, w);
      }
    });

    it('refuses malformed input before doing anything', async () => {
      const req = fixture.request(shared);
      const cases: { what: string; result: Promise<HttpResult>; status: number; loc?: (string | number)[]; type?: string }[] = [];

      for (const [name, field] of Object.entries(r.params?.shape ?? {})) {
        const prefix = idPrefixOf(field as z.ZodType);
        if (!prefix) continue;
        cases.push({ what: `malformed ${name}`, result: send(base, shared.key, r, { ...req, params: { ...req.params, [name]: 'not-an-id' } }), status: 422, loc: ['path', name], type: 'string_pattern_mismatch' });
        const wrong = prefix === 'tool' ? 'agent' : 'tool';
        cases.push({ what: `${wrong} id as ${name}`, result: send(base, shared.key, r, { ...req, params: { ...req.params, [name]: exampleId(wrong) } }), status: 422, loc: ['path', name] });
      }
      for (const [name, field] of Object.entries(r.query?.shape ?? {})) {
        const bad = badQueryValue(field as z.ZodType);
        if (bad === null) continue;
        cases.push({ what: `query ${name}=${bad}`, result: send(base, shared.key, r, { ...req, query: { ...req.query, [name]: bad } }), status: 422, loc: ['query', name] });
      }
      if (r.body && !r.rawBody) {
        cases.push({ what: 'truncated JSON', result: send(base, shared.key, r, req, { body: '{"name": ' }), status: 422, type: 'json_invalid' });
        cases.push({ what: 'a JSON list for an object', result: send(base, shared.key, r, req, { body: '[1, 2]' }), status: 422, loc: ['body'] });
        const object = bodyObject(r);
        const valid = (req.body ?? {}) as Record<string, unknown>;
        if (object) {
          for (const [name, field] of Object.entries(object.shape)) {
            const wrong = wrongTypeValue(field as z.ZodType);
            if (wrong !== undefined) {
              cases.push({ what: `${name}: ${JSON.stringify(wrong)}`, result: send(base, shared.key, r, { ...req, body: { ...valid, [name]: wrong } }), status: 422, loc: ['body', name] });
            }
            const inner = unwrap(field as z.ZodType);
            if (inner instanceof z.ZodEnum) {
              cases.push({ what: `${name}: unknown enum value`, result: send(base, shared.key, r, { ...req, body: { ...valid, [name]: 'no-such-value' } }), status: 422, loc: ['body', name], type: 'enum' });
            }
          }
          if ((object.def.catchall as z.ZodType | undefined)?.def.type === 'never') {
            cases.push({ what: 'an unknown field', result: send(base, shared.key, r, { ...req, body: { ...valid, unknown_field: 1 } }), status: 422, loc: ['body', 'unknown_field'], type: 'extra_forbidden' });
          }
        }
      }
      if (!r.rawBody) {
        const limit = r.bodyLimit ?? DEFAULT_BODY_LIMIT;
        cases.push({ what: 'an oversized body', result: send(base, shared.key, r, req, { body: JSON.stringify({ padding: 'x'.repeat(limit) }) }), status: 413 });
      }

      expect(cases.length).toBeGreaterThan(0);
      for (const c of cases) {
        const res = await c.result;
        expect(res.status, `${c.what}: ${res.text.slice(0, 300)}`).toBe(c.status);
        if (c.status === 422) {
          expect(Array.isArray(res.body.detail), c.what).toBe(true);
          // A list parameter's error also names the item (['query', 'statuses', 0]), as FastAPI's do.
          if (c.loc) expect(res.body.detail.some((d: any) => c.loc!.every((part, i) => d.loc[i] === part)), `${c.what}: ${res.text}`).toBe(true);
          if (c.type) expect(res.body.detail.map((d: any) => d.type), c.what).toContain(c.type);
          if (c.loc?.[0] === 'path' && c.type) expect(res.body.examples?.[0], c.what).toMatch(/^[a-z_]+-123e4567-/);
        } else {
          expect(typeof res.body.detail, c.what).toBe('string');
        }
      }
      // Nothing was changed by any of them.
      const after = await send(base, shared.key, routes.find((x) => x.operationId === 'count_sources')!, {});
      expect(after.body).toBe(2);
    });

    it(r.public ? 'answers without a key (a public route)' : 'answers 401 without a valid key', async () => {
      const req = fixture.request(shared);
      for (const key of [null, 'qk_not-a-real-key']) {
        const res = await send(base, key, r, req);
        if (r.public) {
          expect(res.status, res.text).toBe(r.status ?? 200);
          continue;
        }
        expect(res.status, res.text).toBe(401);
        expect(res.body.detail).toMatch(/API key/);
        expect(res.headers['www-authenticate']).toBe('Bearer');
      }
    });
  });

  describe('HTTP conventions', () => {
    it('serves /v1 and /latest, with or without a trailing slash, without redirecting', async () => {
      for (const path of ['/v1/sources', '/v1/sources/', '/latest/sources', '/latest/sources/', '/v1/folders/', `/v1/sources/${shared.source.id}/files/`]) {
        const res = await jsonClient(base, shared.key)('GET', path);
        expect(res.status, path).toBe(200);
        expect(Array.isArray(res.body), path).toBe(true);
      }
    });

    it('accepts X-API-Key and ignores Letta headers it does not use', async () => {
      const res = await rawRequest(base, {
        method: 'GET',
        path: '/v1/sources/count',
        headers: { 'x-api-key': shared.key, user_id: 'user-00000000-0000-4000-8000-000000000000', 'x-organization-id': 'org_123', 'x-project-id': 'proj_456' },
      });
      expect(res.status).toBe(200);
      expect(res.body).toBe(2);
    });

    it('reads list parameters repeated, bracketed, or comma-separated where Letta allows it', async () => {
      const call = jsonClient(base, shared.key);
      const builtIn = await call('GET', '/v1/tools?tool_types=letta_files_core&limit=1');
      const ids = [shared.toolId, builtIn.body[0].id];
      for (const query of [`tool_ids=${ids[0]}&tool_ids=${ids[1]}`, `tool_ids[]=${ids[0]}&tool_ids[]=${ids[1]}`, `tool_ids=${ids.join(',')}`]) {
        const res = await call('GET', `/v1/tools?${query}`);
        expect(res.body.map((t: any) => t.id).sort(), query).toEqual([...ids].sort());
      }
      expect((await call('GET', `/v1/jobs?statuses=running,created`)).body.map((j: any) => j.id)).toEqual([shared.jobId]);
      // Names may hold commas: they are only ever repeated.
      expect((await call('GET', '/v1/tools?names=roll_dice,shout')).body).toEqual([]);
      expect((await call('GET', '/v1/tools?names=roll_dice&names=shout')).body.map((t: any) => t.id)).toEqual([shared.toolId]);
    });

    it('answers unknown paths 404 and known paths with another method 405, as FastAPI does', async () => {
      const call = jsonClient(base, shared.key);
      expect(await call('GET', '/v1/nothing-here')).toMatchObject({ status: 404, body: { detail: 'Not Found' } });
      expect(await call('GET', '/v1')).toMatchObject({ status: 404, body: { detail: 'Not Found' } });
      const wrong = await call('DELETE', `/v1/runs/${shared.runId}/usage`);
      expect(wrong).toMatchObject({ status: 405, body: { detail: 'Method Not Allowed' } });
      expect(wrong.headers.allow).toBe('GET');
      // Only routes the path really names are listed: "count" is no source id, so modify_source and delete_source are not.
      expect((await call('PUT', '/v1/sources/count')).headers.allow).toBe('GET');
      const item = await call('PUT', `/v1/sources/${shared.source.id}`);
      expect(item).toMatchObject({ status: 405, body: { detail: 'Method Not Allowed' } });
      expect(item.headers.allow).toBe('GET, PATCH, DELETE');
      // A word where an id goes is a path Quarry does not serve (FastAPI's 405 here misled Letta's 1.x client users).
      expect(await call('POST', '/v1/tools/nonsense')).toMatchObject({ status: 404, body: { detail: 'Not Found' } });
      expect(await call('DELETE', '/v1/agents/not-an-agent/files')).toMatchObject({ status: 404, body: { detail: 'Not Found' } });
    });

    it('limits a body sent without a Content-Length while it streams', async () => {
      const res = await new Promise<HttpResult>((resolve, reject) => {
        const url = new URL('/v1/sources', base);
        import('node:http').then(({ request }) => {
          let answered = false;
          const req = request(url, { method: 'POST', agent: false, headers: { authorization: `Bearer ${shared.key}`, 'content-type': 'application/json', 'transfer-encoding': 'chunked' } }, (r) => {
            answered = true;
            const chunks: Buffer[] = [];
            r.on('data', (c) => chunks.push(c));
            r.on('end', () => resolve({ status: r.statusCode!, headers: r.headers, text: Buffer.concat(chunks).toString(), body: JSON.parse(Buffer.concat(chunks).toString()) }));
          });
          req.on('error', (e) => (answered ? undefined : reject(e)));
          const chunk = 'x'.repeat(64 * 1024);
          for (let i = 0; i < 20; i++) req.write(chunk);
          req.end();
        });
      });
      expect(res.status).toBe(413);
      expect(res.body.detail).toMatch(/larger than the limit/);
      expect(res.headers.connection).toBe('close');
      // The server still answers on new connections.
      expect((await jsonClient(base, shared.key)('GET', '/v1/sources/count')).body).toBe(2);
    });

    it('pages every list with after until an empty page, in either order', async () => {
      const w = await buildWorld(t);
      const call = jsonClient(base, w.key);
      for (const order of ['asc', 'desc']) {
        const seen: string[] = [];
        let after: string | undefined;
        for (;;) {
          const res = await call('GET', `/v1/sources/${w.source.id}/passages?limit=1&order=${order}${after ? `&after=${after}` : ''}`);
          expect(res.status).toBe(200);
          if (!res.body.length) break;
          seen.push(res.body[0].id);
          after = res.body[0].id;
        }
        const expected = w.passages.map((p) => p.id);
        expect(seen).toEqual(order === 'asc' ? expected : [...expected].reverse());
        // before goes back: from the last, one page of the two before it.
        const back = await call('GET', `/v1/sources/${w.source.id}/passages?limit=2&order=${order}&before=${seen[3]}`);
        expect(back.body.map((p: any) => p.id)).toEqual(seen.slice(1, 3));
        const window = await call('GET', `/v1/sources/${w.source.id}/passages?order=${order}&after=${seen[0]}&before=${seen[3]}`);
        expect(window.body?.map?.((p: any) => p.id), window.text).toEqual(seen.slice(1, 3));
      }
      const unknown = await call('GET', `/v1/sources/${w.source.id}/passages?after=${exampleId('passage')}`);
      expect(unknown.status).toBe(404);
    });
  });
});

describe('the OpenAPI document and the docs page', () => {
  let t: TestApp;
  let base: string;
  beforeAll(async () => {
    t = await createTestApp('pglite', {}, {}, { workers: false });
    base = (await t.app.listen()).url;
  });
  afterAll(() => t.close());

  it('is a valid OpenAPI 3.1 document describing every route', async () => {
    const res = await rawRequest(base, { method: 'GET', path: '/openapi.json' });
    expect(res.status).toBe(200);
    const doc = res.body;
    expect(doc.openapi).toBe('3.1.0');
    await SwaggerParser.validate(structuredClone(doc));
    for (const r of routes) {
      const op = doc.paths[`/v1${r.path}`]?.[r.method.toLowerCase()];
      expect(op, r.operationId).toBeDefined();
      expect(op.operationId).toBe(r.operationId);
      for (const [name] of Object.entries(r.params?.shape ?? {})) expect(op.parameters.map((p: any) => p.name)).toContain(name);
    }
    // Named schemas are shared, and every reference resolves.
    expect(doc.components.schemas.Source.properties.vector_db_provider.enum).toEqual(['native', 'tpuf', 'pinecone']);
    expect(doc.components.schemas.Folder.properties.vector_db_provider).toBeUndefined();
    const refs = [...JSON.stringify(doc).matchAll(/"#\/components\/schemas\/([A-Za-z0-9_]+)"/g)].map((m) => m[1]);
    for (const ref of new Set(refs)) expect(doc.components.schemas[ref], ref).toBeDefined();
    // It is public: no key needed.
    expect(res.headers['content-type']).toMatch(/application\/json/);
  });

  it('has a human-readable page listing every operation', async () => {
    const res = await rawRequest(base, { method: 'GET', path: '/docs' });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/text\/html/);
    for (const r of routes) expect(res.text).toContain(`(${r.operationId})`);
    expect(res.text).toContain('id="schema-FileMetadata"');
    expect(res.text).not.toMatch(/<script/i);
  });
});
