import Letta, { APIError, AuthenticationError, BadRequestError, ConflictError, NotFoundError, UnprocessableEntityError } from 'letta-client-1';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import packageJson from '../package.json' with { type: 'json' };
import { appendBatchMessages, createBatchRun } from '../src/domain/batches.js';
import { createJob } from '../src/domain/jobs.js';
import { recordRunStep, startRun } from '../src/domain/runs.js';
import { exampleId } from '../src/rest/validation.js';
import { createTestApp, type Tenant, type TestApp } from './support/app.js';
import { databaseKinds } from './support/db.js';
import { PYTHON_TOOL } from './support/rest.js';
import { until } from './support/wait.js';

/**
 * Letta's current official TypeScript client (1.12.1, generated from the API of Letta 0.12+) against the shim over
 * a real listening server: a user's whole workflow, one area per test, each in an organization of its own. Calls
 * the 1.x client no longer has (sources, jobs, tool count, batch messages, folder passages) go through its generic
 * `client.get/post/patch/delete`, as a user of that client would make them.
 */

/** The error a failed client call raised. */
async function failure(call: Promise<unknown>): Promise<APIError> {
  try {
    await call;
  } catch (error) {
    if (error instanceof APIError) return error;
    throw error;
  }
  throw new Error('the call succeeded');
}

const detailOf = (error: APIError) => (error.error as { detail?: unknown } | undefined)?.detail;

const text = (content: string, name = 'test.txt') => new File([content], name, { type: 'text/plain' });

describe.each(databaseKinds())('the Letta 1.x client (1.12.1) on %s', (kind) => {
  let t: TestApp;
  let url: string;
  beforeAll(async () => {
    // An OpenAI key makes the openai embedding handles usable (nothing here calls OpenAI). Workers process the
    // uploads; no recovery sweep within the run, so jobs other test files leave on the shared database stay theirs.
    t = await createTestApp(kind, {}, { OPENAI_API_KEY: 'sk-test' }, { ingest: { staleMs: 10 * 60_000 } });
    url = (await t.app.listen()).url;
  });
  afterAll(() => t.close());

  const clientOf = (tenant: Tenant | null, apiKey = tenant?.apiKey ?? null) => new Letta({ baseURL: url, apiKey });

  it('checks health without a key and lists the embedding models a folder can use', async () => {
    expect(await clientOf(null).health()).toEqual({ version: packageJson.version, status: 'ok' });
    const client = clientOf(await t.tenant());
    const models = await client.models.embeddings.list();
    const handles = models.map((m) => m.handle);
    expect(handles).toEqual(expect.arrayContaining(['local/lexical-384', 'openai/text-embedding-3-small']));
    expect(handles.some((h) => h?.startsWith('azure/'))).toBe(false); // not configured here
    expect(models.find((m) => m.handle === 'local/lexical-384')).toMatchObject({
      name: 'lexical-384',
      provider_name: 'local',
      model_type: 'embedding',
      embedding_dim: 384,
      embedding_chunk_size: 300,
    });
    expect(models.find((m) => m.handle === 'openai/text-embedding-3-small')).toMatchObject({ provider_type: 'openai', embedding_endpoint_type: 'openai', embedding_dim: 1536 });
    // Every handle listed makes a folder.
    for (const [i, model] of models.entries()) {
      const folder = await client.folders.create({ name: `by-${i}`, embedding: model.handle! });
      expect(folder.embedding_config).toMatchObject({ handle: model.handle, embedding_dim: model.embedding_dim });
    }
  });

  it('runs folders, uploads, files and passages', async () => {
    const tenant = await t.tenant();
    const client = clientOf(tenant);

    // ── folders ──
    const docs = await client.folders.create({
      name: 'docs',
      description: 'Product docs',
      instructions: 'Cite the file.',
      embedding: 'local/lexical-384',
      embedding_chunk_size: 200,
      metadata: { team: 'support' },
    });
    expect(docs).toMatchObject({ name: 'docs', description: 'Product docs', instructions: 'Cite the file.', metadata: { team: 'support' } });
    expect(docs.id).toMatch(/^source-[0-9a-f-]{36}$/);
    expect(docs.embedding_config).toMatchObject({ embedding_model: 'lexical-384', embedding_dim: 384, embedding_chunk_size: 200, handle: 'local/lexical-384' });
    expect(Object.keys(docs)).not.toContain('organization_id'); // Letta's Folder shape
    const others = [];
    for (const name of ['Docs-archive', 'notes', 'misc']) others.push(await client.folders.create({ name, embedding: 'local/lexical-384' }));
    const all = [docs, ...others].map((f) => f.id);

    // Oldest first by default; the client's auto-pagination follows `after` until a short page.
    const paged: string[] = [];
    for await (const folder of client.folders.list({ limit: 2 })) paged.push(folder.id);
    expect(paged).toEqual(all);
    const firstPage = await client.folders.list({ limit: 2 });
    expect(firstPage.items.map((f) => f.id)).toEqual(all.slice(0, 2));
    expect(firstPage.hasNextPage()).toBe(true);
    expect((await firstPage.getNextPage()).items.map((f) => f.id)).toEqual(all.slice(2));
    expect((await client.folders.list({ order: 'desc', order_by: 'created_at' })).items.map((f) => f.id)).toEqual([...all].reverse());
    expect((await client.folders.list({ name: 'DOCS' })).items.map((f) => f.name)).toEqual(['docs', 'Docs-archive']);
    expect((await client.folders.list({ after: all[0], before: all[3] })).items.map((f) => f.id)).toEqual(all.slice(1, 3));
    const backwards: string[] = [];
    for await (const folder of client.folders.list({ before: all[3], limit: 1 })) backwards.push(folder.id);
    expect(backwards).toEqual(all.slice(0, 3).reverse());

    expect(await client.folders.retrieve(docs.id)).toMatchObject({ id: docs.id, name: 'docs' });
    const updated = await client.folders.update(docs.id, { description: 'Docs, second edition', metadata: { team: 'docs' } });
    expect(updated).toMatchObject({ id: docs.id, description: 'Docs, second edition', instructions: 'Cite the file.', metadata: { team: 'docs' } });
    // Calls this client no longer has, through its generic methods.
    expect(await client.get('/v1/sources/count')).toBe(4);
    expect(((await client.get('/v1/sources/')) as { id: string; organization_id: string }[]).map((s) => s.id)).toEqual(all);

    // ── uploads, processed by the workers ──
    const listFiles = async () => {
      const files = [];
      for await (const file of client.folders.files.list(docs.id, { limit: 2, order: 'asc' })) files.push(file);
      return files;
    };
    const processed = (id: string) =>
      until(() => client.folders.files.retrieve(id, { folder_id: docs.id }), (f) => f.processing_status === 'completed' || f.processing_status === 'error', 20_000, 50);

    const first = await client.folders.files.upload(docs.id, { file: text('Granite is an igneous rock.\n\nBasalt is volcanic.') });
    expect(first).toMatchObject({ source_id: docs.id, file_name: 'docs/test.txt', original_file_name: 'test.txt', file_type: 'text/plain', file_size: 48 });
    expect(await processed(first.id)).toMatchObject({ file_name: 'test.txt', processing_status: 'completed', total_chunks: 1, chunks_embedded: 1 });
    // suffix (the default), then skip (the existing file), error (400), replace (a new file, the old one gone), and a custom name.
    const second = await client.folders.files.upload(docs.id, { file: text('Second copy.'), duplicate_handling: 'suffix' });
    expect(second.file_name).toBe('docs/test_(1).txt');
    const skipped = await client.folders.files.upload(docs.id, { file: text('ignored'), duplicate_handling: 'skip' }).withResponse();
    expect(skipped.response.headers.get('x-upload-result')).toBe('skipped');
    expect(skipped.data.id).toBe(first.id); // the file stored under that name
    const refused = await failure(client.folders.files.upload(docs.id, { file: text('refused'), duplicate_handling: 'error' }));
    expect(refused).toBeInstanceOf(BadRequestError);
    expect(detailOf(refused)).toMatch(/already exists/);
    const named = await client.folders.files.upload(docs.id, { file: text('Custom words about pumice.'), name: 'guides/pumice.txt' });
    expect(named).toMatchObject({ file_name: 'docs/guides/pumice.txt', original_file_name: 'guides/pumice.txt' });
    const original = await client.folders.files.upload(docs.id, { file: text('Old words about basalt.', 'swap.txt') });
    await processed(original.id);
    const replacement = await client.folders.files.upload(docs.id, { file: text('Obsidian is glass.', 'swap.txt'), duplicate_handling: 'replace' });
    expect(replacement.id).not.toBe(original.id);
    expect((await processed(replacement.id))?.processing_status).toBe('completed');
    await Promise.all([processed(second.id), processed(named.id)]);
    const files = await listFiles();
    expect(files.map((f) => [f.file_name, f.original_file_name])).toEqual([
      ['test.txt', 'test.txt'],
      ['test_(1).txt', 'test.txt'],
      ['guides/pumice.txt', 'guides/pumice.txt'],
      ['swap.txt', 'swap.txt'],
    ]);
    expect(files.every((f) => f.content == null)).toBe(true);
    const one = await client.folders.files.retrieve(replacement.id, { folder_id: docs.id, include_content: true });
    expect(one).toMatchObject({ id: replacement.id, file_name: 'swap.txt', content: 'Obsidian is glass.', processing_status: 'completed' });
    const misplaced = await failure(client.folders.files.retrieve(replacement.id, { folder_id: others[0].id }));
    expect(misplaced).toBeInstanceOf(NotFoundError);

    // ── passages (the folder route this client lacks) ──
    const passages = (await client.get(`/v1/folders/${docs.id}/passages`, { query: { limit: 10, order: 'asc' } })) as { id: string; text: string; file_id: string }[];
    expect(passages.map((p) => p.text).sort()).toEqual(['Custom words about pumice.', 'Granite is an igneous rock.\n\nBasalt is volcanic.', 'Obsidian is glass.', 'Second copy.']);
    const after = (await client.get(`/v1/folders/${docs.id}/passages`, { query: { limit: 10, order: 'asc', after: passages[0].id } })) as { id: string }[];
    expect(after.map((p) => p.id)).toEqual(passages.slice(1).map((p) => p.id));

    // ── deletion ──
    await client.folders.files.delete(named.id, { folder_id: docs.id });
    expect((await listFiles()).map((f) => f.id)).not.toContain(named.id);
    expect(await failure(client.folders.files.delete(named.id, { folder_id: docs.id }))).toBeInstanceOf(NotFoundError);
    expect(await client.folders.delete(others[2].id)).toBeNull();
    expect(await failure(client.folders.retrieve(others[2].id))).toBeInstanceOf(NotFoundError);
  });

  it('runs agents: create from a model handle, update, attach folders and tools, open and close files', async () => {
    const tenant = await t.tenant();
    const client = clientOf(tenant);
    const kb = await client.folders.create({ name: 'kb', embedding: 'local/lexical-384' });
    const extra = await client.folders.create({ name: 'extra', embedding: 'local/lexical-384' });
    const uploads = ([[kb, 'a.txt', 'Alpha line.\n\nBeta line.'], [kb, 'b.txt', 'Gamma.'], [extra, 'c.txt', 'Delta.']] as const).map(async ([folder, name, content]) => {
      const file = await client.folders.files.upload(folder.id, { file: text(content, name) });
      await until(() => client.folders.files.retrieve(file.id, { folder_id: folder.id }), (f) => f.processing_status === 'completed', 20_000, 50);
    });
    await Promise.all(uploads);
    const tool = await client.tools.create({ source_code: PYTHON_TOOL });

    // ── create: Letta fills llm_config from the model handle ──
    const agent = await client.agents.create({
      name: 'helper',
      model: 'openai/gpt-4o-mini',
      embedding: 'local/lexical-384',
      memory_blocks: [{ label: 'persona', value: 'I help.' }],
      folder_ids: [kb.id],
      tool_ids: [tool.id],
      include_base_tools: false,
      tags: ['support'],
    });
    expect(agent).toMatchObject({ name: 'helper', model: 'openai/gpt-4o-mini', embedding: 'local/lexical-384', tags: ['support'] });
    expect(agent.llm_config).toMatchObject({ model: 'gpt-4o-mini', model_endpoint_type: 'openai', context_window: 128_000, handle: 'openai/gpt-4o-mini' });
    expect(agent.max_files_open).toBe(10); // Letta's default for a 128k context window
    expect(agent.sources.map((s) => s.id)).toEqual([kb.id]);
    expect(agent.tools.map((x) => x.name).sort()).toEqual(['grep_files', 'open_files', 'roll_dice', 'semantic_search_files']);
    expect(agent.memory.file_blocks?.map((b) => b.label).sort()).toEqual(['kb/a.txt', 'kb/b.txt']);
    const badModel = await failure(client.agents.create({ name: 'x', model: 'nowhere/model-1' }));
    expect(badModel).toBeInstanceOf(UnprocessableEntityError);
    expect(detailOf(badModel)).toMatch(/Unknown model provider "nowhere"/);
    expect(await client.agents.list({ name: 'x' })).toMatchObject({ items: [] }); // nothing half-made

    // ── update ──
    const changed = await client.agents.update(agent.id, { description: 'Answers questions', model: 'anthropic/claude-3-5-sonnet-20241022', tags: ['support', 'docs'] });
    expect(changed).toMatchObject({ id: agent.id, name: 'helper', description: 'Answers questions', tags: ['support', 'docs'], model: 'anthropic/claude-3-5-sonnet-20241022' });
    expect(changed.llm_config).toMatchObject({ model_endpoint_type: 'anthropic', context_window: 200_000, handle: 'anthropic/claude-3-5-sonnet-20241022' });
    // folder_ids and tool_ids are the whole new sets.
    const swapped = await client.agents.update(agent.id, { folder_ids: [extra.id] });
    expect(swapped.sources.map((s) => s.id)).toEqual([extra.id]);
    expect(swapped.memory.file_blocks?.map((b) => b.label)).toEqual(['extra/c.txt']);
    expect(swapped.tools.map((x) => x.name)).toContain('open_files');
    const bare = await client.agents.update(agent.id, { folder_ids: [], tool_ids: [] });
    expect(bare).toMatchObject({ sources: [], tools: [] });
    expect(bare.memory.file_blocks).toEqual([]);
    expect(await failure(client.agents.update(agent.id, { tool_ids: [exampleId('tool')] }))).toBeInstanceOf(NotFoundError);
    expect(await failure(client.agents.update(agent.id, { name: '' }))).toBeInstanceOf(UnprocessableEntityError);
    expect((await client.agents.retrieve(agent.id)).tools).toEqual([]); // the refused updates changed nothing

    // ── attach and detach ──
    await client.agents.folders.attach(kb.id, { agent_id: agent.id });
    await client.agents.tools.attach(tool.id, { agent_id: agent.id });
    const attached: string[] = [];
    for await (const folder of client.agents.folders.list(agent.id, { limit: 1 })) attached.push(folder.id);
    expect(attached).toEqual([kb.id]);
    const tools: string[] = [];
    for await (const x of client.agents.tools.list(agent.id, { limit: 2 })) tools.push(x.name!);
    expect(tools.sort()).toEqual(['grep_files', 'open_files', 'roll_dice', 'semantic_search_files']);
    expect(await client.folders.agents.list(kb.id)).toEqual([agent.id]);

    // ── files in working memory ──
    const open = [];
    for await (const file of client.agents.files.list(agent.id, { is_open: true, limit: 1 })) open.push(file);
    expect(open.map((f) => [f.file_name, f.folder_name, f.is_open]).sort()).toEqual([['kb/a.txt', 'kb', true], ['kb/b.txt', 'kb', true]]);
    const a = open.find((f) => f.file_name === 'kb/a.txt')!;
    await client.agents.files.close(a.file_id, { agent_id: agent.id });
    expect((await client.agents.files.list(agent.id, { is_open: false })).files.map((f) => f.file_id)).toEqual([a.file_id]);
    expect(await client.agents.files.open(a.file_id, { agent_id: agent.id })).toEqual([]);
    expect((await client.agents.files.closeAll(agent.id)).sort()).toEqual(['kb/a.txt', 'kb/b.txt']);

    await client.agents.folders.detach(kb.id, { agent_id: agent.id });
    await client.agents.tools.detach(tool.id, { agent_id: agent.id });
    expect(await client.agents.retrieve(agent.id)).toMatchObject({ sources: [], tools: [] });
    const listed = [];
    for await (const x of client.agents.list({ tags: ['docs'] })) listed.push(x.id);
    expect(listed).toEqual([agent.id]);
    await client.agents.delete(agent.id);
    expect(await failure(client.agents.retrieve(agent.id))).toBeInstanceOf(NotFoundError);
    expect((await client.folders.retrieve(kb.id)).id).toBe(kb.id); // folders stay
  });

  it('runs tools: create from Python source, upsert, list with filters, modify, delete', async () => {
    const tenant = await t.tenant();
    const client = clientOf(tenant);
    const tool = await client.tools.create({ source_code: PYTHON_TOOL, tags: ['games'] });
    expect(tool).toMatchObject({ name: 'roll_dice', tool_type: 'custom', source_type: 'python', tags: ['games'], return_char_limit: 50000 });
    expect(tool.json_schema).toMatchObject({ name: 'roll_dice', parameters: { properties: { sides: { type: 'integer' } }, required: ['sides'] } });
    // Letta 0.12+: creating a name again updates that tool (no 409 for the client to retry).
    const again = await client.tools.create({ source_code: PYTHON_TOOL.replace('Roll a die', 'Roll one die') });
    expect(again).toMatchObject({ id: tool.id, tags: ['games'] });
    expect(again.description).toMatch(/^Roll one die/);
    const upserted = await client.tools.upsert({ source_code: PYTHON_TOOL, description: 'Dice.' });
    expect(upserted).toMatchObject({ id: tool.id, description: 'Dice.' });
    const undocumented = await failure(client.tools.create({ source_code: 'def nope(x: int) -> int:\n    return x\n' }));
    expect(undocumented).toBeInstanceOf(BadRequestError);
    expect(detailOf(undocumented)).toMatch(/docstring/);

    const all: string[] = [];
    for await (const x of client.tools.list({ limit: 3 })) all.push(x.name!);
    expect(all).toContain('roll_dice');
    expect(all.length).toBeGreaterThan(3); // the built-in tools, made on first listing as Letta does
    expect((await client.tools.list({ name: 'roll_dice' })).items.map((x) => x.id)).toEqual([tool.id]);
    expect((await client.tools.list({ names: ['roll_dice', 'nothing'] })).items.map((x) => x.id)).toEqual([tool.id]);
    expect((await client.tools.list({ search: 'DICE' })).items.map((x) => x.id)).toEqual([tool.id]);
    expect((await client.tools.list({ tool_types: ['custom'] })).items.map((x) => x.id)).toEqual([tool.id]);
    expect((await client.tools.list({ exclude_tool_types: ['custom'], limit: 100 })).items.map((x) => x.id)).not.toContain(tool.id);
    expect((await client.tools.list({ return_only_letta_tools: true, limit: 100 })).items.every((x) => x.tool_type?.startsWith('letta_'))).toBe(true);
    expect((await client.tools.list({ tool_ids: [tool.id] })).items.map((x) => x.id)).toEqual([tool.id]);
    expect(await client.get('/v1/tools/count')).toBe(1);

    const modified = await client.tools.update(tool.id, { return_char_limit: 1000, tags: ['dice'] });
    expect(modified).toMatchObject({ id: tool.id, return_char_limit: 1000, tags: ['dice'] });
    expect((await client.tools.retrieve(tool.id)).return_char_limit).toBe(1000);

    // Tool search needs tool embeddings Quarry does not keep: a clear 501 the client does not retry.
    const search = await failure(client.tools.search({ query: 'dice' }));
    expect(search.status).toBe(501);
    expect(search.headers?.get('x-should-retry')).toBe('false');
    expect(detailOf(search)).toMatch(/search=/);

    expect(await client.tools.delete(tool.id)).toBeNull();
    expect(await failure(client.tools.retrieve(tool.id))).toBeInstanceOf(NotFoundError);
  });

  it('runs runs, steps, jobs and batch messages', async () => {
    const tenant = await t.tenant();
    const client = clientOf(tenant);
    const agent = await client.agents.create({ name: 'worker', include_base_tools: false });
    // Runs and their steps are reported by agent runtimes (GraphQL); made here through the domain.
    const run = await startRun(tenant.db, tenant.actor, { agentId: agent.id }, t);
    const steps = [];
    steps.push(await recordRunStep(tenant.db, tenant.actor, run.id, { model: 'openai/gpt-4o-mini', promptTokens: 1200, completionTokens: 150, cachedTokens: 200, reasoningTokens: 50 }, t));
    steps.push(await recordRunStep(tenant.db, tenant.actor, run.id, { model: 'openai/gpt-4o-mini', promptTokens: 300, completionTokens: 30, stopReason: 'end_turn' }, t));
    steps.push(await recordRunStep(tenant.db, tenant.actor, run.id, { model: 'gpt-4o', promptTokens: 10, completionTokens: 1 }, t));
    const ids = steps.map((s) => s.id);

    expect((await client.runs.list({ agent_id: agent.id })).items.map((r) => r.id)).toEqual([run.id]);
    expect(await client.runs.retrieve(run.id)).toMatchObject({ id: run.id, status: 'running', agent_id: agent.id });
    expect(await client.runs.usage.retrieve(run.id)).toMatchObject({ prompt_tokens: 1510, completion_tokens: 181, total_tokens: 1691 });

    // Steps of the run: newest first by default, and every one once through the client's pagination either way.
    expect((await client.runs.steps.list(run.id)).items.map((s) => s.id)).toEqual([...ids].reverse());
    const oldestFirst: string[] = [];
    for await (const step of client.runs.steps.list(run.id, { order: 'asc', limit: 1 })) oldestFirst.push(step.id);
    expect(oldestFirst).toEqual(ids);
    expect((await client.runs.steps.list(run.id, { order: 'asc', after: ids[0], before: ids[2] })).items.map((s) => s.id)).toEqual([ids[1]]);
    const step = await client.steps.retrieve(ids[0]);
    expect(step).toMatchObject({
      id: ids[0],
      run_id: run.id,
      agent_id: agent.id,
      model: 'openai/gpt-4o-mini',
      model_handle: 'openai/gpt-4o-mini',
      provider_name: 'openai',
      prompt_tokens: 1200,
      completion_tokens: 150,
      total_tokens: 1350,
      cached_input_tokens: 200,
      reasoning_tokens: 50,
      prompt_tokens_details: { cached_tokens: 200 },
      completion_tokens_details: { reasoning_tokens: 50 },
    });
    expect((await client.steps.retrieve(ids[1])).stop_reason).toBe('end_turn');
    const everyStep: string[] = [];
    for await (const s of client.steps.list({ limit: 2 })) everyStep.push(s.id);
    expect(everyStep).toEqual([...ids].reverse());
    expect((await client.steps.list({ agent_id: agent.id, model: 'gpt-4o' })).items.map((s) => s.id)).toEqual([ids[2]]);
    expect((await client.steps.list({ start_date: new Date(Date.now() + 60_000).toISOString() })).items).toEqual([]);
    expect((await client.steps.list({ end_date: new Date(Date.now() + 60_000).toISOString(), order: 'asc' })).items.map((s) => s.id)).toEqual(ids);
    expect((await client.steps.list({ has_feedback: true })).items).toEqual([]); // Quarry keeps no feedback
    expect(await failure(client.steps.retrieve(exampleId('step')))).toBeInstanceOf(NotFoundError);
    expect(await failure(client.runs.steps.list(exampleId('run')))).toBeInstanceOf(NotFoundError);

    // ── jobs (routes this client lacks) ──
    const folder = await client.folders.create({ name: 'jobs', embedding: 'local/lexical-384' });
    const idle = await createJob(tenant.db, tenant.actor, { task: 'file_processing', sourceId: folder.id }, t);
    const held = await createJob(tenant.db, tenant.actor, { task: 'file_processing', sourceId: folder.id }, t);
    await tenant.db.job.update({ where: { id: held.id }, data: { status: 'RUNNING', lockedBy: 'worker-elsewhere', heartbeatAt: new Date() } });
    const jobs = (await client.get('/v1/jobs/', { query: { source_id: folder.id, order: 'asc' } })) as { id: string }[];
    expect(jobs.map((j) => j.id)).toEqual([idle.id, held.id]);
    // A job nobody holds is cancelled at once; one a worker holds says so and stays running until its next step.
    expect(await client.patch(`/v1/jobs/${idle.id}/cancel`)).toMatchObject({ id: idle.id, status: 'cancelled', completed_at: expect.any(String), cancel_requested_at: expect.any(String) });
    expect(await client.patch(`/v1/jobs/${held.id}/cancel`)).toMatchObject({ id: held.id, status: 'running', completed_at: null, cancel_requested_at: expect.any(String) });
    expect(await client.delete(`/v1/jobs/${idle.id}`)).toMatchObject({ id: idle.id });
    expect(await failure(client.get(`/v1/jobs/${idle.id}`))).toBeInstanceOf(NotFoundError);

    // ── batch messages ──
    const batch = await createBatchRun(tenant.db, tenant.actor, { requests: [{ agentId: agent.id }] });
    const messages = await appendBatchMessages(tenant.db, tenant.actor, batch.id, [
      { agentId: agent.id, role: 'user', content: 'hello' },
      { agentId: agent.id, role: 'assistant', content: 'hi' },
    ]);
    const listed = (await client.get(`/v1/messages/batches/${batch.id}/messages`, { query: { order: 'asc' } })) as { messages: { id: string }[] };
    expect(listed.messages.map((m) => m.id)).toEqual(messages.map((m) => m.id));
  });

  it('raises the client’s error classes for 401, 404, 409, 422 and routes Quarry does not serve', async () => {
    const tenant = await t.tenant();
    const client = clientOf(tenant);
    const folder = await client.folders.create({ name: 'mine', embedding: 'local/lexical-384' });

    expect(await failure(clientOf(null, 'qk_not-a-key').folders.list())).toBeInstanceOf(AuthenticationError);
    expect(await failure(clientOf(null).agents.list())).toBeInstanceOf(AuthenticationError);
    const missing = await failure(client.folders.retrieve(exampleId('source')));
    expect(missing).toBeInstanceOf(NotFoundError);
    expect(detailOf(missing)).toMatch(/not found/);
    // A name in use: 409, and the client is told not to retry it.
    const duplicate = await failure(client.folders.create({ name: 'mine', embedding: 'local/lexical-384' }));
    expect(duplicate).toBeInstanceOf(ConflictError);
    expect(duplicate.headers?.get('x-should-retry')).toBe('false');
    const malformed = await failure(client.folders.retrieve('source_123'));
    expect(malformed).toBeInstanceOf(UnprocessableEntityError);
    expect((detailOf(malformed) as any[])[0]).toMatchObject({ type: 'string_pattern_mismatch', loc: ['path', 'folder_id'] });
    expect(await failure(client.folders.create({ name: 'x', embedding: 'nowhere/model' }))).toBeInstanceOf(BadRequestError); // as Letta answers

    // Another organization sees none of it.
    const stranger = clientOf(await t.tenant());
    expect(await failure(stranger.folders.retrieve(folder.id))).toBeInstanceOf(NotFoundError);
    expect((await stranger.folders.list()).items).toEqual([]);

    // Routes of this client that Quarry does not serve: 501 with the reason, never a 405.
    for (const call of [client.post('/v1/agents/import'), client.models.list(), client.post(`/v1/agents/${exampleId('agent')}/messages`, { body: { messages: [] } })]) {
      const error = await failure(call);
      expect(error.status).toBe(501);
      expect(error.headers?.get('x-should-retry')).toBe('false');
      expect(detailOf(error)).toMatch(/not implemented by this server/);
    }
    // Paths of no route at all are Letta's 404.
    expect(await failure(client.get('/v1/nothing/here'))).toBeInstanceOf(NotFoundError);
  });
});
