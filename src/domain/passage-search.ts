import { LRUCache } from 'lru-cache';
import { badInput } from '../core/errors.js';
import { Prisma } from '../generated/prisma/client.js';
import { requireId } from './ids.js';
import type { OrgFilter, OrgReader } from './reads/org-reader.js';
import { livePassageSql } from './passage-visibility.js';
import { HNSW_MAX_DIM, requireVectorDim, vectorIndexName } from './vector-indexes.js';

/**
 * Passage search over one organization's passages, optionally narrowed to sources and files.
 *
 * - VECTOR: nearest neighbours by cosine distance. score = 1 − cosine distance (1 identical direction, 0
 *   orthogonal, −1 opposite).
 * - TEXT: full-text match of `fts` (to_tsvector('english', text)) against the query's words, any of them (OR):
 *   `beavers otters` finds passages with either word; "quoted phrases" must match as phrases and `-excluded` words
 *   must not occur (textQuery below). score = ts_rank over the words (≥ 0, comparable within one query only): each
 *   word's occurrences count with diminishing returns, so a passage with more of the query's words ranks above one
 *   that repeats a single word.
 * - HYBRID: reciprocal rank fusion of both lists, each taken to 2 × topK candidates. score = Σ 1 / (60 + rank)
 *   over the lists a passage appears in, so at most 2 / 61.
 *
 * `dim` narrows only the vector list: TEXT matches passages of any dimension, or none.
 * Ranks are 1-based positions in the vector and text lists. Every search is one statement through the
 * organization-bound reader (a HYBRID search two, run at once), whose filter every statement applies (the counts
 * that size a search return a number only: see reachOf).
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
/**
 * Each list's depth in a HYBRID search. Fusion needs little depth to put the passages both lists agree on first, and
 * behind a filter every extra vector candidate costs graph walking (4 × topK behind a 10% filter: p95 62 ms).
 */
const HYBRID_CANDIDATES_PER_RESULT = 2;

/**
 * Searches that can reach at most exactScanMaxRows(dim) passages are answered by an exact scan instead of the HNSW
 * index: about 12,000 at 100 dimensions, 4,000 at 384, 1,100 at 1,536. With the vectors stored in their rows
 * (STORAGE MAIN, migration 20261207191500) an exact scan's cost per row is a fixed part plus the distance, which
 * grows with the dimension; measured on 100,000 GloVe passages (bench/search-passages.ts), an exact scan of a 10%
 * filter (10,000 rows) took less than an HNSW search that recalls 0.95 behind it, with recall 1. Below that size
 * HNSW behind a selective filter walks thousands of graph nodes for rows it ranks only approximately. The
 * organization's own condition counts as a filter too: a small tenant in a large database is searched exactly.
 */
export const EXACT_SCAN_ROW_DIMENSIONS = 1_800_000;
export const exactScanMaxRows = (dim: number) => Math.ceil(EXACT_SCAN_ROW_DIMENSIONS / (50 + dim));

/**
 * hnsw.ef_search for a search whose filter keeps a share s of the index's rows: EF_SEARCH_BASE / s, at least
 * 2 × the LIMIT, at most pgvector's 1,000. HNSW filters after the graph walk, so about ef × s of the candidates it
 * collects survive the filter (fewer when the filter's passages lie away from the query); keeping that number near
 * EF_SEARCH_BASE keeps recall where a fixed ef_search loses it. Measured on GloVe passages, recall@10 against exact:
 * no filter, ef 100 0.94, ef 200 0.97; 30% filter, ef 400 0.94, ef 800 0.96.
 */
export const EF_SEARCH_BASE = 200;
/** Counting the filtered set stops here: enough to tell a few percent from the whole at 100,000 passages and more. */
const REACH_COUNT_CAP = 100_000;
/** How long a counted filter size is reused: sizes change slowly, and a stale one only makes one choice less apt. */
const REACH_TTL_MS = 30_000;

/**
 * TEXT ranks at most this many matching passages: a query of common words matches most of the corpus, and ts_rank
 * reads (and decompresses) every match's tsvector: ranking them all took p95 42 ms at 100,000 passages, and 1,000
 * took most of a TEXT search's time. Passages holding all the query's words are taken first, then passages holding
 * any of them, in the order the index gives them.
 */
export const TEXT_RANK_CANDIDATES = 500;

export interface SearchTuning {
  /** Overrides exactScanMaxRows(dim); 0 always uses the index where there is one (tests of the index path). */
  exactScanMaxRows?: number;
  /** Told how each vector search ran (tests, the bench). */
  onVectorPlan?: (plan: VectorPlan) => void;
  /** Overrides TEXT_SCAN_MAX_ROWS; 0 always matches through the GIN index (tests of the index path). */
  textScanMaxRows?: number;
  /** Told how each text search ran (tests, the bench). */
  onTextPlan?: (plan: TextPlan) => void;
}

/**
 * How a vector search ran. `reachable`: the passages its narrowest filter allows, counted up to REACH_COUNT_CAP
 * (null when not counted: dimensions HNSW cannot index are always exact). `exactRerun`: the index result came back
 * short of the LIMIT and was redone exactly.
 */
export type VectorPlan =
  | { strategy: 'exact'; reachable: number | null }
  | { strategy: 'hnsw'; reachable: number; efSearch: number; exactRerun: boolean };

/**
 * How a text search ran: `scan` read the filtered set's rows, `index` matched through the GIN index. `reachable`:
 * the passages its narrowest filter allows, counted up to one more than the scan's limit (TEXT_SCAN_MAX_ROWS).
 */
export interface TextPlan {
  strategy: 'scan' | 'index';
  reachable: number;
}

export async function searchPassages(reader: OrgReader, input: PassageSearchInput, tuning: SearchTuning = {}): Promise<PassageHit[]> {
  const topK = input.topK ?? DEFAULT_TOP_K;
  if (!Number.isInteger(topK) || topK < 1 || topK > MAX_TOP_K) throw badInput(`topK must be an integer from 1 to ${MAX_TOP_K}`, 'topK');
  const vector = input.mode === 'TEXT' ? null : requireQueryVector(input);
  const text = input.mode === 'VECTOR' ? null : requireQueryText(input);
  if (input.sourceIds?.length === 0 || input.fileIds?.length === 0) return [];
  const sourceIds = input.sourceIds?.map((id) => requireId('source', id, 'sourceIds'));
  const fileIds = input.fileIds?.map((id) => requireId('file', id, 'fileIds'));
  const bySource = sourceIds && Prisma.sql`"sourceId" = ANY(${sourceIds}::text[])`;
  const byFile = fileIds && Prisma.sql`"fileId" = ANY(${fileIds}::text[])`;
  const scope: Scope = {
    where: (org) => [org('"Passage"'), ...(bySource ? [bySource] : []), ...(byFile ? [byFile] : []), livePassageSql('"Passage"')],
    narrowest: byFile ?? bySource ?? null,
    reachKey: [reader.organizationId, [...(sourceIds ?? [])].sort().join(','), [...(fileIds ?? [])].sort().join(',')].join('|'),
    exactScanMaxRows: tuning.exactScanMaxRows ?? (vector ? exactScanMaxRows(vector.dim) : 0),
    onVectorPlan: tuning.onVectorPlan,
    textScanMaxRows: tuning.textScanMaxRows ?? TEXT_SCAN_MAX_ROWS,
    onTextPlan: tuning.onTextPlan,
  };

  if (vector && !text) {
    const ranked = await vectorRanking(reader, vector, scope, topK);
    return ranked.map((r, i) => ({ passageId: r.id, score: 1 - r.distance, vectorRank: i + 1 }));
  }
  if (text && !vector) {
    const ranked = await textRanking(reader, text, scope, topK);
    return ranked.map((r, i) => ({ passageId: r.id, score: r.rank, textRank: i + 1 }));
  }
  // Both rankings at once: on PostgreSQL they run on two connections, so a hybrid search takes about as long as the
  // slower of the two; PGlite, with one connection, runs them one after the other. Measured against both rankings
  // as CTEs of one statement (interleaved, 100 GloVe queries per filter, a heavily loaded machine): one statement
  // was 1.3x slower at p50 in every filter scenario, 1.0-1.7x at p95.
  const candidates = topK * HYBRID_CANDIDATES_PER_RESULT;
  const [byVector, byText] = await Promise.all([vectorRanking(reader, vector!, scope, candidates), textRanking(reader, text!, scope, candidates)]);
  return fuse(byVector, byText).slice(0, topK);
}

interface QueryVector {
  literal: string;
  dim: number;
}

interface Scope {
  /** Every condition a passage must meet, the organization's (the reader's filter) included. */
  where: (org: OrgFilter) => Prisma.Sql[];
  /** The most selective filter given (files, else sources), or null for the whole organization. */
  narrowest: Prisma.Sql | null;
  /** Identifies the filter (organization, sources, files) for the cache of counted sizes. */
  reachKey: string;
  exactScanMaxRows: number;
  onVectorPlan?: (plan: VectorPlan) => void;
  textScanMaxRows: number;
  onTextPlan?: (plan: TextPlan) => void;
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

/** Counted filter sizes per reader (so per database), by Scope.reachKey (TEXT's under its own keys). */
const reachCaches = new WeakMap<object, LRUCache<string, number>>();

function reachCache(reader: OrgReader): LRUCache<string, number> {
  let cache = reachCaches.get(reader.database);
  if (!cache) reachCaches.set(reader.database, (cache = new LRUCache<string, number>({ max: 10_000, ttl: REACH_TTL_MS })));
  return cache;
}

/**
 * The size of the filtered set, as a one-row CTE body (n): the size counted by an earlier search in the last
 * REACH_TTL_MS, or counted here by `condition` alone, up to `cap`. `remember` stores a counted size.
 */
function reachOf(reader: OrgReader, key: string, condition: Prisma.Sql, cap = REACH_COUNT_CAP) {
  const cache = reachCache(reader);
  const known = cache.get(key);
  return {
    cte:
      known !== undefined
        ? Prisma.sql`SELECT ${known}::int AS n`
        : Prisma.sql`SELECT count(*)::int AS n FROM (SELECT 1 FROM "Passage" WHERE ${condition} LIMIT ${cap}) counted`,
    remember: (n: number | null) => void (known === undefined && n !== null && cache.set(key, n)),
  };
}

/** One row of a statement holding a vector part: the plan's figures, and one nearest passage (or none). */
interface VectorRow {
  id: string | null;
  distance: number | null;
  reachable: number | null;
  ef: number;
  approximated: number;
}

/**
 * The `limit` nearest passages of dimension `dim`, as CTEs to put in a statement: `vector_plan` (one row: n, the
 * filtered set's size or null; ef, 0 for an exact scan; approximated, the rows the index gave) and `nearest`
 * (id, distance). HNSW filters after the index scan, and every search is filtered (by organization at least), so
 * the statement first sizes the filtered set (counted by one condition, see reachOf), then:
 * - at most `exactScanMaxRows` passages: an exact scan;
 * - more: the HNSW index, with pgvector's iterative scan (it keeps walking the graph until the LIMIT is met, up to
 *   hnsw.max_scan_tuples) and ef_search from the filter's share of the index (EF_SEARCH_BASE / share);
 * - an index result still short of the limit, which means either that fewer rows match or that the index gave up,
 *   is redone exactly in the same statement, so it always holds every match it could.
 * The settings are SET LOCAL (set_config(…, true)) inside the statement's own transaction, evaluated as an InitPlan
 * that the index scan's query value depends on, so they are in place before the scan starts and gone after it.
 * `done` turns the statement's vector rows into the plan taken (told to scope.onVectorPlan) and the ranking.
 */
function vectorPart(reader: OrgReader, org: OrgFilter, q: QueryVector, scope: Scope, limit: number) {
  const dim = Prisma.raw(String(q.dim));
  // The LIMIT is written into the statement, not a parameter: the reader prepares statements, and PostgreSQL's
  // generic plan for a parameter LIMIT assumes 10% of the rows are wanted, which prices the HNSW index out.
  const top = Prisma.raw(String(limit));
  // Literal dimension in both the cast and the predicate: the planner only uses the partial expression index
  // (vector-indexes.ts) when the query repeats its expression and implies its WHERE clause.
  const conditions = Prisma.join([...scope.where(org), Prisma.sql`"embeddingDim" = ${dim}`, Prisma.sql`embedding IS NOT NULL`], ' AND ');
  // The uncast column cannot match any index expression: a scan through the btrees, sorted, exact.
  const exactScan = Prisma.sql`SELECT id, embedding <=> ${q.literal}::vector AS distance FROM "Passage" WHERE ${conditions} ORDER BY distance LIMIT ${top}`;
  const done = (rows: VectorRow[], remember: (n: number | null) => void) => {
    const [first] = rows;
    remember(first.reachable);
    scope.onVectorPlan?.(
      first.ef === 0
        ? { strategy: 'exact', reachable: first.reachable }
        : { strategy: 'hnsw', reachable: first.reachable!, efSearch: first.ef, exactRerun: first.approximated < limit },
    );
    return rows.filter((r): r is VectorRow & { id: string; distance: number } => r.id !== null);
  };
  if (q.dim > HNSW_MAX_DIM) {
    const ctes = Prisma.sql`vector_plan AS (SELECT NULL::int AS n, 0 AS ef, 0 AS approximated), nearest AS (${exactScan})`;
    return { ctes, done: (rows: VectorRow[]) => done(rows, () => {}) };
  }
  const efBase = Prisma.raw(String(EF_SEARCH_BASE));
  // Counted by one condition alone, the one a btree answers from the index only ("sourceId", "fileId", or the
  // organization with the dimension): an upper bound, all the choice needs. With every condition, the planner may
  // take a sequential scan that reads most of the table. The count may include another organization's rows when a
  // caller names their sources; it only picks the plan, and the search keeps every condition.
  const reach = reachOf(reader, scope.reachKey, scope.narrowest ?? Prisma.sql`${org('"Passage"')} AND "embeddingDim" = ${dim}`);
  const ctes = Prisma.sql`
    reach AS MATERIALIZED (${reach.cte}),
    plan AS MATERIALIZED (
      SELECT n, coalesce((SELECT reltuples FROM pg_class WHERE oid = to_regclass(${`"${vectorIndexName(q.dim)}"`})), -1)::int AS indexed FROM reach
    ),
    tuned AS MATERIALIZED (
      SELECT n, indexed, CASE WHEN n <= ${scope.exactScanMaxRows}::int OR indexed < 0 THEN 0
        ELSE LEAST(1000, GREATEST(${Prisma.raw(String(2 * limit))}, ceil(${efBase} / LEAST(1.0, n::float8 / GREATEST(indexed, 1)))))::int
        END AS ef FROM plan
    ),
    approximate AS MATERIALIZED (
      SELECT id, embedding::vector(${dim}) <=> (
          SELECT ${q.literal}::vector(${dim}) FROM tuned
           WHERE set_config('hnsw.ef_search', ef::text, true) IS NOT NULL
             AND set_config('hnsw.iterative_scan', 'relaxed_order', true) IS NOT NULL
        ) AS distance
        FROM "Passage" WHERE (SELECT ef FROM tuned) > 0 AND ${conditions}
       ORDER BY distance LIMIT ${top}
    ),
    exact AS MATERIALIZED (
      SELECT * FROM (${exactScan}) scanned WHERE (SELECT count(*) FROM approximate) < ${top}
    ),
    vector_plan AS (SELECT n, ef, (SELECT count(*) FROM approximate)::int AS approximated FROM tuned),
    nearest AS (
      SELECT id, distance FROM approximate WHERE (SELECT count(*) FROM approximate) >= ${top}
      UNION ALL SELECT id, distance FROM exact
    )`;
  return { ctes, done: (rows: VectorRow[]) => done(rows, reach.remember) };
}

async function vectorRanking(reader: OrgReader, q: QueryVector, scope: Scope, limit: number) {
  let part!: ReturnType<typeof vectorPart>;
  const rows = await reader.query<VectorRow>((org) => {
    part = vectorPart(reader, org, q, scope, limit);
    return Prisma.sql`
      WITH ${part.ctes}
      SELECT nearest.id, nearest.distance, vector_plan.n AS reachable, vector_plan.ef, vector_plan.approximated
        FROM vector_plan LEFT JOIN nearest ON true
       ORDER BY nearest.distance, nearest.id`;
  });
  return part.done(rows);
}

/**
 * A query's parts: `words` (space-separated), `phrases` (each "quoted phrase", joined with `or`) and `excluded`
 * (every `-word` and `-"phrase"`, joined with `or`, subtracted as a whole), each for to_tsvector or
 * websearch_to_tsquery. The word `or` itself is the operator it always was, and says nothing more now that words
 * are alternatives anyway.
 */
export function textQuery(text: string): { words: string; phrases: string; excluded: string } {
  const words: string[] = [];
  const phrases: string[] = [];
  const excluded: string[] = [];
  for (const m of text.matchAll(/(-?)"([^"]*)"?|(\S+)/g)) {
    if (m[2] !== undefined) (m[1] ? excluded : phrases).push(`"${m[2]}"`);
    else if (/^or$/i.test(m[3])) continue;
    else if (/^-+[^-]/.test(m[3])) excluded.push(m[3].replace(/^-+/, '').replace(/"/g, ' '));
    else words.push(m[3].replace(/"/g, ' '));
  }
  return { words: words.join(' '), phrases: phrases.join(' or '), excluded: excluded.join(' or ') };
}

/**
 * Words in more than this share of the passages (PostgreSQL's statistics of `fts`, most_common_elems) are left out of
 * a TEXT query's alternatives when other words or a phrase remain: they say little about a passage, and each costs
 * reading a posting list of that share of the index (a 24-word query of common words read 68,000 postings).
 */
export const COMMON_WORD_SHARE = 0.05;
/**
 * How long the common words read from the statistics are reused. They change only when the table is analyzed,
 * which autovacuum does after a tenth of it changed; reading pg_stats on every query cost a TEXT search ~2 ms.
 */
const COMMON_WORDS_TTL_MS = 5 * 60_000;
const commonWordsCaches = new WeakMap<object, { expires: number; words: Promise<string[]> }>();

/** The lexemes in more than COMMON_WORD_SHARE of the passages, by the statistics, read at most every COMMON_WORDS_TTL_MS. */
function commonWords(reader: OrgReader): Promise<string[]> {
  const db = reader.database;
  const cached = commonWordsCaches.get(db);
  if (cached && cached.expires > Date.now()) return cached.words;
  const words = reader
    .statistics<{ lexemes: string[] }>(Prisma.sql`
      SELECT coalesce(array_agg(e.lexeme), '{}') AS lexemes
        FROM pg_stats s, unnest(s.most_common_elems::text::text[]) WITH ORDINALITY AS e(lexeme, i)
       WHERE s.schemaname = current_schema() AND s.tablename = 'Passage' AND s.attname = 'fts'
         AND s.most_common_elem_freqs[e.i] > ${Prisma.raw(String(COMMON_WORD_SHARE))}`)
    .then(([row]) => row.lexemes);
  commonWordsCaches.set(db, { expires: Date.now() + COMMON_WORDS_TTL_MS, words });
  // A failed read is not kept: the next search reads again.
  words.catch(() => commonWordsCaches.get(db)?.words === words && commonWordsCaches.delete(db));
  return words;
}

/**
 * TEXT matches a filtered set of at most this many passages by reading them (through the filter's btree) rather
 * than through the GIN index: the index reads every posting of the query's words across the organization and then
 * drops the passages outside the filter (a 1% source filter at 100,000 passages: p95 34 ms through the index).
 */
export const TEXT_SCAN_MAX_ROWS = 5_000;

/**
 * The `limit` best matches of a TEXT query, as CTEs to put in a statement, ending in `matched` (id, rank). Passages
 * with every word are candidates first (an AND query the GIN index answers by intersecting), then passages with
 * any, up to TEXT_RANK_CANDIDATES; only those are ranked. A filtered set of at most TEXT_SCAN_MAX_ROWS passages
 * (sized as a vector search sizes it, reachOf) is read row by row instead, its every-word matches first. An empty
 * query (no words, or stop words only) matches nothing: it must not become "not excluded".
 */
function textPart(reader: OrgReader, org: OrgFilter, text: string, scope: Scope, limit: number, common: string[]) {
  const { words, phrases, excluded } = textQuery(text);
  const conditions = Prisma.join(scope.where(org), ' AND ');
  const cap = Prisma.raw(String(TEXT_RANK_CANDIDATES));
  const scan = Prisma.sql`${scope.textScanMaxRows}::int`;
  // Counted only as far as the choice needs: one past the scan's limit (counting 100,000 passages of an unfiltered
  // search took a tenth of a second on a loaded machine, every REACH_TTL_MS).
  const countCap = scope.textScanMaxRows + 1;
  const reach = reachOf(reader, `text|${countCap}|${scope.reachKey}`, scope.narrowest ?? org('"Passage"'), countCap);
  const ctes = Prisma.sql`
    text_reach AS MATERIALIZED (${reach.cte}),
    lexemes AS MATERIALIZED (
      SELECT CASE WHEN cardinality(rare) > 0 OR ${phrases !== ''} THEN rare ELSE every_lexeme END AS chosen
        FROM tsvector_to_array(to_tsvector('english', ${words})) every_lexeme,
             LATERAL (SELECT coalesce(array_agg(l), '{}') AS rare FROM unnest(every_lexeme) l WHERE l <> ALL (${common}::text[])) r
    ),
    parts AS MATERIALIZED (
      SELECT CASE WHEN cardinality(chosen) = 0 THEN p
                  ELSE to_tsquery('simple', (SELECT string_agg(quote_literal(l), ' | ') FROM unnest(chosen) l)) || p END AS q,
             ex, a
        FROM lexemes, websearch_to_tsquery('english', ${phrases}) p, websearch_to_tsquery('english', ${excluded}) ex,
             websearch_to_tsquery('english', ${[words, phrases.replace(/ or /g, ' ')].join(' ')}) a
    ),
    terms AS MATERIALIZED (
      SELECT q AS ranked, CASE WHEN numnode(ex) = 0 OR numnode(q) = 0 THEN q ELSE q && !!ex END AS any_word,
             CASE WHEN numnode(ex) = 0 OR numnode(a) = 0 THEN a ELSE a && !!ex END AS every_word
        FROM parts
    ),
    every AS MATERIALIZED (
      SELECT id, fts FROM "Passage"
       WHERE (SELECT n FROM text_reach) > ${scan} AND ${conditions} AND fts @@ (SELECT every_word FROM terms) LIMIT ${cap}
    ),
    scanned AS MATERIALIZED (
      -- OFFSET 0 keeps the match out of the subquery, so the GIN index cannot answer it.
      SELECT id, fts FROM (SELECT id, fts FROM "Passage" WHERE (SELECT n FROM text_reach) <= ${scan} AND ${conditions} OFFSET 0) scoped
       WHERE fts @@ (SELECT any_word FROM terms)
       ORDER BY fts @@ (SELECT every_word FROM terms) DESC LIMIT ${cap}
    ),
    candidates AS (
      SELECT id, fts FROM every
      UNION ALL (
        SELECT id, fts FROM "Passage"
         WHERE (SELECT n FROM text_reach) > ${scan} AND (SELECT count(*) FROM every) < ${cap} AND ${conditions}
           AND fts @@ (SELECT any_word FROM terms) AND id NOT IN (SELECT id FROM every)
         LIMIT ${cap}
      )
      UNION ALL SELECT id, fts FROM scanned
    ),
    matched AS (
      SELECT id, ts_rank(fts, (SELECT ranked FROM terms)) AS rank FROM candidates ORDER BY rank DESC, id LIMIT ${Prisma.raw(String(limit))}
    )`;
  const done = (reachable: number) => {
    reach.remember(reachable);
    scope.onTextPlan?.({ strategy: reachable <= scope.textScanMaxRows ? 'scan' : 'index', reachable });
  };
  return { ctes, textReach: Prisma.sql`(SELECT n FROM text_reach)`, done };
}

async function textRanking(reader: OrgReader, text: string, scope: Scope, limit: number) {
  const common = await commonWords(reader);
  let part!: ReturnType<typeof textPart>;
  const rows = await reader.query<{ id: string | null; rank: number; reachable: number }>((org) => {
    part = textPart(reader, org, text, scope, limit, common);
    return Prisma.sql`
    WITH ${part.ctes}
    SELECT matched.id, matched.rank, ${part.textReach} AS reachable FROM (SELECT 1) one LEFT JOIN matched ON true ORDER BY matched.rank DESC, matched.id`;
  });
  part.done(rows[0].reachable);
  return rows.filter((r): r is { id: string; rank: number; reachable: number } => r.id !== null);
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
