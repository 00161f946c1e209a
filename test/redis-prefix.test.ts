/**
 * Two deployments on one Redis, told apart by REDIS_PREFIX. The worst case on purpose: both start from copies of one
 * data folder (a staging copy of production, say), so they share the organization id, the API key and every id
 * made before the copy; only the prefix separates them. Neither may hear the other's events nor take its jobs, and
 * everything they keep in Redis lives under their prefix.
 */
import { randomBytes } from 'node:crypto';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { openPGliteDir } from '../src/core/db/index.js';
import { bootstrap } from '../src/domain/organizations.js';
import { startQuarry, type QuarryProcess } from './support/process.js';
import { RedisServer } from './support/redis-server.js';
import { subscribe, wsClient } from './support/subscriptions.js';
import { uploadOne } from './support/upload.js';
import { gqlOver as gql } from './support/graphql.js';


async function uploadTo(url: string, key: string, name: string) {
  const { createSource } = await gql(url, key, `mutation { createSource(input: { name: "${name}" }) { source { id } } }`);
  const up = await uploadOne(url, key, createSource.source.id, { name: `${name}.txt`, content: `The ${name} deployment's notes on granite.` });
  expect(up.errors).toBeUndefined();
  return { fileId: up.data.uploadFile.file.id as string, jobId: up.data.uploadFile.job.id as string };
}

describe('two deployments sharing one Redis', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step().catch(() => {});
  });

  it('with different REDIS_PREFIXes, neither hears the other’s events nor takes its jobs', async () => {
    const redis = await RedisServer.start();
    cleanup.push(() => redis.stop());
    const probe = new Redis(redis.url);
    cleanup.push(async () => probe.disconnect());

    // One install, copied: the same organization and key in both.
    const key = `qk_test_${randomBytes(12).toString('hex')}`;
    const [dirA, dirB] = await Promise.all([mkdtemp(path.join(os.tmpdir(), 'quarry-prefix-a-')), mkdtemp(path.join(os.tmpdir(), 'quarry-prefix-b-'))]);
    cleanup.push(() => Promise.all([dirA, dirB].map((dir) => rm(dir, { recursive: true, force: true }))));
    const install = await openPGliteDir(path.join(dirA, 'pglite'));
    await bootstrap(install.prisma, key);
    await install.close();
    await cp(dirA, dirB, { recursive: true });

    // A runs no workers: its job must stay in its own queue, whatever B's workers do.
    // Generous connection-init wait: the processes share a busy machine with the test.
    const env = { REDIS_URL: redis.url, QUARRY_API_KEY: key, WS_CONNECTION_INIT_TIMEOUT_MS: '20000' };
    const started: Promise<QuarryProcess>[] = [
      startQuarry({ ...env, DATA_DIR: dirA, REDIS_PREFIX: 'deploy-a', RUN_WORKERS: 'false' }, 90_000),
      startQuarry({ ...env, DATA_DIR: dirB, REDIS_PREFIX: 'deploy-b' }, 90_000),
    ];
    for (const p of started) cleanup.push(() => p.then((q) => q.stop('SIGKILL')));
    const [a, b] = await Promise.all(started);

    // A subscriber on each to every job of the (shared) organization.
    const clients = [wsClient(a.url, key), wsClient(b.url, key)];
    cleanup.push(() => Promise.all(clients.map((c) => c.dispose())));
    const onA = subscribe(clients[0], 'subscription { jobsUpdated { jobId status } }', {}, 'jobs on A');
    const onB = subscribe(clients[1], 'subscription { jobsUpdated { jobId status } }', {}, 'jobs on B');
    const completedOnB = (jobId: string) => (s: typeof onB) => s.data.some((d) => d.jobsUpdated.jobId === jobId && d.jobsUpdated.status === 'COMPLETED');

    // B's first upload, processed by B's workers to the end: B's subscriber is listening.
    const firstOfB = await uploadTo(b.url, key, 'beta');
    await onB.until(completedOnB(firstOfB.jobId), 'B’s first job completed on B', 30_000);
    // A's upload (queued in A's queue; A runs no workers), seen by A's own subscriber.
    const fromA = await uploadTo(a.url, key, 'alpha');
    await onA.until((s) => s.data.some((d) => d.jobsUpdated.jobId === fromA.jobId), 'A’s own job on A', 30_000);
    // B's second upload: its events reach B's subscriber after anything A published before it would have.
    const secondOfB = await uploadTo(b.url, key, 'gamma');
    await onB.until(completedOnB(secondOfB.jobId), 'B’s second job completed on B', 30_000);

    // B never heard of A's job; A never heard of B's.
    expect(onB.data.map((d) => d.jobsUpdated.jobId)).not.toContain(fromA.jobId);
    expect(onA.data.map((d) => d.jobsUpdated.jobId)).not.toContain(secondOfB.jobId);
    expect(onB.failure).toBeUndefined();
    expect(onA.failure).toBeUndefined();

    // A's job is still waiting in A's queue: B's workers, taking jobs before and after it was queued, never took it.
    expect(await probe.lrange('deploy-a:jobs:wait', 0, -1)).toContain(fromA.jobId);
    expect((await gql(a.url, key, 'query($id: ID!) { job(id: $id) { status } }', { id: fromA.jobId })).job.status).toBe('PENDING');

    // Everything either keeps in Redis is under its prefix.
    const keys = await probe.keys('*');
    expect(keys.filter((k) => !k.startsWith('deploy-a:') && !k.startsWith('deploy-b:'))).toEqual([]);
    expect(keys.some((k) => k.startsWith('deploy-a:jobs:'))).toBe(true);
    expect(keys.some((k) => k.startsWith('deploy-b:jobs:'))).toBe(true);
    const channels = (await probe.pubsub('CHANNELS', '*')) as string[];
    expect(channels.length).toBeGreaterThan(0);
    expect(channels.filter((c) => !c.startsWith('deploy-a:events:') && !c.startsWith('deploy-b:events:'))).toEqual([]);
  }, 150_000);
});
