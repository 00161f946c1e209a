import { z } from 'zod';
import { named } from '../registry.js';
import { displayFileName } from '../../domain/files.js';
import type { SourcesMetadata } from '../../domain/sources.js';
import type * as db from '../../generated/prisma/client.js';
import { DateTime, JsonObject, Out, isoAt, nullable, object, opt } from './common.js';
import { EmbeddingConfig, EmbeddingConfigInput, embeddingConfig } from './embeddings.js';

/**
 * Sources (and folders), their files and passages in Letta's JSON: the zod schemas of responses and request bodies, then the serializers of
 * Quarry's rows (rest/json/common.ts says how).
 */

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

export function source(row: db.Source): Out<typeof Source> {
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
export function folder(row: db.Source): Out<typeof Folder> {
  const { organization_id: _org, vector_db_provider: _vdb, ...rest } = source(row);
  return rest;
}

export function sourcesStats(stats: SourcesMetadata): Out<typeof OrganizationSourcesStats> {
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
export const FILE_STATUS: Record<db.FileStatus, (typeof FILE_STATUSES)[number]> = {
  PENDING: 'pending',
  PARSING: 'parsing',
  CHUNKING: 'parsing',
  EMBEDDING: 'embedding',
  COMPLETED: 'completed',
  ERROR: 'error',
};

export type FileRow = db.File & { content?: { text: string } | null };

/** A file as Letta lists it: the stored `<source name>/` prefix stripped, content only when asked for. */
export function fileMetadata(row: FileRow, options: { includeContent?: boolean; storedName?: boolean } = {}): Out<typeof FileMetadata> {
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

export function passage(row: db.Passage, embedding: number[] | null): Out<typeof Passage> {
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
