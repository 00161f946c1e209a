import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/core/config.js';
import { createLogger } from '../src/core/logger.js';
import { parseAllowList } from '../src/core/outbound.js';
import { CALLBACK_FAILED, CALLBACK_REFUSED, CallbackSweeper, createCallbacks, type CallbackOptions } from '../src/domain/callbacks.js';
import { createJob, finishJob } from '../src/domain/jobs.js';
import { createTestApp, type Tenant, type TestApp } from './support/app.js';
import { databaseKinds, openTestDatabase } from './support/db.js';
import { gqlOver } from './support/graphql.js';
import { startQuarry, type QuarryProcess } from './support/process.js';
import { multipartBody, rawRequest } from './support/rest.js';
import { uploadOne } from './support/upload.js';
import { until } from './support/wait.js';

const LOOPBACK = parseAllowList('127.0.0.1');
const FAST: Partial<CallbackOptions> = { attempts: 4, baseDelayMs: 40, maxDelayMs: 200, timeoutMs: 2000, allowPrivate: LOOPBACK, leaseMs: 300, sweepMs: 100 };

/** A local receiver: `status(n)` answers the n-th request (1-based); it records each body and when it came. */
async function receiver(status: (n: number) => number = () => 200, port = 0) {
  const hits: { at: number; body: any }[] = [];
  const server = createServer((req, res) => {
    let data = '';
    req.on('data', (chunk) => (data += chunk));
    req.on('end', () => {
      hits.push({ at: Date.now(), body: JSON.parse(data) });
      res.writeHead(status(hits.length)).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  return { url, hits, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

describe.each(databaseKinds())('durable callbacks on %s', (kind) => {
  let t: TestApp;
  let url: string;
  beforeAll(async () => {
    t = await createTestApp(kind, {}, {}, { callbacks: FAST });
    ({ url } = await t.app.listen());
  });
  afterAll(async () => {
    await t.close();
  });

  const deliveries = (o: Tenant, jobId: string) =>
    o.db.callbackDelivery.findMany({ where: { jobId }, select: { status: true, attempts: true, lastError: true, lastStatusCode: true, lockedBy: true, nextAttemptAt: true } });
  const ended = async (o: Tenant, jobId: string) => {
    const rows = await deliveries(o, jobId);
    return rows.length > 0 && rows.every((d) => d.status !== 'PENDING');
  };

  it('a delivery pending when the process stops is delivered by the next one', async () => {
    const o = await t.tenant();
    let down = true;
    const hook = await receiver(() => (down ? 503 : 200));
    const next = createCallbacks(FAST); // the next process's sweeper
    try {
      // A long wait before the retry: the process stops during it.
      t.callbacks.configure({ ...FAST, baseDelayMs: 60_000, maxDelayMs: 60_000 });
      const job = await createJob(o.db, o.actor, { status: 'RUNNING', callbackUrl: hook.url }, t);
      await finishJob(o.db, o.actor, job.id, 'COMPLETED', {}, t);
      await until(() => Promise.resolve(hook.hits.length), (n) => n === 1);
      const started = Date.now();
      await t.callbacks.stop(); // as at shutdown: the wait is interrupted, the row released
      expect(Date.now() - started).toBeLessThan(2000);
      expect(await deliveries(o, job.id)).toEqual([expect.objectContaining({ status: 'PENDING', attempts: 1, lastError: CALLBACK_FAILED, lockedBy: null })]);

      // The next process (a new sweeper on the same database) takes it up and delivers it.
      down = false;
      t.callbacks.configure(FAST);
      next.start(t.db.prisma);
      await until(() => deliveries(o, job.id), (rows) => rows[0]?.status === 'DELIVERED', 10_000);
      expect(await deliveries(o, job.id)).toEqual([expect.objectContaining({ status: 'DELIVERED', attempts: 2, lastError: null, lastStatusCode: 200, lockedBy: null })]);
      expect(hook.hits.map((h) => h.body)).toEqual([expect.objectContaining({ job_id: job.id, status: 'completed' }), expect.objectContaining({ job_id: job.id, status: 'completed' })]);
      const recorded = await o.db.job.findUniqueOrThrow({ where: { id: job.id } });
      expect(recorded).toMatchObject({ callbackStatusCode: 200, callbackError: null });
    } finally {
      await next.stop();
      t.callbacks.configure(FAST);
      await hook.close();
    }
  });

  it('retries with growing waits, recording each attempt, and records a refused address as refused', async () => {
    const o = await t.tenant();
    const hook = await receiver((n) => (n <= 2 ? 500 : 200));
    try {
      const job = await createJob(o.db, o.actor, { status: 'RUNNING', callbackUrl: hook.url }, t);
      await finishJob(o.db, o.actor, job.id, 'FAILED', {}, t);
      await t.callbacks.idle();
      expect(hook.hits).toHaveLength(3);
      const [first, second, third] = hook.hits.map((h) => h.at);
      // Backoff with jitter: 40 ms doubling, each wait at least half its step.
      expect(second - first).toBeGreaterThanOrEqual(20);
      expect(third - second).toBeGreaterThanOrEqual(40);
      expect(await deliveries(o, job.id)).toEqual([expect.objectContaining({ status: 'DELIVERED', attempts: 3, lastStatusCode: 200 })]);

      t.callbacks.configure({ ...FAST, allowPrivate: [] });
      const refused = await createJob(o.db, o.actor, { status: 'RUNNING', callbackUrl: hook.url }, t);
      await finishJob(o.db, o.actor, refused.id, 'COMPLETED', {}, t);
      await t.callbacks.idle();
      expect(hook.hits).toHaveLength(3); // nothing sent
      expect(await deliveries(o, refused.id)).toEqual([expect.objectContaining({ status: 'REFUSED', attempts: 1, lastError: CALLBACK_REFUSED, lastStatusCode: null })]);
      expect(await o.db.job.findUniqueOrThrow({ where: { id: refused.id } })).toMatchObject({ callbackError: CALLBACK_REFUSED });
    } finally {
      t.callbacks.configure(FAST);
      await hook.close();
    }
  });

  it('calls back for file jobs: uploads (GraphQL and REST), reprocessing and re-embedding', async () => {
    const o = await t.tenant();
    const hook = await receiver();
    try {
      const sourceId = (await t.gqlOk(o.apiKey, 'mutation { createSource(input: { name: "hooked" }) { source { id } } }')).createSource.source.id;
      const up = await uploadOne(url, o.apiKey, sourceId, { name: 'a.txt', content: 'alpha beta gamma', type: 'text/plain' }, { callbackUrl: hook.url } as never);
      expect(up.errors).toBeUndefined();
      const jobId = up.data.uploadFile.job.id;
      const fileId = up.data.uploadFile.file.id;
      await until(() => ended(o, jobId), Boolean, 15_000);
      expect(hook.hits.map((h) => h.body)).toEqual([expect.objectContaining({ job_id: jobId, status: 'completed', file_id: fileId, source_id: sourceId })]);

      const form = multipartBody([{ name: 'file', filename: 'b.txt', type: 'text/plain', content: 'delta epsilon' }]);
      const rest = await rawRequest(url, {
        method: 'POST',
        path: `/v1/sources/${sourceId}/upload?callback_url=${encodeURIComponent(hook.url)}`,
        headers: { authorization: `Bearer ${o.apiKey}`, 'content-type': form.contentType },
        body: form.body,
      });
      expect(rest.status).toBe(200);
      await until(() => Promise.resolve(hook.hits.length), (n) => n === 2, 15_000);
      expect(hook.hits[1].body).toMatchObject({ status: 'completed', file_id: rest.body.id });

      const again = await t.gqlOk(o.apiKey, 'mutation($id: ID!, $u: String) { reprocessFile(id: $id, callbackUrl: $u) { job { id } } }', { id: fileId, u: hook.url });
      await until(() => ended(o, again.reprocessFile.job.id), Boolean, 15_000);
      expect(hook.hits[2].body).toMatchObject({ job_id: again.reprocessFile.job.id, status: 'completed', file_id: fileId });

      await t.gqlOk(o.apiKey, 'mutation($id: ID!, $u: String) { updateSource(id: $id, input: { embeddingChunkSize: 64, callbackUrl: $u }) { source { id } } }', { id: sourceId, u: hook.url });
      await until(() => Promise.resolve(hook.hits.length), (n) => n === 5, 15_000);
      expect(hook.hits.slice(3).map((h) => h.body.file_id).sort()).toEqual([fileId, rest.body.id].sort());

      const bad = await t.gql(o.apiKey, 'mutation($id: ID!) { reprocessFile(id: $id, callbackUrl: "ftp://x") { job { id } } }', { id: fileId });
      expect(bad.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'callbackUrl' });
    } finally {
      await hook.close();
    }
  });

  it('two processes sweeping at once send each pending delivery once', async () => {
    const o = await t.tenant();
    const hook = await receiver();
    const sweepers = [new CallbackSweeper({ ...(FAST as CallbackOptions) }), new CallbackSweeper({ ...(FAST as CallbackOptions) })];
    try {
      const ids: string[] = [];
      for (let i = 0; i < 12; i++) ids.push((await createJob(o.db, o.actor, { status: 'RUNNING', callbackUrl: `${hook.url}?n=${i}` }, t)).id);
      // Ended while their process was gone: the claims written by a process that died (lapsed leases).
      await o.db.job.updateMany({ where: { id: { in: ids } }, data: { status: 'COMPLETED', completedAt: new Date() } });
      await o.db.callbackDelivery.updateMany({ where: { jobId: { in: ids } }, data: { lockedBy: 'dead', lockedUntil: new Date(Date.now() - 1000) } });
      for (const s of sweepers) s.start(t.db.prisma);
      await Promise.all(sweepers.map((s) => s.sweep()));
      await until(() => Promise.resolve(hook.hits.length), (n) => n >= ids.length, 10_000);
      await Promise.all(sweepers.map((s) => s.idle()));
      expect(hook.hits.map((h) => h.body.job_id).sort()).toEqual([...ids].sort());
      const rows = await o.db.callbackDelivery.findMany({ where: { jobId: { in: ids } } });
      expect(rows.every((r) => r.status === 'DELIVERED' && r.attempts === 1)).toBe(true);
    } finally {
      await Promise.all(sweepers.map((s) => s.stop()));
      await hook.close();
    }
  });
});

describe('callback settings', () => {
  const load = (env: Record<string, string>) => loadConfig(env, '/nonexistent/.env');
  it('refuses a claim (CALLBACK_LEASE_MS) no longer than one delivery may take (CALLBACK_TIMEOUT_MS), naming both', () => {
    expect(load({ CALLBACK_TIMEOUT_MS: '2000', CALLBACK_LEASE_MS: '2001' })).toMatchObject({ CALLBACK_LEASE_MS: 2001 });
    for (const lease of ['2000', '1000']) {
      expect(() => load({ CALLBACK_TIMEOUT_MS: '2000', CALLBACK_LEASE_MS: lease })).toThrow(/CALLBACK_LEASE_MS: must be longer than CALLBACK_TIMEOUT_MS/);
    }
    expect(() => load({ CALLBACK_TIMEOUT_MS: '90000' })).toThrow(/CALLBACK_LEASE_MS: must be longer than CALLBACK_TIMEOUT_MS/);
  });
});

describe('a callback sweeper on a database it cannot use', () => {
  it('logs the failed pass and keeps the process alive (a worker started before its migrations once died of this)', async () => {
    const db = await openTestDatabase('pglite'); // a private copy: dropping its table touches nobody else
    await db.prisma.$executeRawUnsafe('DROP TABLE "CallbackDelivery" CASCADE');
    const lines: string[] = [];
    const log = createLogger('error', new Writable({ write: (chunk, _encoding, done) => (lines.push(String(chunk)), done()) }));
    const sweeper = new CallbackSweeper({ ...(FAST as CallbackOptions), log });
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      sweeper.start(db.prisma); // its first pass runs at once, unawaited, as in a starting process
      await expect(sweeper.sweep()).resolves.toBeUndefined();
      await until(() => Promise.resolve(lines.length), (n) => n >= 2);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(unhandled).toEqual([]);
      expect(lines[0]).toMatch(/callback deliveries could not be claimed or recorded/);
      expect(lines[0]).toMatch(/CallbackDelivery/);
    } finally {
      process.off('unhandledRejection', onUnhandled);
      await sweeper.stop();
      await db.close();
    }
  });
});

describe('durable callbacks across whole processes', () => {
  const procs: QuarryProcess[] = [];
  afterAll(() => {
    for (const p of procs) p.child.kill('SIGKILL');
  });

  it('a job ending while its receiver is down is called back by the next process on the same data folder', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'quarry-callback-'));
    const key = `qk_test_${randomBytes(12).toString('hex')}`;
    // A port nothing listens on yet: the receiver is down until it starts there.
    const probe = await receiver();
    await probe.close();
    const hookUrl = probe.url;
    const env = { DATA_DIR: dataDir, QUARRY_API_KEY: key, CALLBACK_ALLOW_PRIVATE: '127.0.0.1/32', CALLBACK_SWEEP_MS: '100', CALLBACK_LEASE_MS: '10000', CALLBACK_TIMEOUT_MS: '2000' };
    const call = (url: string, query: string, variables?: object) => gqlOver(url, key, query, variables);
    const JOB = 'query($id: ID!) { job(id: $id) { status callbackUrl callbackStatusCode callbackError } }';
    let hook: Awaited<ReturnType<typeof receiver>> | undefined;
    try {
      const first = await startQuarry(env);
      procs.push(first);
      const source = (await call(first.url, 'mutation { createSource(input: { name: "hooked" }) { source { id } } }')).createSource.source.id;
      const up = await uploadOne(first.url, key, source, { name: 'a.txt', content: 'granite and gneiss' }, { callbackUrl: hookUrl });
      expect(up.errors).toBeUndefined();
      const jobId = up.data.uploadFile.job.id as string;
      await until(() => call(first.url, JOB, { id: jobId }), (d) => d.job.status === 'COMPLETED', 30_000);
      // The first process tried and failed (nothing listens), then stops while waiting to retry.
      await until(async () => first.stdout(), (out) => out.includes('"msg":"callback not delivered"'), 30_000);
      expect(await first.stop()).toBe(0);

      hook = await receiver(() => 200, Number(new URL(hookUrl).port));
      const second = await startQuarry(env);
      procs.push(second);
      const { job } = await until(() => call(second.url, JOB, { id: jobId }), (d) => d.job.callbackStatusCode === 200, 30_000);
      expect(job).toMatchObject({ status: 'COMPLETED', callbackUrl: hookUrl, callbackError: null });
      expect(hook.hits.map((h) => h.body)).toEqual([expect.objectContaining({ job_id: jobId, status: 'completed' })]);
      expect(await second.stop()).toBe(0);
    } finally {
      await hook?.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 180_000);
});

