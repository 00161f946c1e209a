import { PDFDocument, StandardFonts } from 'pdf-lib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attachSource, createAgent } from '../src/domain/agents.js';
import { appendBatchMessages, createBatchRun } from '../src/domain/batches.js';
import { createJob } from '../src/domain/jobs.js';
import { recordRunStep, startRun } from '../src/domain/runs.js';
import { createAgentFromTemplate, createTemplateFromAgent } from '../src/domain/templates.js';
import { createTool } from '../src/domain/tools.js';
import { createTestApp, type Tenant, type TestApp } from './support/app.js';
import { databaseKinds } from './support/db.js';
import { multipartBody, processedFile, PYTHON_TOOL, rawRequest } from './support/rest.js';

/**
 * The curl examples of both seed documents (reference/seed-sources-api.md and seed-additional-endpoints.md), sent
 * as written to the server's real address, with the placeholders (YOUR_TOKEN, SOURCE_ID…) replaced by real values.
 * Each gets the behaviour the seed documents, or Letta's real behaviour where the seed is wrong about Letta (noted
 * as "seed is wrong"). The upload examples are sent as curl sends `-F file=@<name>`: one part named `file` with the
 * filename and the type curl guesses from the extension, under curl's boundary; workers are off, so uploaded files
 * stay pending (tests/rest-uploads.test.ts follows uploads through processing).
 *
 * The sources seed writes paths without `/v1` (`https://api.letta.com/sources`); Letta serves them under `/v1`
 * only, so they are replayed there (seed is wrong).
 */

type Curl = { status: number; body: any; text: string; headers: Record<string, string | string[] | undefined> };

/** `curl -X <method> <url> -H … -d …` */
function curl(base: string, method: string, path: string, headers: Record<string, string> = {}, data?: string | Buffer): Promise<Curl> {
  return rawRequest(base, { method, path, headers: { 'user-agent': 'curl/8.5.0', accept: '*/*', ...headers }, body: data });
}

/** A one-page PDF with a text layer, standing in for the seeds' knowledge_base.pdf and friends. */
async function pdf(text: string): Promise<Uint8Array> {
  const doc = await PDFDocument.create();
  const font = await doc.embedFont(StandardFonts.Helvetica);
  doc.addPage().drawText(text, { x: 50, y: 700, size: 12, font });
  return doc.save();
}

/** The body `curl -F "file=@<name>"` sends for a PDF: curl's boundary, the filename, the type from the extension. */
const curlForm = (filename: string, bytes: Uint8Array) =>
  multipartBody([{ name: 'file', filename, type: 'application/pdf', content: bytes }], '------------------------d74496d66958873e');

describe.each(databaseKinds())('seed curl examples on %s', (kind) => {
  let t: TestApp;
  let base: string;
  let org: Tenant;
  let token: string;
  let bearer: Record<string, string>;

  beforeAll(async () => {
    // The seeds embed with openai/text-embedding-3-small: the provider is configured (creating a source never calls it).
    t = await createTestApp(kind, {}, { OPENAI_API_KEY: 'sk-seed-replay', OPENAI_BASE_URL: 'http://127.0.0.1:9/v1' }, { workers: false });
    base = (await t.app.listen()).url;
    org = await t.tenant();
    token = org.apiKey;
    bearer = { Authorization: `Bearer ${token}` };
  });
  afterAll(() => t.close());

  describe('seed-sources-api.md', () => {
    let kbId: string;

    it('Create Source: POST /sources with an embedding handle and metadata', async () => {
      const res = await curl(
        base,
        'POST',
        '/v1/sources',
        { ...bearer, 'Content-Type': 'application/json' },
        `{
    "name": "Customer Support KB",
    "description": "Knowledge base for customer support agents",
    "embedding": "openai/text-embedding-3-small",
    "metadata": {
      "category": "support",
      "version": "1.0",
      "tags": ["faq", "troubleshooting"]
    }
  }`,
      );
      // Letta answers a create with 200 and the source.
      expect(res.status, res.text).toBe(200);
      expect(res.body).toMatchObject({
        name: 'Customer Support KB',
        description: 'Knowledge base for customer support agents',
        metadata: { category: 'support', version: '1.0', tags: ['faq', 'troubleshooting'] },
        organization_id: org.organizationId,
        vector_db_provider: 'native',
        // Seed is wrong: its example says embedding_dim 2000; text-embedding-3-small has 1536 dimensions.
        embedding_config: { embedding_endpoint_type: 'openai', embedding_model: 'text-embedding-3-small', embedding_dim: 1536, embedding_chunk_size: 300 },
      });
      // Seed is wrong: ids are `source-<uuid4>`, not `source_123`.
      expect(res.body.id).toMatch(/^source-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(res.body.created_at).toMatch(/Z$/);
      kbId = res.body.id;
    });

    it('Authentication: Bearer, Bearer with Content-Type, X-API-Key, and organization/project headers', async () => {
      const variants: Record<string, string>[] = [
        { Authorization: `Bearer ${token}` },
        { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
        { 'X-API-Key': token, 'Content-Type': 'application/json' },
        // Letta does not scope by these (the key decides the organization); they are accepted and ignored.
        { Authorization: `Bearer ${token}`, 'x-organization-id': 'org_123', 'x-project-id': 'proj_456' },
      ];
      for (const headers of variants) {
        const res = await curl(base, 'GET', '/v1/sources', headers);
        expect(res.status, JSON.stringify(headers)).toBe(200);
        expect(res.body.map((s: any) => s.id)).toEqual([kbId]);
      }
      // Seed is wrong: a refused key gets `{"detail": …}` (401), not `{"error": {type, message, detail}}`.
      const refused = await curl(base, 'GET', '/v1/sources', { Authorization: 'Bearer YOUR_API_TOKEN' });
      expect(refused.status).toBe(401);
      expect(Object.keys(refused.body)).toEqual(['detail']);
    });

    it('List Sources: ?limit=10&ascending=true, then the next page with after', async () => {
      for (const name of ['Technical Notes', 'Sales Playbook']) {
        await curl(base, 'POST', '/v1/sources', { ...bearer, 'Content-Type': 'application/json' }, JSON.stringify({ name, embedding: 'openai/text-embedding-3-small' }));
      }
      const first = await curl(base, 'GET', '/v1/sources?limit=10&ascending=true', bearer);
      expect(first.status).toBe(200);
      expect(first.body.map((s: any) => s.name)).toEqual(['Customer Support KB', 'Technical Notes', 'Sales Playbook']);
      // Seed is wrong: cursors are ids, not timestamps ("created before this timestamp"). Letta's SDKs page with after=<last id>.
      const page1 = await curl(base, 'GET', '/v1/sources?limit=2&ascending=true', bearer);
      const page2 = await curl(base, 'GET', `/v1/sources?after=${page1.body[1].id}&limit=20`, bearer);
      expect(page2.body.map((s: any) => s.name)).toEqual(['Sales Playbook']);
      // The seed's literal cursor is not an id: Letta 0.13+ refuses malformed ids (422).
      const literal = await curl(base, 'GET', '/v1/sources?after=source_abc123&limit=20', bearer);
      expect(literal.status).toBe(422);
      expect(literal.body.detail[0].loc).toEqual(['query', 'after']);
    });

    it('Retrieve Source: GET /sources/{source_id}', async () => {
      const res = await curl(base, 'GET', `/v1/sources/${kbId}`, bearer);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ id: kbId, name: 'Customer Support KB' });
      // Seed is wrong: `source_123` is not an id; Letta 0.13+ answers 422 with an example of the pattern.
      const literal = await curl(base, 'GET', '/v1/sources/source_123', bearer);
      expect(literal.status).toBe(422);
      expect(literal.body.examples).toEqual(['source-123e4567-e89b-42d3-a456-426614174000']);
    });

    it('Filtering and Searching Sources: ?name=support (partial) and ?metadata.category=support', async () => {
      const byName = await curl(base, 'GET', '/v1/sources?name=support', bearer);
      expect(byName.body.map((s: any) => s.name)).toEqual(['Customer Support KB']);
      // Seed is wrong: Letta ignores unknown query parameters such as metadata.category, so every source is listed.
      const byMetadata = await curl(base, 'GET', '/v1/sources?metadata.category=support', bearer);
      expect(byMetadata.status).toBe(200);
      expect(byMetadata.body).toHaveLength(3);
    });

    it('Bulk Creating Sources: POST /sources/bulk', async () => {
      const res = await curl(
        base,
        'POST',
        '/v1/sources/bulk',
        { ...bearer, 'Content-Type': 'application/json' },
        `{
    "sources": [
      {
        "name": "Technical Documentation",
        "description": "API and technical documentation",
        "embedding": "openai/text-embedding-3-small"
      },
      {
        "name": "Product Specifications",
        "description": "Product feature specifications",
        "embedding": "openai/text-embedding-3-small"
      }
    ]
  }`,
      );
      // Seed is wrong that Letta serves this (it exists only inside Letta's server); Quarry serves it as documented.
      expect(res.status, res.text).toBe(200);
      expect(res.body.map((s: any) => [s.name, s.description, s.organization_id])).toEqual([
        ['Technical Documentation', 'API and technical documentation', org.organizationId],
        ['Product Specifications', 'Product feature specifications', org.organizationId],
      ]);
      // Matched by name: sending one again updates it in place and keeps its id.
      const again = await curl(base, 'POST', '/v1/sources/bulk', { ...bearer, 'Content-Type': 'application/json' }, JSON.stringify({ sources: [{ name: 'Technical Documentation', description: 'v2' }] }));
      expect(again.body).toMatchObject([{ id: res.body[0].id, description: 'v2' }]);
    });

    it('Managing Source-Agent Relationships: attach, list agents, detach', async () => {
      const agent = await createAgent(org.db, org.actor, { name: 'support-agent' });
      const attach = await curl(base, 'POST', `/v1/agents/${agent.id}/sources`, { ...bearer, 'Content-Type': 'application/json' }, `{
    "source_id": "${kbId}"
  }`);
      // Seed is wrong about the path (Letta: PATCH /v1/agents/{id}/sources/attach/{source_id}); both are served.
      expect(attach.status, attach.text).toBe(200);
      expect(attach.body.sources.map((s: any) => s.id)).toEqual([kbId]);
      const agents = await curl(base, 'GET', `/v1/sources/${kbId}/agents`, bearer);
      expect(agents.body).toEqual([agent.id]);
      const detach = await curl(base, 'DELETE', `/v1/agents/${agent.id}/sources/${kbId}`, bearer);
      expect(detach.status).toBe(200);
      expect(detach.body.sources).toEqual([]);
      expect((await curl(base, 'GET', `/v1/sources/${kbId}/agents`, bearer)).body).toEqual([]);
    });

    it('Advanced File Management: list files with content, delete a file', async () => {
      const kb = { id: kbId, name: 'Customer Support KB' };
      const manual = await processedFile(org, kb, 'customer_manual.txt', 'Reset the router.\n\nCall support.');
      const faq = await processedFile(org, kb, 'faq.md', '# FAQ\n\nYes.', { mediaType: 'text/x-markdown' });
      const list = await curl(base, 'GET', `/v1/sources/${kbId}/files?include_content=true`, bearer);
      expect(list.status).toBe(200);
      expect(list.body.map((f: any) => [f.file_name, f.content])).toEqual([
        ['customer_manual.txt', 'Reset the router.\n\nCall support.'],
        ['faq.md', '# FAQ\n\nYes.'],
      ]);
      // Seed is wrong: statuses are lowercase (`completed`, not `COMPLETED`).
      expect(list.body[0].processing_status).toBe('completed');
      const deleted = await curl(base, 'DELETE', `/v1/sources/${kbId}/${manual.file.id}`, bearer);
      expect(deleted.status).toBe(204);
      expect(deleted.text).toBe('');
      const left = await curl(base, 'GET', `/v1/sources/${kbId}/files`, bearer);
      expect(left.body.map((f: any) => f.id)).toEqual([faq.file.id]);
    });

    it('Delete Source: DELETE /sources/{source_id}', async () => {
      const res = await curl(base, 'DELETE', `/v1/sources/${kbId}`, bearer);
      // Seed is wrong: Letta answers 200 with `null`, not 204.
      expect(res.status).toBe(200);
      expect(res.text).toBe('null');
      // Seed: "404 Not Found" with a detail.
      const gone = await curl(base, 'GET', `/v1/sources/${kbId}`, bearer);
      expect(gone.status).toBe(404);
      expect(gone.body.detail).toMatch(/not found/);
    });
  });

  describe('seed-additional-endpoints.md', () => {
    let sourceId: string;
    let fileIds: string[];
    let toolId: string;
    let agentId: string;
    let jobId: string;
    let runId: string;
    let batchId: string;

    beforeAll(async () => {
      const source = await curl(base, 'POST', '/v1/sources/', { ...bearer, 'Content-Type': 'application/json' }, JSON.stringify({ name: 'handbook' }));
      sourceId = source.body.id;
      const a = await processedFile(org, { id: sourceId, name: 'handbook' }, 'policies.txt', 'Leave policy.\n\nTravel policy.');
      const b = await processedFile(org, { id: sourceId, name: 'handbook' }, 'benefits.txt', 'Health plan.');
      fileIds = [a.file.id, b.file.id];
      toolId = (await createTool(org.db, org.actor, { sourceCode: PYTHON_TOOL })).id;
      const agent = await createAgent(org.db, org.actor, { name: 'SalesAssistant', memoryBlocks: [{ label: 'human', value: 'Lives in {{location}}; name {{user_name}}.' }] });
      agentId = agent.id;
      await attachSource(org.db, org.actor, agentId, sourceId);
      jobId = (await createJob(org.db, org.actor, { task: 'file_processing', sourceId, fileId: a.file.id }, t)).id;
      const run = await startRun(org.db, org.actor, { agentId }, t);
      await recordRunStep(org.db, org.actor, run.id, { promptTokens: 1200, completionTokens: 150, cachedTokens: 200, reasoningTokens: 50 }, t);
      runId = run.id;
      const batch = await createBatchRun(org.db, org.actor, { requests: [{ agentId }] });
      await appendBatchMessages(org.db, org.actor, batch.id, [
        { agentId, role: 'user', content: 'What is the leave policy?' },
        { agentId, role: 'assistant', content: [{ type: 'omitted_reasoning' }, { type: 'text', text: '20 days.' }] },
      ]);
      batchId = batch.id;
    });

    it('GET /tools/{tool_id}', async () => {
      const res = await curl(base, 'GET', `/v1/tools/${toolId}`, { Authorization: `Bearer ${token}` });
      expect(res.status).toBe(200);
      expect(Object.keys(res.body)).toEqual(expect.arrayContaining([
        'id', 'tool_type', 'description', 'source_type', 'name', 'tags', 'source_code', 'json_schema', 'args_json_schema',
        'return_char_limit', 'created_by_id', 'last_updated_by_id', 'metadata_',
      ]));
      // Seed is wrong: return_char_limit defaults to 50000 (Letta 0.12+), not 6000; ids are tool-<uuid4>.
      expect(res.body).toMatchObject({ id: toolId, tool_type: 'custom', source_type: 'python', name: 'roll_dice', return_char_limit: 50000, created_by_id: org.userId });
    });

    it('PATCH /tools/{tool_id}', async () => {
      const code = PYTHON_TOOL.replace('return str(', 'return "total: " + str(');
      const res = await curl(base, 'PATCH', `/v1/tools/${toolId}`, { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, JSON.stringify({ description: 'New description', source_code: code }));
      expect(res.status, res.text).toBe(200);
      expect(res.body).toMatchObject({ id: toolId, description: 'New description', source_code: code, name: 'roll_dice' });
    });

    it('GET /tools/count', async () => {
      const res = await curl(base, 'GET', '/v1/tools/count', { Authorization: `Bearer ${token}` });
      // As the seed documents: built-in tools are left out unless include_base_tools=true.
      expect(res.status).toBe(200);
      expect(res.text).toBe('1');
      const withBase = await curl(base, 'GET', '/v1/tools/count?include_base_tools=true', { Authorization: `Bearer ${token}` });
      expect(withBase.body).toBeGreaterThan(1);
    });

    it('GET /sources/{source_id}/files', async () => {
      const res = await curl(base, 'GET', `/v1/sources/${sourceId}/files`, { Authorization: `Bearer ${token}` });
      expect(res.status).toBe(200);
      expect(res.body.map((f: any) => f.id)).toEqual(fileIds);
      expect(res.body[0]).toMatchObject({ source_id: sourceId, file_name: 'policies.txt', file_path: null, file_type: 'text/plain', file_size: 29 });
      // Seed is wrong: `is_deleted` left FileMetadata in Letta 0.10.
      expect(res.body[0]).not.toHaveProperty('is_deleted');
      // Pagination as documented: limit and after (the last file id of the previous page).
      const next = await curl(base, 'GET', `/v1/sources/${sourceId}/files?limit=1&after=${fileIds[0]}`, { Authorization: `Bearer ${token}` });
      expect(next.body.map((f: any) => f.id)).toEqual([fileIds[1]]);
    });

    it('GET /sources/{source_id}/passages', async () => {
      const res = await curl(base, 'GET', `/v1/sources/${sourceId}/passages`, { Authorization: `Bearer ${token}` });
      expect(res.status).toBe(200);
      expect(res.body.map((p: any) => p.text)).toEqual(['Leave policy.', 'Travel policy.', 'Health plan.']);
      expect(res.body[0]).toMatchObject({ source_id: sourceId, file_id: fileIds[0], is_deleted: false, metadata: {}, created_by_id: org.userId });
      expect(res.body[0].embedding).toHaveLength(384);
      expect(res.body[0].embedding_config).toMatchObject({ embedding_dim: 384 });
      // Seed is wrong: `agent_id` became `archive_id` (null for a source's passages) in Letta 0.11.
      expect(res.body[0].archive_id).toBeNull();
    });

    it('GET /jobs/, GET /jobs/active, GET /jobs/{job_id}', async () => {
      const all = await curl(base, 'GET', '/v1/jobs/', { Authorization: `Bearer ${token}` });
      expect(all.status).toBe(200);
      // Seed is wrong that runs are listed here (`run-…` ids): Letta lists job_type "job" only; runs are under /v1/runs.
      expect(all.body.map((j: any) => [j.id, j.job_type])).toEqual([[jobId, 'job']]);
      expect(Object.keys(all.body[0])).toEqual(expect.arrayContaining([
        'id', 'created_by_id', 'last_updated_by_id', 'created_at', 'updated_at', 'status', 'completed_at', 'metadata', 'job_type',
        'callback_url', 'callback_sent_at', 'callback_status_code',
      ]));
      const bySource = await curl(base, 'GET', `/v1/jobs/?source_id=${sourceId}`, { Authorization: `Bearer ${token}` });
      expect(bySource.body.map((j: any) => j.id)).toEqual([jobId]);
      const active = await curl(base, 'GET', '/v1/jobs/active', { Authorization: `Bearer ${token}` });
      // Seed is wrong: there is no "not_started"; a new job is "created".
      expect(active.body.map((j: any) => [j.id, j.status])).toEqual([[jobId, 'created']]);
      const one = await curl(base, 'GET', `/v1/jobs/${jobId}`, { Authorization: `Bearer ${token}` });
      expect(one.body).toMatchObject({ id: jobId, status: 'created', metadata: { source_id: sourceId } });
    });

    it('DELETE /jobs/{job_id}', async () => {
      const res = await curl(base, 'DELETE', `/v1/jobs/${jobId}`, { Authorization: `Bearer ${token}` });
      expect(res.status).toBe(200);
      // As documented: the job's last state; an active job is cancelled first (the "cancelled" status does exist).
      expect(res.body).toMatchObject({ id: jobId, status: 'cancelled' });
      expect((await curl(base, 'GET', '/v1/jobs/', { Authorization: `Bearer ${token}` })).body).toEqual([]);
    });

    it('GET /runs/{run_id}/usage', async () => {
      const res = await curl(base, 'GET', `/v1/runs/${runId}/usage`, { Authorization: `Bearer ${token}` });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        completion_tokens: 150,
        prompt_tokens: 1200,
        total_tokens: 1350,
        prompt_tokens_details: { cached_tokens: 200, cache_read_tokens: null, cache_creation_tokens: null },
        completion_tokens_details: { reasoning_tokens: 50 },
      });
    });

    it('POST /agents/{agent_id}/template and /version-template', async () => {
      const created = await curl(base, 'POST', `/v1/agents/${agentId}/template`, { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, '{}');
      expect(created.status).toBe(200);
      expect(created.body).toMatchObject({ templateName: 'SalesAssistant', templateId: expect.stringMatching(/^template-/) });
      const versioned = await curl(base, 'POST', `/v1/agents/${agentId}/version-template`, { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, '{ "message": "Saving new version" }');
      expect(versioned.status).toBe(200);
      expect(versioned.body).toMatchObject({ templateId: created.body.templateId, version: 2 });
      const state = await curl(base, 'POST', `/v1/agents/${agentId}/version-template?returnAgentState=true`, { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, '{}');
      expect(state.body).toMatchObject({ id: agentId, name: 'SalesAssistant' });
      const version = await org.db.agentTemplateVersion.findFirstOrThrow({ where: { templateId: created.body.templateId, version: 2 } });
      expect(version.message).toBe('Saving new version');
    });

    it('GET /agents/{agent_id}/core-memory/variables', async () => {
      const template = await createTemplateFromAgent(org.db, org.actor, { agentId, name: 'sales-template' });
      const { agent } = await createAgentFromTemplate(org.db, org.actor, { templateId: template.template.id, memoryVariables: { location: 'Paris', user_name: 'Alice' } });
      const res = await curl(base, 'GET', `/v1/agents/${agent.id}/core-memory/variables`, { Authorization: `Bearer ${token}` });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ variables: { location: 'Paris', user_name: 'Alice' } });
    });

    it('GET /batch-runs/{batch_id}/messages', async () => {
      const res = await curl(base, 'GET', `/v1/batch-runs/${batchId}/messages`, { Authorization: `Bearer ${token}` });
      expect(res.status).toBe(200);
      // Seed is wrong: Letta lists newest first unless sort_descending=false (and its path is /v1/messages/batches/…/messages).
      expect(res.body.messages.map((m: any) => m.role)).toEqual(['assistant', 'user']);
      expect(res.body.messages[0]).toMatchObject({ agent_id: agentId, content: [{ type: 'omitted_reasoning' }, { type: 'text', text: '20 days.' }] });
      expect(Object.keys(res.body.messages[0])).toEqual(expect.arrayContaining([
        'role', 'created_by_id', 'last_updated_by_id', 'created_at', 'updated_at', 'id', 'agent_id', 'model', 'content', 'name', 'tool_calls',
        'tool_call_id', 'step_id', 'otid', 'tool_returns', 'group_id', 'sender_id', 'batch_item_id',
      ]));
      const oldestFirst = await curl(base, 'GET', `/v1/batch-runs/${batchId}/messages?sort_descending=false&limit=1`, { Authorization: `Bearer ${token}` });
      expect(oldestFirst.body.messages.map((m: any) => m.role)).toEqual(['user']);
      const next = await curl(base, 'GET', `/v1/batch-runs/${batchId}/messages?sort_descending=false&cursor=${oldestFirst.body.messages[0].id}`, { Authorization: `Bearer ${token}` });
      expect(next.body.messages.map((m: any) => m.role)).toEqual(['assistant']);
    });

    it('DELETE /sources/{source_id}/files/{file_id}', async () => {
      const res = await curl(base, 'DELETE', `/v1/sources/${sourceId}/files/${fileIds[1]}`, { Authorization: `Bearer ${token}` });
      // Seed is wrong that Letta serves this path (Letta: DELETE /v1/sources/{id}/{file_id}); both are served, 204 no content.
      expect(res.status).toBe(204);
      expect(res.text).toBe('');
    });

    it('DELETE /tools/{tool_id}', async () => {
      const res = await curl(base, 'DELETE', `/v1/tools/${toolId}`, { Authorization: `Bearer ${token}` });
      // "200/204 with no content": Letta answers 200 with `null`.
      expect(res.status).toBe(200);
      expect(res.text).toBe('null');
      expect((await curl(base, 'GET', `/v1/tools/${toolId}`, { Authorization: `Bearer ${token}` })).status).toBe(404);
    });
  });

  describe('upload examples (both seeds)', () => {
    let uploader: Tenant;
    let auth: Record<string, string>;
    let kbId: string;

    beforeAll(async () => {
      uploader = await t.tenant();
      auth = { Authorization: `Bearer ${uploader.apiKey}` };
      const kb = await curl(base, 'POST', '/v1/sources', { ...auth, 'Content-Type': 'application/json' }, JSON.stringify({ name: 'Customer Support KB', embedding: 'openai/text-embedding-3-small' }));
      kbId = kb.body.id;
    });

    const upload = (path: string, headers: Record<string, string>, form: { body: Buffer; contentType: string }) =>
      curl(base, 'POST', path, { ...headers, 'Content-Type': form.contentType }, form.body);

    it('seed-sources-api.md, Upload File to Source: ?duplicate_handling=SUFFIX with -F file=@knowledge_base.pdf', async () => {
      const bytes = await pdf('Reset the router by holding the button.');
      const form = curlForm('knowledge_base.pdf', bytes);
      // Seed is wrong: its example also sets `-H 'Content-Type: application/pdf'`, which replaces curl's multipart
      // header and its boundary; the body is then no form at all, and Letta (FastAPI) answers 422, field `file` missing.
      const asWritten = await curl(base, 'POST', `/v1/sources/${kbId}/upload?duplicate_handling=SUFFIX`, { ...auth, 'Content-Type': 'application/pdf' }, form.body);
      expect(asWritten.status, asWritten.text).toBe(422);
      expect(asWritten.body.detail).toEqual([{ type: 'missing', loc: ['body', 'file'], msg: 'Field required', input: null }]);

      // Without the manual header (curl sets multipart/form-data with its boundary). Seed is wrong that the values are
      // capitals (Letta's are lowercase); Quarry accepts either.
      const res = await upload(`/v1/sources/${kbId}/upload?duplicate_handling=SUFFIX`, auth, form);
      expect(res.status, res.text).toBe(200);
      // "Returns file metadata including processing status": Letta's FileMetadata, the name with its source's prefix.
      expect(res.body).toMatchObject({
        source_id: kbId,
        file_name: 'Customer Support KB/knowledge_base.pdf',
        original_file_name: 'knowledge_base.pdf',
        file_type: 'application/pdf',
        file_size: bytes.length,
        organization_id: uploader.organizationId,
      });
      // Seed is wrong: statuses are lowercase, and a new file is not yet processed.
      expect(res.body.processing_status).toBe('pending');
      // SUFFIX: the same name again is stored numbered.
      const again = await upload(`/v1/sources/${kbId}/upload?duplicate_handling=SUFFIX`, auth, form);
      expect(again.body.file_name).toBe('Customer Support KB/knowledge_base_(1).pdf');
      const listed = await curl(base, 'GET', `/v1/sources/${kbId}/files`, auth);
      expect(listed.body.map((f: any) => f.file_name)).toEqual(['knowledge_base.pdf', 'knowledge_base_(1).pdf']);
    });

    it('seed-sources-api.md, Uploading a File to a Source: ?duplicate_handling=REPLACE with -F file=@customer_manual.pdf', async () => {
      const form = curlForm('customer_manual.pdf', await pdf('Chapter one: unpacking.'));
      const first = await upload(`/v1/sources/${kbId}/upload?duplicate_handling=REPLACE`, auth, form);
      expect(first.status, first.text).toBe(200);
      expect(first.body).toMatchObject({ file_name: 'Customer Support KB/customer_manual.pdf', processing_status: 'pending' });
      // The same file again replaces it: a new file (new id) under the same name; the old one goes once the new one
      // has been processed (workers are off here).
      const second = await upload(`/v1/sources/${kbId}/upload?duplicate_handling=REPLACE`, auth, form);
      expect(second.status, second.text).toBe(200);
      expect(second.body.id).not.toBe(first.body.id);
      expect(second.body).toMatchObject({ file_name: 'Customer Support KB/customer_manual.pdf', original_file_name: 'customer_manual.pdf' });
      // The seed's literal id is not an id: 422 (Letta 0.13+).
      const literal = await upload('/v1/sources/source_123/upload?duplicate_handling=REPLACE', auth, form);
      expect(literal.status).toBe(422);
      expect(literal.body.examples).toEqual(['source-123e4567-e89b-42d3-a456-426614174000']);
    });

    it('seed-additional-endpoints.md, POST /sources/{source_id}/files (Upload File to Source): -F file=@/path/to/your/document.pdf', async () => {
      const form = curlForm('document.pdf', await pdf('Quarterly report.'));
      // The example posts to /upload, as Letta does.
      const res = await upload(`/v1/sources/${kbId}/upload`, { Authorization: `Bearer ${uploader.apiKey}` }, form);
      expect(res.status, res.text).toBe(200);
      // Seed is wrong: the answer is the new file's FileMetadata (Letta 0.8.7+), not a Job.
      expect(res.body).toMatchObject({ id: expect.stringMatching(/^file-/), file_name: 'Customer Support KB/document.pdf', processing_status: 'pending' });
      expect(res.body).not.toHaveProperty('job_type');
      // The processing job is still there to poll through the Jobs API, as the seed describes (status `pending`, not
      // the seed's `not_started`).
      const jobs = await curl(base, 'GET', `/v1/jobs/?source_id=${kbId}`, auth);
      const job = jobs.body.find((j: any) => j.metadata?.file_id === res.body.id);
      expect(job).toMatchObject({ job_type: 'job', status: 'pending', metadata: { source_id: kbId, file_id: res.body.id } });
      expect((await curl(base, 'GET', `/v1/jobs/${job.id}`, auth)).body.id).toBe(job.id);

      // The heading's path, POST /sources/{source_id}/files (not served by Letta), is an alias of /upload.
      const alias = await upload(`/v1/sources/${kbId}/files`, auth, form);
      expect(alias.status, alias.text).toBe(200);
      expect(alias.body.file_name).toBe('Customer Support KB/document_(1).pdf');
    });
  });
});
