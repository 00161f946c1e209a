import type { Context } from '../context.js';
import { closeFile, openFile } from '../domain/agent-files.js';
import { containsInsensitive } from '../domain/filters.js';
import { attachSource, attachTool, createAgent, deleteAgent, detachSource, detachTool, updateAgent, type AgentPatch } from '../domain/agents.js';
import type { EmbeddingConfigInput as EmbeddingConfigInputShape } from '../embeddings/config.js';
import { orNotFound, requireId } from '../domain/ids.js';
import { builder, nodeOptions } from './builder.js';
import { EmbeddingConfigInput, EmbeddingConfigRef } from './embeddings.js';
import { Source } from './sources.js';
import { Tool } from './tools.js';
import { compiledChildConnection } from './compiled-reads.js';
import { AGENTS_OF_SOURCE, FILES_OF_AGENT, SOURCES_OF_AGENT, TOOLS_OF_AGENT, fileViewOpen } from '../domain/reads/children.js';
import { childConnection, withTotalCount } from './child-pages.js';
import type { FileAgent as FileAgentRow } from '../generated/prisma/client.js';

/** Agents, the sources and tools attached to them, and their working memory of files. */

interface MemoryBlockShape {
  label: string;
  value: string;
  limit?: number | null;
  description?: string | null;
}

const MemoryBlock = builder.objectRef<MemoryBlockShape>('MemoryBlock').implement({
  fields: (t) => ({
    label: t.exposeString('label'),
    value: t.exposeString('value'),
    limit: t.int({ nullable: true, resolve: (b) => b.limit ?? null }),
    description: t.string({ nullable: true, resolve: (b) => b.description ?? null }),
  }),
});

export const MemoryBlockInput = builder.inputType('MemoryBlockInput', {
  fields: (t) => ({
    label: t.string({ required: true }),
    value: t.string({ required: true }),
    limit: t.int(),
    description: t.string(),
  }),
});

export const Agent = builder.prismaNode('Agent', {
  ...nodeOptions,
  fields: (t) => ({
    name: t.exposeString('name'),
    description: t.exposeString('description', { nullable: true }),
    agentType: t.exposeString('agentType'),
    system: t.exposeString('system', { nullable: true, description: 'The system prompt.' }),
    model: t.exposeString('model', { nullable: true, description: 'Model handle, e.g. openai/gpt-4o-mini.' }),
    embeddingConfig: t.field({ type: EmbeddingConfigRef, nullable: true, select: { embeddingConfig: true }, resolve: (a) => a.embeddingConfig as never }),
    memoryBlocks: t.field({ type: [MemoryBlock], select: { memoryBlocks: true }, resolve: (a) => (a.memoryBlocks ?? []) as unknown as MemoryBlockShape[] }),
    tags: t.exposeStringList('tags'),
    metadata: t.field({ type: 'JSONObject', nullable: true, select: { metadata: true }, resolve: (a) => a.metadata as Record<string, unknown> | null }),
    maxFilesOpen: t.exposeInt('maxFilesOpen'),
    perFileViewWindowCharLimit: t.exposeInt('perFileViewWindowCharLimit'),
    sources: t.connection(
      {
        type: Source,
        description: 'Attached sources, in attachment order.',
        resolve: (a, args, ctx) => childConnection<{ id: string }>(ctx, SOURCES_OF_AGENT, a.id, args),
      },
      withTotalCount,
    ),
    tools: t.connection(
      {
        type: Tool,
        description: 'Attached tools, in attachment order.',
        resolve: (a, args, ctx) => childConnection<{ id: string }>(ctx, TOOLS_OF_AGENT, a.id, args),
      },
      withTotalCount,
    ),
    files: t.connection(
      {
        type: AgentFile,
        description: 'The agent’s view of each file of its sources: open or closed, and what it sees. Most recently accessed first.',
        args: { isOpen: t.arg.boolean() },
        resolve: (a, { isOpen, ...args }, ctx) =>
          childConnection<FileAgentRow>(ctx, FILES_OF_AGENT, a.id, args, isOpen == null ? undefined : fileViewOpen(isOpen)),
      },
      withTotalCount,
    ),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

// Defined here rather than in sources.ts so the two files do not import each other.
builder.prismaObjectField(Source, 'agents', (t) =>
  t.connection(
    {
      type: Agent,
      description: 'Agents this source is attached to, in attachment order.',
      resolve: (s, args, ctx, info) =>
        compiledChildConnection<{ id: string }>(ctx, s, 'agents', args, info) ?? childConnection<{ id: string }>(ctx, AGENTS_OF_SOURCE, s.id, args),
    },
    withTotalCount,
  ),
);

const AgentFile = builder.prismaNode('FileAgent', {
  name: 'AgentFile',
  id: { field: 'id' },
  nullable: true,
  description: 'An agent’s working-memory view of one file (Letta’s files_agents).',
  fields: (t) => ({
    agent: t.relation('agent'),
    file: t.relation('file'),
    source: t.relation('source'),
    fileName: t.exposeString('fileName'),
    isOpen: t.exposeBoolean('isOpen'),
    visibleContent: t.exposeString('visibleContent', { nullable: true }),
    startLine: t.exposeInt('startLine', { nullable: true }),
    endLine: t.exposeInt('endLine', { nullable: true }),
    lastAccessedAt: t.expose('lastAccessedAt', { type: 'DateTime' }),
  }),
});

builder.queryFields((t) => ({
  agents: t.prismaConnection({
    type: 'Agent',
    cursor: 'id',
    description: 'Agents of your organization, oldest first.',
    args: { name: t.arg.string({ description: 'Case-insensitive substring of the name.' }), tags: t.arg.stringList({ description: 'Agents having all these tags.' }) },
    resolve: (query, _root, args, ctx) =>
      ctx.db.agent.findMany({ ...query, where: agentWhere(args), orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] }),
    totalCount: (_root, args, ctx) => ctx.db.agent.count({ where: agentWhere(args) }),
  }),
}));

function agentWhere(args: { name?: string | null; tags?: string[] | null }) {
  return {
    ...(args.name ? { name: containsInsensitive(args.name) } : {}),
    ...(args.tags?.length ? { tags: { hasEvery: args.tags } } : {}),
  };
}

// ───────────── single-agent query and mutations ─────────────

builder.queryField('agent', (t) =>
  t.prismaField({
    type: 'Agent',
    args: { id: t.arg.id({ required: true }) },
    resolve: async (query, _root, { id }, ctx) => {
      // One query: the lookup carries the GraphQL selection.
      const key = requireId('agent', String(id), 'id');
      return orNotFound(ctx.db.agent.findUnique({ ...query, where: { id: key } }), 'Agent', key);
    },
  }),
);

const agentFields = (t: PothosSchemaTypes.InputFieldBuilder<typeof builder extends PothosSchemaTypes.SchemaBuilder<infer T> ? T : never, 'InputObject'>) => ({
  description: t.string(),
  system: t.string({ description: 'The system prompt.' }),
  model: t.string({ description: 'Model handle, e.g. openai/gpt-4o-mini.' }),
  llmConfig: t.field({ type: 'JSONObject', description: 'Letta’s LLMConfig; its context window sets the file limits’ defaults.' }),
  embedding: t.string({ description: 'An embedding handle, e.g. local/lexical-384.' }),
  embeddingConfig: t.field({ type: EmbeddingConfigInput }),
  memoryBlocks: t.field({ type: [MemoryBlockInput] }),
  tags: t.stringList(),
  metadata: t.field({ type: 'JSONObject' }),
  maxFilesOpen: t.int(),
  perFileViewWindowCharLimit: t.int(),
});

const CreateAgentInput = builder.inputType('CreateAgentInput', {
  fields: (t) => ({
    name: t.string({ required: true }),
    ...agentFields(t),
    sourceIds: t.idList({ description: 'Sources to attach (as attachSource does).' }),
    toolIds: t.idList(),
    includeBaseTools: t.boolean({ defaultValue: false, description: 'Attach Letta’s base tools (send_message, memory tools…).' }),
  }),
});

const UpdateAgentInput = builder.inputType('UpdateAgentInput', {
  description: 'Fields left out (or null) keep their value.',
  fields: (t) => ({
    name: t.string(),
    ...agentFields(t),
    sourceIds: t.idList({ description: 'The agent’s whole new set of sources (as REST PATCH `source_ids`); attaching and detaching as attachSource and detachSource do.' }),
    toolIds: t.idList({ description: 'The agent’s whole new set of tools (as REST PATCH `tool_ids`).' }),
  }),
});

/** Resolves `embedding`/`embeddingConfig` through the catalog, so agents get the same validation as sources. */
function withEmbedding<T extends { embedding?: string | null; embeddingConfig?: unknown }>(input: T, ctx: Context) {
  const { embedding, embeddingConfig, ...rest } = input;
  const resolved = embeddingConfig
    ? ctx.embeddings.fromConfig(embeddingConfig as EmbeddingConfigInputShape)
    : embedding
      ? ctx.embeddings.fromHandle(embedding)
      : undefined;
  return { ...rest, ...(resolved ? { embeddingConfig: resolved as unknown as Record<string, unknown> } : {}) };
}

const AgentPayload = builder.objectRef<{ agentId: string }>('AgentPayload').implement({
  fields: (t) => ({
    agent: t.prismaField({
      type: 'Agent',
      resolve: (query, p, _args, ctx) => ctx.db.agent.findUniqueOrThrow({ ...query, where: { id: p.agentId } }),
    }),
  }),
});

const DeleteAgentPayload = builder.objectRef<{ id: string; name: string }>('DeleteAgentPayload').implement({
  fields: (t) => ({ deletedAgentId: t.exposeID('id'), name: t.exposeString('name') }),
});

const AgentFilePayload = builder.objectRef<{ fileAgentId: string; closedFileNames: string[] }>('AgentFilePayload').implement({
  fields: (t) => ({
    agentFile: t.prismaField({
      type: 'FileAgent',
      resolve: (query, p, _args, ctx) => ctx.db.fileAgent.findUniqueOrThrow({ ...query, where: { id: p.fileAgentId } }),
    }),
    closedFileNames: t.exposeStringList('closedFileNames', { description: 'Files closed to stay within maxFilesOpen (least recently used first).' }),
  }),
});

const ids = (agentId: unknown, otherId: unknown) => [String(agentId), String(otherId)] as const;

builder.mutationFields((t) => ({
  createAgent: t.field({
    type: AgentPayload,
    args: { input: t.arg({ type: CreateAgentInput, required: true }) },
    resolve: async (_root, { input }, ctx) => ({
      agentId: (await createAgent(ctx.db, ctx.actor, { ...withEmbedding(input, ctx), sourceIds: input.sourceIds?.map(String), toolIds: input.toolIds?.map(String) })).id,
    }),
  }),
  updateAgent: t.field({
    type: AgentPayload,
    args: { id: t.arg.id({ required: true }), input: t.arg({ type: UpdateAgentInput, required: true }) },
    resolve: async (_root, { id, input }, ctx) => {
      const { sourceIds, toolIds, ...fields } = input;
      const patch = { ...withEmbedding(fields, ctx), sourceIds: sourceIds?.map(String), toolIds: toolIds?.map(String) } as AgentPatch;
      return { agentId: (await updateAgent(ctx.db, ctx.actor, String(id), patch)).id };
    },
  }),
  deleteAgent: t.field({
    type: DeleteAgentPayload,
    description: 'Deletes the agent with its links and per-agent file state; sources, files and tools stay.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, ctx) => deleteAgent(ctx.db, ctx.actor, String(id)),
  }),
  attachSource: t.field({
    type: AgentPayload,
    description: 'Idempotent. Gives the agent a view of each of the source’s files and Letta’s file tools.',
    args: { agentId: t.arg.id({ required: true }), sourceId: t.arg.id({ required: true }) },
    resolve: async (_root, args, ctx) => ({ agentId: (await attachSource(ctx.db, ctx.actor, ...ids(args.agentId, args.sourceId))).id }),
  }),
  detachSource: t.field({
    type: AgentPayload,
    description: 'Idempotent. Removes the agent’s views of the source’s files; detaching the last source removes the file tools.',
    args: { agentId: t.arg.id({ required: true }), sourceId: t.arg.id({ required: true }) },
    resolve: async (_root, args, ctx) => ({ agentId: (await detachSource(ctx.db, ctx.actor, ...ids(args.agentId, args.sourceId))).id }),
  }),
  attachTool: t.field({
    type: AgentPayload,
    args: { agentId: t.arg.id({ required: true }), toolId: t.arg.id({ required: true }) },
    resolve: async (_root, args, ctx) => ({ agentId: (await attachTool(ctx.db, ctx.actor, ...ids(args.agentId, args.toolId))).id }),
  }),
  detachTool: t.field({
    type: AgentPayload,
    args: { agentId: t.arg.id({ required: true }), toolId: t.arg.id({ required: true }) },
    resolve: async (_root, args, ctx) => ({ agentId: (await detachTool(ctx.db, ctx.actor, ...ids(args.agentId, args.toolId))).id }),
  }),
  openFile: t.field({
    type: AgentFilePayload,
    description: 'Opens a file in the agent’s working memory (optionally a 1-based, inclusive line window), closing the least recently used files past maxFilesOpen.',
    args: { agentId: t.arg.id({ required: true }), fileId: t.arg.id({ required: true }), startLine: t.arg.int(), endLine: t.arg.int() },
    resolve: async (_root, args, ctx) => {
      const result = await openFile(ctx.db, ctx.actor, ...ids(args.agentId, args.fileId), { startLine: args.startLine, endLine: args.endLine });
      return { fileAgentId: result.fileAgent.id, closedFileNames: result.closedFileNames };
    },
  }),
  closeFile: t.field({
    type: AgentFilePayload,
    args: { agentId: t.arg.id({ required: true }), fileId: t.arg.id({ required: true }) },
    resolve: async (_root, args, ctx) => ({ fileAgentId: (await closeFile(ctx.db, ctx.actor, ...ids(args.agentId, args.fileId))).id, closedFileNames: [] }),
  }),
}));
