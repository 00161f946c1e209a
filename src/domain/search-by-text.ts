import type { Actor } from '../core/auth.js';
import { badInput } from '../core/errors.js';
import type { PrismaClient } from '../generated/prisma/client.js';
import type { Embedders } from '../embeddings/index.js';
import { getAgent } from './agents.js';
import { asEmbeddingConfig, sameEmbedding } from '../embeddings/config.js';
import { requireId } from './ids.js';
import type { OrgReader } from './reads/org-reader.js';
import { searchPassages, type PassageHit, type PassageSearchMode } from './passage-search.js';

/**
 * Search in words: the query text is embedded with the searched sources' own embedding configuration (never
 * another one), then searched by vector, full text, or both. Sources with different embeddings cannot share
 * one vector search: their vectors are not comparable.
 */
export interface SearchInput {
  query: string;
  sourceIds?: string[] | null;
  fileIds?: string[] | null;
  /** Search the sources attached to this agent (intersected with sourceIds when both are given). */
  agentId?: string | null;
  topK?: number | null;
  mode?: PassageSearchMode | null;
}

export async function searchByText(
  db: PrismaClient,
  actor: Actor,
  input: SearchInput,
  { reader, embedders }: { reader: OrgReader; embedders: Embedders },
): Promise<PassageHit[]> {
  const mode = input.mode ?? 'HYBRID';
  if (!input.query.trim()) throw badInput('query must not be empty', 'query');
  let sourceIds = input.sourceIds?.map((id) => requireId('source', id, 'sourceIds')) ?? null;
  const fileIds = input.fileIds?.map((id) => requireId('file', id, 'fileIds')) ?? null;
  if (input.agentId) {
    await getAgent(db, actor, input.agentId, 'agentId');
    const attached = (await db.sourceAgent.findMany({ where: { agentId: input.agentId }, select: { sourceId: true } })).map((l) => l.sourceId);
    sourceIds = sourceIds ? sourceIds.filter((id) => attached.includes(id)) : attached;
  }
  const common = { queryText: input.query, sourceIds: sourceIds ?? undefined, fileIds: fileIds ?? undefined, topK: input.topK ?? undefined };
  if (mode === 'TEXT') return searchPassages(reader, { mode, ...common });

  // The sources in scope decide the embedding: those named, those of the files named, or all of them.
  const fileSources = fileIds ? (await db.file.findMany({ where: { id: { in: fileIds } }, select: { sourceId: true } })).map((f) => f.sourceId) : null;
  const scope = sourceIds ?? fileSources;
  const sources = await db.source.findMany({ where: scope ? { id: { in: scope } } : {}, select: { id: true, name: true, embeddingConfig: true } });
  if (sources.length === 0) return [];
  const config = asEmbeddingConfig(sources[0].embeddingConfig);
  const other = sources.find((s) => !sameEmbedding(asEmbeddingConfig(s.embeddingConfig), config));
  if (other) {
    throw badInput(
      `Sources "${sources[0].name}" and "${other.name}" use different embeddings; search them separately (or use mode TEXT)`,
      input.sourceIds ? 'sourceIds' : 'agentId',
    );
  }
  const [queryVector] = await embedders.for(config).embed([input.query]);
  return searchPassages(reader, { mode, ...common, queryVector, dim: config.dim });
}
