import { LettaClient, LettaError } from '@letta-ai/letta-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendBatchMessages, createBatchRun } from '../src/domain/batches.js';
import { createJob } from '../src/domain/jobs.js';
import { recordRunStep, startRun } from '../src/domain/runs.js';
import { exampleId } from '../src/rest/validation.js';
import { createTestApp, type TestApp } from './support/app.js';
import { databaseKinds } from './support/db.js';
import { processedFile, PYTHON_TOOL } from './support/rest.js';
import { until } from './support/wait.js';

/**
 * Letta's official TypeScript client (0.1.211, the last with `sources`, `jobs` and `tools.count`) against the shim
 * over a real listening server, through the workflow on `sources` and again on `folders`.
 *
 * Files are uploaded through the client's `files.upload` into a source of their own and followed until processed
 * (the workers run); the files the rest of the workflow reads are put in place as the pipeline leaves them, so
 * their chunks and passages are known exactly.
 */

/** The status of a failed client call. */
async function statusOf(call: Promise<unknown>): Promise<{ status: number; body: any }> {
  try {
    await call;
  } catch (error) {
    if (error instanceof LettaError) return { status: error.statusCode ?? 0, body: error.body };
    throw error;
  }
  throw new Error('the call succeeded');
}

const UNDOCUMENTED_TOOL = 'def nope(x: int) -> int:\n    return x\n';


describe.each(databaseKinds())('the official Letta client on %s', (kind) => {
  let t: TestApp;
  let url: string;
  beforeAll(async () => {
    // Workers process the uploads; no recovery sweep within the run (staleMs), so jobs other test files leave
    // pending on the shared PostgreSQL database stay theirs.
    t = await createTestApp(kind, {}, {}, { ingest: { staleMs: 10 * 60_000 } });
    url = (await t.app.listen()).url;
  });
  afterAll(() => t.close());

  describe.each(['sources', 'folders'] as const)('on /v1/%s', (resource) => {
    it('runs the whole workflow', async () => {
      const tenant = await t.tenant();
      const client = new LettaClient({ baseUrl: url, token: tenant.apiKey });
      const folders = resource === 'folders';
      const api = folders ? client.folders : client.sources;

      // ── a source ──
      const created = await api.create({
        name: 'docs',
        description: 'Product docs',
        embedding: 'local/lexical-384',
        embeddingChunkSize: 200,
        metadata: { team: 'support' },
      });
      const source = { ...created, id: created.id! };
      expect(source.id).toMatch(/^source-[0-9a-f-]{36}$/);
      expect(source).toMatchObject({ name: 'docs', description: 'Product docs', metadata: { team: 'support' } });
      expect(source.embeddingConfig).toMatchObject({ embeddingModel: 'lexical-384', embeddingDim: 384, embeddingChunkSize: 200, handle: 'local/lexical-384' });
      expect(source.createdAt).toBeInstanceOf(Date);
      // Letta's Folder shape leaves these out; the Source shape has them.
      // (this client's Source type no longer declares them, so they come through under their JSON names)
      const keys = Object.keys(source);
      expect(keys.includes('organization_id') || keys.includes('organizationId')).toBe(!folders);
      expect(keys.includes('vector_db_provider') || keys.includes('vectorDbProvider')).toBe(!folders);

      expect(await api.count()).toBe(1);
      expect(await api.retrieveByName('docs')).toBe(source.id);
      expect((await api.list()).map((s) => s.id)).toEqual([source.id]);
      expect((await api.retrieve(source.id)).name).toBe('docs');
      const modified = await api.modify(source.id, { description: 'Docs, second edition' });
      expect(modified).toMatchObject({ id: source.id, description: 'Docs, second edition', metadata: { team: 'support' } });

      // ── files and passages, as the pipeline leaves them ──
      const target = { id: source.id!, name: source.name };
      const notes = await processedFile(tenant, target, 'notes.txt', 'Alpha line.\n\nBeta line.');
      const guide = await processedFile(tenant, target, 'guide.md', '# Guide\n\nStep one.', { mediaType: 'text/x-markdown' });
      const files = await api.files.list(source.id, { limit: 100 });
      expect(files.map((f) => [f.fileName, f.originalFileName, f.processingStatus, f.chunksEmbedded])).toEqual(
        folders
          ? [['guide.md', 'guide.md', 'completed', 2], ['notes.txt', 'notes.txt', 'completed', 2]] // folders list newest first
          : [['notes.txt', 'notes.txt', 'completed', 2], ['guide.md', 'guide.md', 'completed', 2]],
      );
      expect(files.every((f) => f.content === undefined)).toBe(true);
      const withContent = await api.files.list(source.id, { includeContent: true });
      expect(withContent.map((f) => f.content).sort()).toEqual(['# Guide\n\nStep one.', 'Alpha line.\n\nBeta line.']);
      if (!folders) {
        const one = await client.sources.getFileMetadata(source.id, notes.file.id, { includeContent: true });
        expect(one).toMatchObject({ id: notes.file.id, sourceId: source.id, fileType: 'text/plain', fileSize: 23, content: 'Alpha line.\n\nBeta line.' });
      }
      const passages = await api.passages.list(source.id, { limit: 10 });
      expect(passages).toHaveLength(4);
      expect(new Set(passages.map((p) => p.fileId))).toEqual(new Set([notes.file.id, guide.file.id]));
      expect(passages.every((p) => p.embedding?.length === 384 && p.sourceId === source.id)).toBe(true);
      expect(passages.map((p) => p.text).sort()).toEqual(['# Guide', 'Alpha line.', 'Beta line.', 'Step one.']);
      const page = await api.passages.list(source.id, { limit: 2, after: passages[1].id });
      expect(page.map((p) => p.id)).toEqual(passages.slice(2).map((p) => p.id));
      const stats = await (folders ? client.folders.getFoldersMetadata({ includeDetailedPerSourceMetadata: true }) : client.sources.getSourcesMetadata({ includeDetailedPerSourceMetadata: true }));
      expect(stats).toMatchObject({ totalSources: 1, totalFiles: 2, totalSize: notes.file.sizeBytes! + guide.file.sizeBytes!, sources: [{ sourceName: 'docs', fileCount: 2 }] });

      // ── uploads, processed by the workers, with Letta's duplicate handling ──
      const inbox = (await api.create({ name: 'inbox', embedding: 'local/lexical-384' })).id!;
      const text = (content: string, name = 'test.txt') => new File([content], name, { type: 'text/plain' });
      const listInbox = async () => (await api.files.list(inbox, { limit: 100 })).sort((a, b) => a.createdAt!.getTime() - b.createdAt!.getTime());
      const processed = (id: string) =>
        until(async () => (await listInbox()).find((f) => f.id === id), (f) => f?.processingStatus === 'completed' || f?.processingStatus === 'error');
      const uploaded = await api.files.upload(text('Granite is an igneous rock.'), inbox, {});
      expect(uploaded).toMatchObject({ sourceId: inbox, fileName: 'inbox/test.txt', originalFileName: 'test.txt', fileType: 'text/plain', fileSize: 27 });
      expect(['pending', 'parsing', 'embedding']).toContain(uploaded.processingStatus);
      const done = await processed(uploaded.id!);
      expect(done).toMatchObject({ fileName: 'test.txt', processingStatus: 'completed', chunksEmbedded: 1, totalChunks: 1 });
      if (!folders) expect((await client.sources.getFileMetadata(inbox, uploaded.id!)).processingStatus).toBe('completed');
      expect((await api.passages.list(inbox)).map((p) => [p.text, p.fileId])).toEqual([['Granite is an igneous rock.', uploaded.id]]);
      // suffix (the default): test.txt, test_(1).txt, test_(2).txt, all originally test.txt.
      for (const n of [1, 2]) expect((await api.files.upload(text(`copy ${n}`), inbox, {})).fileName).toBe(`inbox/test_(${n}).txt`);
      const copies = await listInbox();
      expect(copies.map((f) => [f.fileName, f.originalFileName])).toEqual([['test.txt', 'test.txt'], ['test_(1).txt', 'test.txt'], ['test_(2).txt', 'test.txt']]);
      // skip: the existing file, marked in a header; error: 400 naming the duplicate.
      const skipped = await api.files.upload(text('ignored'), inbox, { duplicateHandling: 'skip' }).withRawResponse();
      expect(skipped.rawResponse.headers.get('x-upload-result')).toBe('skipped');
      expect(skipped.data.id).toBe(copies[0].id); // the file stored under that name
      const refused = await statusOf(api.files.upload(text('refused'), inbox, { duplicateHandling: 'error' }));
      expect(refused.status).toBe(400);
      expect(refused.body.detail).toMatch(/already exists/);
      // name: stored under the given name, slashes kept.
      const named = await api.files.upload(text('Custom words.'), inbox, { name: 'folder_a/folder_b/my_custom_file_name.txt' });
      expect(named).toMatchObject({ fileName: 'inbox/folder_a/folder_b/my_custom_file_name.txt', originalFileName: 'folder_a/folder_b/my_custom_file_name.txt' });
      // replace: a new id, and once processed the only file of that name.
      const original = await api.files.upload(text('Old words about obsidian.', 'swap.txt'), inbox, {});
      await processed(original.id!);
      const replacement = await api.files.upload(text('New words about pumice.', 'swap.txt'), inbox, { duplicateHandling: 'replace' });
      expect(replacement.id).not.toBe(original.id);
      expect((await processed(replacement.id!))?.processingStatus).toBe('completed');
      const swaps = await until(listInbox, (list) => list.filter((f) => f.originalFileName === 'swap.txt').length === 1);
      expect(swaps.filter((f) => f.originalFileName === 'swap.txt').map((f) => f.id)).toEqual([replacement.id]);
      // A type Quarry cannot read.
      const png = new File([Buffer.concat([Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex'), Buffer.alloc(32)])], 'picture.png', { type: 'image/png' });
      const unsupported = await statusOf(api.files.upload(png, inbox, {}));
      expect(unsupported.status).toBe(415);
      expect(unsupported.body.detail).toMatch(/^Unsupported file type: image\/png \(filename: picture\.png\)/);
      for (const f of await listInbox()) expect((await processed(f.id!))?.processingStatus).toBe('completed');
      await api.delete(inbox);

      // ── agents ──
      const agent = await client.agents.create({
        name: 'helper',
        memoryBlocks: [{ label: 'persona', value: 'I help.' }],
        llmConfig: { model: 'gpt-4o-mini', modelEndpointType: 'openai', contextWindow: 16_000 },
        embedding: 'local/lexical-384',
        includeBaseTools: false,
      });
      expect(agent).toMatchObject({ name: 'helper', tools: [], sources: [], embedding: 'local/lexical-384' });
      expect(agent.llmConfig).toMatchObject({ model: 'gpt-4o-mini', contextWindow: 16_000 });
      expect(agent.maxFilesOpen).toBe(5); // Letta's default for a 16k context window
      const attached = await (folders ? client.agents.folders.attach(agent.id, source.id) : client.agents.sources.attach(agent.id, source.id));
      expect(attached.sources.map((s) => s.id)).toEqual([source.id]);
      expect(attached.tools.map((tool) => tool.name).sort()).toEqual(['grep_files', 'open_files', 'semantic_search_files']);
      expect(attached.tools.every((tool) => tool.toolType === 'letta_files_core')).toBe(true);
      expect(attached.memory.fileBlocks?.map((b) => b.label).sort()).toEqual(['docs/guide.md', 'docs/notes.txt']);
      expect(attached.memory.fileBlocks?.find((b) => b.label === 'docs/notes.txt')?.value).toBe('[Viewing file start (out of 2 lines)]\n1: Alpha line.\n2: Beta line.');
      expect((await (folders ? client.agents.folders.list(agent.id) : client.agents.sources.list(agent.id))).map((s) => s.id)).toEqual([source.id]);
      expect(await (folders ? client.folders.getAgentsForFolder(source.id) : client.sources.getAgentsForSource(source.id))).toEqual([agent.id]);
      const open = await client.agents.listAgentFiles(agent.id, { isOpen: true });
      expect(open.files.map((f) => [f.fileName, f.folderName, f.isOpen]).sort()).toEqual([['docs/guide.md', 'docs', true], ['docs/notes.txt', 'docs', true]]);
      expect(open.hasMore).toBe(false);
      await client.agents.files.close(agent.id, notes.file.id);
      expect((await client.agents.listAgentFiles(agent.id, { isOpen: false })).files.map((f) => f.fileId)).toEqual([notes.file.id]);
      expect(await client.agents.files.open(agent.id, notes.file.id)).toEqual([]);
      expect((await client.agents.files.closeAll(agent.id)).sort()).toEqual(['docs/guide.md', 'docs/notes.txt']);
      expect(await client.agents.memoryVariables.list(agent.id)).toEqual({ variables: {} });

      // ── tools from Python source ──
      const createdTool = await client.tools.create({ sourceCode: PYTHON_TOOL, tags: ['games'] });
      const tool = { ...createdTool, id: createdTool.id! };
      expect(tool).toMatchObject({ name: 'roll_dice', toolType: 'custom', sourceType: 'python', tags: ['games'], returnCharLimit: 50000 });
      expect(tool.description).toMatch(/^Roll a die and report the total/);
      expect(tool.jsonSchema).toMatchObject({
        name: 'roll_dice',
        parameters: { type: 'object', properties: { sides: { type: 'integer' }, times: { type: 'integer' } }, required: ['sides'] },
      });
      // Letta 0.12+ answers a second create of a name with the updated tool (≤0.11: 409).
      expect(await client.tools.create({ sourceCode: PYTHON_TOOL })).toMatchObject({ id: tool.id, tags: ['games'] });
      const undocumented = await statusOf(client.tools.create({ sourceCode: UNDOCUMENTED_TOOL }));
      expect(undocumented.status).toBe(400);
      expect(undocumented.body.detail).toMatch(/docstring/);
      const upserted = await client.tools.upsert({ sourceCode: PYTHON_TOOL.replace('Roll a die', 'Roll some dice') });
      expect(upserted.id).toBe(tool.id);
      expect(upserted.description).toMatch(/^Roll some dice/);
      const changed = await client.tools.modify(tool.id, { returnCharLimit: 1000, tags: ['dice'] });
      expect(changed).toMatchObject({ id: tool.id, returnCharLimit: 1000, tags: ['dice'] });
      expect((await client.tools.retrieve(tool.id)).returnCharLimit).toBe(1000);
      expect((await client.tools.list({ name: 'roll_dice' })).map((x) => x.id)).toEqual([tool.id]);
      expect(await client.tools.count()).toBe(1); // your own tools; built-in ones on request
      expect(await client.tools.count({ excludeLettaTools: false })).toBeGreaterThan(3);
      expect((await client.tools.list({ toolTypes: ['letta_files_core'] })).map((x) => x.name).sort()).toEqual(['grep_files', 'open_files', 'semantic_search_files']);
      const withTool = await client.agents.tools.attach(agent.id, tool.id);
      expect(withTool.tools.map((x) => x.name)).toContain('roll_dice');

      // ── jobs (file jobs come from the ingestion pipeline; made here through the domain) ──
      const job = await createJob(tenant.db, tenant.actor, { task: 'file_processing', sourceId: source.id, fileId: notes.file.id }, t);
      const listed = await client.jobs.list({ sourceId: source.id });
      expect(listed.map((j) => j.id)).toEqual([job.id]);
      expect(listed[0]).toMatchObject({ status: 'created', jobType: 'job', metadata: { source_id: source.id, file_id: notes.file.id } });
      expect((await client.jobs.listActive({ sourceId: source.id })).map((j) => j.id)).toEqual([job.id]);
      const cancelled = await client.jobs.cancelJob(job.id);
      expect(cancelled.status).toBe('cancelled');
      expect(cancelled.completedAt).toBeInstanceOf(Date);
      expect(await client.jobs.listActive()).toEqual([]);
      expect((await client.jobs.delete(job.id)).id).toBe(job.id);
      expect((await statusOf(client.jobs.retrieve(job.id))).status).toBe(404);

      // ── runs and their usage (runs are reported by agent runtimes) ──
      const run = await startRun(tenant.db, tenant.actor, { agentId: agent.id }, t);
      await recordRunStep(tenant.db, tenant.actor, run.id, { promptTokens: 1200, completionTokens: 150, cachedTokens: 200, reasoningTokens: 50 }, t);
      await recordRunStep(tenant.db, tenant.actor, run.id, { promptTokens: 300, completionTokens: 30 }, t);
      expect((await client.runs.list({ agentIds: [agent.id] })).map((r) => r.id)).toEqual([run.id]);
      expect(await client.runs.retrieve(run.id)).toMatchObject({ id: run.id, status: 'running' });
      // This client's details type knows cached_tokens only; the other figures come through as sent (null: never reported).
      expect(await client.runs.usage.retrieve(run.id)).toEqual({
        completionTokens: 180,
        promptTokens: 1500,
        totalTokens: 1680,
        promptTokensDetails: { cachedTokens: 200, cache_read_tokens: null, cache_creation_tokens: null },
        completionTokensDetails: { reasoningTokens: 50 },
      });

      // ── batch messages and templates ──
      const batch = await createBatchRun(tenant.db, tenant.actor, { requests: [{ agentId: agent.id }] });
      const messages = await appendBatchMessages(tenant.db, tenant.actor, batch.id, [
        { agentId: agent.id, role: 'user', content: 'hello' },
        { agentId: agent.id, role: 'assistant', content: 'hi' },
      ]);
      const newestFirst = await client.messages.listBatchMessages(batch.id, { limit: 10 });
      expect(newestFirst.messages.map((m) => m.id)).toEqual([messages[1].id, messages[0].id]);
      const oldestFirst = await client.messages.listBatchMessages(batch.id, { sortDescending: false, cursor: messages[0].id });
      expect(oldestFirst.messages.map((m) => m.id)).toEqual([messages[1].id]);
      await client.agents.templates.create(agent.id);
      await client.agents.templates.createVersion(agent.id);
      const template = await tenant.db.agentTemplate.findFirstOrThrow({ where: { agentId: agent.id } });
      expect(template).toMatchObject({ name: 'helper', latestVersion: 2 });

      // ── errors ──
      const missing = await statusOf(api.retrieve(exampleId('source')));
      expect(missing.status).toBe(404);
      expect(missing.body.detail).toMatch(/not found/);
      expect((await statusOf(api.create({ name: 'docs' }))).status).toBe(409);
      const malformed = await statusOf(api.retrieve('source_123'));
      expect(malformed.status).toBe(422);
      expect(malformed.body.detail[0]).toMatchObject({ type: 'string_pattern_mismatch', loc: ['path', folders ? 'folder_id' : 'source_id'] });
      const stranger = new LettaClient({ baseUrl: url, token: 'qk_not-a-key' });
      expect((await statusOf(stranger.sources.count())).status).toBe(401);
      const other = await t.tenant();
      const otherClient = new LettaClient({ baseUrl: url, token: other.apiKey });
      expect((await statusOf(otherClient[resource].retrieve(source.id))).status).toBe(404);
      expect(await otherClient[resource].list()).toEqual([]);

      // ── deletion ──
      await api.files.delete(source.id, notes.file.id);
      expect((await api.files.list(source.id)).map((f) => f.id)).toEqual([guide.file.id]);
      expect((await api.passages.list(source.id)).every((p) => p.fileId === guide.file.id)).toBe(true);
      expect((await statusOf(api.files.delete(source.id, notes.file.id))).status).toBe(404);
      const detached = await (folders ? client.agents.folders.detach(agent.id, source.id) : client.agents.sources.detach(agent.id, source.id));
      expect(detached.sources).toEqual([]);
      expect(detached.tools.map((x) => x.name)).toEqual(['roll_dice']);
      await api.delete(source.id);
      expect((await statusOf(api.retrieve(source.id))).status).toBe(404);
      expect(await api.count()).toBe(0);
      expect((await client.agents.retrieve(agent.id)).sources).toEqual([]);
      await client.tools.delete(tool.id);
      expect((await statusOf(client.tools.retrieve(tool.id))).status).toBe(404);
      await client.agents.delete(agent.id);
      expect((await statusOf(client.agents.retrieve(agent.id))).status).toBe(404);
    });
  });
});
