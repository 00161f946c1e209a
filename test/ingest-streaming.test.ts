import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import JSZip from 'jszip';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createLogger } from '../src/core/logger.js';
import { MemoryQueue } from '../src/core/queue.js';
import { scopedPrisma } from '../src/core/tenancy.js';
import { beatFileJob, reportFileProgress } from '../src/domain/file-state.js';
import { DEFAULT_LIMITS } from '../src/documents/limits.js';
import { IngestionService } from '../src/ingest/worker.js';
import { createTestApp, testIngestSettings, type TestApp } from './support/app.js';
import { databaseKinds } from './support/db.js';
import { FakeOpenAI } from './support/fake-openai.js';
import { startQuarry, type QuarryProcess } from './support/process.js';
import { uploadOne } from './support/upload.js';
import { gqlOver } from './support/graphql.js';
import { until } from './support/wait.js';

/**
 * Files big enough for many batches, with small batches and windows so a small file exercises them: streamed to
 * completion, paused mid-store (a hook before each stored batch) to cancel, replace or shut down there, and a server
 * killed with SIGKILL mid-store that resumes without embedding stored batches again.
 */

const BATCH = 8;
const FILE = 'query($id: ID!) { file(id: $id) { processingStatus errorMessage totalChunks chunksEmbedded content } }';
const paragraph = (i: number, word: string) => `Paragraph ${i} tells how ${word} forms in layered sediment near the quarry wall, then weathers.`;
const textOf = (paragraphs: number, word: string) => Array.from({ length: paragraphs }, (_, i) => paragraph(i, word)).join('\n\n') + '\n';

/** A gate a hook waits at; `reached` resolves when the hook first waits. */
function gate() {
  let open!: () => void;
  let reached!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  const arrived = new Promise<void>((resolve) => (reached = resolve));
  return { opened, arrived, open, reached };
}

describe.each(databaseKinds())('streaming ingestion on %s', (kind) => {
  let t: TestApp;
  let url: string;
  let fake: FakeOpenAI;
  /** Set by a test to pause a run before it stores the batch starting at `at` or later. */
  let pause: { at: number; gate: ReturnType<typeof gate> } | null = null;

  beforeAll(async () => {
    fake = await FakeOpenAI.start();
    t = await createTestApp(kind, {}, { OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: fake.url }, {
      limits: { batchSize: BATCH, windowChars: 2048, maxFilePassages: 200 },
      beforeStore: async ({ firstChunk }) => {
        if (pause && firstChunk >= pause.at) {
          pause.gate.reached();
          await pause.gate.opened;
        }
      },
    });
    ({ url } = await t.app.listen());
  });
  afterAll(async () => {
    pause?.gate.open();
    await t.close();
    await fake.close();
  });

  async function remoteSource(apiKey: string) {
    const r = await t.gqlOk(apiKey, 'mutation { createSource(input: { name: "stream", embeddingConfig: { endpointType: "openai", model: "text-embedding-3-test", dim: 64, chunkSize: 64 } }) { source { id } } }');
    return r.createSource.source.id as string;
  }
  const fileState = (apiKey: string, id: string) => t.gql(apiKey, FILE, { id }).then((r) => (r.errors ? null : r.data.file));
  const ended = (f: any) => f && (f.processingStatus === 'COMPLETED' || f.processingStatus === 'ERROR');
  const visible = async (apiKey: string, sourceId: string) =>
    (await t.gqlOk(apiKey, 'query($s: ID!) { passages(sourceId: $s, first: 100) { totalCount edges { node { text file { id } } } } }', { s: sourceId })).passages;
  const search = async (apiKey: string, sourceId: string, query: string) =>
    (await t.gqlOk(apiKey, 'query($s: [ID!], $q: String!) { searchPassages(query: $q, sourceIds: $s, mode: TEXT, topK: 100) { passage { file { id } } } }', { s: [sourceId], q: query }))
      .searchPassages as { passage: { file: { id: string } } }[];

  it('streams a file of many batches to COMPLETED with one passage per chunk, /healthz answering throughout', async () => {
    const org = await t.seed();
    const sourceId = await remoteSource(org.apiKey);
    const text = textOf(200, 'chert');
    const statuses: number[] = [];
    let polling = true;
    const poller = (async () => {
      while (polling) {
        statuses.push((await fetch(`${url}/healthz`)).status);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const inputsBefore = fake.inputs;
    const up = await uploadOne(url, org.apiKey, sourceId, { name: 'chert.txt', content: text });
    expect(up.errors).toBeUndefined();
    const fileId = up.data.uploadFile.file.id;
    const seen: number[] = [];
    const file = await until(
      async () => {
        const f = await fileState(org.apiKey, fileId);
        if (f?.chunksEmbedded != null) seen.push(f.chunksEmbedded);
        return f;
      },
      ended,
    );
    polling = false;
    await poller;
    expect(file.processingStatus).toBe('COMPLETED');
    expect(file.totalChunks).toBeGreaterThan(BATCH * 5);
    expect(file.chunksEmbedded).toBe(file.totalChunks);
    expect(file.content).toBe(text);
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
    expect(fake.inputs - inputsBefore).toBe(file.totalChunks);
    const rows = await t.db.prisma.passage.findMany({ where: { fileId }, select: { chunkIndex: true, text: true, metadata: true }, orderBy: { chunkIndex: 'asc' } });
    expect(rows.map((r) => r.chunkIndex)).toEqual([...Array(file.totalChunks).keys()]);
    for (const r of rows) {
      const m = r.metadata as { startOffset: number; endOffset: number };
      expect(text.slice(m.startOffset, m.endOffset)).toBe(r.text);
    }
    expect(statuses.length).toBeGreaterThan(0);
    expect(statuses.every((s) => s === 200)).toBe(true);
    const job = await t.gqlOk(org.apiKey, 'query($id: ID!) { job(id: $id) { status progress } }', { id: up.data.uploadFile.job.id });
    expect(job.job).toMatchObject({ status: 'COMPLETED', progress: { step: 'completed', stored: file.totalChunks } });
  });

  it('a cancel mid-store leaves no visible passages, and the staged ones are deleted', async () => {
    const org = await t.seed();
    const sourceId = await remoteSource(org.apiKey);
    pause = { at: BATCH * 2, gate: gate() };
    try {
      const up = (await uploadOne(url, org.apiKey, sourceId, { name: 'cancel.txt', content: textOf(100, 'flint') })).data.uploadFile;
      await pause.gate.arrived;
      // Two batches are stored (staged), and none of them is visible. (On PostgreSQL the second batch may still be
      // storing on its own connection when the third reaches the embedder: wait for it, then no more come.)
      await until(() => t.db.prisma.passage.count({ where: { fileId: up.file.id } }), (n) => n >= BATCH * 2);
      expect(await t.db.prisma.passage.count({ where: { fileId: up.file.id } })).toBe(BATCH * 2);
      expect((await visible(org.apiKey, sourceId)).totalCount).toBe(0);
      expect(await search(org.apiKey, sourceId, 'flint')).toEqual([]);
      await t.gqlOk(org.apiKey, 'mutation($id: ID!) { cancelJob(id: $id) { job { id } } }', { id: up.job.id });
      pause.gate.open();
      const file = await until(() => fileState(org.apiKey, up.file.id), ended);
      expect(file).toMatchObject({ processingStatus: 'ERROR', errorMessage: 'Processing was cancelled' });
      expect((await visible(org.apiKey, sourceId)).totalCount).toBe(0);
      await until(() => t.db.prisma.passage.count({ where: { fileId: up.file.id } }), (n) => n === 0);
    } finally {
      pause?.gate.open();
      pause = null;
    }
  });

  it('a cancel ended by a progress report, then seen by the heartbeat, still retires and deletes the staged passages', async () => {
    // The race behind a lost purge: the run's progress report honours the cancel request (the job ends CANCELLED),
    // and its heartbeat, running before the report returns, finds the job no longer RUNNING. That is a cancel, not
    // a job taken by another worker: the staged set must be retired and deleted.
    const org = await t.seed();
    const sourceId = await remoteSource(org.apiKey);
    pause = { at: BATCH * 2, gate: gate() };
    try {
      const up = (await uploadOne(url, org.apiKey, sourceId, { name: 'raced.txt', content: textOf(100, 'jasper') })).data.uploadFile;
      await pause.gate.arrived;
      await t.gqlOk(org.apiKey, 'mutation($id: ID!) { cancelJob(id: $id) { job { id } } }', { id: up.job.id });
      const job = await t.db.prisma.job.findUniqueOrThrow({ where: { id: up.job.id } });
      const db = scopedPrisma(t.db.prisma, org.organizationId);
      await expect(reportFileProgress(db, job, job.lockedBy!, 'EMBEDDING', { step: 'storing' }, {}, t)).rejects.toMatchObject({ reason: 'cancelled' });
      expect(await beatFileJob(db, job, job.lockedBy!)).toBe('cancelled');
      // The paused run's own heartbeat (every 200 ms) sees the ended job before it stores again.
      await new Promise((r) => setTimeout(r, 500));
      pause.gate.open();
      const file = await until(() => fileState(org.apiKey, up.file.id), ended);
      expect(file).toMatchObject({ processingStatus: 'ERROR', errorMessage: 'Processing was cancelled' });
      await until(() => t.db.prisma.passage.count({ where: { fileId: up.file.id } }), (n) => n === 0);
      await until(() => t.db.prisma.passageSet.count({ where: { fileId: up.file.id } }), (n) => n === 0);
    } finally {
      pause?.gate.open();
      pause = null;
    }
  });

  it('a REPLACE mid-store keeps the old file searchable until the new one completes', async () => {
    const org = await t.seed();
    const sourceId = await remoteSource(org.apiKey);
    const old = (await uploadOne(url, org.apiKey, sourceId, { name: 'rocks.txt', content: textOf(10, 'obsidian') })).data.uploadFile;
    const oldFile = await until(() => fileState(org.apiKey, old.file.id), ended);
    expect(oldFile.processingStatus).toBe('COMPLETED');
    pause = { at: BATCH * 2, gate: gate() };
    try {
      const next = (await uploadOne(url, org.apiKey, sourceId, { name: 'rocks.txt', content: textOf(100, 'pumice') }, { duplicateHandling: 'REPLACE' })).data.uploadFile;
      await pause.gate.arrived;
      expect((await search(org.apiKey, sourceId, 'obsidian')).every((h) => h.passage.file.id === old.file.id)).toBe(true);
      expect((await search(org.apiKey, sourceId, 'obsidian')).length).toBe(oldFile.totalChunks);
      expect(await search(org.apiKey, sourceId, 'pumice')).toEqual([]);
      expect((await visible(org.apiKey, sourceId)).totalCount).toBe(oldFile.totalChunks);
      pause.gate.open();
      const file = await until(() => fileState(org.apiKey, next.file.id), ended);
      expect(file.processingStatus).toBe('COMPLETED');
      expect(await fileState(org.apiKey, old.file.id)).toBeNull();
      expect(await search(org.apiKey, sourceId, 'obsidian')).toEqual([]);
      expect((await search(org.apiKey, sourceId, 'pumice')).length).toBe(file.totalChunks);
      expect((await visible(org.apiKey, sourceId)).totalCount).toBe(file.totalChunks);
    } finally {
      pause?.gate.open();
      pause = null;
    }
  });

  it('a DOCX that inflates past MAX_INFLATE_RATIO ends ERROR in Quarry’s words, and a file past MAX_FILE_PASSAGES too', async () => {
    const org = await t.seed();
    const sourceId = await remoteSource(org.apiKey);
    const zip = new JSZip();
    zip.file('[Content_Types].xml', '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>');
    zip.file('word/document.xml', `<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>${'A'.repeat(4 << 20)}</w:t></w:r></w:p></w:body></w:document>`);
    const bomb = await zip.generateAsync({ type: 'uint8array', compression: 'DEFLATE', compressionOptions: { level: 9 } });
    expect(bomb.length).toBeLessThan(40_000);
    const up = (await uploadOne(url, org.apiKey, sourceId, { name: 'bomb.docx', content: bomb })).data.uploadFile;
    const file = await until(() => fileState(org.apiKey, up.file.id), ended);
    expect(file.processingStatus).toBe('ERROR');
    expect(file.errorMessage).toMatch(/expands to more than 100 times its size .*MAX_INFLATE_RATIO/);
    expect(file.errorMessage).not.toMatch(/prisma|invocation|jszip|Error:/i);

    const many = (await uploadOne(url, org.apiKey, sourceId, { name: 'many.txt', content: textOf(700, 'gneiss') })).data.uploadFile;
    const tooMany = await until(() => fileState(org.apiKey, many.file.id), ended);
    expect(tooMany.processingStatus).toBe('ERROR');
    expect(tooMany.errorMessage).toBe('The file makes more than 200 passages, the limit per file (MAX_FILE_PASSAGES); nothing was stored');
    expect((await visible(org.apiKey, sourceId)).totalCount).toBe(0);
  });

  // Last in this block: it stops the app's own workers.
  it('a shutdown mid-file releases the job; the next worker resumes it without embedding stored batches again', async () => {
    const org = await t.seed();
    const sourceId = await remoteSource(org.apiKey);
    const text = textOf(150, 'basalt');
    pause = { at: BATCH * 3, gate: gate() };
    const log = createLogger('silent');
    const next = new IngestionService({
      db: t.db,
      queue: new MemoryQueue(log),
      log,
      settings: testIngestSettings,
      limits: { ...DEFAULT_LIMITS, batchSize: BATCH, windowChars: 2048 },
      embedderEnv: { OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: fake.url },
      callbacks: t.callbacks,
      events: t.events,
    });
    try {
      const up = (await uploadOne(url, org.apiKey, sourceId, { name: 'resume.txt', content: text })).data.uploadFile;
      await pause.gate.arrived;
      // The server stops (as on SIGTERM) while a batch is about to be stored.
      const stopped = t.ingest.stop();
      pause.gate.open();
      await stopped;
      const job = await t.db.prisma.job.findUniqueOrThrow({ where: { id: up.job.id } });
      expect(job).toMatchObject({ status: 'PENDING', lockedBy: null });
      const set = await t.db.prisma.passageSet.findFirstOrThrow({ where: { fileId: up.file.id } });
      expect(set).toMatchObject({ state: 'STAGED', jobId: up.job.id });
      expect(set.storedChunks).toBeGreaterThanOrEqual(BATCH * 3);
      expect((await visible(org.apiKey, sourceId)).totalCount).toBe(0);

      const inputsBefore = fake.inputs;
      await next.startWorkers();
      await next.enqueue({ jobId: up.job.id, organizationId: org.organizationId });
      const file = await until(() => fileState(org.apiKey, up.file.id), ended);
      expect(file.processingStatus).toBe('COMPLETED');
      expect(fake.inputs - inputsBefore).toBe(file.totalChunks - set.storedChunks);
      const rows = await t.db.prisma.passage.findMany({ where: { fileId: up.file.id }, select: { chunkIndex: true }, orderBy: { chunkIndex: 'asc' } });
      expect(rows.map((r) => r.chunkIndex)).toEqual([...Array(file.totalChunks).keys()]);
      expect(file.content).toBe(text);
      expect((await visible(org.apiKey, sourceId)).totalCount).toBe(Math.min(100, file.totalChunks));
    } finally {
      pause?.gate.open();
      pause = null;
      await next.stop();
    }
  });
});

/** kill -9 of a whole server mid-store, then a restart on the same database. */
describe('a server killed mid-store', () => {
  let fake: FakeOpenAI;
  const procs: QuarryProcess[] = [];
  beforeAll(async () => {
    fake = await FakeOpenAI.start();
  });
  afterAll(async () => {
    for (const p of procs) p.child.kill('SIGKILL');
    await fake.close();
  });

  const gql = gqlOver;

  async function killAndResume(env: Record<string, string>, key: string) {
    fake.script.length = 0;
    fake.fallback = 'ok';
    const first = await startQuarry(env);
    procs.push(first);
    const source = await gql(first.url, key, 'mutation { createSource(input: { name: "killed", embeddingConfig: { endpointType: "openai", model: "text-embedding-3-test", dim: 64, chunkSize: 64 } }) { source { id } } }');
    // Three batches are answered, the fourth is held: the server is then storing.
    fake.script.push('ok', 'ok', 'ok');
    fake.fallback = 'hold';
    const text = textOf(200, 'andesite');
    const up = await uploadOne(first.url, key, source.createSource.source.id, { name: 'killed.txt', content: text });
    expect(up.errors).toBeUndefined();
    const fileId = up.data.uploadFile.file.id as string;
    await until(async () => fake.holding, (n) => n > 0, 20_000);
    await first.stop('SIGKILL');
    fake.fallback = 'ok';
    // The held request of the dead server is answered into a closed socket: counted before the next server starts.
    fake.release();
    await new Promise((r) => setTimeout(r, 100));
    const inputsBefore = fake.inputs;
    const second = await startQuarry(env);
    procs.push(second);
    const { file } = await until(() => gql(second.url, key, FILE, { id: fileId }), (r) => ended(r.file), 30_000);
    expect(file.processingStatus).toBe('COMPLETED');
    expect(file.content).toBe(text);
    const passages = await gql(second.url, key, 'query($id: ID!) { file(id: $id) { passages(first: 100) { edges { node { chunkIndex } } } } }', { id: fileId });
    const indexes = passages.file.passages.edges.map((e: any) => e.node.chunkIndex);
    expect(indexes).toEqual([...Array(file.totalChunks).keys()]);
    const processed = second
      .stdout()
      .split('\n')
      .filter((l) => l.includes('"file processed"'))
      .map((l) => JSON.parse(l))
      .find((l) => l.fileId === fileId);
    // Batches stored before the kill were neither embedded nor written again.
    expect(processed.resumedAt).toBeGreaterThanOrEqual(BATCH);
    expect(fake.inputs - inputsBefore).toBe(file.totalChunks - processed.resumedAt);
    await second.stop();
    return file;
  }

  const ended = (f: any) => f && (f.processingStatus === 'COMPLETED' || f.processingStatus === 'ERROR');
  const common = (key: string) => ({ QUARRY_API_KEY: key, OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: fake.url, JOB_HEARTBEAT_MS: '200', INGEST_BATCH_SIZE: String(BATCH) });

  it('embedded: resumes at the next start without duplicates or re-embedding stored batches', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'quarry-kill-'));
    const key = `qk_test_${randomBytes(12).toString('hex')}`;
    try {
      await killAndResume({ ...common(key), DATA_DIR: dataDir }, key);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 90_000);

  it.runIf(inject('postgresUrl'))('PostgreSQL: resumes once the heartbeat lapses, without duplicates or re-embedding stored batches', async () => {
    const key = `qk_test_${randomBytes(12).toString('hex')}`;
    const admin = new pg.Client({ connectionString: inject('postgresUrl')! });
    await admin.connect();
    const dbName = `quarry_kill_${randomBytes(4).toString('hex')}`;
    await admin.query(`CREATE DATABASE ${dbName}`);
    try {
      const databaseUrl = inject('postgresUrl')!.replace(/\/[^/?]+(\?|$)/, `/${dbName}$1`);
      await killAndResume({ ...common(key), DATABASE_URL: databaseUrl, MIGRATE_ON_START: 'true', JOB_STALE_MS: '1500' }, key);
    } finally {
      await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
      await admin.end();
    }
  }, 90_000);
});

/**
 * SIGTERM while a file's batches are being stored, with the in-process embedder (batches of 256 chunks, written on
 * the database's own thread): the process ends within SHUTDOWN_TIMEOUT_MS, cleanly, and the next start resumes the
 * file after the batches it stored.
 */
describe('a server stopped mid-store', () => {
  // Generous: the step in flight when the signal comes (a batch of 256 chunks) ends first, and on a loaded machine
  // that took seconds; exceeding it makes the process exit 1, which this test would catch.
  const SHUTDOWN_MS = 15_000;
  const STATUS = 'query($id: ID!) { file(id: $id) { processingStatus totalChunks chunksEmbedded } }';
  const procs: QuarryProcess[] = [];
  afterAll(() => {
    for (const p of procs) p.child.kill('SIGKILL');
  });

  async function stopAndResume(env: Record<string, string>, key: string) {
    const gql = (url: string, query: string, variables?: object) => gqlOver(url, key, query, variables);
    const all = { ...env, QUARRY_API_KEY: key, SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_MS) };
    const first = await startQuarry(all);
    procs.push(first);
    const source = await gql(first.url, 'mutation { createSource(input: { name: "stopped", embeddingChunkSize: 64 }) { source { id } } }');
    const text = textOf(1500, 'rhyolite');
    const up = await uploadOne(first.url, key, source.createSource.source.id, { name: 'stopped.txt', content: text });
    expect(up.errors).toBeUndefined();
    const fileId = up.data.uploadFile.file.id as string;
    const midway = await until(() => gql(first.url, STATUS, { id: fileId }), (r) => r.file.chunksEmbedded > 0 || ended(r.file), 60_000);
    expect(midway.file.processingStatus).toBe('EMBEDDING');
    const asked = performance.now();
    expect(await first.stop('SIGTERM'), first.stdout().split('\n').slice(-10).join('\n')).toBe(0);
    expect(performance.now() - asked).toBeLessThan(SHUTDOWN_MS);
    expect(first.stdout()).toContain('file job released at shutdown');

    const second = await startQuarry(all);
    procs.push(second);
    const { file } = await until(() => gql(second.url, STATUS, { id: fileId }), (r) => ended(r.file), 90_000);
    expect(file.processingStatus).toBe('COMPLETED');
    expect(file.chunksEmbedded).toBe(file.totalChunks);
    const count = await gql(second.url, 'query($id: ID!) { file(id: $id) { passages(first: 1) { totalCount } } }', { id: fileId });
    expect(count.file.passages.totalCount).toBe(file.totalChunks);
    const processed = second.stdout().split('\n').filter((l) => l.includes('"file processed"')).map((l) => JSON.parse(l)).find((l) => l.fileId === fileId);
    expect(processed.resumedAt).toBeGreaterThanOrEqual(256); // stored batches were not embedded nor written again
    await second.stop();
  }

  const ended = (f: any) => f && (f.processingStatus === 'COMPLETED' || f.processingStatus === 'ERROR');

  it('embedded: stops within SHUTDOWN_TIMEOUT_MS and the next start resumes the file', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'quarry-stop-'));
    try {
      await stopAndResume({ DATA_DIR: dataDir }, `qk_test_${randomBytes(12).toString('hex')}`);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 180_000);
});
