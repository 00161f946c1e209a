import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllowList } from '../src/core/outbound.js';
import { CALLBACK_FAILED } from '../src/domain/callbacks.js';
import { createJob, finishJob, transitionJob, type JobInput } from '../src/domain/jobs.js';
import { createTestApp, type Tenant, type TestApp } from './support/app.js';
import { databaseKinds } from './support/db.js';

const MISSING_JOB = 'job-00000000-0000-4000-8000-000000000000';
const JOB = 'id status jobType task metadata progress stopReason completedAt cancelRequestedAt callbackUrl callbackSentAt callbackStatusCode callbackError createdAt updatedAt';

/** A local HTTP receiver: `reply(n)` decides the n-th request's status (1-based) and how long to wait before answering. */
async function receiver(reply: (n: number) => { status: number; delayMs?: number }) {
  const bodies: any[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let data = '';
    req.on('data', (chunk) => (data += chunk));
    req.on('end', () => {
      bodies.push({ ...JSON.parse(data), contentType: req.headers['content-type'] });
      const { status, delayMs = 0 } = reply(bodies.length);
      setTimeout(() => res.writeHead(status).end(), delayMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    bodies,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

describe.each(databaseKinds())('jobs on %s', (kind) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(kind);
    // The receivers below listen on 127.0.0.1, which callbacks reach only when the operator allows it.
    t.callbacks.configure({ attempts: 3, baseDelayMs: 20, maxDelayMs: 100, timeoutMs: 2000, allowPrivate: parseAllowList('127.0.0.1') });
  });
  afterAll(async () => {
    await t.close();
  });

  interface Org extends Tenant {
    job(input?: JobInput): Promise<string>;
  }

  async function org(): Promise<Org> {
    const tenant = await t.tenant();
    return { ...tenant, job: async (input = {}) => (await createJob(tenant.db, tenant.actor, input, t)).id };
  }

  const getJob = async (o: Org, id: string) => (await t.gqlOk(o.apiKey, `query($id: ID!) { job(id: $id) { ${JOB} } }`, { id })).job;
  const cancel = (o: Org, id: string) => t.gql(o.apiKey, `mutation($id: ID!) { cancelJob(id: $id) { job { ${JOB} } } }`, { id });
  const hold = (o: Org, id: string) => o.db.job.update({ where: { id }, data: { status: 'RUNNING', lockedBy: 'worker-1', heartbeatAt: new Date() } });

  it('reads a job with its source and file, and lists jobs with filters, pagination and totalCount', async () => {
    const o = await org();
    const { createSource } = await t.gqlOk(o.apiKey, 'mutation { createSource(input: { name: "kb" }) { source { id } } }');
    const sourceId = createSource.source.id;
    const file = await o.db.file.create({ data: { organizationId: o.organizationId, sourceId, fileName: 'kb/a.txt', originalFileName: 'a.txt' } });
    const fileJob = await o.job({ task: 'file_processing', fileId: file.id, metadata: { source_id: sourceId } });
    const other = await o.job({ jobType: 'RUN' });
    const running = await o.job({ status: 'RUNNING', sourceId });
    await finishJob(o.db, o.actor, running, 'COMPLETED', { progress: { step: 'embedding', done: 3, total: 3 } }, t);

    const read = await t.gqlOk(o.apiKey, `query($id: ID!) { job(id: $id) { ${JOB} source { name } file { fileName } agent { id } } node(id: $id) { ... on Job { task } } }`, { id: fileJob });
    expect(read.job).toMatchObject({ status: 'CREATED', jobType: 'JOB', task: 'file_processing', metadata: { source_id: sourceId }, completedAt: null, source: { name: 'kb' }, file: { fileName: 'a.txt' }, agent: null });
    expect(read.job.id).toMatch(/^job-[0-9a-f-]{36}$/);
    expect(read.node).toEqual({ task: 'file_processing' });
    expect((await getJob(o, running)).progress).toEqual({ step: 'embedding', done: 3, total: 3 });

    const names = (conn: any) => conn.edges.map((e: any) => e.node.id);
    const all = await t.gqlOk(o.apiKey, '{ jobs { totalCount edges { node { id } } } }');
    expect(all.jobs.totalCount).toBe(3);
    expect(names(all.jobs)).toEqual([running, other, fileJob]); // newest first
    const asc = await t.gqlOk(o.apiKey, '{ jobs(order: ASC, first: 2) { edges { node { id } } pageInfo { hasNextPage endCursor } } }');
    expect(names(asc.jobs)).toEqual([fileJob, other]);
    expect(asc.jobs.pageInfo.hasNextPage).toBe(true);
    const next = await t.gqlOk(o.apiKey, 'query($after: String) { jobs(order: ASC, first: 2, after: $after) { edges { node { id } } pageInfo { hasNextPage } } }', { after: asc.jobs.pageInfo.endCursor });
    expect(names(next.jobs)).toEqual([running]);
    expect(next.jobs.pageInfo.hasNextPage).toBe(false);

    const filtered = await t.gqlOk(
      o.apiKey,
      `query($s: ID!) {
        bySource: jobs(sourceId: $s) { totalCount edges { node { id } } }
        byType: jobs(jobType: RUN) { totalCount edges { node { id } } }
        byStatus: jobs(status: [COMPLETED, FAILED]) { totalCount edges { node { id } } }
        active: activeJobs { totalCount edges { node { id } } }
        activeRuns: activeJobs(jobType: RUN) { totalCount }
        activeForSource: activeJobs(sourceId: $s) { edges { node { id } } }
      }`,
      { s: sourceId },
    );
    expect(names(filtered.bySource)).toEqual([running, fileJob]);
    expect(names(filtered.byType)).toEqual([other]);
    expect(names(filtered.byStatus)).toEqual([running]);
    expect(filtered.active.totalCount).toBe(2);
    expect(names(filtered.active)).toEqual([fileJob, other]); // oldest first, as Letta's /jobs/active
    expect(filtered.activeRuns.totalCount).toBe(1);
    expect(names(filtered.activeForSource)).toEqual([fileJob]);
  });

  it('cancels a job nobody holds at once, and leaves a finished job as it is', async () => {
    const o = await org();
    const id = await o.job({ status: 'PENDING' });
    const result = await cancel(o, id);
    expect(result.errors).toBeUndefined();
    expect(result.data.cancelJob.job).toMatchObject({ id, status: 'CANCELLED', stopReason: 'cancelled' });
    expect(result.data.cancelJob.job.completedAt).toMatch(/Z$/);

    const done = await o.job({ status: 'RUNNING' });
    const finished = await finishJob(o.db, o.organizationId, done, 'FAILED', { stopReason: 'error' }, t);
    const again = await cancel(o, done);
    expect(again.data.cancelJob.job).toMatchObject({ status: 'FAILED', stopReason: 'error', cancelRequestedAt: null, completedAt: finished.completedAt!.toISOString() });
    expect(again.data.cancelJob.job.updatedAt).toBe(finished.updatedAt.toISOString());
  });

  it('asks a worker-held job to stop: it keeps running until the worker’s next step ends it CANCELLED', async () => {
    const o = await org();
    const id = await o.job();
    await hold(o, id);
    const result = await cancel(o, id);
    expect(result.data.cancelJob.job).toMatchObject({ status: 'RUNNING', completedAt: null });
    const requestedAt = result.data.cancelJob.job.cancelRequestedAt;
    expect(requestedAt).toMatch(/Z$/);
    // Asking twice keeps the first request.
    expect((await cancel(o, id)).data.cancelJob.job).toMatchObject({ status: 'RUNNING', cancelRequestedAt: requestedAt });

    // The worker reports progress; the report ends the job instead.
    const stopped = await transitionJob(t.db.prisma, o.organizationId, id, 'RUNNING', { progress: { step: 'embedding', done: 1, total: 4 } }, t);
    expect(stopped).toMatchObject({ status: 'CANCELLED', stopReason: 'cancelled', lockedBy: null, heartbeatAt: null });
    expect(stopped.completedAt).toBeInstanceOf(Date);
    expect(await getJob(o, id)).toMatchObject({ status: 'CANCELLED', cancelRequestedAt: requestedAt });
  });

  it('a worker that completes despite a cancel request still completes: the work ended anyway', async () => {
    const o = await org();
    const id = await o.job();
    await hold(o, id);
    await cancel(o, id);
    expect(await finishJob(o.db, o.actor, id, 'COMPLETED', {}, t)).toMatchObject({ status: 'COMPLETED' });
  });

  it('enforces the life cycle: terminal states are final, COMPLETED needs RUNNING, RUNNING may be requeued', async () => {
    const o = await org();
    const id = await o.job();
    await expect(transitionJob(o.db, o.actor, id, 'COMPLETED', {}, t)).rejects.toMatchObject({ code: 'CONFLICT', message: `Job ${id} cannot go from created to completed` });
    expect(await transitionJob(o.db, o.actor, id, 'PENDING', {}, t)).toMatchObject({ status: 'PENDING', completedAt: null });
    expect(await transitionJob(o.db, o.actor, id, 'RUNNING', { lockedBy: 'w1', attempts: 1 }, t)).toMatchObject({ status: 'RUNNING', lockedBy: 'w1', attempts: 1 });
    expect(await transitionJob(o.db, o.actor, id, 'PENDING', { lockedBy: null }, t)).toMatchObject({ status: 'PENDING', lockedBy: null });
    await expect(transitionJob(o.db, o.actor, id, 'CREATED', {}, t)).rejects.toMatchObject({ code: 'CONFLICT' });
    await transitionJob(o.db, o.actor, id, 'RUNNING', {}, t);
    const done = await finishJob(o.db, o.actor, id, 'COMPLETED', {}, t);
    expect(done.completedAt).toBeInstanceOf(Date);
    for (const status of ['RUNNING', 'FAILED', 'COMPLETED', 'CANCELLED'] as const) {
      await expect(transitionJob(o.db, o.actor, id, status, {}, t)).rejects.toMatchObject({ code: 'CONFLICT', message: `Job ${id} already ended completed; its status is final` });
    }
    expect(await getJob(o, id)).toMatchObject({ status: 'COMPLETED', completedAt: done.completedAt!.toISOString() });
    // Any active state can expire.
    expect(await finishJob(o.db, o.actor, await o.job(), 'EXPIRED', {}, t)).toMatchObject({ status: 'EXPIRED' });
  });

  it('deletes a job and returns its last state: an active one is cancelled first, even when held', async () => {
    const o = await org();
    const { createSource } = await t.gqlOk(o.apiKey, 'mutation { createSource(input: { name: "kb" }) { source { id } } }');
    const id = await o.job({ sourceId: createSource.source.id });
    await hold(o, id);
    const del = `mutation($id: ID!) { deleteJob(id: $id) { deletedJobId job { ${JOB} source { name } } } }`;
    const result = await t.gqlOk(o.apiKey, del, { id });
    expect(result.deleteJob).toMatchObject({ deletedJobId: id, job: { id, status: 'CANCELLED', stopReason: 'cancelled', source: { name: 'kb' } } });
    expect(result.deleteJob.job.completedAt).toMatch(/Z$/);
    const gone = await t.gql(o.apiKey, `query($id: ID!) { job(id: $id) { id } }`, { id });
    expect(gone.errors?.[0]).toMatchObject({ message: `Job ${id} not found`, extensions: { code: 'NOT_FOUND' } });
    // The held job's worker finds it gone at its next step.
    await expect(transitionJob(t.db.prisma, o.organizationId, id, 'RUNNING', {}, t)).rejects.toMatchObject({ code: 'NOT_FOUND' });

    const finished = await o.job({ status: 'RUNNING' });
    await finishJob(o.db, o.actor, finished, 'COMPLETED', {}, t);
    expect((await t.gqlOk(o.apiKey, del, { id: finished })).deleteJob.job).toMatchObject({ status: 'COMPLETED', stopReason: null });
    expect((await t.gql(o.apiKey, del, { id: finished })).errors?.[0].extensions?.code).toBe('NOT_FOUND');
    expect((await t.gqlOk(o.apiKey, '{ jobs { totalCount } }')).jobs.totalCount).toBe(0);
  });

  it('rejects invalid callback URLs with BAD_USER_INPUT on callbackUrl, and creates nothing', async () => {
    const o = await org();
    const cases: [string, RegExp][] = [
      ['ftp://example.com/hook', /must use http or https, not ftp/],
      ['not a url', /must be an absolute http\(s\) URL/],
      ['/relative/hook', /must be an absolute http\(s\) URL/],
      ['http://user:secret@example.com/hook', /must not contain a user name or password/],
      [`https://example.com/${'x'.repeat(2100)}`, /at most 2048 characters/],
    ];
    for (const [callbackUrl, message] of cases) {
      await expect(o.job({ callbackUrl })).rejects.toMatchObject({ code: 'BAD_USER_INPUT', message: expect.stringMatching(message), details: { field: 'callbackUrl' } });
    }
    await expect(o.job({ metadata: [1] as never })).rejects.toMatchObject({ code: 'BAD_USER_INPUT', details: { field: 'metadata' } });
    expect((await t.gqlOk(o.apiKey, '{ jobs { totalCount } }')).jobs.totalCount).toBe(0);
    expect((await createJob(o.db, o.actor, { callbackUrl: ' https://example.com/ok ' }, t)).callbackUrl).toBe('https://example.com/ok');
  });

  it('POSTs the job to its callback URL when it ends, retrying until the receiver accepts it', async () => {
    const o = await org();
    const hook = await receiver((n) => ({ status: n <= 2 ? 500 : 200 }));
    try {
      const id = await o.job({ callbackUrl: hook.url, metadata: { k: 'v' } });
      await transitionJob(o.db, o.actor, id, 'RUNNING', {}, t);
      const finished = await finishJob(o.db, o.actor, id, 'COMPLETED', {}, t);
      await t.callbacks.idle();
      expect(hook.bodies).toHaveLength(3);
      for (const body of hook.bodies) {
        expect(body).toMatchObject({
          contentType: 'application/json',
          job_id: id,
          id,
          status: 'completed',
          job_type: 'job',
          metadata: { k: 'v' },
          completed_at: finished.completedAt!.toISOString(),
          callback_url: hook.url,
          callback_sent_at: null,
        });
      }
      const job = await getJob(o, id);
      expect(job).toMatchObject({ status: 'COMPLETED', callbackStatusCode: 200, callbackError: null });
      expect(job.callbackSentAt >= job.completedAt).toBe(true);
    } finally {
      await hook.close();
    }
  });

  it('records a failure, without the receiver\'s status or error, when it keeps failing or cannot be reached; cancelling also calls back', async () => {
    const o = await org();
    const hook = await receiver(() => ({ status: 503 }));
    try {
      const id = await o.job({ callbackUrl: hook.url });
      const result = await cancel(o, id);
      expect(result.data.cancelJob.job).toMatchObject({ status: 'CANCELLED', callbackSentAt: null });
      await t.callbacks.idle();
      expect(hook.bodies.map((b) => b.status)).toEqual(['cancelled', 'cancelled', 'cancelled']);
      expect(await getJob(o, id)).toMatchObject({ callbackStatusCode: null, callbackError: CALLBACK_FAILED });
    } finally {
      await hook.close();
    }
    // The receiver is gone now: nothing answers on its port.
    const id = await o.job({ status: 'RUNNING', callbackUrl: hook.url });
    await finishJob(o.db, o.actor, id, 'FAILED', {}, t);
    await t.callbacks.idle();
    const job = await getJob(o, id);
    expect(job).toMatchObject({ callbackStatusCode: null, callbackError: CALLBACK_FAILED });
    expect(job.callbackSentAt).toMatch(/Z$/);
  });

  it('does not retry a refusal (4xx other than 408/429)', async () => {
    const o = await org();
    const hook = await receiver(() => ({ status: 410 }));
    try {
      const id = await o.job({ status: 'RUNNING', callbackUrl: hook.url });
      await finishJob(o.db, o.actor, id, 'COMPLETED', {}, t);
      await t.callbacks.idle();
      expect(hook.bodies).toHaveLength(1);
      expect(await getJob(o, id)).toMatchObject({ callbackStatusCode: null, callbackError: CALLBACK_FAILED });
    } finally {
      await hook.close();
    }
  });

  it('never makes the transition wait for a slow receiver, and gives up on one slower than the timeout', async () => {
    const o = await org();
    const hook = await receiver((n) => ({ status: 200, delayMs: n === 1 ? 600 : 0 }));
    try {
      const id = await o.job({ status: 'RUNNING', callbackUrl: hook.url });
      const started = Date.now();
      await finishJob(o.db, o.actor, id, 'COMPLETED', {}, t);
      expect(Date.now() - started).toBeLessThan(300);
      await expect.poll(() => hook.bodies.length).toBe(1);
      expect((await getJob(o, id)).callbackSentAt).toBeNull(); // the receiver is still thinking
      await t.callbacks.idle();
      expect(hook.bodies).toHaveLength(1);
      expect(await getJob(o, id)).toMatchObject({ callbackStatusCode: 200, callbackError: null });

      t.callbacks.configure({ timeoutMs: 100 });
      const slow = await receiver(() => ({ status: 200, delayMs: 1000 }));
      try {
        const late = await o.job({ status: 'RUNNING', callbackUrl: slow.url });
        await finishJob(o.db, o.actor, late, 'COMPLETED', {}, t);
        await t.callbacks.idle();
        expect(slow.bodies).toHaveLength(3);
        expect(await getJob(o, late)).toMatchObject({ callbackStatusCode: null, callbackError: CALLBACK_FAILED });
      } finally {
        t.callbacks.configure({ timeoutMs: 2000 });
        await slow.close();
      }
    } finally {
      await hook.close();
    }
  });

  it('keeps organizations apart: another organization’s job behaves exactly like a missing one', async () => {
    const mine = await org();
    const theirs = await org();
    const theirJob = await theirs.job({ status: 'RUNNING' });
    await mine.job();
    for (const id of [theirJob, MISSING_JOB]) {
      const read = await t.gql(mine.apiKey, 'query($id: ID!) { job(id: $id) { id } }', { id });
      expect(read.errors?.[0]).toMatchObject({ message: `Job ${id} not found`, extensions: { code: 'NOT_FOUND' } });
      expect((await t.gqlOk(mine.apiKey, 'query($id: ID!) { node(id: $id) { id } }', { id })).node).toBeNull();
      for (const mutation of ['cancelJob(id: $id) { job { id } }', 'deleteJob(id: $id) { deletedJobId }']) {
        const result = await t.gql(mine.apiKey, `mutation($id: ID!) { ${mutation} }`, { id });
        expect(result.errors?.[0]).toMatchObject({ message: `Job ${id} not found`, extensions: { code: 'NOT_FOUND' } });
      }
      await expect(transitionJob(t.db.prisma, mine.organizationId, id, 'FAILED', {}, t)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    }
    const lists = await t.gqlOk(mine.apiKey, '{ jobs { totalCount edges { node { id } } } activeJobs { totalCount } }');
    expect(lists.jobs.totalCount).toBe(1);
    expect(lists.jobs.edges.map((e: any) => e.node.id)).not.toContain(theirJob);
    expect(lists.activeJobs.totalCount).toBe(1);
    expect(await getJob(theirs, theirJob)).toMatchObject({ status: 'RUNNING', cancelRequestedAt: null });
    // Links to another organization's rows are refused like missing ones.
    const { createSource } = await t.gqlOk(theirs.apiKey, 'mutation { createSource(input: { name: "theirs" }) { source { id } } }');
    await expect(mine.job({ sourceId: createSource.source.id })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('rejects malformed ids with BAD_USER_INPUT naming the argument', async () => {
    const o = await org();
    const cases: [string, string][] = [
      ['{ job(id: "job-123") { id } }', 'id'],
      ['{ job(id: "source-00000000-0000-4000-8000-000000000000") { id } }', 'id'],
      ['mutation { cancelJob(id: "nope") { job { id } } }', 'id'],
      ['mutation { deleteJob(id: "run-00000000-0000-4000-8000-000000000000") { deletedJobId } }', 'id'],
      ['{ jobs(sourceId: "kb") { totalCount } }', 'sourceId'],
      ['{ activeJobs(sourceId: "job-00000000-0000-4000-8000-000000000000") { totalCount } }', 'sourceId'],
    ];
    for (const [query, field] of cases) {
      const result = await t.gql(o.apiKey, query);
      expect(result.errors?.[0].extensions, query).toMatchObject({ code: 'BAD_USER_INPUT', field });
    }
    expect((await t.gql(o.apiKey, '{ jobs(status: [DONE]) { totalCount } }')).errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
  });
});
