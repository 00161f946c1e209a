import type { Actor } from '../core/auth.js';
import { badInput } from '../core/errors.js';
import { Prisma, type PrismaClient } from '../generated/prisma/client.js';
import { requireId } from './ids.js';
import { livePassageSql } from './passage-visibility.js';
import { HNSW_MAX_DIM, requireVectorDim } from './vector-indexes.js';

/**
 * Passage search over one organization's passages, optionally narrowed to sources and files.
 *
 * - VECTOR: nearest neighbours by cosine distance. score = 1 − cosine distance (1 identical direction, 0
 *   orthogonal, −1 opposite).
 * - TEXT: full-text match of `fts` (to_tsvector('english', text)) against websearch_to_tsquery('english', …),
 *   which understands "quoted phrases", `or` and `-excluded` words. score = ts_rank_cd (≥ 0, unbounded,
 *   comparable within one query only).
 * - HYBRID: reciprocal rank fusion of both lists, each taken to 4 × topK candidates. score = Σ 1 / (60 + rank)
 *   over the lists a passage appears in, so at most 2 / 61.
 *
 * `dim` narrows only the vector list: TEXT matches passages of any dimension, or none.
 * Ranks are 1-based positions in the vector and text lists. Raw SQL is not tenant-scoped, so every statement
 * here that reads passages filters on the actor's organization itself (the count that sizes a vector search
 * returns a number only: see reachesAtMost).
 */
export type PassageSearchMode = 'VECTOR' | 'TEXT' | 'HYBRID';

export interface PassageSearchInput {
  mode: PassageSearchMode;
  /** Required for VECTOR and HYBRID; must have exactly `dim` finite components, not all zero. */
  queryVector?: number[];
  /** The embedding dimension searched (the source's model's); required with queryVector. */
  dim?: number;
  /** Required for TEXT and HYBRID. */
  queryText?: string;
  /** Only passages of these sources; an empty list matches nothing. */
  sourceIds?: string[];
  /** Only passages of these files; an empty list matches nothing. */
  fileIds?: string[];
  /** 1..100, default 10. */
  topK?: number;
}

export interface PassageHit {
  passageId: string;
  score: number;
  vectorRank?: number;
  textRank?: number;
}

export const MAX_TOP_K = 100;
const DEFAULT_TOP_K = 10;
const RRF_K = 60;
const HYBRID_CANDIDATES_PER_RESULT = 4;

/**
 * Searches that can reach at most this many passages are answered by an exact scan instead of the HNSW index.
 * Measured on 100,000 lexical-384 passages (bench/search-passages.ts): an exact scan costs about 4–8 µs a row
 * (each row's vector sits in the TOAST table, one index probe away), so 2,000 rows take about as long as one
 * HNSW search; while below that size HNSW behind a selective filter walks thousands of graph nodes (iterative
 * scan) for rows it then ranks only approximately. The organization's own condition counts as a filter too: a
 * small tenant in a large database is searched exactly.
 */
export const EXACT_SCAN_MAX_ROWS = 2000;

export interface SearchTuning {
  /** Overrides EXACT_SCAN_MAX_ROWS; 0 always uses the index where there is one (tests of the index path). */
  exactScanMaxRows?: number;
}

export async function searchPassages(db: PrismaClient, actor: Actor, input: PassageSearchInput, tuning: SearchTuning = {}): Promise<PassageHit[]> {
  const topK = input.topK ?? DEFAULT_TOP_K;
  if (!Number.isInteger(topK) || topK < 1 || topK > MAX_TOP_K) throw badInput(`topK must be an integer from 1 to ${MAX_TOP_K}`, 'topK');
  const vector = input.mode === 'TEXT' ? null : requireQueryVector(input);
  const text = input.mode === 'VECTOR' ? null : requireQueryText(input);
  if (input.sourceIds?.length === 0 || input.fileIds?.length === 0) return [];
  const bySource = input.sourceIds && Prisma.sql`"sourceId" = ANY(${input.sourceIds.map((id) => requireId('source', id, 'sourceIds'))}::text[])`;
  const byFile = input.fileIds && Prisma.sql`"fileId" = ANY(${input.fileIds.map((id) => requireId('file', id, 'fileIds'))}::text[])`;
  const scope: Scope = {
    where: [Prisma.sql`"organizationId" = ${actor.organizationId}`, ...(bySource ? [bySource] : []), ...(byFile ? [byFile] : []), livePassageSql('"Passage"')],
    organizationId: actor.organizationId,
    narrowest: byFile ?? bySource ?? null,
    exactScanMaxRows: tuning.exactScanMaxRows ?? EXACT_SCAN_MAX_ROWS,
  };
  const where = scope.where;

  if (vector && !text) {
    const ranked = await vectorRanking(db, vector, scope, topK);
    return ranked.map((r, i) => ({ passageId: r.id, score: 1 - r.distance, vectorRank: i + 1 }));
  }
  if (text && !vector) {
    const ranked = await textRanking(db, text, where, topK);
    return ranked.map((r, i) => ({ passageId: r.id, score: r.rank, textRank: i + 1 }));
  }
  // Both rankings at once: on PostgreSQL they run on two connections, so a hybrid search takes about as long as
  // the slower of the two; PGlite, with one connection, runs them one after the other.
  const candidates = topK * HYBRID_CANDIDATES_PER_RESULT;
  const [byVector, byText] = await Promise.all([vectorRanking(db, vector!, scope, candidates), textRanking(db, text!, where, candidates)]);
  return fuse(byVector, byText).slice(0, topK);
}

interface QueryVector {
  literal: string;
  dim: number;
}

interface Scope {
  /** Every condition a passage must meet, the organization's included. */
  where: Prisma.Sql[];
  organizationId: string;
  /** The most selective filter given (files, else sources), or null for the whole organization. */
  narrowest: Prisma.Sql | null;
  exactScanMaxRows: number;
}

function requireQueryVector(input: PassageSearchInput): QueryVector {
  const { queryVector, dim } = input;
  if (!queryVector) throw badInput(`queryVector is required in ${input.mode} mode`, 'queryVector');
  if (dim === undefined) throw badInput('dim is required with queryVector', 'dim');
  requireVectorDim(dim);
  if (queryVector.length !== dim) {
    throw badInput(`queryVector has ${queryVector.length} dimensions but the passages searched have ${dim}`, 'queryVector');
  }
  if (!queryVector.every(Number.isFinite)) throw badInput('queryVector must contain only finite numbers', 'queryVector');
  // Cosine distance to a zero vector is NaN: it has no direction.
  if (queryVector.every((x) => x === 0)) throw badInput('queryVector must not be all zeros', 'queryVector');
  return { literal: JSON.stringify(queryVector), dim };
}

function requireQueryText(input: PassageSearchInput): string {
  const text = input.queryText?.trim();
  if (!text) throw badInput(`queryText is required in ${input.mode} mode`, 'queryText');
  return text;
}

/** Whether pgvector has iterative index scans (0.8.0+), per client: asked once, the extension is not upgraded under a running server. */
const iterativeScans = new WeakMap<object, Promise<boolean>>();

function supportsIterativeScan(db: PrismaClient): Promise<boolean> {
  let known = iterativeScans.get(db);
  if (!known) {
    known = db.$queryRaw<{ version: string }[]>`SELECT extversion AS version FROM pg_extension WHERE extname = 'vector'`.then(([row]) => {
      const [major, minor] = (row?.version ?? '0.0').split('.').map(Number);
      return major > 0 || minor >= 8;
    });
    known.catch(() => iterativeScans.delete(db));
    iterativeScans.set(db, known);
  }
  return known;
}

/**
 * The `limit` nearest passages of dimension `dim`. HNSW filters after the index scan, and every search is
 * filtered (by organization at least), so a plain index scan can come back short when the filter is selective.
 * Three defences: a search that can reach at most `exactScanMaxRows` passages is exact from the start; pgvector's
 * iterative scan keeps walking the graph until the LIMIT is met (up to hnsw.max_scan_tuples, 20,000 by default);
 * and a result still short of the limit, which means either that fewer rows match or that the index gave up, is
 * redone exactly so it always holds every match it could.
 */
async function vectorRanking(db: PrismaClient, q: QueryVector, scope: Scope, limit: number) {
  const { where, exactScanMaxRows } = scope;
  const dim = Prisma.raw(String(q.dim));
  // Literal dimension in both the cast and the predicate: the planner only uses the partial expression index
  // (vector-indexes.ts) when the query repeats its expression and implies its WHERE clause.
  const conditions = Prisma.join([...where, Prisma.sql`"embeddingDim" = ${dim}`, Prisma.sql`embedding IS NOT NULL`], ' AND ');
  const nearest = (distance: Prisma.Sql) => db.$queryRaw<{ id: string; distance: number }[]>`
    WITH nearest AS MATERIALIZED (
      SELECT id, ${distance} AS distance FROM "Passage" WHERE ${conditions} ORDER BY distance LIMIT ${limit}
    )
    SELECT id, distance FROM nearest ORDER BY distance, id`;
  const indexed = Prisma.sql`embedding::vector(${dim}) <=> ${q.literal}::vector(${dim})`;
  // The uncast column cannot match any index expression: a scan through the btrees, sorted, exact.
  const exact = Prisma.sql`embedding <=> ${q.literal}::vector`;

  if (q.dim > HNSW_MAX_DIM) return nearest(exact);
  if (exactScanMaxRows > 0 && (await reachesAtMost(db, scope, dim, exactScanMaxRows))) return nearest(exact);
  // relaxed_order returns index order only approximately; the outer ORDER BY above restores it.
  const settings = (await supportsIterativeScan(db))
    ? Prisma.sql`SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true), set_config('hnsw.ef_search', ${String(efSearch(limit))}, true)`
    : Prisma.sql`SELECT set_config('hnsw.ef_search', ${String(efSearch(limit))}, true)`;
  // SET LOCAL semantics (set_config(…, true)) in one short batch transaction: a pooled connection keeps nothing.
  const [, rows] = await db.$transaction([db.$queryRaw(settings), nearest(indexed)]);
  return rows.length < limit ? nearest(exact) : rows;
}

/**
 * Whether a search can reach at most `max` passages, counted up to max + 1 by one condition alone, the one that a
 * btree answers from the index only ("sourceId", "fileId", or the organization with the dimension): an upper
 * bound, which is all the choice needs. Given every condition, or with a heap visit to make, the planner may take
 * a sequential scan for the LIMIT that reads most of the table before it finds rows clustered at its end. The
 * count may thus include another organization's rows when a caller names their sources; it only picks the plan,
 * and the search itself keeps every condition.
 */
async function reachesAtMost(db: PrismaClient, scope: Scope, dim: Prisma.Sql, max: number): Promise<boolean> {
  const condition = scope.narrowest ?? Prisma.sql`"organizationId" = ${scope.organizationId} AND "embeddingDim" = ${dim}`;
  const [{ n }] = await db.$queryRaw<{ n: number }[]>`
    SELECT count(*)::int AS n FROM (SELECT 1 FROM "Passage" WHERE ${condition} LIMIT ${max + 1}) AS reachable`;
  return n <= max;
}

/** A candidate list wider than the LIMIT improves recall; pgvector accepts 1..1000. */
const efSearch = (limit: number) => Math.min(1000, Math.max(100, limit * 2));

async function textRanking(db: PrismaClient, text: string, where: Prisma.Sql[], limit: number) {
  return db.$queryRaw<{ id: string; rank: number }[]>`
    SELECT id, ts_rank_cd(fts, query) AS rank
      FROM "Passage", websearch_to_tsquery('english', ${text}) AS query
     WHERE ${Prisma.join(where, ' AND ')} AND fts @@ query
     ORDER BY rank DESC, id
     LIMIT ${limit}`;
}

/** Reciprocal rank fusion: rewards agreement between the lists without comparing their incomparable scores. */
function fuse(byVector: { id: string }[], byText: { id: string }[]): PassageHit[] {
  const hits = new Map<string, PassageHit>();
  const add = (list: { id: string }[], key: 'vectorRank' | 'textRank') =>
    list.forEach(({ id }, i) => {
      const hit = hits.get(id) ?? { passageId: id, score: 0 };
      hit[key] = i + 1;
      hit.score += 1 / (RRF_K + i + 1);
      hits.set(id, hit);
    });
  add(byVector, 'vectorRank');
  add(byText, 'textRank');
  const best = (h: PassageHit) => Math.min(h.vectorRank ?? Infinity, h.textRank ?? Infinity);
  return [...hits.values()].sort((a, b) => b.score - a.score || best(a) - best(b) || a.passageId.localeCompare(b.passageId));
}
