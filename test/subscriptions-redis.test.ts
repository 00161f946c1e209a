/**
 * Fan-out across processes through Redis: this test process (domain functions + an in-process server A) and a
 * second Quarry process B started as `npm start` does, both on the same PostgreSQL and Redis. A change made in
 * either process reaches subscribers on the other. Needs DATABASE_URL and REDIS_URL (CI sets both).
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { fileChange } from '../src/core/events.js';
import { EventHub } from '../src/core/live.js';
import { createJob, transitionJob } from '../src/domain/jobs.js';
import { createTestApp, type Tenant, type TestApp } from './support/app.js';
import { testPostgresUrl } from './support/db.js';
import { startQuarry, type QuarryProcess } from './support/process.js';
import { testRedis, testRedisEvents } from './support/redis.js';
import { sseClient, subscribe, wsClient, type Sink } from './support/subscriptions.js';

const postgresUrl = inject('postgresUrl');
const redisUrl = inject('redisUrl');

describe.skipIf(!redisUrl)('the Redis bus', () => {
  it('a stream listens only once Redis has confirmed the channel, one channel per organization however many streams', async () => {
    const redis = testRedis();
    const { events, close: closeBus } = await testRedisEvents(redis);
    const hub = new EventHub(events);
    const probe = new Redis(redisUrl!);
    try {
      const organizationId = `org-${randomUUID()}`;
      const channel = `${redis.prefix}:events:file:${organizationId}`;
      const received: unknown[] = [];
      // With Redis paused, the SUBSCRIBE is sent but not yet answered: listening must wait for the answer.
      await probe.call('CLIENT', 'PAUSE', '300', 'ALL');
      const started = performance.now();
      const removers = await Promise.all(Array.from({ length: 3 }, () => hub.listen('file', organizationId, (c) => received.push(c))));
      expect(performance.now() - started).toBeGreaterThanOrEqual(250);
      // Resolved means subscribed: Redis already counts the subscriber, so nothing published from now on is missed.
      expect(await probe.pubsub('NUMSUB', channel)).toEqual([channel, 1]);
      await probe.publish(channel, JSON.stringify({ id: 'file-x' }));
      await new Promise((r) => setTimeout(r, 100));
      expect(received).toHaveLength(3);
      for (const remove of removers) remove();
      await new Promise((r) => setTimeout(r, 100));
      expect(await probe.pubsub('NUMSUB', channel)).toEqual([channel, 0]);
    } finally {
      probe.disconnect();
      await closeBus();
    }
  });

  it('after a lost Redis connection, open streams re-read the state whose events they may have missed', async () => {
    const { events, close: closeBus } = await testRedisEvents();
    const probe = new Redis(redisUrl!);
    const t = await createTestApp('pglite', {}, {}, { workers: false, events });
    try {
      const url = (await t.app.listen(0)).url;
      const a = await t.tenant();
      const job = await createJob(a.db, a.actor, { status: 'RUNNING' }, t);
      const client = wsClient(url, a.apiKey);
      const sub = subscribe(client, 'subscription($id: ID!) { jobUpdated(id: $id) { status } }', { id: job.id });
      await sub.count(1);
      // The job ends and its event is lost (never published here), then this process's subscriber connection drops.
      await a.db.job.update({ where: { id: job.id }, data: { status: 'COMPLETED', completedAt: new Date() } });
      const clients = String(await probe.call('CLIENT', 'LIST', 'TYPE', 'pubsub')).split('\n');
      const ours = clients.find((line) => line.includes(` name=quarry-events-sub-${process.pid} `));
      expect(ours).toBeDefined();
      await probe.call('CLIENT', 'KILL', 'ID', /\bid=(\d+)/.exec(ours!)![1]);
      await sub.end();
      expect(sub.data.map((d) => d.jobUpdated.status)).toEqual(['RUNNING', 'COMPLETED']);
      await client.dispose();
    } finally {
      await t.close();
      probe.disconnect();
      await closeBus();
    }
  });
});

describe.skipIf(!postgresUrl || !redisUrl)('subscriptions across processes (PostgreSQL + Redis)', () => {
  let a: TestApp;
  let aUrl: string;
  let b: QuarryProcess;
  let tenant: Tenant;
  let closeBus: () => Promise<void>;

  beforeAll(async () => {
    const redis = testRedis();
    const bus = await testRedisEvents(redis);
    closeBus = bus.close;
    a = await createTestApp('postgres', {}, {}, { workers: false, events: bus.events });
    aUrl = (await a.app.listen(0)).url;
    // The database the in-process app serves (this worker's).
    b = await startQuarry({ DATABASE_URL: testPostgresUrl(), REDIS_URL: redisUrl!, REDIS_PREFIX: redis.prefix, RUN_WORKERS: 'false', MIGRATE_ON_START: 'false' });
    tenant = await a.tenant();
  });
  afterAll(async () => {
    const code = await b?.stop();
    await a?.close();
    await closeBus?.();
    expect(code).toBe(0);
  });

  it('a file’s progress published here reaches a subscriber on the other process, monotonically, to completion', async () => {
    const source = await tenant.db.source.create({ data: { organizationId: tenant.organizationId, name: 'fanout', embeddingConfig: {} } });
    const file = await tenant.db.file.create({ data: { organizationId: tenant.organizationId, sourceId: source.id, fileName: 'fanout/a.txt', originalFileName: 'a.txt' } });
    const onB = wsClient(b.url, tenant.apiKey);
    const onA = wsClient(aUrl, tenant.apiKey);
    try {
      const query = 'subscription($id: ID!) { fileStatusChanged(fileId: $id) { status chunksEmbedded totalChunks } }';
      const remote = subscribe(onB, query, { id: file.id }, 'on B');
      const local = subscribe(onA, query, { id: file.id }, 'on A');
      await Promise.all([remote.count(1), local.count(1)]);
      const step = async (data: Parameters<typeof tenant.db.file.update>[0]['data']) => {
        const row = await tenant.db.file.update({ where: { id: file.id }, data });
        a.events.publish('file', row.organizationId, fileChange(row));
      };
      await step({ processingStatus: 'EMBEDDING', totalChunks: 20, chunksEmbedded: 0 });
      for (let n = 1; n <= 20; n++) await step({ chunksEmbedded: n });
      await step({ processingStatus: 'COMPLETED' });
      for (const sub of [remote, local]) {
        await sub.end();
        expect(sub.completed).toBe(true);
        const embedded = sub.data.map((d) => d.fileStatusChanged.chunksEmbedded ?? -1);
        expect([...embedded].sort((x, y) => x - y)).toEqual(embedded);
        expect(sub.data.at(-1).fileStatusChanged).toEqual({ status: 'COMPLETED', chunksEmbedded: 20, totalChunks: 20 });
      }
    } finally {
      await Promise.all([onA.dispose(), onB.dispose()]);
    }
  });

  it('a mutation on one process reaches subscribers on the other, over graphql-ws and SSE', async () => {
    const agent = await a.gqlOk(tenant.apiKey, 'mutation { createAgent(input: { name: "fanout" }) { agent { id } } }');
    const started = await a.gqlOk(tenant.apiKey, 'mutation($a: ID!) { startRun(input: { agentId: $a }) { run { id } } }', { a: agent.createAgent.agent.id });
    const runId = started.startRun.run.id as string;
    const job = await createJob(tenant.db, tenant.actor, { status: 'RUNNING' }, a);
    const ws = wsClient(aUrl, tenant.apiKey);
    const sse = sseClient(b.url, tenant.apiKey);
    try {
      const run = subscribe(ws, 'subscription($id: ID!) { runUpdated(id: $id) { status stepCount } }', { id: runId }, 'run on A');
      const jobs = subscribe(sse, 'subscription($id: ID!) { jobUpdated(id: $id) { status } }', { id: job.id }, 'job on B (SSE)');
      await Promise.all([run.count(1), jobs.count(1)]);
      // Steps recorded through process B's API reach the subscriber on A.
      const onB = async (query: string, variables: object) => {
        const response = await fetch(`${b.url}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${tenant.apiKey}` },
          body: JSON.stringify({ query, variables }),
        });
        const body = await response.json();
        expect(body.errors).toBeUndefined();
      };
      await onB('mutation($r: ID!) { recordRunStep(input: { runId: $r, promptTokens: 3 }) { step { seq } } }', { r: runId });
      await onB('mutation($r: ID!) { finishRun(input: { runId: $r, status: COMPLETED }) { run { status } } }', { r: runId });
      await run.end();
      expect(run.data.map((d) => d.runUpdated)).toEqual([
        { status: 'RUNNING', stepCount: 0 },
        { status: 'RUNNING', stepCount: 1 },
        { status: 'COMPLETED', stepCount: 1 },
      ]);
      // A job cancelled through process A's API reaches the SSE subscriber on B.
      await a.gqlOk(tenant.apiKey, 'mutation($id: ID!) { cancelJob(id: $id) { job { status } } }', { id: job.id });
      await jobs.end();
      expect(jobs.failure).toBeUndefined();
      expect(jobs.data.map((d) => d.jobUpdated.status)).toEqual(['RUNNING', 'CANCELLED']);
    } finally {
      await ws.dispose();
      sse.dispose();
    }
  });

  it('subscribing while changes are being published loses nothing: every subscriber ends on the final state', async () => {
    const job = await createJob(tenant.db, tenant.actor, { status: 'RUNNING' }, a);
    const clients = [wsClient(b.url, tenant.apiKey), wsClient(aUrl, tenant.apiKey)];
    try {
      const query = 'subscription($id: ID!) { jobUpdated(id: $id) { status progress } }';
      const subs: Sink[] = [];
      // Subscriptions open at staggered moments during a burst of progress reports, then the job completes.
      for (let done = 1; done <= 30; done++) {
        if (done % 3 === 0) for (const c of clients) subs.push(subscribe(c, query, { id: job.id }));
        await transitionJob(tenant.db, tenant.actor, job.id, 'RUNNING', { progress: { done, total: 30 } }, a);
      }
      await transitionJob(tenant.db, tenant.actor, job.id, 'COMPLETED', {}, a);
      for (const sub of subs) {
        await sub.end();
        expect(sub.failure).toBeUndefined();
        const seen = sub.data.map((d) => d.jobUpdated);
        expect(seen.at(-1).status).toBe('COMPLETED');
        const done = seen.filter((e) => e.status === 'RUNNING').map((e) => e.progress?.done ?? 0);
        expect([...done].sort((x, y) => x - y)).toEqual(done);
      }
    } finally {
      await Promise.all(clients.map((c) => c.dispose()));
    }
  });
});
