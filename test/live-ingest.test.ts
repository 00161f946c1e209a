import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestApp, type TestApp } from './support/app.js';
import { databaseKinds } from './support/db.js';
import { startQuarry, startWorker, type QuarryProcess } from './support/process.js';
import { subscribe, sseClient, wsClient } from './support/subscriptions.js';
import { uploadOne } from './support/upload.js';

/** Watching real uploads being processed, over real subscription clients. */

const ORDER = ['PENDING', 'PARSING', 'CHUNKING', 'EMBEDDING', 'COMPLETED'];
const FILE_EVENTS = `subscription($s: ID!) { sourceFilesChanged(sourceId: $s) { fileId status totalChunks chunksEmbedded errorMessage terminal } }`;
const TEXT = Array.from({ length: 120 }, (_, i) => `Line ${i}: rhyolite and dacite are volcanic rocks rich in silica.`).join('\n');

/** Status never goes back, progress never decreases, and the last event is COMPLETED with every chunk embedded. */
function expectMonotonic(events: { status: string; chunksEmbedded: number | null; totalChunks: number | null }[]) {
  const ranks = events.map((e) => ORDER.indexOf(e.status));
  expect(ranks).toEqual([...ranks].sort((a, b) => a - b));
  const progress = events.map((e) => e.chunksEmbedded ?? 0);
  expect(progress).toEqual([...progress].sort((a, b) => a - b));
  const last = events.at(-1)!;
  expect(last.status).toBe('COMPLETED');
  expect(last.chunksEmbedded).toBe(last.totalChunks);
  expect(last.totalChunks).toBeGreaterThan(1);
}

describe.each(databaseKinds())('watching an upload on %s', (kind) => {
  let t: TestApp;
  let url: string;
  beforeAll(async () => {
    t = await createTestApp(kind);
    ({ url } = await t.app.listen());
  });
  afterAll(() => t.close());

  it('sees a file go from upload to completed with monotonic progress, over graphql-ws and SSE', async () => {
    const org = await t.seed();
    const sourceId = (await t.gqlOk(org.apiKey, 'mutation { createSource(input: { name: "live", embeddingChunkSize: 64 }) { source { id } } }')).createSource.source.id;
    const ws = wsClient(url, org.apiKey);
    const sse = sseClient(url, org.apiKey);
    try {
      const overWs = subscribe(ws, FILE_EVENTS, { s: sourceId }, 'ws');
      const overSse = subscribe(sse, FILE_EVENTS, { s: sourceId }, 'sse');
      // No files yet: nothing arrives until the upload; give both a moment to be in place.
      await new Promise((r) => setTimeout(r, 300));
      const up = await uploadOne(url, org.apiKey, sourceId, { name: 'volcanic.txt', content: TEXT });
      expect(up.errors).toBeUndefined();
      const fileId = up.data.uploadFile.file.id;
      for (const sink of [overWs, overSse]) {
        await sink.until((s) => s.data.some((d: any) => d.sourceFilesChanged.fileId === fileId && d.sourceFilesChanged.terminal), 'completion', 20_000);
        const events = sink.data.map((d: any) => d.sourceFilesChanged).filter((e: any) => e.fileId === fileId);
        expectMonotonic(events);
        sink.dispose();
      }
      // A late subscriber gets the current (terminal) state at once, then the stream completes.
      const late = subscribe(ws, 'subscription($f: ID!) { fileStatusChanged(fileId: $f) { status chunksEmbedded terminal } }', { f: fileId }, 'late');
      await late.end();
      expect(late.data.map((d: any) => d.fileStatusChanged.status)).toEqual(['COMPLETED']);
    } finally {
      await ws.dispose();
      sse.dispose();
    }
  });
});

describe.runIf(inject('postgresUrl') && inject('redisUrl'))('two servers and a worker on PostgreSQL + Redis', () => {
  const procs: QuarryProcess[] = [];
  const admin = new pg.Client({ connectionString: inject('postgresUrl')! });
  const dbName = `quarry_live_${randomBytes(4).toString('hex')}`;
  const key = `qk_test_${randomBytes(12).toString('hex')}`;
  let env: Record<string, string>;
  beforeAll(async () => {
    await admin.connect();
    await admin.query(`CREATE DATABASE ${dbName}`);
    env = {
      DATABASE_URL: inject('postgresUrl')!.replace(/\/[^/?]+(\?|$)/, `/${dbName}$1`),
      REDIS_URL: inject('redisUrl')!,
      QUARRY_API_KEY: key,
      RUN_WORKERS: 'false',
    };
  }, 60_000);
  afterAll(async () => {
    for (const p of procs) p.child.kill('SIGKILL');
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.end();
  });

  it('a client subscribed on server A sees the progress of a file uploaded through server B and processed by the worker', async () => {
    const a = await startQuarry({ ...env, MIGRATE_ON_START: 'true' });
    procs.push(a);
    const [b, worker] = await Promise.all([startQuarry(env), startWorker(env)]);
    procs.push(b, worker);
    const created = await fetch(`${b.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ query: 'mutation { createSource(input: { name: "shared", embeddingChunkSize: 64 }) { source { id } } }' }),
    }).then((r) => r.json());
    const sourceId = created.data.createSource.source.id;

    const client = wsClient(a.url, key);
    try {
      const sink = subscribe(client, FILE_EVENTS, { s: sourceId }, 'server A');
      await new Promise((r) => setTimeout(r, 300));
      const up = await uploadOne(b.url, key, sourceId, { name: 'relayed.txt', content: TEXT });
      expect(up.errors).toBeUndefined();
      const fileId = up.data.uploadFile.file.id;
      await sink.until((s) => s.data.some((d: any) => d.sourceFilesChanged.fileId === fileId && d.sourceFilesChanged.terminal), 'completion', 30_000);
      const events = sink.data.map((d: any) => d.sourceFilesChanged).filter((e: any) => e.fileId === fileId);
      expectMonotonic(events);
      // The worker did the processing: neither server runs workers.
      const deadline = Date.now() + 5000;
      while (!worker.stdout().includes('file processed') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(worker.stdout()).toContain('file processed');
      expect(a.stdout() + b.stdout()).not.toContain('file processed');
    } finally {
      await client.dispose();
    }
  }, 90_000);
});
