import type { Actor } from '../core/auth.js';
import { AppError, badInput, conflict, fromPrismaError, notFound } from '../core/errors.js';
import { checkName, nameProblem } from './names.js';
import { fileChange, type EventBus, type FileChange } from '../core/events.js';
import type { Prisma, PrismaClient, Source } from '../generated/prisma/client.js';
import { asEmbeddingConfig, sameEmbedding, type EmbeddingCatalog, type EmbeddingChoice, type EmbeddingConfig, type EmbeddingConfigInput } from '../embeddings/config.js';
import { containsInsensitive } from './filters.js';
import { orNotFound, requireId } from './ids.js';
import { announce, prepareReembedding, type JobSink } from './file-jobs.js';
import { ensureVectorIndex } from './vector-indexes.js';
import { checkCallbackUrl } from './callbacks.js';
import { openLiveStream } from '../core/live.js';
import { compareFileChanges, FILE_STATE } from './files.js';
import type { WatchScope } from './watch.js';

/** Sources: named folders of documents with one embedding configuration. `db` is tenant-scoped throughout. */

export interface SourceInput {
  name: string;
  description?: string | null;
  instructions?: string | null;
  metadata?: Record<string, unknown> | null;
  embedding?: string | null;
  embeddingChunkSize?: number | null;
  embeddingConfig?: EmbeddingConfigInput | null;
}

export interface SourceFilter {
  name?: string | null;
  metadata?: Record<string, unknown> | null;
}

const NAME_MAX = 255;

function checkSourceName(name: string, field = 'name'): string {
  const trimmed = checkName(name, { field, maxLength: NAME_MAX });
  // A source's name prefixes its files' names (`<source>/<file>`).
  if (trimmed.includes('/')) throw badInput(`${field} must not contain "/"`, field);
  return trimmed;
}

function checkMetadata(metadata: unknown, field = 'metadata') {
  if (metadata !== undefined && metadata !== null && (typeof metadata !== 'object' || Array.isArray(metadata))) {
    throw badInput(`${field} must be a JSON object`, field);
  }
}

/** Prisma filter for `sources(name:, metadata:)`: case-insensitive substring on name, exact values per metadata key. */
export function sourceWhere(filter: SourceFilter): Prisma.SourceWhereInput {
  checkMetadata(filter.metadata);
  const where: Prisma.SourceWhereInput = {};
  if (filter.name) where.name = containsInsensitive(filter.name);
  const entries = Object.entries(filter.metadata ?? {});
  if (entries.length) where.AND = entries.map(([key, value]) => ({ metadata: { path: [key], equals: value as Prisma.InputJsonValue } }));
  return where;
}

export async function getSource(db: PrismaClient, id: string, field = 'id'): Promise<Source> {
  requireId('source', id, field);
  return orNotFound(db.source.findUnique({ where: { id } }), 'Source', id);
}

export async function getSourceByName(db: PrismaClient, name: string): Promise<Source> {
  // A name the shared rule refuses names no source (and NUL would not even reach PostgreSQL as text).
  const source = nameProblem(name) ? null : await db.source.findFirst({ where: { name } });
  if (!source) throw new AppError('NOT_FOUND', `Source with name=${name} not found.`, { name });
  return source;
}

/** The services source writes use (a Context has them under these names). */
export interface SourceServices {
  embeddings: EmbeddingCatalog;
  /** Queues re-embedding jobs; without it, a change that needs them is a CONFLICT. */
  ingest?: JobSink;
}

/** What a write that may queue re-embedding jobs uses: the jobs are announced on `events`. */
export type SourceWriteServices = SourceServices & { events: EventBus };

export async function createSource(db: PrismaClient, actor: Actor, input: SourceInput, { embeddings: catalog }: SourceServices): Promise<Source> {
  const name = checkSourceName(input.name);
  checkMetadata(input.metadata);
  const embeddingConfig = catalog.resolve(input);
  // Passages of this dimension get their HNSW index before the first one is written.
  await ensureVectorIndex(db, embeddingConfig.dim);
  try {
    return await db.source.create({
      data: {
        organizationId: actor.organizationId,
        name,
        description: input.description ?? null,
        instructions: input.instructions ?? null,
        metadata: (input.metadata ?? undefined) as Prisma.InputJsonValue | undefined,
        embeddingConfig: embeddingConfig as unknown as Prisma.InputJsonValue,
        createdById: actor.userId,
        lastUpdatedById: actor.userId,
      },
    });
  } catch (error) {
    throw duplicateName(error, name);
  }
}

function duplicateName(error: unknown, name: string): unknown {
  return fromPrismaError(error)?.code === 'CONFLICT' ? conflict(`A source named "${name}" already exists in this organization`, 'name') : error;
}

/** What `createSource` takes, every field optional: the embedding as a handle (and chunk size) or a full config. */
export interface SourcePatch extends EmbeddingChoice {
  /** POSTed each re-embedding job when it ends. */
  callbackUrl?: string | null;
  name?: string | null;
  description?: string | null;
  instructions?: string | null;
  metadata?: Record<string, unknown> | null;
}

/**
 * Applies the fields that are present and non-null (Letta's rule; null cannot clear a field), skipping the write
 * when nothing changes. A new embedding model, dimension or chunk size re-embeds the source's files: one
 * `file_reembedding` job per file, created in the same transaction as the change and queued on `jobs` (nothing is
 * changed while they cannot be queued: SERVICE_UNAVAILABLE). Without `ingest` (a caller that cannot queue work) such a change to a source with files is a CONFLICT, so
 * passages never silently disagree with their source.
 */
export async function updateSource(
  db: PrismaClient,
  actor: Actor,
  id: string,
  patch: SourcePatch,
  { embeddings: catalog, ingest: jobs, events }: SourceWriteServices,
): Promise<Source> {
  const source = await getSource(db, id);
  checkMetadata(patch.metadata);
  const callbackUrl = patch.callbackUrl == null ? null : checkCallbackUrl(patch.callbackUrl);
  const data: Prisma.SourceUpdateInput = {};
  if (patch.name != null) {
    const name = checkSourceName(patch.name);
    if (name !== source.name) data.name = name;
  }
  if (patch.description != null && patch.description !== source.description) data.description = patch.description;
  if (patch.instructions != null && patch.instructions !== source.instructions) data.instructions = patch.instructions;
  if (patch.metadata != null && JSON.stringify(patch.metadata) !== JSON.stringify(source.metadata)) {
    data.metadata = patch.metadata as Prisma.InputJsonValue;
  }
  const change = await embeddingChange(db, catalog, source, patch, jobs);
  if (change) data.embeddingConfig = change.config as unknown as Prisma.InputJsonValue;
  const reembed = change?.reembed ?? false;
  if (Object.keys(data).length === 0) return source;
  try {
    const { updated, reembedding } = await db.$transaction(async (tx) => {
      const updated = await tx.source.update({ where: { id }, data: { ...data, lastUpdatedById: actor.userId } });
      return { updated, reembedding: reembed ? await prepareReembedding(tx as PrismaClient, actor, id, callbackUrl) : [] };
    });
    for (const job of reembedding) await announce(job, jobs!, events);
    return updated;
  } catch (error) {
    throw duplicateName(error, String(data.name ?? source.name));
  }
}

/**
 * The embedding an update asks for, when it differs from the source's: whether the files must be re-embedded (a
 * new model, dimension or chunk size, and files to re-embed), checked to be possible before anything is written.
 */
async function embeddingChange(
  db: PrismaClient,
  catalog: EmbeddingCatalog,
  source: Source,
  choice: EmbeddingChoice,
  jobs: JobSink | undefined,
  fields: { chunkSize?: string; config?: string } = {},
): Promise<{ config: EmbeddingConfig; reembed: boolean } | null> {
  const current = asEmbeddingConfig(source.embeddingConfig);
  const next = catalog.update(current, choice, fields);
  if (!next || JSON.stringify(next) === JSON.stringify(current)) return null;
  const reembed = (!sameEmbedding(next, current) || next.chunkSize !== current.chunkSize) && (await db.file.count({ where: { sourceId: source.id } })) > 0;
  if (reembed && !jobs) {
    throw conflict(`Source ${source.id} has files embedded with ${current.handle ?? current.model}; this server cannot re-embed them here`, fields.config ?? 'embeddingConfig');
  }
  if (reembed) jobs!.assertAvailable();
  await ensureVectorIndex(db, next.dim);
  return { config: next, reembed };
}

/** Deletes the source; foreign keys cascade to its files, their contents, passages, agent links and per-agent file state. Agents stay. */
export async function deleteSource(db: PrismaClient, id: string, { events }: { events: EventBus }): Promise<Source> {
  const source = await getSource(db, id);
  // The files go with it (cascade): their subscribers are told, as for a deleted file.
  const files = await db.file.findMany({
    where: { sourceId: id },
    select: { id: true, organizationId: true, sourceId: true, processingStatus: true, totalChunks: true, chunksEmbedded: true, errorMessage: true, processingNote: true, updatedAt: true },
  });
  await db.source.delete({ where: { id } });
  for (const file of files) events.publish('file', file.organizationId, fileChange(file, false));
  return source;
}

export interface BulkResult {
  source: Source;
  created: boolean;
}

/**
 * Creates or updates many sources at once, matched by name within the organization, in one statement
 * (`INSERT … ON CONFLICT (organizationId, name) DO UPDATE`) inside one transaction. Existing sources keep
 * their ids and any field the input leaves out; new ones get the default embedding unless one is given. An
 * existing source's embedding changes as `updateSource` changes it: its files are re-embedded by jobs created in
 * the same transaction.
 */
export async function bulkUpsertSources(
  db: PrismaClient,
  actor: Actor,
  inputs: SourceInput[],
  { embeddings: catalog, ingest: jobs, events }: SourceWriteServices,
): Promise<BulkResult[]> {
  if (inputs.length === 0) return [];
  if (inputs.length > 1000) throw badInput('At most 1000 sources per call', 'sources');
  const rows = inputs.map((input, i) => {
    const field = `sources.${i}`;
    const name = checkSourceName(input.name, `${field}.name`);
    checkMetadata(input.metadata, `${field}.metadata`);
    const given = input.embeddingConfig || input.embedding || input.embeddingChunkSize != null;
    return {
      name,
      description: input.description ?? null,
      instructions: input.instructions ?? null,
      metadata: input.metadata ?? null,
      embedding_config: given ? catalog.resolve(input) : null,
    };
  });
  const seen = new Set<string>();
  for (const [i, row] of rows.entries()) {
    if (seen.has(row.name)) throw badInput(`Source name "${row.name}" appears twice`, `sources.${i}.name`);
    seen.add(row.name);
  }
  const defaultConfig = catalog.resolve({});
  for (const dim of new Set([defaultConfig.dim, ...rows.flatMap((r) => (r.embedding_config ? [r.embedding_config.dim] : []))])) {
    await ensureVectorIndex(db, dim);
  }
  // Existing sources: only what changes their embedding is written to it, as updateSource decides.
  const existing = await db.source.findMany({ where: { name: { in: rows.map((r) => r.name) } } });
  const reembed: string[] = [];
  for (const source of existing) {
    const i = rows.findIndex((r) => r.name === source.name);
    const fields = { chunkSize: `sources.${i}.embeddingChunkSize`, config: `sources.${i}.embeddingConfig` };
    const change = await embeddingChange(db, catalog, source, inputs[i], jobs, fields);
    rows[i].embedding_config = change?.config ?? null;
    if (change?.reembed) reembed.push(source.id);
  }
  const known = new Set(existing.map((s) => s.name));

  const { upserted, reembedding } = await db.$transaction(async (tx) => {
    const upserted = await upsertSourceRows(tx as PrismaClient, actor, rows, defaultConfig);
    // Created by someone else since the lookup: its embedding was not checked against its files.
    const raced = upserted.find((u) => !u.inserted && !known.has(u.name) && rows.find((r) => r.name === u.name)!.embedding_config);
    if (raced) throw conflict(`Source "${raced.name}" was created meanwhile; send the request again`, 'sources');
    const reembedding = [];
    for (const id of reembed) reembedding.push(...(await prepareReembedding(tx as PrismaClient, actor, id)));
    return { upserted, reembedding };
  });
  for (const job of reembedding) await announce(job, jobs!, events);
  const sources = await db.source.findMany({ where: { id: { in: upserted.map((u) => u.id) } } });
  const byId = new Map(sources.map((s) => [s.id, s]));
  const order = new Map(rows.map((r, i) => [r.name, i]));
  return upserted
    .map((u) => ({ source: byId.get(u.id)!, created: u.inserted }))
    .sort((a, b) => order.get(a.source.name)! - order.get(b.source.name)!);
}

interface SourceRow {
  name: string;
  description: string | null;
  instructions: string | null;
  metadata: Record<string, unknown> | null;
  /** Null keeps an existing source's embedding, and gives a new one the default. */
  embedding_config: EmbeddingConfig | null;
}

function upsertSourceRows(tx: PrismaClient, actor: Actor, rows: SourceRow[], defaultConfig: EmbeddingConfig) {
  return tx.$queryRaw<{ id: string; name: string; inserted: boolean }[]>`
    WITH input AS (
      SELECT * FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb)
        AS x(name text, description text, instructions text, metadata jsonb, embedding_config jsonb)
    )
    INSERT INTO "Source" ("organizationId", name, description, instructions, metadata, "embeddingConfig", "createdById", "lastUpdatedById", "updatedAt")
    SELECT ${actor.organizationId}, name, description, instructions, metadata,
           COALESCE(embedding_config, ${JSON.stringify(defaultConfig)}::jsonb), ${actor.userId}, ${actor.userId}, now()
      FROM input
    ON CONFLICT ("organizationId", name) DO UPDATE SET
      description  = COALESCE((SELECT i.description FROM input i WHERE i.name = EXCLUDED.name), "Source".description),
      instructions = COALESCE((SELECT i.instructions FROM input i WHERE i.name = EXCLUDED.name), "Source".instructions),
      metadata     = COALESCE((SELECT i.metadata FROM input i WHERE i.name = EXCLUDED.name), "Source".metadata),
      "embeddingConfig" = COALESCE((SELECT i.embedding_config FROM input i WHERE i.name = EXCLUDED.name), "Source"."embeddingConfig"),
      "lastUpdatedById" = EXCLUDED."lastUpdatedById",
      "updatedAt" = now()
    RETURNING id, name, (xmax = 0) AS inserted`;
}

export interface SourcesMetadata {
  totalSources: number;
  totalFiles: number;
  totalSize: number;
  sources: { sourceId: string; sourceName: string; fileCount: number; totalSize: number; files: { fileId: string; fileName: string; fileSize: number | null }[] }[];
}

/** Letta's OrganizationSourcesStats: totals, and per-source detail (ordered by name, files by name) on request. */
export async function sourcesMetadata(db: PrismaClient, detailed: boolean): Promise<SourcesMetadata> {
  const [totalSources, files] = await Promise.all([
    db.source.count(),
    db.file.aggregate({ _count: { _all: true }, _sum: { sizeBytes: true } }),
  ]);
  const result: SourcesMetadata = { totalSources, totalFiles: files._count._all, totalSize: files._sum.sizeBytes ?? 0, sources: [] };
  if (!detailed) return result;
  const sources = await db.source.findMany({
    orderBy: { name: 'asc' },
    select: { id: true, name: true, files: { orderBy: { fileName: 'asc' }, select: { id: true, fileName: true, sizeBytes: true } } },
  });
  result.sources = sources.map((s) => ({
    sourceId: s.id,
    sourceName: s.name,
    fileCount: s.files.length,
    totalSize: s.files.reduce((sum, f) => sum + (f.sizeBytes ?? 0), 0),
    files: s.files.map((f) => ({ fileId: f.id, fileName: f.fileName, fileSize: f.sizeBytes })),
  }));
  return result;
}

// Watching a source's files (domain/watch.ts).

/** Every file of a source: first each file's current state (oldest file first), then every change. */
export async function watchSourceFiles(scope: WatchScope, sourceId: string): Promise<AsyncIterableIterator<FileChange>> {
  requireId('source', sourceId, 'sourceId');
  await getSource(scope.db, sourceId, 'sourceId');
  return openLiveStream({
    ...scope,
    topic: 'file',
    match: (c) => c.sourceId === sourceId,
    load: async () => {
      const files = await scope.db.file.findMany({ where: { sourceId }, select: FILE_STATE, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });
      return files.map((f) => fileChange(f));
    },
    compare: compareFileChanges,
  });
}
