/**
 * A real Redis outage during processing: a private redis-server is killed while a worker embeds a file, and started
 * again (empty: no persistence) a few seconds later. Nothing may exit; /readyz says 503 during the outage and 200
 * after; an upload meanwhile is refused with SERVICE_UNAVAILABLE (503 over REST) and stores nothing; the file being
 * processed completes; a file that was waiting in the queue (lost with Redis's memory) is queued again and
 * completes; subscribers opened before the outage stay open and see both terminal states.
 *
 * Embedded (PGlite): one `npm start` process with its workers. PostgreSQL: an API process and a worker process.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { privateDatabase } from './support/db.js';
import { FakeOpenAI } from './support/fake-openai.js';
import { startQuarry, startWorker, type QuarryProcess } from './support/process.js';
import { RedisServer } from './support/redis-server.js';
import { sseClient, subscribe, wsClient } from './support/subscriptions.js';
import { multipart, UPLOAD_FILE } from './support/upload.js';
import { until } from './support/wait.js';
import { gqlOver as gql } from './support/graphql.js';


const readyz = async (url: string) => {
  const response = await fetch(`${url}/readyz`);
  return { status: response.status, body: await response.json() };
};

const TEXT = Array.from({ length: 12 }, (_, i) => `Paragraph ${i} says how basalt cools into columns.`).join('\n\n');
const FILE_STATUS = 'subscription($id: ID!) { fileStatusChanged(fileId: $id) { status } }';

const kinds = inject('postgresUrl') ? (['pglite', 'postgres'] as const) : (['pglite'] as const);

describe.each(kinds)('a Redis outage during processing (%s)', (kind) => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step().catch(() => {});
  });

  it('no process exits, /readyz reports it, uploads get 503, nothing is lost, subscribers see the end', async () => {
    const redis = await RedisServer.start();
    cleanup.push(() => redis.stop());
    const fake = await FakeOpenAI.start();
    cleanup.push(() => fake.close());
    const key = `qk_test_${randomBytes(12).toString('hex')}`;
    const env: Record<string, string> = {
      REDIS_URL: redis.url,
      REDIS_PREFIX: `outage-${randomBytes(3).toString('hex')}`,
      QUARRY_API_KEY: key,
      OPENAI_API_KEY: 'sk-test',
      OPENAI_BASE_URL: fake.url,
      WORKER_CONCURRENCY: '1',
      JOB_HEARTBEAT_MS: '200',
      JOB_STALE_MS: '1500',
      WS_CONNECTION_INIT_TIMEOUT_MS: '20000', // the processes share a busy machine with the test
    };
    const processes: QuarryProcess[] = [];
    let api: QuarryProcess;
    if (kind === 'pglite') {
      const dataDir = await mkdtemp(path.join(os.tmpdir(), 'quarry-outage-'));
      cleanup.push(() => rm(dataDir, { recursive: true, force: true }));
      api = await startQuarry({ ...env, DATA_DIR: dataDir }, 90_000);
      processes.push(api);
    } else {
      // A database of its own: the recovery sweep must not take other test files' jobs.
      const own = await privateDatabase('quarry_outage');
      cleanup.push(() => own.drop());
      Object.assign(env, { DATABASE_URL: own.url, MIGRATE_ON_START: 'true' });
      const [server, worker] = await Promise.all([startQuarry({ ...env, RUN_WORKERS: 'false' }, 90_000), startWorker(env, 90_000)]);
      api = server;
      processes.push(server, worker);
    }
    for (const p of processes) cleanup.push(() => (p.child.exitCode === null ? p.stop('SIGKILL') : Promise.resolve()));
    const url = api.url;

    const { createSource } = await gql(url, key, 'mutation { createSource(input: { name: "outage", embedding: "openai/text-embedding-3-small" }) { source { id } } }');
    const sourceId = createSource.source.id as string;
    const upload = (name: string) => multipart(url, key, UPLOAD_FILE, { input: { sourceId, file: null } }, [{ path: 'variables.input.file', part: { name, content: TEXT } }]);

    // File A is being embedded (the provider holds the request); file B waits in the queue behind it.
    fake.fallback = 'hold';
    const a = await upload('a.txt');
    expect(a.errors).toBeUndefined();
    await until(async () => fake.holding, (n) => n > 0, 30_000);
    const b = await upload('b.txt');
    expect(b.errors).toBeUndefined();
    const [fileA, fileB] = [a.data.uploadFile.file.id as string, b.data.uploadFile.file.id as string];

    const ws = wsClient(url, key);
    const sse = sseClient(url, key);
    cleanup.push(async () => {
      await ws.dispose();
      sse.dispose();
    });
    const watchA = subscribe(ws, FILE_STATUS, { id: fileA }, 'file A over graphql-ws');
    const watchB = subscribe(sse, FILE_STATUS, { id: fileB }, 'file B over SSE');
    await Promise.all([watchA.count(1, 30_000), watchB.count(1, 30_000)]);
    expect((await readyz(url)).status).toBe(200);

    // The outage.
    await redis.stop();
    const down = await until(() => readyz(url), (r) => r.status === 503, 10_000);
    expect(down.body).toMatchObject({ status: 'unavailable', redis: 'unavailable' });

    // Uploads are refused at once, over GraphQL and REST, and store nothing.
    const refused = await upload('c.txt');
    expect(refused.errors?.[0]?.extensions?.code).toBe('SERVICE_UNAVAILABLE');
    const form = new FormData();
    form.append('file', new Blob([TEXT], { type: 'text/plain' }), 'd.txt');
    const rest = await fetch(`${url}/v1/sources/${sourceId}/upload`, { method: 'POST', headers: { authorization: `Bearer ${key}` }, body: form });
    expect(rest.status).toBe(503);
    expect(await rest.json()).toEqual({ detail: expect.stringMatching(/queue is unreachable/) });

    // The worker goes on without Redis: file A completes (in the database) during the outage.
    fake.fallback = 'ok';
    fake.release();
    const FILE = 'query($id: ID!) { file(id: $id) { processingStatus } }';
    await until(() => gql(url, key, FILE, { id: fileA }), (r) => r.file.processingStatus === 'COMPLETED', 30_000);
    expect((await readyz(url)).status).toBe(503);

    // Redis comes back empty: file B's queue entry is gone, and is queued again.
    await redis.start();
    await until(() => readyz(url), (r) => r.status === 200, 30_000);
    await Promise.all([watchA.end(30_000), watchB.end(30_000)]);
    for (const watch of [watchA, watchB]) {
      expect(watch.failure).toBeUndefined();
      expect(watch.completed).toBe(true);
      expect(watch.data.at(-1)).toEqual({ fileStatusChanged: { status: 'COMPLETED' } });
    }
    const { source, jobs } = await gql(url, key, 'query($id: ID!) { source(id: $id) { fileCount } jobs(sourceId: $id, first: 10) { edges { node { status } } } }', { id: sourceId });
    expect(source.fileCount).toBe(2);
    expect(jobs.edges.map((e: { node: { status: string } }) => e.node.status)).toEqual(['COMPLETED', 'COMPLETED']);

    // Uploads work again; and no process exited on the way (an unhandled error would have ended it).
    fake.fallback = 'hold';
    const e = await upload('e.txt');
    expect(e.errors).toBeUndefined();
    for (const p of processes) expect(p.child.exitCode, p.stderr()).toBeNull();
    // Shutting down while Redis is down again, with a job in flight, ends cleanly too and within the shutdown time:
    // nothing waits for Redis to come back (BullMQ's close would, with a job to report).
    await until(async () => fake.holding, (n) => n > 0, 30_000);
    await redis.stop();
    await until(() => readyz(url), (r) => r.status === 503, 10_000);
    for (const p of processes) {
      const asked = Date.now();
      expect(await p.stop(), p.stdout().split('\n').slice(-8).join('\n')).toBe(0);
      expect(Date.now() - asked).toBeLessThan(10_000); // SHUTDOWN_TIMEOUT_MS's default; over it the process exits 1
    }
    fake.release();
  }, 180_000);
});
