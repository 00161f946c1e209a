import type { z } from 'zod';
import { DEFAULT_BLOCK_LIMIT } from '../domain/agents.js';
import type { EmbeddingConfigInput as DomainEmbeddingInput } from '../embeddings/config.js';
import { displayFileName } from '../domain/files.js';
import type { RunUsage } from '../domain/runs.js';
import type { SourcesMetadata } from '../domain/sources.js';
import type {
  Agent,
  File,
  FileAgent,
  FileStatus,
  Job,
  Message,
  Passage,
  Prisma,
  Run,
  RunStep,
  Source,
  Tool,
} from '../generated/prisma/client.js';
import type * as S from './schemas.js';

/** Quarry rows in Letta's JSON: snake_case names, lowercase enum values, ISO-8601 UTC times, nulls kept. */

type Out<T extends z.ZodType> = z.output<T>;

const iso = (date: Date | null | undefined): string | null => (date ? date.toISOString() : null);
const isoAt = (date: Date): string => date.toISOString();
const object = (value: unknown): Record<string, unknown> | null =>
  value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
const bigintNumber = (value: bigint | null): number | null => (value === null ? null : Number(value));

// ───────────────────────────── embeddings ─────────────────────────────

/**
 * A stored configuration in Letta's shape. Sources store Quarry's camelCase EmbeddingConfig; an agent's may hold
 * whatever a client sent, so Letta's own snake_case form is accepted as stored too.
 */
export function embeddingConfig(stored: unknown): Out<typeof S.EmbeddingConfig> | null {
  const c = object(stored);
  if (!c) return null;
  const pick = (snake: string, camel: string) => (c[snake] ?? c[camel] ?? null) as never;
  return {
    embedding_endpoint_type: pick('embedding_endpoint_type', 'endpointType'),
    embedding_endpoint: pick('embedding_endpoint', 'endpoint'),
    embedding_model: pick('embedding_model', 'model'),
    embedding_dim: pick('embedding_dim', 'dim'),
    embedding_chunk_size: pick('embedding_chunk_size', 'chunkSize'),
    handle: pick('handle', 'handle'),
    batch_size: (c.batch_size ?? c.batchSize ?? 32) as number,
    azure_endpoint: pick('azure_endpoint', 'azureEndpoint'),
    azure_version: pick('azure_version', 'azureVersion'),
    azure_deployment: pick('azure_deployment', 'azureDeployment'),
  };
}

/** Letta's `embedding_config` request object as the domain's input. */
export function embeddingInput(config: Out<typeof S.EmbeddingConfigInput> | null | undefined): DomainEmbeddingInput | null {
  if (!config) return null;
  return {
    endpointType: config.embedding_endpoint_type,
    model: config.embedding_model,
    dim: config.embedding_dim,
    endpoint: config.embedding_endpoint,
    chunkSize: config.embedding_chunk_size,
    handle: config.handle,
    batchSize: config.batch_size,
    azureEndpoint: config.azure_endpoint,
    azureVersion: config.azure_version,
    azureDeployment: config.azure_deployment,
  };
}

// ───────────────────────────── sources, files, passages ─────────────────────────────

export function source(row: Source): Out<typeof S.Source> {
  return {
    name: row.name,
    description: row.description,
    instructions: row.instructions,
    metadata: object(row.metadata),
    id: row.id,
    embedding_config: embeddingConfig(row.embeddingConfig)!,
    organization_id: row.organizationId,
    vector_db_provider: row.vectorDbProvider as 'native',
    created_by_id: row.createdById,
    last_updated_by_id: row.lastUpdatedById,
    created_at: isoAt(row.createdAt),
    updated_at: isoAt(row.updatedAt),
  };
}

/** Letta's Folder: a Source without organization_id and vector_db_provider. */
export function folder(row: Source): Out<typeof S.Folder> {
  const { organization_id: _org, vector_db_provider: _vdb, ...rest } = source(row);
  return rest;
}

export function sourcesStats(stats: SourcesMetadata): Out<typeof S.OrganizationSourcesStats> {
  return {
    total_sources: stats.totalSources,
    total_files: stats.totalFiles,
    total_size: stats.totalSize,
    sources: stats.sources.map((s) => ({
      source_id: s.sourceId,
      source_name: s.sourceName,
      file_count: s.fileCount,
      total_size: s.totalSize,
      files: s.files.map((f) => ({ file_id: f.fileId, file_name: f.fileName, file_size: f.fileSize })),
    })),
  };
}

/** Quarry's processing states in Letta's words; chunking happens while Letta still says "parsing". */
export const FILE_STATUS: Record<FileStatus, (typeof S.FILE_STATUSES)[number]> = {
  PENDING: 'pending',
  PARSING: 'parsing',
  CHUNKING: 'parsing',
  EMBEDDING: 'embedding',
  COMPLETED: 'completed',
  ERROR: 'error',
};

export type FileRow = File & { content?: { text: string } | null };

/** A file as Letta lists it: the stored `<source name>/` prefix stripped, content only when asked for. */
export function fileMetadata(row: FileRow, options: { includeContent?: boolean; storedName?: boolean } = {}): Out<typeof S.FileMetadata> {
  return {
    source_id: row.sourceId,
    file_name: options.storedName ? row.fileName : displayFileName(row.fileName),
    original_file_name: row.originalFileName,
    file_path: row.filePath,
    file_type: row.mediaType,
    file_size: row.sizeBytes,
    file_creation_date: null,
    file_last_modified_date: null,
    processing_status: FILE_STATUS[row.processingStatus],
    error_message: row.errorMessage,
    total_chunks: row.totalChunks,
    chunks_embedded: row.chunksEmbedded,
    content: options.includeContent ? (row.content?.text ?? null) : null,
    id: row.id,
    organization_id: row.organizationId,
    created_at: isoAt(row.createdAt),
    updated_at: isoAt(row.updatedAt),
  };
}

export function passage(row: Passage, embedding: number[] | null): Out<typeof S.Passage> {
  return {
    id: row.id,
    text: row.text,
    embedding,
    embedding_config: embeddingConfig(row.embeddingConfig),
    source_id: row.sourceId,
    file_id: row.fileId,
    file_name: row.fileName,
    archive_id: null,
    organization_id: row.organizationId,
    metadata: object(row.metadata) ?? {},
    tags: row.tags,
    is_deleted: false,
    created_by_id: row.createdById,
    last_updated_by_id: row.createdById,
    created_at: isoAt(row.createdAt),
    updated_at: isoAt(row.updatedAt),
  };
}

// ───────────────────────────── tools ─────────────────────────────

export function tool(row: Tool): Out<typeof S.Tool> {
  return {
    id: row.id,
    tool_type: row.toolType as Out<typeof S.Tool>['tool_type'],
    description: row.description,
    source_type: row.sourceType,
    name: row.name,
    tags: row.tags,
    source_code: row.sourceCode,
    json_schema: object(row.jsonSchema),
    args_json_schema: object(row.argsJsonSchema),
    return_char_limit: row.returnCharLimit,
    pip_requirements: Array.isArray(row.pipRequirements) ? row.pipRequirements : null,
    npm_requirements: Array.isArray(row.npmRequirements) ? row.npmRequirements : null,
    default_requires_approval: row.defaultRequiresApproval,
    enable_parallel_execution: row.enableParallelExecution,
    metadata_: object(row.metadata),
    project_id: row.projectId,
    created_by_id: row.createdById,
    last_updated_by_id: row.lastUpdatedById,
  };
}

// ───────────────────────────── jobs and runs ─────────────────────────────

export function job(row: Job): Out<typeof S.Job> {
  // Letta's file jobs carried their source in metadata (its `source_id` filter reads it there).
  const links = { ...(row.sourceId ? { source_id: row.sourceId } : {}), ...(row.fileId ? { file_id: row.fileId } : {}) };
  const stored = object(row.metadata);
  return {
    id: row.id,
    status: row.status.toLowerCase() as Out<typeof S.Job>['status'],
    job_type: row.jobType.toLowerCase() as Out<typeof S.Job>['job_type'],
    metadata: stored || Object.keys(links).length ? { ...links, ...stored } : null,
    completed_at: iso(row.completedAt),
    cancel_requested_at: iso(row.cancelRequestedAt),
    stop_reason: row.stopReason,
    background: row.background,
    agent_id: row.agentId,
    callback_url: row.callbackUrl,
    callback_sent_at: iso(row.callbackSentAt),
    callback_status_code: row.callbackStatusCode,
    callback_error: row.callbackError,
    ttft_ns: bigintNumber(row.ttftNs),
    total_duration_ns: bigintNumber(row.totalDurationNs),
    user_id: row.userId,
    created_by_id: row.createdById,
    last_updated_by_id: null,
    created_at: isoAt(row.createdAt),
    updated_at: isoAt(row.updatedAt),
  };
}

export function run(row: Run): Out<typeof S.Run> {
  return {
    id: row.id,
    status: row.status.toLowerCase() as Out<typeof S.Run>['status'],
    job_type: 'run',
    agent_id: row.agentId,
    conversation_id: row.conversationId,
    base_template_id: row.baseTemplateId,
    background: row.background,
    metadata: object(row.metadata),
    request_config: object(row.requestConfig),
    stop_reason: row.stopReason,
    callback_url: row.callbackUrl,
    callback_sent_at: iso(row.callbackSentAt),
    callback_status_code: row.callbackStatusCode,
    callback_error: row.callbackError,
    ttft_ns: bigintNumber(row.ttftNs),
    total_duration_ns: bigintNumber(row.totalDurationNs),
    created_by_id: row.createdById,
    last_updated_by_id: null,
    created_at: isoAt(row.createdAt),
    updated_at: isoAt(row.updatedAt),
    completed_at: iso(row.completedAt),
  };
}

export function usage(u: RunUsage): Out<typeof S.UsageStatistics> {
  return {
    completion_tokens: u.completionTokens,
    prompt_tokens: u.promptTokens,
    total_tokens: u.totalTokens,
    prompt_tokens_details: u.promptTokensDetails && {
      cached_tokens: u.promptTokensDetails.cachedTokens,
      cache_read_tokens: u.promptTokensDetails.cacheReadTokens,
      cache_creation_tokens: u.promptTokensDetails.cacheCreationTokens,
    },
    completion_tokens_details: u.completionTokensDetails && { reasoning_tokens: u.completionTokensDetails.reasoningTokens },
  };
}

export function step(row: RunStep & { run: { agentId: string } }): Out<typeof S.Step> {
  const handle = row.model?.includes('/') ? row.model : null;
  const cacheReported = row.cachedTokens != null || row.cacheReadTokens != null || row.cacheCreationTokens != null;
  return {
    id: row.id,
    run_id: row.runId,
    agent_id: row.run.agentId,
    model: row.model,
    model_handle: handle,
    model_endpoint: null,
    provider_name: handle ? handle.slice(0, handle.indexOf('/')) : null,
    provider_id: null,
    provider_category: null,
    origin: null,
    context_window_limit: null,
    prompt_tokens: row.promptTokens,
    completion_tokens: row.completionTokens,
    total_tokens: row.totalTokens,
    cached_input_tokens: row.cachedTokens ?? row.cacheReadTokens,
    cache_write_tokens: row.cacheCreationTokens,
    reasoning_tokens: row.reasoningTokens,
    prompt_tokens_details: cacheReported
      ? { cached_tokens: row.cachedTokens, cache_read_tokens: row.cacheReadTokens, cache_creation_tokens: row.cacheCreationTokens }
      : null,
    completion_tokens_details: row.reasoningTokens != null ? { reasoning_tokens: row.reasoningTokens } : null,
    stop_reason: row.stopReason,
    status: null,
    tags: [],
    messages: [],
    feedback: null,
    trace_id: null,
    tid: null,
    request_id: null,
    project_id: null,
    error_type: null,
    error_data: null,
  };
}

// ───────────────────────────── agents ─────────────────────────────

/** What an AgentState needs loaded with the agent. */
export const agentInclude = {
  tools: { orderBy: [{ createdAt: 'asc' }, { toolId: 'asc' }], select: { tool: true } },
  sources: { orderBy: [{ createdAt: 'asc' }, { sourceId: 'asc' }], select: { source: true } },
  files: { orderBy: [{ lastAccessedAt: 'desc' }, { id: 'asc' }] },
} satisfies Prisma.AgentInclude;

export type AgentRow = Prisma.AgentGetPayload<{ include: typeof agentInclude }>;

type StoredBlock = { label: string; value: string; limit?: number; description?: string | null };

export function agentState(row: AgentRow): Out<typeof S.AgentState> {
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

export function agentFile(row: FileAgent & { source: { name: string } }): Out<typeof S.AgentFileAttachment> {
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

// ───────────────────────────── messages ─────────────────────────────

const objects = (value: unknown): Record<string, unknown>[] | null => (Array.isArray(value) ? (value as Record<string, unknown>[]) : null);

export function message(row: Message): Out<typeof S.Message> {
  return {
    id: row.id,
    role: row.role as Out<typeof S.Message>['role'],
    content: objects(row.content) ?? [],
    agent_id: row.agentId,
    model: row.model,
    name: row.name,
    tool_calls: objects(row.toolCalls),
    tool_call_id: row.toolCallId,
    tool_returns: objects(row.toolReturns),
    step_id: row.stepId,
    run_id: row.runId,
    otid: row.otid,
    group_id: row.groupId,
    sender_id: row.senderId,
    batch_item_id: row.batchItemId,
    is_err: row.isErr,
    created_by_id: row.createdById,
    last_updated_by_id: null,
    created_at: isoAt(row.createdAt),
    updated_at: isoAt(row.updatedAt),
  };
}
