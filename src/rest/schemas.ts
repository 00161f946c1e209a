import { z } from 'zod';
import { TOOL_TYPES } from '../domain/tools.js';
import { MESSAGE_ROLES } from '../domain/batches.js';
import { doc, named } from './registry.js';

/**
 * Letta's JSON shapes, as zod schemas: responses (snake_case, lowercase enum values, nullable fields always
 * present) and request bodies. Bodies Letta declares with `extra="forbid"` are strict here too (an unknown
 * field is a 422); the ones Letta lets through (ToolUpdate, CreateAgent, EmbeddingConfig) ignore extras.
 */

const DateTime = doc(z.string(), { format: 'date-time', description: 'ISO-8601, UTC, e.g. 2025-07-24T18:03:11.123Z.' });
const JsonObject = z.record(z.string(), z.unknown());
const nullable = <T extends z.ZodType>(schema: T) => schema.nullable();
/** An optional request field that may also be null (null means "leave as is"). */
const opt = <T extends z.ZodType>(schema: T) => schema.nullable().optional();

// ───────────────────────────── embeddings ─────────────────────────────

/** Letta's endpoint types, plus Quarry's own `local` (the built-in lexical embedder). */
export const EMBEDDING_ENDPOINT_TYPES = [
  'openai', 'anthropic', 'bedrock', 'google_ai', 'google_vertex', 'azure', 'groq', 'ollama', 'webui', 'webui-legacy',
  'lmstudio', 'lmstudio-legacy', 'llamacpp', 'koboldcpp', 'vllm', 'hugging-face', 'mistral', 'together', 'pinecone', 'local',
] as const;

export const EmbeddingConfig = named(
  'EmbeddingConfig',
  z.object({
    embedding_endpoint_type: z.string(),
    embedding_endpoint: nullable(z.string()),
    embedding_model: z.string(),
    embedding_dim: z.number().int(),
    embedding_chunk_size: nullable(z.number().int()),
    handle: nullable(z.string()),
    batch_size: z.number().int(),
    azure_endpoint: nullable(z.string()),
    azure_version: nullable(z.string()),
    azure_deployment: nullable(z.string()),
  }),
  'How a source’s passages are embedded. Quarry runs `openai` (when configured) and `local` endpoint types.',
);

export const EmbeddingConfigInput = named(
  'EmbeddingConfigInput',
  z.object({
    embedding_endpoint_type: z.enum(EMBEDDING_ENDPOINT_TYPES),
    embedding_endpoint: opt(z.string()),
    embedding_model: z.string().min(1),
    embedding_dim: z.number().int().min(1),
    embedding_chunk_size: opt(z.number().int()),
    handle: opt(z.string()),
    batch_size: opt(z.number().int()),
    azure_endpoint: opt(z.string()),
    azure_version: opt(z.string()),
    azure_deployment: opt(z.string()),
  }),
  'A full embedding configuration (Letta’s legacy `embedding_config`); unknown fields are ignored, as Letta does.',
);

export const EmbeddingModel = named(
  'EmbeddingModel',
  z.object({
    handle: z.string(),
    name: z.string(),
    display_name: z.string(),
    provider_name: z.string(),
    provider_type: z.string(),
    model_type: z.literal('embedding'),
    embedding_endpoint_type: z.string(),
    embedding_endpoint: nullable(z.string()),
    embedding_model: z.string(),
    embedding_dim: z.number().int(),
    embedding_chunk_size: nullable(z.number().int()),
    batch_size: z.number().int(),
    azure_endpoint: nullable(z.string()),
    azure_version: nullable(z.string()),
    azure_deployment: nullable(z.string()),
  }),
  'An embedding model a source can be made with: pass its `handle` as `embedding`. The Letta EmbeddingConfig fields are what the source gets.',
);

// ───────────────────────────── sources / folders ─────────────────────────────

const sourceFields = {
  name: z.string(),
  description: nullable(z.string()),
  instructions: nullable(z.string()),
  metadata: nullable(JsonObject),
  id: z.string(),
  embedding_config: EmbeddingConfig,
  organization_id: nullable(z.string()),
  vector_db_provider: z.enum(['native', 'tpuf', 'pinecone']),
  created_by_id: nullable(z.string()),
  last_updated_by_id: nullable(z.string()),
  created_at: DateTime,
  updated_at: DateTime,
};

export const Source = named('Source', z.object(sourceFields), 'A source: a named folder of files with one embedding configuration.');

const { organization_id: _org, vector_db_provider: _vdb, ...folderFields } = sourceFields;
export const Folder = named('Folder', z.object(folderFields), 'A source seen through `/v1/folders` (Letta’s Folder: no organization_id or vector_db_provider).');

export const SourceCreate = named(
  'SourceCreate',
  z.strictObject({
    name: z.string(),
    description: opt(z.string()),
    instructions: opt(z.string()),
    metadata: opt(JsonObject),
    embedding: opt(z.string()),
    embedding_chunk_size: opt(z.number().int()),
    embedding_config: opt(EmbeddingConfigInput),
  }),
  '`embedding_config` wins over `embedding` (a provider/model handle); with neither, the server’s DEFAULT_EMBEDDING is used.',
);

export const SourceUpdate = named(
  'SourceUpdate',
  z.strictObject({
    name: opt(z.string()),
    description: opt(z.string()),
    instructions: opt(z.string()),
    metadata: opt(JsonObject),
    embedding: opt(z.string()),
    embedding_chunk_size: opt(z.number().int()),
    embedding_config: opt(EmbeddingConfigInput),
  }),
  'Fields left out or null keep their value. As on create, `embedding_config` wins over `embedding` (a provider/model handle, keeping ' +
    'the current chunk size unless `embedding_chunk_size` is given); `embedding_chunk_size` alone changes the chunk size.',
);

export const BulkUpsertSources = named(
  'BulkUpsertSources',
  z.strictObject({ sources: z.array(SourceCreate).max(1000) }),
  'Sources matched by name within your organization: existing ones are updated in place (same id), new ones created.',
);

const SourceFileStats = named('SourceFileStats', z.object({ file_id: z.string(), file_name: z.string(), file_size: nullable(z.number().int()) }));
const SourceStats = named(
  'SourceStats',
  z.object({ source_id: z.string(), source_name: z.string(), file_count: z.number().int(), total_size: z.number().int(), files: z.array(SourceFileStats) }),
);
export const OrganizationSourcesStats = named(
  'OrganizationSourcesStats',
  z.object({ total_sources: z.number().int(), total_files: z.number().int(), total_size: z.number().int(), sources: z.array(SourceStats) }),
);

// ───────────────────────────── files and passages ─────────────────────────────

export const FILE_STATUSES = ['pending', 'parsing', 'embedding', 'completed', 'error'] as const;

export const FileMetadata = named(
  'FileMetadata',
  z.object({
    source_id: z.string(),
    file_name: nullable(z.string()),
    original_file_name: nullable(z.string()),
    file_path: nullable(z.string()),
    file_type: nullable(z.string()),
    file_size: nullable(z.number().int()),
    file_creation_date: nullable(z.string()),
    file_last_modified_date: nullable(z.string()),
    processing_status: z.enum(FILE_STATUSES),
    error_message: nullable(z.string()),
    total_chunks: nullable(z.number().int()),
    chunks_embedded: nullable(z.number().int()),
    content: nullable(z.string()),
    id: z.string(),
    organization_id: nullable(z.string()),
    created_at: DateTime,
    updated_at: DateTime,
  }),
  'A file of a source. `file_name` is shown without the stored `<source name>/` prefix; `content` only with include_content=true.',
);

export const Passage = named(
  'Passage',
  z.object({
    id: z.string(),
    text: z.string(),
    embedding: nullable(z.array(z.number())),
    embedding_config: nullable(EmbeddingConfig),
    source_id: nullable(z.string()),
    file_id: nullable(z.string()),
    file_name: nullable(z.string()),
    archive_id: z.null(),
    organization_id: nullable(z.string()),
    metadata: JsonObject,
    tags: nullable(z.array(z.string())),
    is_deleted: z.boolean(),
    created_by_id: nullable(z.string()),
    last_updated_by_id: nullable(z.string()),
    created_at: DateTime,
    updated_at: DateTime,
  }),
  'An embedded chunk of a file. `embedding` is at the source’s native dimension (Letta pads to 4096).',
);

// ───────────────────────────── tools ─────────────────────────────

const Requirement = named('Requirement', z.object({ name: z.string().min(1), version: opt(z.string()) }), 'A package a tool needs: name and optional version.');

export const Tool = named(
  'Tool',
  z.object({
    id: z.string(),
    tool_type: z.enum(TOOL_TYPES),
    description: nullable(z.string()),
    source_type: nullable(z.string()),
    name: z.string(),
    tags: z.array(z.string()),
    source_code: nullable(z.string()),
    json_schema: nullable(JsonObject),
    args_json_schema: nullable(JsonObject),
    return_char_limit: z.number().int(),
    pip_requirements: nullable(z.array(z.unknown())),
    npm_requirements: nullable(z.array(z.unknown())),
    default_requires_approval: nullable(z.boolean()),
    enable_parallel_execution: nullable(z.boolean()),
    metadata_: nullable(JsonObject),
    project_id: nullable(z.string()),
    created_by_id: nullable(z.string()),
    last_updated_by_id: nullable(z.string()),
  }),
  'A tool. The metadata key keeps Letta’s trailing underscore (`metadata_`).',
);

const toolFields = {
  source_type: opt(z.enum(['python', 'typescript', 'json'])),
  description: opt(z.string()),
  tags: opt(z.array(z.string())),
  json_schema: opt(JsonObject),
  args_json_schema: opt(JsonObject),
  return_char_limit: opt(z.number().int().min(1).max(1_000_000)),
  pip_requirements: opt(z.array(Requirement)),
  npm_requirements: opt(z.array(Requirement)),
  default_requires_approval: opt(z.boolean()),
  enable_parallel_execution: opt(z.boolean()),
};

export const ToolCreate = named(
  'ToolCreate',
  z.strictObject({ source_code: z.string(), ...toolFields }),
  'The name comes from `json_schema.name`, or else from the last function of the Python source, whose docstring gives the description and parameters.',
);

export const ToolUpdate = named(
  'ToolUpdate',
  z.object({ source_code: opt(z.string()), ...toolFields, metadata_: opt(JsonObject) }),
  'Fields left out or null keep their value; unknown fields are ignored, as Letta does.',
);

// ───────────────────────────── jobs and runs ─────────────────────────────

export const JOB_STATUSES = ['created', 'running', 'completed', 'failed', 'pending', 'cancelled', 'expired'] as const;
export const RUN_STATUSES = ['created', 'running', 'completed', 'failed', 'cancelled'] as const;

export const Job = named(
  'Job',
  z.object({
    id: z.string(),
    status: z.enum(JOB_STATUSES),
    job_type: z.enum(['job', 'run', 'batch']),
    metadata: nullable(JsonObject),
    completed_at: nullable(DateTime),
    cancel_requested_at: doc(nullable(DateTime), {
      description: 'Quarry: when a cancel was asked of a job a worker holds; it ends `cancelled` at the worker’s next step.',
    }),
    stop_reason: nullable(z.string()),
    background: nullable(z.boolean()),
    agent_id: nullable(z.string()),
    callback_url: nullable(z.string()),
    callback_sent_at: nullable(DateTime),
    callback_status_code: nullable(z.number().int()),
    callback_error: nullable(z.string()),
    ttft_ns: nullable(z.number()),
    total_duration_ns: nullable(z.number()),
    user_id: nullable(z.string()),
    created_by_id: nullable(z.string()),
    last_updated_by_id: nullable(z.string()),
    created_at: DateTime,
    updated_at: DateTime,
  }),
  'Background work. `metadata` carries the job’s source_id and file_id when it has them, as Letta’s file jobs did.',
);

export const Run = named(
  'Run',
  z.object({
    id: z.string(),
    status: z.enum(RUN_STATUSES),
    job_type: z.literal('run'),
    agent_id: z.string(),
    conversation_id: nullable(z.string()),
    base_template_id: nullable(z.string()),
    background: nullable(z.boolean()),
    metadata: nullable(JsonObject),
    request_config: nullable(JsonObject),
    stop_reason: nullable(z.string()),
    callback_url: nullable(z.string()),
    callback_sent_at: nullable(DateTime),
    callback_status_code: nullable(z.number().int()),
    callback_error: nullable(z.string()),
    ttft_ns: nullable(z.number()),
    total_duration_ns: nullable(z.number()),
    created_by_id: nullable(z.string()),
    last_updated_by_id: nullable(z.string()),
    created_at: DateTime,
    updated_at: DateTime,
    completed_at: nullable(DateTime),
  }),
  'An agent run as a runtime reported it (Letta 0.12+ shape, with `job_type: "run"` for older clients).',
);

export const UsageStatistics = named(
  'UsageStatistics',
  z.object({
    completion_tokens: z.number().int(),
    prompt_tokens: z.number().int(),
    total_tokens: z.number().int(),
    prompt_tokens_details: nullable(
      z.object({ cached_tokens: nullable(z.number().int()), cache_read_tokens: nullable(z.number().int()), cache_creation_tokens: nullable(z.number().int()) }),
    ),
    completion_tokens_details: nullable(z.object({ reasoning_tokens: nullable(z.number().int()) })),
  }),
  'Tokens summed over the run’s steps; a details object is null until a step reports its figures.',
);

export const Step = named(
  'Step',
  z.object({
    id: z.string(),
    run_id: z.string(),
    agent_id: z.string(),
    model: nullable(z.string()),
    model_handle: nullable(z.string()),
    model_endpoint: z.null(),
    provider_name: nullable(z.string()),
    provider_id: z.null(),
    provider_category: z.null(),
    origin: z.null(),
    context_window_limit: z.null(),
    prompt_tokens: z.number().int(),
    completion_tokens: z.number().int(),
    total_tokens: z.number().int(),
    cached_input_tokens: nullable(z.number().int()),
    cache_write_tokens: nullable(z.number().int()),
    reasoning_tokens: nullable(z.number().int()),
    prompt_tokens_details: nullable(
      z.object({ cached_tokens: nullable(z.number().int()), cache_read_tokens: nullable(z.number().int()), cache_creation_tokens: nullable(z.number().int()) }),
    ),
    completion_tokens_details: nullable(z.object({ reasoning_tokens: nullable(z.number().int()) })),
    stop_reason: nullable(z.string()),
    status: z.null(),
    tags: z.array(z.string()),
    messages: z.array(z.unknown()),
    feedback: z.null(),
    trace_id: z.null(),
    tid: z.null(),
    request_id: z.null(),
    project_id: z.null(),
    error_type: z.null(),
    error_data: z.null(),
  }),
  'One step of a run, as its runtime reported it: the model and the tokens it used. Fields Quarry is never told (status, trace, ' +
    'feedback, provider details) are null; `model_handle` is set when the reported model is a `provider/model` handle.',
);

// ───────────────────────────── agents ─────────────────────────────

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

// ───────────────────────────── messages ─────────────────────────────

export const Message = named(
  'Message',
  z.object({
    id: z.string(),
    role: z.enum(MESSAGE_ROLES),
    content: z.array(JsonObject),
    agent_id: nullable(z.string()),
    model: nullable(z.string()),
    name: nullable(z.string()),
    tool_calls: nullable(z.array(JsonObject)),
    tool_call_id: nullable(z.string()),
    tool_returns: nullable(z.array(JsonObject)),
    step_id: nullable(z.string()),
    run_id: nullable(z.string()),
    otid: nullable(z.string()),
    group_id: nullable(z.string()),
    sender_id: nullable(z.string()),
    batch_item_id: nullable(z.string()),
    is_err: nullable(z.boolean()),
    created_by_id: nullable(z.string()),
    last_updated_by_id: nullable(z.string()),
    created_at: DateTime,
    updated_at: DateTime,
  }),
);

export const LettaBatchMessages = named('LettaBatchMessages', z.object({ messages: z.array(Message) }));

// ───────────────────────────── small answers ─────────────────────────────

export const Count = doc(z.number().int().min(0), { description: 'A count.' });
export const Null = doc(z.null(), { description: 'Always `null` (Letta answers deletes this way).' });
export const IdList = z.array(z.string());
export const NameList = doc(z.array(z.string()), { description: 'File names.' });
export const MessageResult = z.object({ message: z.string() });
export const Health = named('Health', z.object({ version: z.string(), status: z.literal('ok') }), 'Letta’s health answer; `version` is Quarry’s.');
export const ErrorDetail = named('NotImplemented', z.object({ detail: z.string() }), 'Why Quarry does not serve this Letta route.');
export { DateTime, JsonObject };
