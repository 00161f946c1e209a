import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Actor } from '../src/core/auth.js';
import type { Database } from '../src/core/db/index.js';
import { scopedPrisma } from '../src/core/tenancy.js';
import type { PrismaClient, Source } from '../src/generated/prisma/client.js';
import {
  closeAllFiles,
  closeFile,
  insertFileForAttachedAgents,
  listAgentFiles,
  openFile,
  renderVisibleContent,
} from '../src/domain/agent-files.js';
import {
  attachSource,
  attachTool,
  createAgent,
  deleteAgent,
  detachSource,
  detachTool,
  getAgent,
  listAgentSources,
  updateAgent,
} from '../src/domain/agents.js';
import { BASE_TOOL_NAMES, ensureBaseTools, FILE_TOOL_NAMES, isBaseTool } from '../src/domain/base-tools.js';
import { databaseKinds, openTestDatabase, seedOrganization, setFileText } from './support/db.js';

const MISSING = {
  agent: 'agent-00000000-0000-4000-8000-000000000000',
  source: 'source-00000000-0000-4000-8000-000000000000',
  file: 'file-00000000-0000-4000-8000-000000000000',
  tool: 'tool-00000000-0000-4000-8000-000000000000',
};

const embeddingConfig = { endpointType: 'openai', model: 'text-embedding-3-small', dim: 1536, chunkSize: 300 };

describe.each(databaseKinds())('agents domain on %s', (kind) => {
  let database: Database;
  beforeAll(async () => {
    database = await openTestDatabase(kind);
  });
  afterAll(() => database.close());

  interface Org {
    db: PrismaClient;
    actor: Actor;
    source(name?: string): Promise<Source>;
    /** A file of `source` created `age` seconds ago (older files first), with its text when given. */
    file(source: Source, name: string, options?: { text?: string; mediaType?: string; age?: number }): Promise<{ id: string; fileName: string }>;
  }

  async function org(): Promise<Org> {
    const { organizationId, userId } = await seedOrganization(database);
    const prisma = database.prisma;
    return {
      db: scopedPrisma(prisma, organizationId),
      actor: { organizationId, userId, role: 'ADMIN', apiKeyId: 'apikey-00000000-0000-4000-8000-000000000000' },
      source: (name = 'docs') => prisma.source.create({ data: { organizationId, name, embeddingConfig } }),
      async file(source, name, { text, mediaType = 'text/plain', age = 0 } = {}) {
        const file = await prisma.file.create({
          data: {
            organizationId,
            sourceId: source.id,
            fileName: `${source.name}/${name}`,
            originalFileName: name,
            mediaType,
            processingStatus: 'COMPLETED',
            createdAt: new Date(Date.now() - age * 1000),
          },
        });
        if (text !== undefined) await setFileText(prisma, organizationId, file.id, text);
        return file;
      },
    };
  }

  const toolNames = async (db: PrismaClient, agentId: string, toolType?: string) =>
    (await db.toolAgent.findMany({ where: { agentId, ...(toolType ? { tool: { toolType } } : {}) }, select: { tool: { select: { name: true } } } }))
      .map((link) => link.tool.name)
      .sort();

  const openNames = async (db: PrismaClient, agentId: string) =>
    (await db.fileAgent.findMany({ where: { agentId, isOpen: true }, select: { fileName: true } })).map((row) => row.fileName).sort();

  describe('base tools', () => {
    it('creates the built-in tools once per organization, with OpenAI function schemas', async () => {
      const { db, actor } = await org();
      const first = await ensureBaseTools(db, actor);
      const again = await ensureBaseTools(db, actor);
      expect(again.map((t) => t.id)).toEqual(first.map((t) => t.id));
      expect(first.map((t) => t.name).sort()).toEqual([...BASE_TOOL_NAMES, ...FILE_TOOL_NAMES].sort());
      expect(await db.tool.count()).toBe(9);
      for (const tool of first) {
        expect(isBaseTool(tool)).toBe(true);
        expect(tool.jsonSchema).toMatchObject({ name: tool.name, description: tool.description, parameters: { type: 'object' } });
      }
      const byName = Object.fromEntries(first.map((t) => [t.name, t]));
      expect(byName.core_memory_append.toolType).toBe('letta_memory_core');
      expect(byName.send_message.toolType).toBe('letta_core');
      expect(byName.open_files.toolType).toBe('letta_files_core');
      expect(byName.core_memory_replace.jsonSchema).toMatchObject({ parameters: { required: ['label', 'old_content', 'new_content'] } });
      expect(isBaseTool({ name: 'open_files', toolType: 'custom' })).toBe(false);
      await expect(ensureBaseTools(db, actor, ['rm_rf'])).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
    });

    it('returns only the tools asked for, in the order asked', async () => {
      const { db, actor } = await org();
      expect((await ensureBaseTools(db, actor, FILE_TOOL_NAMES)).map((t) => t.name)).toEqual([...FILE_TOOL_NAMES]);
      expect(await db.tool.count()).toBe(3);
    });
  });

  describe('visible content', () => {
    it("renders Letta's line view: header, numbered non-empty lines", () => {
      const one = renderVisibleContent('test', { charLimit: 15000 });
      expect(one).toBe('[Viewing file start (out of 1 lines)]\n1: test');
      expect(one).toHaveLength(45);
      expect(renderVisibleContent('  a  \n\n\r\n b\n', { mediaType: 'text/plain', charLimit: 1000 })).toBe(
        '[Viewing file start (out of 2 lines)]\n1: a\n2: b',
      );
      expect(renderVisibleContent('def f():\n\n    return 1   \n', { mediaType: 'text/x-python; charset=utf-8', charLimit: 1000 })).toBe(
        '[Viewing file start (out of 2 lines)]\n1: def f():\n2:     return 1',
      );
      expect(renderVisibleContent('', { charLimit: 1000 })).toBe('');
    });

    it('renders Markdown sentence by sentence', () => {
      expect(renderVisibleContent('# Title\nFirst one. Second\n  one! Third?', { mediaType: 'text/markdown', charLimit: 1000 })).toBe(
        '[Viewing file start (out of 3 sentences)]\n1: # Title First one.\n2: Second one!\n3: Third?',
      );
    });

    it('shows a window of lines', () => {
      const text = Array.from({ length: 10 }, (_, i) => `x${i + 1} = ${i + 1}`).join('\n');
      expect(renderVisibleContent(text, { charLimit: 1000, startLine: 4, endLine: 6 })).toBe(
        '[Viewing lines 4 to 6 (out of 10 lines)]\n4: x4 = 4\n5: x5 = 5\n6: x6 = 6',
      );
      expect(renderVisibleContent(text, { charLimit: 1000, startLine: 9 })).toBe('[Viewing lines 9 to end (out of 10 lines)]\n9: x9 = 9\n10: x10 = 10');
      expect(renderVisibleContent(text, { charLimit: 1000, startLine: 10, endLine: 50 })).toBe('[Viewing lines 10 to 10 (out of 10 lines)]\n10: x10 = 10');
      expect(() => renderVisibleContent(text, { charLimit: 1000, startLine: 11 })).toThrow(expect.objectContaining({ code: 'BAD_USER_INPUT', details: { field: 'startLine' } }));
      expect(() => renderVisibleContent(text, { charLimit: 1000, startLine: 5, endLine: 4 })).toThrow(expect.objectContaining({ details: { field: 'endLine' } }));
      expect(() => renderVisibleContent(text, { charLimit: 1000, startLine: 0 })).toThrow(expect.objectContaining({ details: { field: 'startLine' } }));
    });

    it('truncates to the character limit with Letta’s warning', () => {
      const text = Array.from({ length: 500 }, (_, i) => `line number ${i}`).join('\n');
      const view = renderVisibleContent(text, { charLimit: 300 });
      expect(view).toHaveLength(300);
      expect(view.startsWith('[Viewing file start (out of 500 lines)]\n1: line number 0')).toBe(true);
      expect(view.endsWith('...[TRUNCATED]\n# NOTE: This block is truncated, use functions to view the full content.')).toBe(true);
    });
  });

  describe('agents', () => {
    it('creates an agent with validated memory blocks and defaults from the context window', async () => {
      const { db, actor } = await org();
      const agent = await createAgent(db, actor, {
        name: '  helper ',
        memoryBlocks: [{ label: 'human', value: 'username: sarah' }, { label: 'persona', value: 'kind', limit: 10, description: 'who I am' }],
        tags: ['a', 'b', 'a'],
        metadata: { team: 'x' },
      });
      expect(agent).toMatchObject({
        name: 'helper',
        organizationId: actor.organizationId,
        createdById: actor.userId,
        maxFilesOpen: 5,
        perFileViewWindowCharLimit: 50000,
        tags: ['a', 'b'],
        metadata: { team: 'x' },
        memoryBlocks: [
          { label: 'human', value: 'username: sarah', limit: 5000, description: null },
          { label: 'persona', value: 'kind', limit: 10, description: 'who I am' },
        ],
      });
      const limits = async (contextWindow: number) => {
        const a = await createAgent(db, actor, { name: `w${contextWindow}`, llmConfig: { context_window: contextWindow } });
        return [a.maxFilesOpen, a.perFileViewWindowCharLimit];
      };
      expect(await limits(8000)).toEqual([3, 5000]);
      expect(await limits(32000)).toEqual([5, 15000]);
      expect(await limits(128000)).toEqual([10, 25000]);
      expect(await limits(200000)).toEqual([10, 40000]);
      expect(await limits(1000000)).toEqual([15, 40000]);
      const explicit = await createAgent(db, actor, { name: 'e', llmConfig: { contextWindow: 8000 }, maxFilesOpen: 7 });
      expect([explicit.maxFilesOpen, explicit.perFileViewWindowCharLimit]).toEqual([7, 5000]);
    });

    it('rejects bad input with the field named, and creates nothing', async () => {
      const { db, actor } = await org();
      const cases: [Parameters<typeof createAgent>[2], string][] = [
        [{ name: '' }, 'name'],
        [{ name: '   ' }, 'name'],
        [{ name: 'x'.repeat(201) }, 'name'],
        [{ name: 'a', memoryBlocks: [{ label: 'human', value: '' }, { label: 'human', value: '' }] }, 'memoryBlocks.1.label'],
        [{ name: 'a', memoryBlocks: [{ label: ' ', value: '' }] }, 'memoryBlocks.0.label'],
        [{ name: 'a', memoryBlocks: [{ label: 'human', value: 'too long', limit: 3 }] }, 'memoryBlocks.0.value'],
        [{ name: 'a', memoryBlocks: [{ label: 'human', value: '', limit: 0 }] }, 'memoryBlocks.0.limit'],
        [{ name: 'a', sourceIds: ['source_123'] }, 'sourceIds'],
        [{ name: 'a', toolIds: [MISSING.source] }, 'toolIds'],
        [{ name: 'a', maxFilesOpen: 0 }, 'maxFilesOpen'],
        [{ name: 'a', metadata: [] as never }, 'metadata'],
      ];
      for (const [input, field] of cases) {
        await expect(createAgent(db, actor, input), field).rejects.toMatchObject({ code: 'BAD_USER_INPUT', details: { field } });
      }
      await expect(createAgent(db, actor, { name: 'a', sourceIds: [MISSING.source] })).rejects.toMatchObject({
        code: 'NOT_FOUND',
        message: `Source ${MISSING.source} not found`,
      });
      await expect(createAgent(db, actor, { name: 'a', toolIds: [MISSING.tool] })).rejects.toMatchObject({ code: 'NOT_FOUND' });
      expect(await db.agent.count()).toBe(0);
    });

    it('updates only the fields given', async () => {
      const { db, actor } = await org();
      const agent = await createAgent(db, actor, { name: 'a', description: 'first', tags: ['t'] });
      const updated = await updateAgent(db, actor, agent.id, { name: 'b', description: null, memoryBlocks: [{ label: 'human', value: 'hi' }] });
      expect(updated).toMatchObject({ id: agent.id, name: 'b', description: 'first', tags: ['t'], memoryBlocks: [{ label: 'human', value: 'hi', limit: 5000 }] });
      expect(await updateAgent(db, actor, agent.id, {})).toEqual(updated);
      await expect(updateAgent(db, actor, agent.id, { name: '' })).rejects.toMatchObject({ code: 'BAD_USER_INPUT', details: { field: 'name' } });
      await expect(updateAgent(db, actor, agent.id, { memoryBlocks: [{ label: 'a', value: '' }, { label: 'a', value: '' }] })).rejects.toMatchObject({
        code: 'BAD_USER_INPUT',
      });
      await expect(updateAgent(db, actor, MISSING.agent, { name: 'c' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await expect(updateAgent(db, actor, 'agent-1', { name: 'c' })).rejects.toMatchObject({ code: 'BAD_USER_INPUT', details: { field: 'id' } });
      expect((await getAgent(db, actor, agent.id)).name).toBe('b');
    });

    it('deletes an agent with its links and working memory, keeping its sources and tools', async () => {
      const { db, actor, source, file } = await org();
      const docs = await source();
      await file(docs, 'a.txt', { text: 'hello' });
      const agent = await createAgent(db, actor, { name: 'a', sourceIds: [docs.id], includeBaseTools: true });
      expect(await db.fileAgent.count({ where: { agentId: agent.id } })).toBe(1);
      expect((await deleteAgent(db, actor, agent.id)).id).toBe(agent.id);
      await expect(getAgent(db, actor, agent.id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
      expect(await db.source.count()).toBe(1);
      expect(await db.file.count()).toBe(1);
      expect(await db.tool.count()).toBe(9);
      expect(await db.sourceAgent.count()).toBe(0);
      expect(await db.toolAgent.count()).toBe(0);
      expect(await db.fileAgent.count()).toBe(0);
      await expect(deleteAgent(db, actor, agent.id)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    });

    it('attaches and detaches tools idempotently', async () => {
      const { db, actor } = await org();
      const agent = await createAgent(db, actor, { name: 'a' });
      const [tool] = await ensureBaseTools(db, actor, ['send_message']);
      await attachTool(db, actor, agent.id, tool.id);
      await attachTool(db, actor, agent.id, tool.id);
      expect(await toolNames(db, agent.id)).toEqual(['send_message']);
      await detachTool(db, actor, agent.id, tool.id);
      await detachTool(db, actor, agent.id, tool.id);
      expect(await toolNames(db, agent.id)).toEqual([]);
      await expect(attachTool(db, actor, agent.id, MISSING.tool)).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await expect(attachTool(db, actor, agent.id, 'tool-x')).rejects.toMatchObject({ code: 'BAD_USER_INPUT', details: { field: 'toolId' } });
      const withTools = await createAgent(db, actor, { name: 'b', toolIds: [tool.id, tool.id], includeBaseTools: true });
      expect(await toolNames(db, withTools.id)).toEqual([...BASE_TOOL_NAMES].sort());
    });
  });

  describe('agents and sources', () => {
    it('attaches a source once, lists, and detaches idempotently (Letta tests 14–16)', async () => {
      const { db, actor, source } = await org();
      const agent = await createAgent(db, actor, { name: 'a' });
      const [one, two] = [await source('one'), await source('two')];
      expect(await listAgentSources(db, actor, agent.id)).toEqual([]);
      expect((await attachSource(db, actor, agent.id, one.id)).id).toBe(agent.id);
      await attachSource(db, actor, agent.id, one.id);
      expect((await listAgentSources(db, actor, agent.id)).map((s) => s.id)).toEqual([one.id]);
      await attachSource(db, actor, agent.id, two.id);
      expect((await listAgentSources(db, actor, agent.id)).map((s) => s.id)).toEqual([one.id, two.id]);
      await detachSource(db, actor, agent.id, one.id);
      await detachSource(db, actor, agent.id, one.id);
      expect((await listAgentSources(db, actor, agent.id)).map((s) => s.id)).toEqual([two.id]);
    });

    it('answers NOT_FOUND for unknown agents and sources, BAD_USER_INPUT for malformed ids (Letta tests 17–18)', async () => {
      const { db, actor, source } = await org();
      const agent = await createAgent(db, actor, { name: 'a' });
      const docs = await source();
      await expect(attachSource(db, actor, MISSING.agent, docs.id)).rejects.toMatchObject({ code: 'NOT_FOUND', message: `Agent ${MISSING.agent} not found` });
      await expect(attachSource(db, actor, agent.id, MISSING.source)).rejects.toMatchObject({ code: 'NOT_FOUND', message: `Source ${MISSING.source} not found` });
      await expect(detachSource(db, actor, MISSING.agent, docs.id)).rejects.toMatchObject({ code: 'NOT_FOUND', message: `Agent ${MISSING.agent} not found` });
      await expect(listAgentSources(db, actor, MISSING.agent)).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await expect(attachSource(db, actor, 'agent_123', docs.id)).rejects.toMatchObject({ code: 'BAD_USER_INPUT', details: { field: 'agentId' } });
      await expect(attachSource(db, actor, agent.id, 'source_123')).rejects.toMatchObject({ code: 'BAD_USER_INPUT', details: { field: 'sourceId' } });
      await expect(listAgentSources(db, actor, docs.id)).rejects.toMatchObject({ code: 'BAD_USER_INPUT', details: { field: 'agentId' } });
      expect(await db.sourceAgent.count()).toBe(0);
    });

    it("reflects several agents attaching and detaching one source (Letta test 19)", async () => {
      const { db, actor, source } = await org();
      const docs = await source();
      const [a, b] = [await createAgent(db, actor, { name: 'a' }), await createAgent(db, actor, { name: 'b' })];
      const attached = async () => (await db.sourceAgent.findMany({ where: { sourceId: docs.id } })).map((l) => l.agentId).sort();
      await attachSource(db, actor, a.id, docs.id);
      await attachSource(db, actor, b.id, docs.id);
      expect(await attached()).toEqual([a.id, b.id].sort());
      await detachSource(db, actor, a.id, docs.id);
      expect(await attached()).toEqual([b.id]);
    });

    it('gives the agent its files and the file tools, and takes them back with the last source (Letta test 39)', async () => {
      const { db, actor, source, file } = await org();
      const agent = await createAgent(db, actor, { name: 'a' });
      const [one, two] = [await source('one'), await source('two')];
      const test = await file(one, 'test.txt', { text: 'test' });
      await file(two, 'other.md', { text: 'Other.', mediaType: 'text/markdown' });

      await attachSource(db, actor, agent.id, one.id);
      expect(await toolNames(db, agent.id, 'letta_files_core')).toEqual(['grep_files', 'open_files', 'semantic_search_files']);
      const rows = await db.fileAgent.findMany({ where: { agentId: agent.id } });
      expect(rows).toEqual([
        expect.objectContaining({ fileId: test.id, sourceId: one.id, fileName: 'one/test.txt', isOpen: true, visibleContent: '[Viewing file start (out of 1 lines)]\n1: test' }),
      ]);

      await attachSource(db, actor, agent.id, two.id);
      expect(await toolNames(db, agent.id, 'letta_files_core')).toHaveLength(3);
      expect(await openNames(db, agent.id)).toEqual(['one/test.txt', 'two/other.md']);
      // Attaching again changes nothing: same rows, same ids.
      await attachSource(db, actor, agent.id, one.id);
      expect((await db.fileAgent.findMany({ where: { agentId: agent.id, sourceId: one.id } })).map((r) => r.id)).toEqual([rows[0].id]);

      await detachSource(db, actor, agent.id, one.id);
      expect(await toolNames(db, agent.id, 'letta_files_core')).toHaveLength(3);
      expect(await openNames(db, agent.id)).toEqual(['two/other.md']);

      await detachSource(db, actor, agent.id, two.id);
      expect(await toolNames(db, agent.id)).toEqual([]);
      expect(await db.fileAgent.count({ where: { agentId: agent.id } })).toBe(0);
      expect(await db.file.count()).toBe(2);
    });

    it('attaches sources given at creation, with their files and the file tools', async () => {
      const { db, actor, source, file } = await org();
      const docs = await source();
      await file(docs, 'a.txt', { text: 'alpha', age: 2 });
      await file(docs, 'b.txt', { text: 'beta', age: 1 });
      await file(docs, 'c.txt', { text: 'gamma' });
      const agent = await createAgent(db, actor, { name: 'a', sourceIds: [docs.id], maxFilesOpen: 2 });
      expect((await listAgentSources(db, actor, agent.id)).map((s) => s.id)).toEqual([docs.id]);
      expect(await toolNames(db, agent.id)).toEqual([...FILE_TOOL_NAMES].sort());
      expect(await openNames(db, agent.id)).toEqual(['docs/b.txt', 'docs/c.txt']);
      expect(await db.fileAgent.findFirst({ where: { agentId: agent.id, isOpen: false } })).toMatchObject({ fileName: 'docs/a.txt', visibleContent: null });
    });

    it('keeps the agent when its source is deleted, dropping that working memory and keeping the tools (§2.5)', async () => {
      const { db, actor, source, file } = await org();
      const docs = await source();
      await file(docs, 'a.txt', { text: 'alpha' });
      const agent = await createAgent(db, actor, { name: 'a', sourceIds: [docs.id] });
      await db.source.delete({ where: { id: docs.id } });
      expect((await getAgent(db, actor, agent.id)).id).toBe(agent.id);
      expect(await db.fileAgent.count()).toBe(0);
      expect(await listAgentSources(db, actor, agent.id)).toEqual([]);
      expect(await toolNames(db, agent.id)).toHaveLength(3);
    });
  });

  describe('working memory of files', () => {
    /** An agent attached to a source of `n` files, file1 the oldest. */
    async function agentWithFiles(n: number, maxFilesOpen: number) {
      const o = await org();
      const docs = await o.source();
      const files = [];
      for (let i = 1; i <= n; i++) files.push(await o.file(docs, `file${i}.txt`, { text: `content ${i}`, age: n - i }));
      const agent = await createAgent(o.db, o.actor, { name: 'a', maxFilesOpen });
      await attachSource(o.db, o.actor, agent.id, docs.id);
      return { ...o, docs, files, agent };
    }

    it('keeps at most maxFilesOpen open, the most recent ones (Letta test 36)', async () => {
      const { db, actor, agent, files } = await agentWithFiles(5, 3);
      expect(await db.fileAgent.count({ where: { agentId: agent.id } })).toBe(5);
      expect(await openNames(db, agent.id)).toEqual(['docs/file3.txt', 'docs/file4.txt', 'docs/file5.txt']);

      // Reopening an open file evicts nothing.
      const reopened = await openFile(db, actor, agent.id, files[4].id);
      expect(reopened.closedFileNames).toEqual([]);
      expect(reopened.fileAgent).toMatchObject({ isOpen: true, visibleContent: '[Viewing file start (out of 1 lines)]\n1: content 5' });

      // Opening a closed file closes exactly the least recently used one.
      const opened = await openFile(db, actor, agent.id, files[0].id);
      expect(opened.closedFileNames).toEqual(['docs/file3.txt']);
      expect(await openNames(db, agent.id)).toEqual(['docs/file1.txt', 'docs/file4.txt', 'docs/file5.txt']);
      expect(await db.fileAgent.findFirst({ where: { agentId: agent.id, fileName: 'docs/file3.txt' } })).toMatchObject({ isOpen: false, visibleContent: null });
    });

    it('opens a window of lines and remembers it', async () => {
      const { db, actor, source, file } = await org();
      const docs = await source();
      const code = await file(docs, 'n.py', { text: Array.from({ length: 100 }, (_, i) => `x${i} = ${i}`).join('\n'), mediaType: 'text/x-python' });
      const agent = await createAgent(db, actor, { name: 'a', sourceIds: [docs.id] });
      const { fileAgent } = await openFile(db, actor, agent.id, code.id, { startLine: 50, endLine: 54 });
      expect(fileAgent).toMatchObject({ startLine: 50, endLine: 54, isOpen: true });
      expect(fileAgent.visibleContent).toBe(
        '[Viewing lines 50 to 54 (out of 100 lines)]\n50: x49 = 49\n51: x50 = 50\n52: x51 = 51\n53: x52 = 52\n54: x53 = 53',
      );
      await expect(openFile(db, actor, agent.id, code.id, { startLine: 101 })).rejects.toMatchObject({ code: 'BAD_USER_INPUT', details: { field: 'startLine' } });
      const whole = await openFile(db, actor, agent.id, code.id);
      expect(whole.fileAgent).toMatchObject({ id: fileAgent.id, startLine: null, endLine: null });
      expect(whole.fileAgent.visibleContent?.startsWith('[Viewing file start (out of 100 lines)]')).toBe(true);
    });

    it('opens a file without stored text, with no visible content', async () => {
      const { db, actor, source, file } = await org();
      const docs = await source();
      const pending = await file(docs, 'scan.pdf', { mediaType: 'application/pdf' });
      const agent = await createAgent(db, actor, { name: 'a', sourceIds: [docs.id] });
      expect((await openFile(db, actor, agent.id, pending.id)).fileAgent).toMatchObject({ isOpen: true, visibleContent: null });
    });

    it('opens only files of attached sources, creating the row when missing', async () => {
      const { db, actor, source, file } = await org();
      const docs = await source();
      const agent = await createAgent(db, actor, { name: 'a' });
      const a = await file(docs, 'a.txt', { text: 'alpha' });
      await expect(openFile(db, actor, agent.id, a.id)).rejects.toMatchObject({ code: 'NOT_FOUND', message: `File ${a.id} not found` });
      await db.sourceAgent.create({ data: { organizationId: actor.organizationId, agentId: agent.id, sourceId: docs.id } });
      const { fileAgent } = await openFile(db, actor, agent.id, a.id);
      expect(fileAgent).toMatchObject({ fileName: 'docs/a.txt', sourceId: docs.id, isOpen: true });
      await expect(openFile(db, actor, agent.id, MISSING.file)).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await expect(openFile(db, actor, agent.id, 'file-1')).rejects.toMatchObject({ code: 'BAD_USER_INPUT', details: { field: 'fileId' } });
    });

    it('closes one file, or all, returning the closed names (Letta test 48)', async () => {
      const { db, actor, agent, files } = await agentWithFiles(3, 5);
      const closed = await closeFile(db, actor, agent.id, files[1].id);
      expect(closed).toMatchObject({ fileName: 'docs/file2.txt', isOpen: false, visibleContent: null });
      expect(await closeAllFiles(db, actor, agent.id)).toEqual(['docs/file1.txt', 'docs/file3.txt']);
      expect(await closeAllFiles(db, actor, agent.id)).toEqual([]);
      expect(await openNames(db, agent.id)).toEqual([]);
      await expect(closeFile(db, actor, agent.id, MISSING.file)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    });

    it('lists the files with an open filter and id cursors (Letta test 38)', async () => {
      const { db, actor, agent } = await agentWithFiles(5, 2);
      const all = await listAgentFiles(db, actor, agent.id);
      expect(all.files).toHaveLength(5);
      expect(all).toMatchObject({ hasMore: false, nextCursor: null });
      expect(all.files.map((f) => f.id)).toEqual(all.files.map((f) => f.id).sort());
      expect(all.files[0].source.name).toBe('docs');
      expect((await listAgentFiles(db, actor, agent.id, { isOpen: true })).files.map((f) => f.fileName).sort()).toEqual(['docs/file4.txt', 'docs/file5.txt']);
      expect((await listAgentFiles(db, actor, agent.id, { isOpen: false })).files).toHaveLength(3);
      const page1 = await listAgentFiles(db, actor, agent.id, { limit: 3 });
      expect(page1).toMatchObject({ hasMore: true, nextCursor: page1.files[2].id });
      const page2 = await listAgentFiles(db, actor, agent.id, { limit: 3, after: page1.nextCursor });
      expect(page2.hasMore).toBe(false);
      expect([...page1.files, ...page2.files].map((f) => f.id)).toEqual(all.files.map((f) => f.id));
      await expect(listAgentFiles(db, actor, agent.id, { limit: 0 })).rejects.toMatchObject({ code: 'BAD_USER_INPUT', details: { field: 'limit' } });
      await expect(listAgentFiles(db, actor, agent.id, { after: 'nope' })).rejects.toMatchObject({ code: 'BAD_USER_INPUT', details: { field: 'after' } });
    });

    it('keeps one row per file name, the newest file’s (Letta test 37)', async () => {
      const { db, actor, source, file } = await org();
      const docs = await source();
      await file(docs, 'same.txt', { text: 'old', age: 1 });
      const newer = await file(docs, 'same.txt', { text: 'new' });
      const agent = await createAgent(db, actor, { name: 'a', sourceIds: [docs.id] });
      expect(await db.fileAgent.findMany({ where: { agentId: agent.id } })).toEqual([
        expect.objectContaining({ fileId: newer.id, fileName: 'docs/same.txt', visibleContent: '[Viewing file start (out of 1 lines)]\n1: new' }),
      ]);
    });

    it('lowering maxFilesOpen closes the least recently used files', async () => {
      const { db, actor, agent } = await agentWithFiles(4, 4);
      await updateAgent(db, actor, agent.id, { maxFilesOpen: 2 });
      expect(await openNames(db, agent.id)).toEqual(['docs/file3.txt', 'docs/file4.txt']);
    });

    it('puts a newly processed file into every attached agent, within each limit', async () => {
      const { db, actor, agent, docs, file } = await agentWithFiles(2, 2);
      const other = await createAgent(db, actor, { name: 'b', sourceIds: [docs.id], maxFilesOpen: 5 });
      const fresh = await file(docs, 'fresh.txt', { text: 'new\ntext' });
      const result = await insertFileForAttachedAgents(db, actor, fresh.id);
      expect(result.sort((x, y) => (x.agentId === agent.id ? -1 : 1))).toEqual([
        { agentId: agent.id, closedFileNames: ['docs/file1.txt'] },
        { agentId: other.id, closedFileNames: [] },
      ]);
      for (const id of [agent.id, other.id]) {
        expect(await db.fileAgent.findUnique({ where: { fileId_agentId: { fileId: fresh.id, agentId: id } } })).toMatchObject({
          isOpen: true,
          visibleContent: '[Viewing file start (out of 2 lines)]\n1: new\n2: text',
        });
      }
      // Processing the file again refreshes the same row.
      const before = await db.fileAgent.findUnique({ where: { fileId_agentId: { fileId: fresh.id, agentId: agent.id } } });
      await setFileText(database.prisma, actor.organizationId, fresh.id, 'newer');
      await insertFileForAttachedAgents(db, actor, fresh.id);
      expect(await db.fileAgent.findUnique({ where: { fileId_agentId: { fileId: fresh.id, agentId: agent.id } } })).toMatchObject({
        id: before!.id,
        visibleContent: '[Viewing file start (out of 1 lines)]\n1: newer',
      });
    });
  });

  describe('tenancy', () => {
    it("treats another organization's agents, sources, files and tools exactly like missing ones", async () => {
      const a = await org();
      const b = await org();
      const bSource = await b.source();
      const bFile = await b.file(bSource, 'secret.txt', { text: 'secret' });
      const bAgent = await createAgent(b.db, b.actor, { name: 'b', sourceIds: [bSource.id] });
      const [bTool] = await ensureBaseTools(b.db, b.actor, ['send_message']);
      const aSource = await a.source();
      const aAgent = await createAgent(a.db, a.actor, { name: 'a', sourceIds: [aSource.id] });

      const notFound = (type: string, id: string) => ({ code: 'NOT_FOUND', message: `${type} ${id} not found` });
      for (const [agentId, missing] of [[bAgent.id, bAgent.id], [MISSING.agent, MISSING.agent]]) {
        await expect(getAgent(a.db, a.actor, agentId)).rejects.toMatchObject(notFound('Agent', missing));
        await expect(attachSource(a.db, a.actor, agentId, aSource.id)).rejects.toMatchObject(notFound('Agent', missing));
        await expect(deleteAgent(a.db, a.actor, agentId)).rejects.toMatchObject(notFound('Agent', missing));
        await expect(listAgentFiles(a.db, a.actor, agentId)).rejects.toMatchObject(notFound('Agent', missing));
      }
      for (const sourceId of [bSource.id, MISSING.source]) {
        await expect(attachSource(a.db, a.actor, aAgent.id, sourceId)).rejects.toMatchObject(notFound('Source', sourceId));
        await expect(createAgent(a.db, a.actor, { name: 'x', sourceIds: [sourceId] })).rejects.toMatchObject(notFound('Source', sourceId));
      }
      for (const fileId of [bFile.id, MISSING.file]) {
        await expect(openFile(a.db, a.actor, aAgent.id, fileId)).rejects.toMatchObject(notFound('File', fileId));
        await expect(insertFileForAttachedAgents(a.db, a.actor, fileId)).rejects.toMatchObject(notFound('File', fileId));
      }
      for (const toolId of [bTool.id, MISSING.tool]) {
        await expect(attachTool(a.db, a.actor, aAgent.id, toolId)).rejects.toMatchObject(notFound('Tool', toolId));
      }
      // B is untouched.
      expect(await b.db.sourceAgent.count()).toBe(1);
      expect(await b.db.fileAgent.findMany()).toEqual([expect.objectContaining({ agentId: bAgent.id, isOpen: true })]);
      expect(await a.db.fileAgent.count()).toBe(0);
    });
  });
});
