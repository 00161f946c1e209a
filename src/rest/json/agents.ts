import { z } from 'zod';
import { named } from '../registry.js';
import { DEFAULT_BLOCK_LIMIT } from '../../domain/agents.js';
import type * as db from '../../generated/prisma/client.js';
import { DateTime, JsonObject, Out, iso, isoAt, nullable, object, opt } from './common.js';
import { EmbeddingConfig, EmbeddingConfigInput, embeddingConfig } from './embeddings.js';
import { Source, source } from './sources.js';
import { Tool, tool } from './tools.js';

/**
 * Agents, their memory, files and templates in Letta's JSON: the zod schemas of responses and request bodies, then the serializers of
 * Quarry's rows (rest/json/common.ts says how).
 */

const Block = named(
  'Block',
  z.object({ label: z.string(), value: z.string(), limit: z.number().int(), description: nullable(z.string()) }),
  'A core memory block.',
);

const FileBlock = named(
  'FileBlock',
  z.object({
    label: z.string(),
    value: z.string(),
    limit: z.number().int(),
    file_id: z.string(),
    source_id: z.string(),
    is_open: z.boolean(),
    last_accessed_at: nullable(DateTime),
  }),
  'A file in the agent’s working memory, labelled `<source name>/<file name>`; a closed file has an empty value.',
);

export const AgentState = named(
  'AgentState',
  z.object({
    id: z.string(),
    name: z.string(),
    description: nullable(z.string()),
    agent_type: z.string(),
    system: z.string(),
    model: nullable(z.string()),
    embedding: nullable(z.string()),
    llm_config: nullable(JsonObject),
    embedding_config: nullable(EmbeddingConfig),
    memory: z.object({ blocks: z.array(Block), file_blocks: z.array(FileBlock), prompt_template: z.null() }),
    blocks: z.array(Block),
    tools: z.array(Tool),
    sources: z.array(Source),
    tags: z.array(z.string()),
    tool_rules: z.array(z.unknown()),
    message_ids: z.array(z.string()),
    identity_ids: z.array(z.string()),
    metadata: nullable(JsonObject),
    max_files_open: z.number().int(),
    per_file_view_window_char_limit: z.number().int(),
    enable_sleeptime: z.boolean(),
    project_id: nullable(z.string()),
    template_id: nullable(z.string()),
    base_template_id: nullable(z.string()),
    created_by_id: nullable(z.string()),
    last_updated_by_id: nullable(z.string()),
    created_at: DateTime,
    updated_at: DateTime,
  }),
  'An agent as Quarry keeps it: configuration, memory blocks, tools, sources and its working memory of files.',
);

const MemoryBlockInput = z.object({ label: z.string(), value: z.string(), limit: opt(z.number().int()), description: opt(z.string()) });

export const CreateAgent = named(
  'CreateAgent',
  z.object({
    name: opt(z.string()),
    description: opt(z.string()),
    system: opt(z.string()),
    model: opt(z.string()),
    embedding: opt(z.string()),
    embedding_chunk_size: opt(z.number().int()),
    llm_config: opt(JsonObject),
    embedding_config: opt(EmbeddingConfigInput),
    memory_blocks: opt(z.array(MemoryBlockInput)),
    tags: opt(z.array(z.string())),
    metadata: opt(JsonObject),
    tool_ids: opt(z.array(z.string())),
    tools: opt(z.array(z.string())),
    source_ids: opt(z.array(z.string())),
    folder_ids: opt(z.array(z.string())),
    include_base_tools: opt(z.boolean()),
    max_files_open: opt(z.number().int()),
    per_file_view_window_char_limit: opt(z.number().int()),
  }),
  'The part of Letta’s CreateAgent that Quarry keeps; other Letta fields are ignored. `include_base_tools` defaults to true, as in Letta. ' +
    '`folder_ids` is the 1.x name of `source_ids` (both may be given). A `model` handle without `llm_config` fills `llm_config` as Letta does.',
);

export const UpdateAgent = named(
  'UpdateAgent',
  z.object({
    name: opt(z.string()),
    description: opt(z.string()),
    system: opt(z.string()),
    model: opt(z.string()),
    embedding: opt(z.string()),
    llm_config: opt(JsonObject),
    embedding_config: opt(EmbeddingConfigInput),
    tags: opt(z.array(z.string())),
    metadata: opt(JsonObject),
    tool_ids: opt(z.array(z.string())),
    source_ids: opt(z.array(z.string())),
    folder_ids: opt(z.array(z.string())),
    max_files_open: opt(z.number().int()),
    per_file_view_window_char_limit: opt(z.number().int()),
  }),
  'The part of Letta’s UpdateAgent that Quarry keeps; other Letta fields are ignored. Fields left out or null keep their value. ' +
    '`tool_ids` and `source_ids` (or `folder_ids`) are the whole new sets: sources leaving take their files out of the agent’s working memory, ' +
    'sources arriving bring theirs.',
);

export const AgentFileAttachment = named(
  'AgentFileAttachment',
  z.object({
    id: z.string(),
    file_id: z.string(),
    file_name: z.string(),
    folder_id: z.string(),
    folder_name: z.string(),
    is_open: z.boolean(),
    last_accessed_at: nullable(DateTime),
    visible_content: nullable(z.string()),
    start_line: nullable(z.number().int()),
    end_line: nullable(z.number().int()),
  }),
);

export const PaginatedAgentFiles = named(
  'PaginatedAgentFiles',
  z.object({ files: z.array(AgentFileAttachment), next_cursor: nullable(z.string()), has_more: z.boolean() }),
);

export const MemoryVariables = named(
  'MemoryVariables',
  z.object({ variables: z.record(z.string(), z.string()) }),
  'The values the agent was made with from a template; empty for an agent not made from one.',
);

export const TemplateRequest = named(
  'TemplateRequest',
  z.strictObject({ name: opt(z.string()), description: opt(z.string()), message: opt(z.string()) }),
  'All optional: the template is named after the agent unless `name` is given.',
);

export const VersionTemplateRequest = named('VersionTemplateRequest', z.strictObject({ message: opt(z.string()) }));

export const TemplateResult = named(
  'TemplateResult',
  z.object({ templateName: z.string(), templateId: z.string(), version: z.number().int() }),
  'Letta Cloud’s camelCase answer to the template routes, with the version created.',
);

/** What an AgentState needs loaded with the agent. */
export const agentInclude = {
  tools: { orderBy: [{ createdAt: 'asc' }, { toolId: 'asc' }], select: { tool: true } },
  sources: { orderBy: [{ createdAt: 'asc' }, { sourceId: 'asc' }], select: { source: true } },
  files: { orderBy: [{ lastAccessedAt: 'desc' }, { id: 'asc' }] },
} satisfies db.Prisma.AgentInclude;

export type AgentRow = db.Prisma.AgentGetPayload<{ include: typeof agentInclude }>;

type StoredBlock = { label: string; value: string; limit?: number; description?: string | null };

export function agentState(row: AgentRow): Out<typeof AgentState> {
  const blocks = ((row.memoryBlocks ?? []) as unknown as StoredBlock[]).map((b) => ({
    label: b.label,
    value: b.value,
    limit: b.limit ?? DEFAULT_BLOCK_LIMIT,
    description: b.description ?? null,
  }));
  const embedding = embeddingConfig(row.embeddingConfig);
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    agent_type: row.agentType,
    system: row.system ?? '',
    model: row.model,
    embedding: embedding?.handle ?? null,
    llm_config: object(row.llmConfig),
    embedding_config: embedding,
    memory: {
      blocks,
      file_blocks: row.files.map((f) => ({
        label: f.fileName,
        value: f.isOpen ? (f.visibleContent ?? '') : '',
        limit: row.perFileViewWindowCharLimit,
        file_id: f.fileId,
        source_id: f.sourceId,
        is_open: f.isOpen,
        last_accessed_at: iso(f.lastAccessedAt),
      })),
      prompt_template: null,
    },
    blocks,
    tools: row.tools.map((link) => tool(link.tool)),
    sources: row.sources.map((link) => source(link.source)),
    tags: row.tags,
    tool_rules: [],
    message_ids: [],
    identity_ids: [],
    metadata: object(row.metadata),
    max_files_open: row.maxFilesOpen,
    per_file_view_window_char_limit: row.perFileViewWindowCharLimit,
    enable_sleeptime: false,
    project_id: row.projectId,
    // Letta Cloud: template_id names the version an agent was made from, base_template_id the template.
    template_id: row.templateVersionId,
    base_template_id: row.templateId,
    created_by_id: row.createdById,
    last_updated_by_id: row.lastUpdatedById,
    created_at: isoAt(row.createdAt),
    updated_at: isoAt(row.updatedAt),
  };
}

export function agentFile(row: db.FileAgent & { source: { name: string } }): Out<typeof AgentFileAttachment> {
  return {
    id: row.id,
    file_id: row.fileId,
    file_name: row.fileName,
    folder_id: row.sourceId,
    folder_name: row.source.name,
    is_open: row.isOpen,
    last_accessed_at: iso(row.lastAccessedAt),
    visible_content: row.visibleContent,
    start_line: row.startLine,
    end_line: row.endLine,
  };
}
