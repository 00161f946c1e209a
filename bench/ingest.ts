/**
 * npm run bench:ingest — ingestion end to end on PostgreSQL with the local embedder, through the real HTTP API of a
 * server running in its own process (as `npm start` runs it):
 *   1. plain-text throughput: MB/s from the first uploaded byte to every file `completed` (target ≥ 2 MB/s);
 *   2. PDF pages per second for a text PDF (target ≥ 100 pages/s);
 *   3. peak RSS growth of the server while a 200 MB file is uploaded (target ≤ 64 MB);
 *   4. HTTP requests made to an OpenAI-compatible server for a file of ≥ 1,000 chunks (target ≤ 2).
 *   5. raw: the same passages (chunked and embedded by Quarry's own code beforehand, not timed) inserted straight
 *      through `pg` in one transaction with the same columns and indexes, interleaved with the text runs: PostgreSQL's
 *      own limit, and Quarry's plain-text MB/s as a fraction of it (target ≥ 0.9);
 *   6. big file: a BIGFILE_MB (default 100) text file on each database of BENCH_DB (pglite,postgres): time to
 *      completed, peak RSS growth of the server, and the p99 latency of /healthz and of a small GraphQL read polled
 *      every 100 ms throughout (targets: RSS ≤ 256 MB, /healthz p99 ≤ 200 ms, read p99 ≤ 500 ms), and the longest
 *      gap between two events of the file's status subscription (graphql-ws) until it completes (target ≤ 2 s).
 * Each figure is the median of RUNS runs (default 3). Needs DATABASE_URL; the bench uses a database of its own
 * (DATABASE_URL's name + `_bench_ingest`, on the same server), created afresh each time. ONLY picks figures (text,pdf,rss,requests),
 * VERBOSE=1 prints the server's per-file step timings, WORKER_CONCURRENCY sets the server's (default 2), and
 * SERVER_NODE_ARGS passes node flags to the server, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, readFileSync } from 'node:fs';
import { request } from 'node:http';
import path from 'node:path';
import pg from 'pg';
import { PDFDocument, StandardFonts } from 'pdf-lib';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { randomUUID } from 'node:crypto';
import { chunkSection, type Chunk } from '../src/documents/chunker.js';
import { openDocument } from '../src/documents/document-stream.js';
import { LexicalEmbedder } from '../src/embeddings/index.js';
import { DEFAULT_LIMITS } from '../src/documents/limits.js';
import { passageMetadata, vectorLiteral } from '../src/ingest/passage-store.js';
import { FakeOpenAI } from '../test/support/fake-openai.js';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const ROOT = path.resolve(import.meta.dirname, '..');
const RUNS = Number(process.env.RUNS ?? 3);
const TEXT_MB = Number(process.env.TEXT_MB ?? 8);
const PDF_PAGES = Number(process.env.PDF_PAGES ?? 200);
const BIG_MB = Number(process.env.BIG_MB ?? 200);
/** Comma-separated subset of text,pdf,rss,requests (default: all). */
const ONLY = new Set((process.env.ONLY ?? 'text,raw,pdf,rss,requests,big').split(','));
const BIGFILE_MB = Number(process.env.BIGFILE_MB ?? 100);
const BENCH_DB = (process.env.BENCH_DB ?? 'pglite,postgres').split(',');
const KEY = `qk_bench_${randomBytes(12).toString('hex')}`;

const baseUrl = process.env.DATABASE_URL;
if (!baseUrl) {
  console.error('Set DATABASE_URL to a PostgreSQL server with pgvector (see README).');
  process.exit(1);
}
// A database of its own beside DATABASE_URL's (quarry_x → quarry_x_bench_ingest), so benches on one server do not collide.
const dbName = `${/\/([^/?]+)(\?|$)/.exec(baseUrl)?.[1] ?? 'quarry'}_bench_ingest`;
const databaseUrl = baseUrl.replace(/\/[^/?]+(\?|$)/, `/${dbName}$1`);

// ── corpus ─────────────────────────────────────────────────────────────────────────────────────────────
const WORDS = (
  'the of and to in is that for it as with was on be by this are or from at an which have not has but were can ' +
  'quarry granite marble basalt slate sediment layer rock stone mineral crystal pressure heat erosion river valley ' +
  'mountain fault fold magma lava ash tuff pumice obsidian quartz feldspar mica clay sand silt gravel limestone ' +
  'fossil record survey sample drill core analysis report engineer geologist site permit extraction transport'
).split(' ');

/** Text with a natural-ish shape: Zipf-like word choice, sentences, paragraphs. Deterministic per seed. */
function corpus(bytes: number, seed = 1): string {
  let x = seed;
  const rand = () => ((x = (x * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const parts: string[] = [];
  let size = 0;
  while (size < bytes) {
    const sentences: string[] = [];
    for (let s = 0, n = 3 + Math.floor(rand() * 5); s < n; s++) {
      const words: string[] = [];
      for (let w = 0, m = 8 + Math.floor(rand() * 14); w < m; w++) words.push(WORDS[Math.floor(WORDS.length * rand() ** 2)]);
      const sentence = words.join(' ');
      sentences.push(sentence[0].toUpperCase() + sentence.slice(1) + '.');
    }
    const paragraph = sentences.join(' ') + '\n\n';
    parts.push(paragraph);
    size += paragraph.length;
  }
  return parts.join('').slice(0, bytes);
}

async function pdf(pages: number): Promise<Uint8Array> {
  const doc = await PDFDocument.create();
  const font = await doc.embedFont(StandardFonts.Helvetica);
  const text = corpus(pages * 2400, 7);
  for (let p = 0; p < pages; p++) {
    const page = doc.addPage();
    const lines = text.slice(p * 2400, (p + 1) * 2400).replace(/\n/g, ' ').match(/.{1,90}(\s|$)/g) ?? [];
    lines.slice(0, 40).forEach((line, i) => page.drawText(line.trim(), { x: 40, y: 780 - i * 18, size: 10, font }));
  }
  return doc.save();
}

// ── server ─────────────────────────────────────────────────────────────────────────────────────────────
interface Server {
  child: ChildProcess;
  url: string;
}

function startServer(env: Record<string, string>, databaseUrlOverride: string | null = databaseUrl): Promise<Server> {
  const child = spawn(process.execPath, [...(process.env.SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean), 'scripts/start.mjs'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'info',
      ...(databaseUrlOverride ? { DATABASE_URL: databaseUrlOverride } : {}),
      QUARRY_API_KEY: KEY,
      MIGRATE_ON_START: 'true',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  // SERVER_LOG=<file> keeps the server's log there (a server that dies mid-run says why).
  if (process.env.SERVER_LOG) child.stdout!.pipe(createWriteStream(process.env.SERVER_LOG, { flags: 'a' }));
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      if (out.length < 1 << 20) out += d;
      // VERBOSE=1 shows the server's per-file step timings.
      if (process.env.VERBOSE) for (const line of String(d).split('\n')) if (line.includes('file processed')) console.log(line);
      const m = /"url":"(http:\/\/[^"]+)\/graphql".*"msg":"Quarry is listening"/.exec(out);
      if (m) resolve({ child, url: m[1] });
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}:\n${out}`)));
  });
}

async function gql(url: string, query: string, variables?: object) {
  const r = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = await r.json();
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

async function createSource(url: string, extra = '') {
  const name = `bench-${randomBytes(4).toString('hex')}`;
  return (await gql(url, `mutation { createSource(input: { name: "${name}" ${extra} }) { source { id } } }`)).createSource.source.id as string;
}

const UPLOAD = 'mutation($input: UploadFileInput!) { uploadFile(input: $input) { file { id } } }';

/** A GraphQL multipart upload whose file part is produced by `chunks` and streamed with backpressure. */
function uploadStream(url: string, sourceId: string, name: string, size: number, chunks: () => Iterator<Buffer>): Promise<string> {
  const boundary = `----quarry${randomBytes(8).toString('hex')}`;
  const head =
    `--${boundary}\r\ncontent-disposition: form-data; name="operations"\r\n\r\n` +
    JSON.stringify({ query: UPLOAD, variables: { input: { sourceId, file: null } } }) +
    `\r\n--${boundary}\r\ncontent-disposition: form-data; name="map"\r\n\r\n{"0":["variables.input.file"]}` +
    `\r\n--${boundary}\r\ncontent-disposition: form-data; name="0"; filename="${name}"\r\ncontent-type: application/octet-stream\r\n\r\n`;
  const tail = `\r\n--${boundary}--\r\n`;
  return new Promise((resolve, reject) => {
    const req = request(`${url}/graphql`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${KEY}`,
        'content-type': `multipart/form-data; boundary=${boundary}`,
        'content-length': Buffer.byteLength(head) + size + Buffer.byteLength(tail),
      },
    });
    req.on('response', (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => {
        const json = JSON.parse(body);
        if (json.errors) reject(new Error(JSON.stringify(json.errors)));
        else resolve(json.data.uploadFile.file.id);
      });
    });
    req.on('error', reject);
    req.write(head);
    const it = chunks();
    const pump = () => {
      for (;;) {
        const next = it.next();
        if (next.done) {
          req.end(tail);
          return;
        }
        if (!req.write(next.value)) {
          req.once('drain', pump);
          return;
        }
      }
    };
    pump();
  });
}

function uploadBytes(url: string, sourceId: string, name: string, bytes: Uint8Array): Promise<string> {
  return uploadStream(url, sourceId, name, bytes.length, function* () {
    yield Buffer.from(bytes);
  });
}

/**
 * Waits until every file is COMPLETED, in one request per poll: the polling itself costs the server little
 * (it shares the cores with the work measured), and 50 ms is 1% of the shortest run.
 */
async function waitCompleted(url: string, fileIds: string[], pollMs = 50) {
  const query = `query(${fileIds.map((_, i) => `$f${i}: ID!`).join(', ')}) { ${fileIds.map((_, i) => `f${i}: file(id: $f${i}) { processingStatus errorMessage totalChunks }`).join(' ')} }`;
  const variables = Object.fromEntries(fileIds.map((id, i) => [`f${i}`, id]));
  for (;;) {
    // A kept-alive socket the server closed as it was reused (a race under load) fails a poll: poll again.
    const data = await gql(url, query, variables).catch((error) => {
      if (error?.cause?.code === 'UND_ERR_SOCKET') return null;
      throw error;
    });
    if (!data) continue;
    const states = fileIds.map((_, i) => data[`f${i}`] as { processingStatus: string; errorMessage: string | null; totalChunks: number });
    const failed = states.find((s) => s.processingStatus === 'ERROR');
    if (failed) throw new Error(`file failed: ${failed.errorMessage}`);
    if (states.every((s) => s.processingStatus === 'COMPLETED')) return states;
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/** The process's resident memory; 0 once it has exited (a zombie has none). */
function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
}

// ── raw: the same passages straight through pg ──────────────────────────────────────────────────────
interface RawFile {
  name: string;
  bytes: number;
  chunks: Chunk[];
  vectors: string[];
}

/** The passages Quarry makes of `text` (its own reader, chunker and embedder), ready to insert; not timed. */
async function passagesOf(name: string, bytes: Uint8Array): Promise<RawFile> {
  const source = { size: bytes.length, async *chunks() { yield Buffer.from(bytes); } };
  const doc = await openDocument(source, { kind: 'text', name, limits: DEFAULT_LIMITS });
  const chunks: Chunk[] = [];
  for await (const piece of doc.pieces) for (const section of piece.sections) chunks.push(...chunkSection(section, { chunkSize: 300, overlap: 50 }, chunks.length));
  const embedder = new LexicalEmbedder(384);
  const vectors: string[] = [];
  for (let i = 0; i < chunks.length; i += 512) for (const v of await embedder.embed(chunks.slice(i, i + 512).map((c) => c.text))) vectors.push(vectorLiteral(v));
  return { name, bytes: bytes.length, chunks, vectors };
}

/**
 * Inserts the files' passages in one transaction on one connection, with the same columns as Quarry (into the same
 * table, so with the same btree, GIN and HNSW indexes); returns the seconds the transaction took.
 */
async function rawInsert(sourceId: string, files: RawFile[]): Promise<number> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const [{ organizationId, config }] = (await client.query('SELECT "organizationId", "embeddingConfig"::text AS config FROM "Source" WHERE id = $1', [sourceId])).rows;
    const t0 = performance.now();
    await client.query('BEGIN');
    for (const f of files) {
      const fileId = `file-${randomUUID()}`;
      await client.query(
        `INSERT INTO "File" (id, "organizationId", "sourceId", "fileName", "originalFileName", "mediaType", "sizeBytes", "processingStatus", "updatedAt")
         VALUES ($1, $2, $3, $4, $4, 'text/plain', $5, 'COMPLETED', now())`,
        [fileId, organizationId, sourceId, `raw-${f.name}`, f.bytes],
      );
      for (let i = 0; i < f.chunks.length; i += 500) {
        const rows = f.chunks.slice(i, i + 500);
        await client.query(
          `INSERT INTO "Passage" ("organizationId", "sourceId", "fileId", "fileName", "chunkIndex", text, metadata, "embeddingConfig", "embeddingDim", embedding, "updatedAt")
           SELECT $1, $2, $3, $4, r.idx, r.text, r.meta, $5::jsonb, 384, r.vec::vector, now()
             FROM unnest($6::int[], $7::text[], $8::jsonb[], $9::text[]) AS r(idx, text, meta, vec)`,
          [organizationId, sourceId, fileId, f.name, config, rows.map((c) => c.index), rows.map((c) => c.text), rows.map((c) => passageMetadata(f.name, c)), f.vectors.slice(i, i + 500)],
        );
      }
    }
    await client.query('COMMIT');
    return (performance.now() - t0) / 1000;
  } finally {
    await client.end();
  }
}

// ── big file ───────────────────────────────────────────────────────────────────────────────────────────
interface BigFigures {
  seconds: number;
  uploadSeconds: number;
  rssGrowthMb: number;
  healthP99: number;
  readP99: number;
  samples: number;
  /** Longest wait between two events of the file's status subscription, from the upload's answer to COMPLETED. */
  progressGapSeconds: number;
  events: number;
}

/**
 * Subscribes to a file's status over graphql-ws (as a client would) and records when each event arrives; `stop`
 * gives the longest gap between two events (the first counted from the subscription's start), and the count.
 */
function watchProgress(url: string, fileId: string): { stop: () => Promise<{ gapSeconds: number; events: number }> } {
  const client = createClient({ url: url.replace(/^http/, 'ws') + '/graphql', webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${KEY}` }, retryAttempts: 0 });
  const started = performance.now();
  let last = started;
  let gap = 0;
  let events = 0;
  const done = new Promise<void>((resolve) => {
    client.subscribe(
      { query: 'subscription($id: ID!) { fileStatusChanged(fileId: $id) { fileId status chunksEmbedded } }', variables: { id: fileId } },
      {
        next: () => {
          const now = performance.now();
          gap = Math.max(gap, now - last);
          last = now;
          events++;
        },
        error: (error) => {
          console.error('progress subscription failed:', error);
          resolve();
        },
        complete: () => resolve(),
      },
    );
  });
  return {
    async stop() {
      await Promise.race([done, new Promise((r) => setTimeout(r, 2000))]);
      await client.dispose();
      return { gapSeconds: gap / 1000, events };
    },
  };
}

const p99 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * 0.99))] ?? NaN;

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn().catch(() => {});
  return performance.now() - t0;
}

/** A BIGFILE_MB text file through a server of its own on `kind`, polled every 100 ms while it is processed. */
async function bigFile(kind: 'pglite' | 'postgres'): Promise<BigFigures> {
  const dataDir = kind === 'pglite' ? await mkdtemp(path.join(tmpdir(), 'quarry-bench-big-')) : null;
  const server = await startServer({ MAX_UPLOAD_BYTES: String((BIGFILE_MB + 16) << 20), ...(dataDir ? { DATA_DIR: dataDir } : {}) }, dataDir ? null : databaseUrl);
  const pid = server.child.pid!;
  try {
    const sourceId = await createSource(server.url);
    const before = rssMb(pid);
    let peak = before;
    const health: number[] = [];
    const reads: number[] = [];
    let measuring = false;
    const sampler = setInterval(() => {
      peak = Math.max(peak, rssMb(pid));
      if (!measuring) return;
      void timed(() => fetch(`${server.url}/healthz`).then((r) => r.text())).then((ms) => health.push(ms));
      void timed(() => gql(server.url, 'query($id: ID!) { source(id: $id) { id name } }', { id: sourceId })).then((ms) => reads.push(ms));
    }, 100);
    const size = BIGFILE_MB << 20;
    const t0 = performance.now();
    const fileId = await uploadStream(server.url, sourceId, 'big.txt', size, function* () {
      for (let sent = 0, block = 0; sent < size; block++) {
        const text = Buffer.from(corpus(1 << 20, 100 + block));
        const part = text.subarray(0, Math.min(text.length, size - sent));
        sent += part.length;
        yield part;
      }
    });
    const uploadSeconds = (performance.now() - t0) / 1000;
    measuring = true;
    const progress = watchProgress(server.url, fileId);
    await waitCompleted(server.url, [fileId], 500);
    const seconds = (performance.now() - t0) / 1000;
    clearInterval(sampler);
    const { gapSeconds, events } = await progress.stop();
    await new Promise((r) => setTimeout(r, 200));
    return { seconds, uploadSeconds, rssGrowthMb: peak - before, healthP99: p99(health), readP99: p99(reads), samples: health.length, progressGapSeconds: gapSeconds, events };
  } finally {
    server.child.kill('SIGTERM');
    await new Promise((r) => server.child.once('exit', r));
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (xs: number[], digits = 2) => `${median(xs).toFixed(digits)} (runs: ${xs.map((x) => x.toFixed(digits)).join(', ')})`;


/** Figures 1 to 5, from two servers on the bench database: one processing, one that only receives uploads. */
async function smallFigures() {
  const fake = await FakeOpenAI.start();
  const server = await startServer({ OPENAI_API_KEY: 'sk-bench', OPENAI_BASE_URL: fake.url, WORKER_CONCURRENCY: process.env.WORKER_CONCURRENCY ?? '2', MAX_UPLOAD_BYTES: String(512 << 20) });
  const idle = await startServer({ RUN_WORKERS: 'false', MAX_UPLOAD_BYTES: String(512 << 20) });
  const textMbps: number[] = [];
  const rawMbps: number[] = [];
  const pdfPps: number[] = [];
  const rssGrowth: number[] = [];
  const requests: number[] = [];
  let chunksFor1000 = 0;
  try {
    const texts = Array.from({ length: 4 }, (_, i) => new TextEncoder().encode(corpus((TEXT_MB << 20) / 4, i + 1)));
    const totalBytes = texts.reduce((n, t) => n + t.length, 0);
    const pdfBytes = await pdf(PDF_PAGES);
    const rawFiles = ONLY.has('raw') ? await Promise.all(texts.map((t, i) => passagesOf(`corpus-${i}.txt`, t))) : [];
    // Warm-up: first requests compile code paths in the server; not measured.
    const warm = await createSource(server.url);
    await waitCompleted(server.url, [await uploadBytes(server.url, warm, 'warm.txt', texts[0].slice(0, 200_000))]);

    for (let run = 0; run < RUNS; run++) {
      // 5. raw, interleaved with the text runs (before each)
      if (ONLY.has('raw')) rawMbps.push(totalBytes / (1 << 20) / (await rawInsert(await createSource(server.url), rawFiles)));

      // 1. text
      if (ONLY.has('text')) {
      const textSource = await createSource(server.url);
      const t0 = performance.now();
      const ids = await Promise.all(texts.map((t, i) => uploadBytes(server.url, textSource, `corpus-${i}.txt`, t)));
      await waitCompleted(server.url, ids);
      textMbps.push(totalBytes / (1 << 20) / ((performance.now() - t0) / 1000));
      }

      // 2. PDF
      if (ONLY.has('pdf')) {
      const pdfSource = await createSource(server.url);
      const p0 = performance.now();
      await waitCompleted(server.url, [await uploadBytes(server.url, pdfSource, 'report.pdf', pdfBytes)]);
      pdfPps.push(PDF_PAGES / ((performance.now() - p0) / 1000));
      }

      // 3. RSS while a big file streams in (the idle server only stores it)
      if (ONLY.has('rss')) {
      const bigSource = await createSource(idle.url);
      const pid = idle.child.pid!;
      const before = rssMb(pid);
      let peak = before;
      const sampler = setInterval(() => (peak = Math.max(peak, rssMb(pid))), 20);
      const line = Buffer.from(corpus(64 * 1024, 3));
      const size = BIG_MB << 20;
      const bigId = await uploadStream(idle.url, bigSource, 'big.txt', size, function* () {
        for (let sent = 0; sent < size; sent += line.length) yield sent + line.length <= size ? line : line.subarray(0, size - sent);
      });
      clearInterval(sampler);
      peak = Math.max(peak, rssMb(pid));
      rssGrowth.push(peak - before);
      await gql(idle.url, 'mutation($id: ID!) { deleteFile(id: $id) { deletedFileId } }', { id: bigId }).catch(() => gql(idle.url, 'mutation($id: ID!) { deleteSource(id: $id) { deletedSourceId } }', { id: bigSource }));
      }

      // 4. requests to an OpenAI-compatible provider for ≥ 1,000 chunks
      if (ONLY.has('requests')) {
      const remote = await createSource(server.url, ', embedding: "openai/text-embedding-3-small", embeddingChunkSize: 300');
      const before4 = fake.requests;
      const [file] = await waitCompleted(server.url, [await uploadBytes(server.url, remote, 'thousand.txt', new TextEncoder().encode(corpus(1000 * 300 * 4.6, 11)))]);
      chunksFor1000 = file.totalChunks;
      requests.push(fake.requests - before4);
      }
    }
  } finally {
    server.child.kill('SIGTERM');
    idle.child.kill('SIGTERM');
    await fake.close();
  }
  return { textMbps, rawMbps, pdfPps, rssGrowth, requests, chunksFor1000 };
}

// ── main ───────────────────────────────────────────────────────────────────────────────────────────────
async function main() {
  const admin = new pg.Client({ connectionString: baseUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${dbName}`);
  await admin.end();

  const big: Partial<Record<'pglite' | 'postgres', BigFigures>> = {};
  // Figures 1-5 share two servers; ONLY=big needs neither.
  const { textMbps, rawMbps, pdfPps, rssGrowth, requests, chunksFor1000 } = [...ONLY].some((figure) => figure !== 'big')
    ? await smallFigures()
    : { textMbps: [], rawMbps: [], pdfPps: [], rssGrowth: [], requests: [], chunksFor1000: 0 };
  // 6. one big file per database, each on a server of its own (once: it takes minutes)
  if (ONLY.has('big')) for (const kind of BENCH_DB as ('pglite' | 'postgres')[]) big[kind] = await bigFile(kind);

  console.log(`\nIngestion on PostgreSQL, local embedder, median of ${RUNS} runs (load: ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')})`);
  const show = (xs: number[], line: () => string) => xs.length && console.log(line());
  show(textMbps, () => `  plain text, ${TEXT_MB} MB in 4 files, upload → completed : ${fmt(textMbps)} MB/s   (target ≥ 2 MB/s; ratio ${(median(textMbps) / 2).toFixed(2)})`);
  show(rawMbps, () => `  raw: the same passages through pg, one transaction     : ${fmt(rawMbps)} MB/s   (Quarry / raw: ${(median(textMbps) / median(rawMbps)).toFixed(2)}, target ≥ 0.9)`);
  show(pdfPps, () => `  text PDF, ${PDF_PAGES} pages, upload → completed        : ${fmt(pdfPps, 1)} pages/s   (target ≥ 100; ratio ${(median(pdfPps) / 100).toFixed(2)})`);
  show(rssGrowth, () => `  peak RSS growth while uploading ${BIG_MB} MB            : ${fmt(rssGrowth, 1)} MB   (target ≤ 64 MB; ratio ${(median(rssGrowth) / 64).toFixed(2)})`);
  for (const [kind, f] of Object.entries(big)) {
    console.log(
      `  ${BIGFILE_MB} MB text file on ${kind.padEnd(8)}: completed in ${f.seconds.toFixed(0)} s (upload ${f.uploadSeconds.toFixed(1)} s), ` +
        `peak RSS growth ${f.rssGrowthMb.toFixed(0)} MB (≤ 256), /healthz p99 ${f.healthP99.toFixed(0)} ms (≤ 200), small read p99 ${f.readP99.toFixed(0)} ms (≤ 500), ${f.samples} samples`,
    );
    console.log(`  progress events on ${kind.padEnd(8)}: longest gap ${f.progressGapSeconds.toFixed(2)} s between ${f.events} events (target ≤ 2 s)`);
  }
  show(requests, () => `  requests to the OpenAI-compatible server, ${chunksFor1000} chunks: ${fmt(requests, 0)}   (target ≤ 2)`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
