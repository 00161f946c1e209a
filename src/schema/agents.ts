import { builder } from './builder.js';
import { EmbeddingConfigRef } from './embeddings.js';
import { Source } from './sources.js';
import { Tool } from './tools.js';

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
  id: { field: 'id' },
  nullable: true,
  fields: (t) => ({
    name: t.exposeString('name'),
    description: t.exposeString('description', { nullable: true }),
    agentType: t.exposeString('agentType'),
    system: t.exposeString('system', { nullable: true, description: 'The system prompt.' }),
    model: t.exposeString('model', { nullable: true, description: 'Model handle, e.g. openai/gpt-4o-mini.' }),
    embeddingConfig: t.field({ type: EmbeddingConfigRef, nullable: true, resolve: (a) => a.embeddingConfig as never }),
    memoryBlocks: t.field({ type: [MemoryBlock], resolve: (a) => (a.memoryBlocks ?? []) as unknown as MemoryBlockShape[] }),
    tags: t.exposeStringList('tags'),
    metadata: t.field({ type: 'JSONObject', nullable: true, resolve: (a) => a.metadata as Record<string, unknown> | null }),
    maxFilesOpen: t.exposeInt('maxFilesOpen'),
    perFileViewWindowCharLimit: t.exposeInt('perFileViewWindowCharLimit'),
    sources: t.field({
      type: [Source],
      description: 'Attached sources, in attachment order.',
      select: (_args, _ctx, nested) => ({ sources: { orderBy: { createdAt: 'asc' }, select: { source: nested(true) } } }),
      resolve: (a) => a.sources.map((link) => link.source),
    }),
    tools: t.field({
      type: [Tool],
      description: 'Attached tools, in attachment order.',
      select: (_args, _ctx, nested) => ({ tools: { orderBy: { createdAt: 'asc' }, select: { tool: nested(true) } } }),
      resolve: (a) => a.tools.map((link) => link.tool),
    }),
    files: t.relation('files', {
      description: 'The agent’s view of each file of its sources: open or closed, and what it sees.',
      args: { isOpen: t.arg.boolean() },
      query: (args) => ({
        where: args.isOpen == null ? {} : { isOpen: args.isOpen },
        orderBy: [{ lastAccessedAt: 'desc' }, { id: 'asc' }],
      }),
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

// Defined here rather than in sources.ts so the two files do not import each other.
builder.prismaObjectField(Source, 'agents', (t) =>
  t.field({
    type: [Agent],
    description: 'Agents this source is attached to, in attachment order.',
    select: (_args, _ctx, nested) => ({ agents: { orderBy: { createdAt: 'asc' }, select: { agent: nested(true) } } }),
    resolve: (s) => s.agents.map((link) => link.agent),
  }),
);

builder.prismaNode('FileAgent', {
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
    ...(args.name ? { name: { contains: args.name, mode: 'insensitive' as const } } : {}),
    ...(args.tags?.length ? { tags: { hasEvery: args.tags } } : {}),
  };
}
