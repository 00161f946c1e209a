/**
 * npm run bench:search — `searchPassages` over 100,000 passages on PostgreSQL + pgvector with the local (lexical)
 * embedder: p50/p95 latency (target p95 ≤ 20 ms) and recall@10 against exact search (target ≥ 0.95), without a
 * source filter and filtered to one source (a large, a mid-sized and a 1% source, so a selective filter shows any
 * post-filter starvation). TEXT (the span, and two of its words) and HYBRID latencies are printed too.
 *
 * Corpus: text generated from an English vocabulary (cl100k_base's whole-word tokens, roughly in frequency order)
 * under a Zipf–Mandelbrot word-frequency law, mixed with per-source topics and per-file recurring words so that
 * passages cluster the way documents do; 10 sources of different sizes (30% … 1%). Each file is chunked by the
 * product's chunker (300 tokens, overlap 50), embedded by the product's LexicalEmbedder (384 dimensions), and the
 * passages are inserted in bulk with raw SQL; then the HNSW index is created by the product's ensureVectorIndex.
 * Queries are spans of 6–24 words from held-out files (generated like the corpus, never inserted).
 *
 * Measured: the domain function behind the `searchPassages` resolver (searchByText: embed the query, check the
 * sources' embedding, search) through an organization-scoped client, as the GraphQL resolver calls it, one query
 * at a time. Recall@10 compares its hits with an exact search (sequential scan, ORDER BY cosine distance, index
 * scans disabled) for the same query; a hit counts when its distance is within the exact 10th distance (ties).
 *
 * Needs DATABASE_URL (a PostgreSQL server with pgvector ≥ 0.8). The bench works in its own database,
 * BENCH_DATABASE (default quarry_bench_search) on that server, migrated with the project's runner; it is reused
 * when it holds this exact corpus (REBUILD=1 rebuilds it) and kept afterwards unless DROP=1. Building takes about
 * 5 minutes on 2 cores (most of it the HNSW build), the exact answers about 5 more (they are kept in that database
 * for later runs), and each measuring run about a minute.
 * PASSAGES (default 100000), QUERIES per scenario (default 300) and RUNS (default 3) are settable.
 */
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import pg from 'pg';
import { decode } from 'gpt-tokenizer/encoding/cl100k_base';
import { loadConfig } from '../src/config.js';
import type { Actor } from '../src/core/auth.js';
import type { Prisma } from '../src/generated/prisma/client.js';
import { openPostgres } from '../src/core/db/index.js';
import { migrate } from '../src/core/db/migrate.js';
import { pgClientRunner } from '../src/core/db/sql.js';
import { ScopedClients } from '../src/core/tenancy.js';
import { EmbeddingCatalog } from '../src/domain/embedding-config.js';
import { createOrganization } from '../src/domain/organizations.js';
import { EXACT_SCAN_MAX_ROWS } from '../src/domain/passage-search.js';
import { searchByText } from '../src/domain/search.js';
import { ensureVectorIndex, vectorIndexName } from '../src/domain/vector-indexes.js';
import { chunk } from '../src/ingest/chunker.js';
import { LexicalEmbedder } from '../src/ingest/embedders/index.js';
import { singleSection } from '../src/ingest/parsers/builder.js';

const PASSAGES = Number(process.env.PASSAGES ?? 100_000);
const QUERIES = Number(process.env.QUERIES ?? 300);
const RUNS = Number(process.env.RUNS ?? 3);
const BENCH_DATABASE = process.env.BENCH_DATABASE ?? 'quarry_bench_search';
const SEED = 20261125;
/** Bump when the corpus generator or the lexical embedder changes, so a database holding old vectors is rebuilt, not reused. */
const CORPUS_VERSION = 2;
const TOP_K = 10;
const DIM = 384;
/** Relative share of the passages per source; the last is the 1% source. */
const SOURCE_SHARES = [0.3, 0.2, 0.14, 0.1, 0.08, 0.06, 0.05, 0.035, 0.025, 0.01];

const config = loadConfig();
if (config.databaseKind !== 'postgres') {
  console.error('Set DATABASE_URL to a PostgreSQL server with pgvector (the bench creates its own database there).');
  process.exit(1);
}
if (/^quarry_test$|^postgres$/.test(BENCH_DATABASE) || !/^[a-z_][a-z0-9_]*$/.test(BENCH_DATABASE)) {
  console.error(`BENCH_DATABASE must be a dedicated database name (got ${BENCH_DATABASE}); the bench may drop it.`);
  process.exit(1);
}
const serverUrl = new URL(config.DATABASE_URL!);
if (serverUrl.pathname === `/${BENCH_DATABASE}`) {
  console.error(`BENCH_DATABASE must differ from DATABASE_URL's database (${BENCH_DATABASE}); the bench drops and recreates it.`);
  process.exit(1);
}
const benchUrl = new URL(serverUrl);
benchUrl.pathname = `/${BENCH_DATABASE}`;

// ───────────────────────────── deterministic randomness ─────────────────────────────

/** mulberry32: small, fast, good enough for text generation; seeded so every run builds the same corpus. */
function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/** One independent stream per (source, file, kind): a file's text does not depend on how many files came before. */
function streamSeed(...parts: number[]): number {
  let h = SEED | 0;
  for (const p of parts) h = Math.imul(h ^ (p + 0x9e3779b9), 0x85ebca6b) ^ (h >>> 13);
  return h;
}

type Random = () => number;

/** Cumulative distribution of a Zipf–Mandelbrot law p(r) ∝ 1 / (r + q)^s over ranks 0..n-1. */
function zipf(n: number, s: number, q: number): Float64Array {
  const cdf = new Float64Array(n);
  let total = 0;
  for (let r = 0; r < n; r++) cdf[r] = total += 1 / Math.pow(r + 1 + q, s);
  for (let r = 0; r < n; r++) cdf[r] /= total;
  return cdf;
}

function draw(cdf: Float64Array, random: Random): number {
  const u = random();
  let lo = 0;
  let hi = cdf.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cdf[mid] < u) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function normal(random: Random): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

// ───────────────────────────── the corpus model ─────────────────────────────

/**
 * English words, most frequent first: the commonest function words (their order from standard frequency lists),
 * then cl100k_base's lowercase whole-word tokens of 3+ letters in merge order, which follows frequency in web text.
 * A few are word fragments ("con", "pro"); they behave like words for both embedders and full-text search.
 */
function vocabulary(): string[] {
  const head = (
    'the of and to a in is that for it as was with be by on not he i this are or his from at which but have an ' +
    'had they you were their one all we can her has there been if more when will would who so no'
  ).split(' ');
  const seen = new Set(head);
  const words = [...head];
  for (let token = 0; token < 100_256; token++) {
    const text = decode([token]);
    if (!/^ [a-z]{3,}$/.test(text)) continue;
    const word = text.slice(1);
    if (!seen.has(word)) {
      seen.add(word);
      words.push(word);
    }
  }
  return words;
}

const TOPICS = 400;
const WORDS_PER_TOPIC = 150;
const TOPICS_PER_SOURCE = 40;
/** Share of a file's words drawn from its topics, and from its own recurring words (names, terms). */
const TOPIC_SHARE = 0.3;
const FILE_WORD_SHARE = 0.05;
const FILE_WORDS = 8;
/** Median chunks per file; file lengths are log-normal around it. */
const MEDIAN_FILE_CHUNKS = 12;

interface Model {
  words: string[];
  background: Float64Array;
  topics: { words: number[]; cdf: Float64Array }[];
  sourceTopics: number[][];
}

function buildModel(): Model {
  const words = vocabulary();
  const random = rng(streamSeed(0, 0, 0));
  // Mandelbrot's q ≈ 2.7 and s = 1 fit English word frequencies: the top 100 words make about half the text.
  const background = zipf(words.length, 1, 2.7);
  const topics = Array.from({ length: TOPICS }, () => {
    // Content words: past the function words, anywhere in the long tail.
    const topicWords = Array.from({ length: WORDS_PER_TOPIC }, () => 100 + Math.floor(random() * (words.length - 100)));
    return { words: topicWords, cdf: zipf(WORDS_PER_TOPIC, 1.1, 1) };
  });
  const sourceTopics = SOURCE_SHARES.map(() => Array.from({ length: TOPICS_PER_SOURCE }, () => Math.floor(random() * TOPICS)));
  return { words, background, topics, sourceTopics };
}

/** One file's text: paragraphs of sentences whose words come from the background law, the file's topics and its own words. */
function fileText(model: Model, source: number, seed: number): string {
  const random = rng(seed);
  const topicCount = 1 + Math.floor(random() * 3);
  const topics = Array.from({ length: topicCount }, () => model.topics[model.sourceTopics[source][Math.floor(random() * TOPICS_PER_SOURCE)]]);
  const ownWords = Array.from({ length: FILE_WORDS }, () => 1000 + Math.floor(random() * (model.words.length - 1000)));
  const chunks = Math.min(150, Math.max(1, Math.round(MEDIAN_FILE_CHUNKS * Math.exp(0.9 * normal(random)))));
  // About 250 new tokens per 300-token chunk after the overlap, and about one token per word here.
  const targetWords = chunks * 250;
  const word = () => {
    const u = random();
    if (u < FILE_WORD_SHARE) return model.words[ownWords[Math.floor(random() * FILE_WORDS)]];
    if (u < FILE_WORD_SHARE + TOPIC_SHARE) {
      const topic = topics[Math.floor(random() * topicCount)];
      return model.words[topic.words[draw(topic.cdf, random)]];
    }
    return model.words[draw(model.background, random)];
  };
  const paragraphs: string[] = [];
  let total = 0;
  while (total < targetWords) {
    const sentences: string[] = [];
    for (let s = 2 + Math.floor(random() * 6); s > 0; s--) {
      const length = 5 + Math.floor(random() * 20);
      const parts: string[] = [];
      for (let w = 0; w < length; w++) parts.push(w < length - 1 && random() < 0.07 ? `${word()},` : word());
      parts[0] = parts[0][0].toUpperCase() + parts[0].slice(1);
      sentences.push(`${parts.join(' ')}.`);
      total += length;
    }
    paragraphs.push(sentences.join(' '));
  }
  return paragraphs.join('\n\n');
}

const passagesOf = (text: string) => chunk(singleSection(text), { chunkSize: 300, overlap: 50 });

// ───────────────────────────── the bench database ─────────────────────────────

async function withServer<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: serverUrl.toString() });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

const corpusName = `bench-search v${CORPUS_VERSION} seed ${SEED} passages ${PASSAGES}`;

/** Whether the bench database already holds this exact corpus with its index, ready to measure. */
async function corpusReady(): Promise<boolean> {
  const exists = await withServer(async (c) => (await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [BENCH_DATABASE])).rowCount! > 0);
  if (!exists) return false;
  const client = new pg.Client({ connectionString: benchUrl.toString() });
  await client.connect();
  try {
    const { rows } = await client.query(
      `SELECT (SELECT count(*) FROM "Passage" p WHERE p."organizationId" = o.id)::int AS passages,
              (SELECT count(*) FROM pg_indexes WHERE indexname = $2)::int AS indexes
         FROM "Organization" o WHERE o.name = $1`,
      [corpusName, vectorIndexName(DIM)],
    );
    return rows.length === 1 && rows[0].passages === PASSAGES && rows[0].indexes === 1;
  } catch {
    return false; // not migrated, or a half-built corpus: rebuild
  } finally {
    await client.end();
  }
}

async function recreateDatabase() {
  await withServer(async (c) => {
    await c.query(`DROP DATABASE IF EXISTS ${BENCH_DATABASE} WITH (FORCE)`);
    await c.query(`CREATE DATABASE ${BENCH_DATABASE}`);
  });
  const client = new pg.Client({ connectionString: benchUrl.toString() });
  await client.connect();
  try {
    const result = await migrate(pgClientRunner(client));
    console.log(`created database ${BENCH_DATABASE}, ${result.applied.length} migrations applied`);
  } finally {
    await client.end();
  }
}

const seconds = (since: number) => `${((performance.now() - since) / 1000).toFixed(1)} s`;

/** Generates, chunks, embeds and inserts the corpus; then indexes it as the product does. */
async function buildCorpus(model: Model, catalog: EmbeddingCatalog) {
  const started = performance.now();
  const db = await openPostgres(benchUrl.toString(), 2);
  const org = await createOrganization(db.prisma, { name: corpusName });
  const embeddingConfig = catalog.resolve({ embedding: `local/lexical-${DIM}` });
  const embedder = new LexicalEmbedder(DIM);
  const client = new pg.Client({ connectionString: benchUrl.toString() });
  await client.connect();
  let timeText = 0;
  let timeEmbed = 0;
  let timeInsert = 0;
  try {
    const quotas = apportion(PASSAGES, SOURCE_SHARES);
    for (const [s, quota] of quotas.entries()) {
      const source = await db.prisma.source.create({
        data: { organizationId: org.organizationId, name: `source-${s}`, embeddingConfig: embeddingConfig as unknown as Prisma.InputJsonValue },
      });
      let written = 0;
      for (let f = 0; written < quota; f++) {
        let t = performance.now();
        const fileName = `source-${s}/doc-${f}.txt`;
        const text = fileText(model, s, streamSeed(1, s, f));
        // The last file of a source is cut short so the source holds exactly its quota.
        const chunks = passagesOf(text).slice(0, quota - written);
        timeText += performance.now() - t;
        t = performance.now();
        const vectors = await embedder.embed(chunks.map((c) => c.text));
        timeEmbed += performance.now() - t;
        t = performance.now();
        const fileId = `file-${randomUUID()}`;
        await client.query('BEGIN');
        await client.query(
          `INSERT INTO "File" (id, "organizationId", "sourceId", "fileName", "originalFileName", "mediaType", "sizeBytes",
                               "processingStatus", "totalChunks", "chunksEmbedded", "updatedAt")
           VALUES ($1, $2, $3, $4, $5, 'text/plain', $6, 'COMPLETED', $7, $7, now())`,
          [fileId, org.organizationId, source.id, fileName, `doc-${f}.txt`, Buffer.byteLength(text), chunks.length],
        );
        // One multi-row INSERT per file, as ingestion writes a file's passages.
        await client.query(
          `INSERT INTO "Passage" ("organizationId", "sourceId", "fileId", "fileName", "chunkIndex", text, metadata,
                                  "embeddingConfig", "embeddingDim", embedding, "updatedAt")
           SELECT $1, $2, $3, $4, u.i, u.text, u.metadata::jsonb, $5::jsonb, ${DIM}, u.embedding::vector, now()
             FROM unnest($6::int[], $7::text[], $8::text[], $9::text[]) AS u(i, text, metadata, embedding)`,
          [
            org.organizationId,
            source.id,
            fileId,
            fileName,
            JSON.stringify(embeddingConfig),
            chunks.map((c) => c.index),
            chunks.map((c) => c.text),
            chunks.map((c) => JSON.stringify({ fileName, startOffset: c.startOffset, endOffset: c.endOffset, tokenCount: c.tokenCount })),
            vectors.map((v) => `[${v.join(',')}]`),
          ],
        );
        await client.query('COMMIT');
        timeInsert += performance.now() - t;
        written += chunks.length;
      }
      process.stdout.write(`\r  source-${s}: ${quota} passages (${seconds(started)} so far)      `);
    }
    process.stdout.write('\n');
    console.log(`  generate+chunk ${(timeText / 1000).toFixed(1)} s, embed ${(timeEmbed / 1000).toFixed(1)} s, insert ${(timeInsert / 1000).toFixed(1)} s`);
    // What autovacuum would have done by the time 100,000 passages are searched: statistics and a visibility map.
    let t = performance.now();
    await client.query('VACUUM ANALYZE "Passage"');
    console.log(`  vacuum analyze ${seconds(t)}`);
    t = performance.now();
    await ensureVectorIndex(db.prisma, DIM);
    const [{ size }] = (await client.query(`SELECT pg_size_pretty(pg_relation_size($1)) AS size`, [`"${vectorIndexName(DIM)}"`])).rows;
    console.log(`  HNSW index (ensureVectorIndex) ${seconds(t)}, ${size}`);
  } finally {
    await client.end();
    await db.close();
  }
  console.log(`corpus built in ${seconds(started)}`);
}

/** Integer counts in proportion to the shares, summing to total. */
function apportion(total: number, shares: number[]): number[] {
  const sum = shares.reduce((a, b) => a + b, 0);
  const counts = shares.map((s) => Math.floor((total * s) / sum));
  counts[0] += total - counts.reduce((a, b) => a + b, 0);
  return counts;
}

// ───────────────────────────── queries and exact answers ─────────────────────────────

interface Query {
  text: string;
  /** Two words of the span, 4+ letters each: a keyword search, which full text answers more often than a whole span. */
  keywords: string;
  vector: string;
  /** The exact nearest distances (ascending), at most TOP_K. */
  exact: number[];
}

interface Scenario {
  name: string;
  sourceIds?: string[];
  queries: Query[];
}

/** QUERIES spans of 6–24 words from files of the given sources that were never inserted. */
function heldOutQueries(model: Model, sources: number[], salt: number): string[] {
  const random = rng(streamSeed(2, salt));
  const texts: string[] = [];
  for (let i = 0; texts.length < QUERIES; i++) {
    const source = sources[Math.floor(random() * sources.length)];
    // File numbers from 1e6 on: a different stream from every corpus file of that source.
    const chunks = passagesOf(fileText(model, source, streamSeed(1, source, 1_000_000 + salt * 10_000 + i)));
    const words = chunks[Math.floor(random() * chunks.length)].text.split(/\s+/);
    const length = Math.min(words.length, 6 + Math.floor(random() * 19));
    const start = Math.floor(random() * (words.length - length + 1));
    texts.push(words.slice(start, start + length).join(' '));
  }
  return texts;
}

/**
 * The exact top-k distances: a sequential scan (index scans off, so the HNSW index cannot answer) sorted by the
 * cosine distance. EXPLAIN is checked once so a plan change cannot make the reference approximate unnoticed.
 * A full scan per query takes seconds under load, so answers are kept in the bench database (a table of its own,
 * gone with the database when the corpus is rebuilt) and reused by later runs on the same corpus.
 */
async function exactDistances(client: pg.Client, organizationId: string, queries: { text: string; vector: string; sourceIds?: string[] }[]): Promise<number[][]> {
  const sql = `SELECT embedding <=> $1::vector AS distance FROM "Passage"
                WHERE "organizationId" = $2 AND "embeddingDim" = ${DIM} AND embedding IS NOT NULL
                  AND ($3::text[] IS NULL OR "sourceId" = ANY($3::text[]))
                ORDER BY distance LIMIT ${TOP_K}`;
  await client.query('CREATE TABLE IF NOT EXISTS bench_exact_answers (query text, source_ids text[], distances float8[], UNIQUE NULLS NOT DISTINCT (query, source_ids))');
  const results: number[][] = [];
  await client.query('BEGIN');
  try {
    await client.query('SET LOCAL enable_indexscan = off');
    const plan = (await client.query(`EXPLAIN ${sql}`, [queries[0].vector, organizationId, queries[0].sourceIds ?? null])).rows.map((r) => r['QUERY PLAN']).join('\n');
    if (/hnsw/i.test(plan)) throw new Error(`the exact reference uses the HNSW index:\n${plan}`);
    for (const q of queries) {
      const key = [q.text, q.sourceIds ?? null];
      const [known] = (await client.query('SELECT distances FROM bench_exact_answers WHERE query = $1 AND source_ids IS NOT DISTINCT FROM $2', key)).rows;
      if (known) {
        results.push(known.distances.map(Number));
        continue;
      }
      const { rows } = await client.query(sql, [q.vector, organizationId, q.sourceIds ?? null]);
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

/** VECTOR, TEXT and HYBRID with the span as the query, and TEXT with two of its words. */
const KINDS = ['VECTOR', 'TEXT', 'TEXT keywords', 'HYBRID'] as const;
type Kind = (typeof KINDS)[number];

/** Two words of 4+ letters from the span, in order (or its first words when it has fewer). */
function keywordsOf(span: string): string {
  const words = span.toLowerCase().match(/[a-z]+/g) ?? [];
  const long = words.filter((w) => w.length >= 4);
  return (long.length >= 2 ? long : words).slice(0, 2).join(' ');
}

interface RunResult {
  p50: number;
  p95: number;
  recall: number;
  /** Sum of the hits' distances over the sum of the exact top-k distances (ann-benchmarks' "rel"); 1 is exact. */
  ratio: number;
  short: number;
  hits: number;
}

async function main() {
  console.log(`search-passages bench: ${PASSAGES} passages, ${QUERIES} queries per scenario, ${RUNS} runs, topK ${TOP_K}`);
  console.log(`machine: ${os.cpus().length} cores, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  const model = buildModel();
  const catalog = new EmbeddingCatalog(config);
  if (process.env.REBUILD === '1' || !(await corpusReady())) {
    console.log(`building the corpus in database ${BENCH_DATABASE} (vocabulary of ${model.words.length} words)…`);
    await recreateDatabase();
    await buildCorpus(model, catalog);
  } else {
    console.log(`reusing the corpus in database ${BENCH_DATABASE} (REBUILD=1 to rebuild it)`);
  }

  const db = await openPostgres(benchUrl.toString(), config.DATABASE_POOL_SIZE);
  const client = new pg.Client({ connectionString: benchUrl.toString() });
  await client.connect();
  try {
    const [org] = (await client.query(`SELECT o.id, u.id AS "userId" FROM "Organization" o JOIN "User" u ON u."organizationId" = o.id WHERE o.name = $1`, [corpusName])).rows;
    const sources = (await client.query(
      `SELECT s.id, s.name, count(p.id)::int AS passages FROM "Source" s JOIN "Passage" p ON p."sourceId" = s.id
        WHERE s."organizationId" = $1 GROUP BY s.id, s.name ORDER BY s.name`,
      [org.id],
    )).rows as { id: string; name: string; passages: number }[];
    const byIndex = (i: number) => sources.find((s) => s.name === `source-${i}`)!;
    const [server] = (await client.query(
      `SELECT current_setting('server_version') AS version, current_setting('shared_buffers') AS buffers,
              (SELECT extversion FROM pg_extension WHERE extname = 'vector') AS pgvector,
              pg_size_pretty(pg_relation_size($1)) AS index`,
      [`"${vectorIndexName(DIM)}"`],
    )).rows;
    console.log(
      `PostgreSQL ${server.version}, pgvector ${server.pgvector}, shared_buffers ${server.buffers}; HNSW index ${server.index}; ` +
        `searches reaching ≤ ${EXACT_SCAN_MAX_ROWS} passages are exact`,
    );
    const actor: Actor = { organizationId: org.id, userId: org.userId, role: 'ADMIN', apiKeyId: 'bench' };
    // The client the GraphQL resolver gets: confined to the actor's organization.
    const scoped = new ScopedClients(db.prisma).for(org.id);
    const embedder = new LexicalEmbedder(DIM);

    const all = SOURCE_SHARES.map((_, i) => i);
    const plan: { name: string; sources: number[]; filter: boolean }[] = [
      { name: 'no filter', sources: all, filter: false },
      { name: `source filter, ${byIndex(0).passages} passages (30%)`, sources: [0], filter: true },
      { name: `source filter, ${byIndex(3).passages} passages (10%)`, sources: [3], filter: true },
      { name: `source filter, ${byIndex(9).passages} passages (1%)`, sources: [9], filter: true },
    ];
    const scenarios: Scenario[] = [];
    let t = performance.now();
    for (const [i, p] of plan.entries()) {
      const sourceIds = p.filter ? p.sources.map((s) => byIndex(s).id) : undefined;
      const texts = heldOutQueries(model, p.sources, i);
      const vectors = await embedder.embed(texts);
      const queries = texts.map((text, j) => ({ text, keywords: keywordsOf(text), vector: JSON.stringify(vectors[j]), exact: [] as number[] }));
      const exact = await exactDistances(client, org.id, queries.map((q) => ({ text: q.text, vector: q.vector, sourceIds })));
      queries.forEach((q, j) => (q.exact = exact[j]));
      scenarios.push({ name: p.name, sourceIds, queries });
    }
    console.log(`queries and exact answers ready in ${seconds(t)}`);

    const search = (s: Scenario, q: Query, kind: Kind) =>
      searchByText(scoped, actor, catalog.env, {
        query: kind === 'TEXT keywords' ? q.keywords : q.text,
        sourceIds: s.sourceIds,
        topK: TOP_K,
        mode: kind === 'TEXT keywords' ? 'TEXT' : kind,
      });

    async function run(s: Scenario, mode: Kind): Promise<RunResult> {
      const times: number[] = [];
      let recall = 0;
      let ratio = 0;
      let short = 0;
      let found = 0;
      for (const q of s.queries) {
        const started = performance.now();
        const hits = await search(s, q, mode);
        times.push(performance.now() - started);
        found += hits.length;
        if (mode !== 'VECTOR') continue;
        const expected = q.exact.length;
        const bound = q.exact[expected - 1] + TIE_EPSILON;
        recall += hits.filter((h) => 1 - h.score <= bound).length / expected;
        ratio += hits.reduce((sum, h) => sum + 1 - h.score, 0) / q.exact.reduce((a, b) => a + b, 0);
        if (hits.length < expected) short++;
      }
      const n = s.queries.length;
      return { p50: quantile(times, 0.5), p95: quantile(times, 0.95), recall: recall / n, ratio: ratio / n, short, hits: found / n };
    }

    // Warm-up: JIT, connection pool, and the index and table pages in the caches (a steady-state server).
    for (const s of scenarios) for (const kind of KINDS) for (const q of s.queries.slice(0, 50)) await search(s, q, kind);

    const results = new Map<string, RunResult[]>();
    for (let r = 0; r < RUNS; r++) {
      for (const s of scenarios) {
        for (const kind of KINDS) {
          const key = `${s.name}|${kind}`;
          const result = await run(s, kind);
          results.set(key, [...(results.get(key) ?? []), result]);
        }
      }
      console.log(`run ${r + 1}/${RUNS} done, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    }

    const get = (s: Scenario, kind: Kind) => results.get(`${s.name}|${kind}`)!;
    const ms = (xs: number[], width = 7) => `${median(xs).toFixed(1)} ms`.padStart(width);
    console.log(`\nsearchByText (searchPassages' domain function, org-scoped client), topK ${TOP_K}; medians over ${RUNS} runs of each run's p50/p95`);
    console.log('VECTOR                                   | p50     | p95     | recall@10 | dist ratio | short');
    for (const s of scenarios) {
      const v = get(s, 'VECTOR');
      console.log(
        `${s.name.padEnd(40)} | ${ms(v.map((x) => x.p50))} | ${ms(v.map((x) => x.p95))} | ${median(v.map((x) => x.recall)).toFixed(3).padStart(9)} | ` +
          `${median(v.map((x) => x.ratio)).toFixed(4).padStart(10)} | ${String(median(v.map((x) => x.short))).padStart(5)}`,
      );
    }
    console.log('targets: p95 ≤ 20 ms, recall@10 ≥ 0.95. dist ratio: sum of the hits\' distances over the exact ones (1 = exact);');
    console.log('short: queries answered with fewer than topK hits although enough passages match.');
    console.log('\nTEXT and HYBRID                          | TEXT p50 | p95     | hits | keywords p50 | p95     | hits | HYBRID p50 | p95');
    for (const s of scenarios) {
      const [t, k, h] = (['TEXT', 'TEXT keywords', 'HYBRID'] as const).map((kind) => get(s, kind));
      const hits = (xs: RunResult[]) => median(xs.map((x) => x.hits)).toFixed(1).padStart(4);
      console.log(
        `${s.name.padEnd(40)} | ${ms(t.map((x) => x.p50), 8)} | ${ms(t.map((x) => x.p95))} | ${hits(t)} | ` +
          `${ms(k.map((x) => x.p50), 12)} | ${ms(k.map((x) => x.p95))} | ${hits(k)} | ${ms(h.map((x) => x.p50), 10)} | ${ms(h.map((x) => x.p95))}`,
      );
    }
    console.log('TEXT: the whole span (websearch syntax: every word must match); keywords: two of its words; hits: mean results per query.');
    console.log(`load average at the end: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  } finally {
    await client.end();
    await db.close();
  }
  if (process.env.DROP === '1') {
    await withServer((c) => c.query(`DROP DATABASE IF EXISTS ${BENCH_DATABASE} WITH (FORCE)`));
    console.log(`dropped database ${BENCH_DATABASE}`);
  }
}

await main();
process.exit(0);
