import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { privateDatabase } from './support/db.js';
import { FakeOpenAI } from './support/fake-openai.js';
import { startQuarry, startWorker, type QuarryProcess } from './support/process.js';
import { uploadOne } from './support/upload.js';
import { until as waitUntil } from './support/wait.js';
import { gqlOver as gql } from './support/graphql.js';

/**
 * Crash recovery with real processes: a worker is killed (SIGKILL) while it embeds a file; the file must end
 * completed (resumed by the next worker) with exactly one passage per chunk, never stuck.
 */



/** Process start-ups and heartbeat lapses take a while: a longer wait than in-process tests. */
const until = <T>(read: () => Promise<T>, done: (v: T) => boolean) => waitUntil(read, done, 30_000, 50);

const FILE = 'query($id: ID!) { file(id: $id) { processingStatus errorMessage totalChunks chunksEmbedded passages(first: 100) { edges { node { text } } } } }';
const TEXT = Array.from({ length: 60 }, (_, i) => `Paragraph ${i} describes how andesite forms in volcanic arcs.`).join('\n\n');

/** Uploads a file whose embedding request the fake provider holds, and waits until a worker is in the middle of it. */
async function uploadAndHold(url: string, key: string, fake: FakeOpenAI) {
  const source = await gql(url, key, 'mutation { createSource(input: { name: "crash", embedding: "openai/text-embedding-3-small", embeddingChunkSize: 64 }) { source { id } } }');
  fake.fallback = 'hold';
  const up = await uploadOne(url, key, source.createSource.source.id, { name: 'andesite.txt', content: TEXT });
  expect(up.errors).toBeUndefined();
  const fileId = up.data.uploadFile.file.id as string;
  await until(async () => fake.holding, (n) => n > 0);
  expect((await gql(url, key, FILE, { id: fileId })).file.processingStatus).toBe('EMBEDDING');
  return fileId;
}

async function expectCompletedOnce(url: string, key: string, fileId: string) {
  const { file } = await until(() => gql(url, key, FILE, { id: fileId }), (r) => ['COMPLETED', 'ERROR'].includes(r.file.processingStatus));
  expect(file.processingStatus).toBe('COMPLETED');
  expect(file.passages.edges.length).toBe(file.totalChunks);
  expect(file.chunksEmbedded).toBe(file.totalChunks);
  const texts = file.passages.edges.map((e: any) => e.node.text);
  expect(new Set(texts).size).toBe(texts.length);
}

describe('crash recovery', () => {
  let fake: FakeOpenAI;
  const procs: QuarryProcess[] = [];
  beforeAll(async () => {
    fake = await FakeOpenAI.start();
  });
  afterAll(async () => {
    for (const p of procs) p.child.kill('SIGKILL');
    await fake.close();
  });

  it('embedded: a server killed mid-file resumes the file on its next start', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'quarry-crash-'));
    const key = `qk_test_${randomBytes(12).toString('hex')}`;
    const env = { DATA_DIR: dataDir, QUARRY_API_KEY: key, OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: fake.url, JOB_HEARTBEAT_MS: '200' };
    try {
      const first = await startQuarry(env);
      procs.push(first);
      const fileId = await uploadAndHold(first.url, key, fake);
      await first.stop('SIGKILL');
      fake.fallback = 'ok';
      fake.release();
      const second = await startQuarry(env);
      procs.push(second);
      await expectCompletedOnce(second.url, key, fileId);
      expect(second.stdout()).toContain('resuming file jobs interrupted by the previous run');
      await second.stop();
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 90_000);

  it.runIf(inject('postgresUrl') && inject('redisUrl'))(
    'PostgreSQL + Redis: a worker process killed mid-file is replaced by another that takes the job over once its heartbeat lapses',
    async () => {
      const key = `qk_test_${randomBytes(12).toString('hex')}`;
      // A database of its own, so no other test's jobs are in the way.
      const own = await privateDatabase('quarry_crash');
      const databaseUrl = own.url;
      const env = {
        DATABASE_URL: databaseUrl,
        REDIS_URL: inject('redisUrl')!,
        MIGRATE_ON_START: 'true',
        QUARRY_API_KEY: key,
        OPENAI_API_KEY: 'sk-test',
        OPENAI_BASE_URL: fake.url,
        JOB_HEARTBEAT_MS: '200',
        JOB_STALE_MS: '1500',
      };
      try {
        const server = await startQuarry({ ...env, RUN_WORKERS: 'false' });
        procs.push(server);
        const first = await startWorker(env);
        procs.push(first);
        const fileId = await uploadAndHold(server.url, key, fake);
        await first.stop('SIGKILL');
        fake.fallback = 'ok';
        fake.release();
        const second = await startWorker(env);
        procs.push(second);
        await expectCompletedOnce(server.url, key, fileId);
        await second.stop();
        await server.stop();
      } finally {
        await own.drop();
      }
    },
    90_000,
  );

  it.runIf(inject('postgresUrl') && inject('redisUrl'))(
    'PostgreSQL + Redis: a worker process told to stop while the provider holds its request exits promptly with 0, and the next worker resumes the job',
    async () => {
      const key = `qk_test_${randomBytes(12).toString('hex')}`;
      const own = await privateDatabase('quarry_stop');
      const databaseUrl = own.url;
      const shutdownMs = 4000;
      const env = {
        DATABASE_URL: databaseUrl,
        REDIS_URL: inject('redisUrl')!,
        // A queue of its own: no other test's jobs, and none of this one's left for them.
        REDIS_PREFIX: own.name,
        MIGRATE_ON_START: 'true',
        QUARRY_API_KEY: key,
        OPENAI_API_KEY: 'sk-test',
        OPENAI_BASE_URL: fake.url,
        JOB_HEARTBEAT_MS: '200',
        SHUTDOWN_TIMEOUT_MS: String(shutdownMs),
      };
      try {
        const server = await startQuarry({ ...env, RUN_WORKERS: 'false' });
        procs.push(server);
        const first = await startWorker(env);
        procs.push(first);
        const fileId = await uploadAndHold(server.url, key, fake);
        // Told to stop mid-request: the job is released and the process ends by itself (its watchdog exits with 1,
        // SHUTDOWN_TIMEOUT_MS + 1 s after the signal), with no command left retrying on a closed connection.
        const signalled = Date.now();
        expect(await first.stop('SIGTERM')).toBe(0);
        expect(Date.now() - signalled).toBeLessThan(shutdownMs);
        expect(first.stdout()).not.toMatch(/"level":50/);
        fake.fallback = 'ok';
        fake.release();
        const second = await startWorker(env);
        procs.push(second);
        await expectCompletedOnce(server.url, key, fileId);
        expect(await second.stop()).toBe(0);
        await server.stop();
      } finally {
        await own.drop();
      }
    },
    90_000,
  );
});
