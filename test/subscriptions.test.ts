/**
 * Live status subscriptions with real clients over real sockets: graphql-ws's client over a WebSocket and
 * graphql-sse's client over HTTP. State is driven through the domain functions (jobs, runs) and, for files, the
 * way the ingestion pipeline does it (update the File row, publish `fileChange`). Runs on PGlite, on PostgreSQL
 * when DATABASE_URL is set, and each over the in-memory bus and, when REDIS_URL is set, Redis pub/sub.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { fileChange, type EventBus } from '../src/core/events.js';
import { testRedisEvents } from './support/redis.js';
import { createJob, transitionJob } from '../src/domain/jobs.js';
import { deleteFile } from '../src/domain/files.js';
import { finishRun, recordRunStep, startRun } from '../src/domain/runs.js';
import type { Prisma } from '../src/generated/prisma/client.js';
import { createTestApp, type Tenant, type TestApp } from './support/app.js';
import { databaseKinds } from './support/db.js';
import { eventually, rawSocket, sseClient, subscribe, wsClient } from './support/subscriptions.js';

const JOB = `subscription($id: ID!) { jobUpdated(id: $id) { jobId status terminal progress updatedAt job { id status } } }`;
const JOBS = `subscription($sourceId: ID, $jobType: JobType, $status: [JobStatus!]) {
  jobsUpdated(sourceId: $sourceId, jobType: $jobType, status: $status) { jobId status sourceId } }`;
const FILE = `subscription($id: ID!) { fileStatusChanged(fileId: $id) { fileId sourceId status terminal deleted totalChunks chunksEmbedded errorMessage updatedAt } }`;
const SOURCE_FILES = `subscription($id: ID!) { sourceFilesChanged(sourceId: $id) { fileId status deleted totalChunks chunksEmbedded } }`;
const RUN = `subscription($id: ID!) { runUpdated(id: $id) { runId agentId status terminal stepCount totalTokens stopReason run { usage { totalTokens } } } }`;

const buses = (): ('memory' | 'redis')[] => (inject('redisUrl') ? ['memory', 'redis'] : ['memory']);

/** What the ingestion pipeline does at each step: write the File row, then publish its new state. */
async function advanceFile(tenant: Tenant, id: string, data: Prisma.FileUpdateInput, { events }: { events: EventBus }) {
  const file = await tenant.db.file.update({ where: { id }, data });
  events.publish('file', file.organizationId, fileChange(file));
  return file;
}

async function newSource(tenant: Tenant, name = `docs-${Math.random().toString(36).slice(2, 8)}`) {
  return tenant.db.source.create({ data: { organizationId: tenant.organizationId, name, embeddingConfig: {} } });
}

async function newFile(tenant: Tenant, sourceId: string, name = 'a.txt') {
  return tenant.db.file.create({ data: { organizationId: tenant.organizationId, sourceId, fileName: `docs/${name}`, originalFileName: name } });
}

async function newAgent(t: TestApp, key: string) {
  return (await t.gqlOk(key, 'mutation { createAgent(input: { name: "runner" }) { agent { id } } }')).createAgent.agent.id as string;
}

const codes = (result: { errors?: readonly { extensions?: Record<string, unknown> }[] }) => result.errors?.map((e) => e.extensions?.code);

for (const kind of databaseKinds()) {
  for (const bus of buses()) {
    describe(`subscriptions on ${kind}, ${bus} bus`, () => {
      let t: TestApp;
      let url: string;
      let closeBus: () => Promise<void> = async () => {};
      beforeAll(async () => {
        let events: EventBus | undefined;
        if (bus === 'redis') ({ events, close: closeBus } = await testRedisEvents());
        t = await createTestApp(kind, {}, {}, { events });
        url = (await t.app.listen(0)).url;
      });
      afterAll(async () => {
        await t.close();
        await closeBus();
      });

      it('jobUpdated: the current state first, each progress report, then the terminal state, and completes', async () => {
        const a = await t.tenant();
        const job = await createJob(a.db, a.actor, { jobType: 'JOB', task: 'watched' }, t);
        const client = wsClient(url, a.apiKey);
        try {
          const sub = subscribe(client, JOB, { id: job.id });
          await sub.count(1);
          expect(sub.data[0].jobUpdated).toMatchObject({ jobId: job.id, status: 'CREATED', terminal: false, progress: null, job: { id: job.id, status: 'CREATED' } });
          for (let done = 1; done <= 3; done++) {
            await transitionJob(a.db, a.organizationId, job.id, 'RUNNING', { progress: { step: 'embedding', done, total: 3 } }, t);
            await sub.until((s) => s.data.at(-1)?.jobUpdated.progress?.done === done, `progress ${done}`);
          }
          await transitionJob(a.db, a.organizationId, job.id, 'COMPLETED', {}, t);
          await sub.end();
          expect(sub.failure).toBeUndefined();
          expect(sub.completed).toBe(true);
          const seen = sub.data.map((d) => d.jobUpdated);
          expect(seen.map((e) => e.status)).toEqual(['CREATED', 'RUNNING', 'RUNNING', 'RUNNING', 'COMPLETED']);
          expect(seen.at(-1)).toMatchObject({ terminal: true, job: { status: 'COMPLETED' } });
          const times = seen.map((e) => Date.parse(e.updatedAt));
          expect([...times].sort((x, y) => x - y)).toEqual(times);
        } finally {
          await client.dispose();
        }
      });

      it('jobUpdated: a late subscriber gets the terminal state at once, and a reconnecting one the current state', async () => {
        const a = await t.tenant();
        const finished = await createJob(a.db, a.actor, {}, t);
        await transitionJob(a.db, a.actor, finished.id, 'FAILED', { stopReason: 'error' }, t);
        const running = await createJob(a.db, a.actor, { status: 'RUNNING' }, t);

        const first = wsClient(url, a.apiKey);
        const late = subscribe(first, JOB, { id: finished.id });
        await late.end();
        expect(late.completed).toBe(true);
        expect(late.data.map((d) => d.jobUpdated.status)).toEqual(['FAILED']);

        const before = subscribe(first, JOB, { id: running.id });
        await before.count(1);
        await first.dispose(); // the client goes away…
        await transitionJob(a.db, a.actor, running.id, 'RUNNING', { progress: { done: 7, total: 9 } }, t); // …and misses this
        const second = wsClient(url, a.apiKey);
        try {
          const again = subscribe(second, JOB, { id: running.id });
          await again.count(1);
          expect(again.data[0].jobUpdated).toMatchObject({ status: 'RUNNING', progress: { done: 7, total: 9 } });
          await transitionJob(a.db, a.actor, running.id, 'CANCELLED', {}, t);
          await again.end();
          expect(again.data.map((d) => d.jobUpdated.status)).toEqual(['RUNNING', 'CANCELLED']);
        } finally {
          await second.dispose();
        }
      });

      it('runUpdated: steps and tokens as they are recorded, then the final status, and completes', async () => {
        const a = await t.tenant();
        const run = await startRun(a.db, a.actor, { agentId: await newAgent(t, a.apiKey) }, t);
        const client = wsClient(url, a.apiKey);
        try {
          const sub = subscribe(client, RUN, { id: run.id });
          await sub.count(1);
          expect(sub.data[0].runUpdated).toMatchObject({ runId: run.id, status: 'RUNNING', stepCount: 0, totalTokens: 0, terminal: false });
          for (let step = 1; step <= 3; step++) {
            await recordRunStep(a.db, a.actor, run.id, { promptTokens: 10, completionTokens: 5 }, t);
            await sub.until((s) => s.data.at(-1)?.runUpdated.stepCount === step, `step ${step}`);
          }
          await finishRun(a.db, run.id, { status: 'COMPLETED', stopReason: 'end_turn' }, t);
          await sub.end();
          expect(sub.completed).toBe(true);
          const seen = sub.data.map((d) => d.runUpdated);
          expect(seen.map((e) => [e.stepCount, e.totalTokens])).toEqual([[0, 0], [1, 15], [2, 30], [3, 45], [3, 45]]);
          expect(seen.at(-1)).toMatchObject({ status: 'COMPLETED', terminal: true, stopReason: 'end_turn', run: { usage: { totalTokens: 45 } } });
        } finally {
          await client.dispose();
        }
      });

      it('fileStatusChanged: progress as the pipeline reports it, monotonically, then completes; late subscribers see the result', async () => {
        const a = await t.tenant();
        const source = await newSource(a);
        const file = await newFile(a, source.id);
        const client = wsClient(url, a.apiKey);
        try {
          const sub = subscribe(client, FILE, { id: file.id });
          await sub.count(1);
          expect(sub.data[0].fileStatusChanged).toMatchObject({ fileId: file.id, sourceId: source.id, status: 'PENDING', terminal: false, deleted: false });
          await advanceFile(a, file.id, { processingStatus: 'PARSING' }, t);
          await advanceFile(a, file.id, { processingStatus: 'CHUNKING' }, t);
          await advanceFile(a, file.id, { processingStatus: 'EMBEDDING', totalChunks: 4, chunksEmbedded: 0 }, t);
          for (let n = 1; n <= 4; n++) await advanceFile(a, file.id, { chunksEmbedded: n }, t);
          await advanceFile(a, file.id, { processingStatus: 'COMPLETED' }, t);
          await sub.end();
          expect(sub.completed).toBe(true);
          const seen = sub.data.map((d) => d.fileStatusChanged);
          const stage = ['PENDING', 'PARSING', 'CHUNKING', 'EMBEDDING', 'COMPLETED'];
          const ranks = seen.map((e) => stage.indexOf(e.status));
          expect([...ranks].sort((x, y) => x - y)).toEqual(ranks); // never backwards
          const embedded = seen.filter((e) => e.chunksEmbedded !== null).map((e) => e.chunksEmbedded);
          expect([...embedded].sort((x, y) => x - y)).toEqual(embedded);
          expect(seen.at(-1)).toMatchObject({ status: 'COMPLETED', terminal: true, totalChunks: 4, chunksEmbedded: 4 });

          const late = subscribe(client, FILE, { id: file.id });
          await late.end();
          expect(late.data.map((d) => d.fileStatusChanged.status)).toEqual(['COMPLETED']);
        } finally {
          await client.dispose();
        }
      });

      it('fileStatusChanged: an error ends the stream with its message; a deletion ends it too', async () => {
        const a = await t.tenant();
        const source = await newSource(a);
        const failing = await newFile(a, source.id, 'bad.pdf');
        const doomed = await newFile(a, source.id, 'doomed.txt');
        const client = wsClient(url, a.apiKey);
        try {
          const failed = subscribe(client, FILE, { id: failing.id });
          const deleted = subscribe(client, FILE, { id: doomed.id });
          await failed.count(1);
          await deleted.count(1);
          await advanceFile(a, failing.id, { processingStatus: 'ERROR', errorMessage: 'No text could be extracted' }, t);
          await deleteFile(a.db, doomed.id, t);
          await failed.end();
          await deleted.end();
          expect(failed.data.at(-1).fileStatusChanged).toMatchObject({ status: 'ERROR', terminal: true, errorMessage: 'No text could be extracted' });
          expect(deleted.data.at(-1).fileStatusChanged).toMatchObject({ fileId: doomed.id, deleted: true, terminal: true });
          expect(failed.completed && deleted.completed).toBe(true);
        } finally {
          await client.dispose();
        }
      });

      it('sourceFilesChanged: every file’s state first, then changes of the source’s files only, uploads and deletions included', async () => {
        const a = await t.tenant();
        const source = await newSource(a);
        const other = await newSource(a);
        const one = await newFile(a, source.id, 'one.txt');
        const two = await newFile(a, source.id, 'two.txt');
        await advanceFile(a, two.id, { processingStatus: 'COMPLETED', totalChunks: 2, chunksEmbedded: 2 }, t);
        const client = wsClient(url, a.apiKey);
        try {
          const sub = subscribe(client, SOURCE_FILES, { id: source.id });
          await sub.count(2);
          expect(sub.data.map((d) => [d.sourceFilesChanged.fileId, d.sourceFilesChanged.status])).toEqual([
            [one.id, 'PENDING'],
            [two.id, 'COMPLETED'],
          ]);
          const elsewhere = await newFile(a, other.id, 'elsewhere.txt');
          await advanceFile(a, elsewhere.id, { processingStatus: 'PARSING' }, t);
          await advanceFile(a, one.id, { processingStatus: 'EMBEDDING', totalChunks: 3, chunksEmbedded: 1 }, t);
          await sub.until((s) => s.data.at(-1)?.sourceFilesChanged.chunksEmbedded === 1, 'progress of one.txt');
          const three = await newFile(a, source.id, 'three.txt');
          t.events.publish('file', a.organizationId, fileChange(three)); // a new upload is announced
          await sub.until((s) => s.data.at(-1)?.sourceFilesChanged.fileId === three.id, 'the new file');
          await deleteFile(a.db, two.id, t);
          await sub.until((s) => s.data.at(-1)?.sourceFilesChanged.deleted === true, 'the deletion');
          expect(sub.data.at(-1).sourceFilesChanged).toMatchObject({ fileId: two.id, deleted: true });
          expect(sub.completed).toBe(false); // a source's stream stays open
          expect(sub.data.some((d) => d.sourceFilesChanged.fileId === elsewhere.id)).toBe(false);
          sub.dispose();
        } finally {
          await client.dispose();
        }
      });

      it('jobsUpdated: active matching jobs first, then changes that match the filters', async () => {
        const a = await t.tenant();
        const source = await newSource(a);
        const active = await createJob(a.db, a.actor, { sourceId: source.id, status: 'PENDING' }, t);
        const ended = await createJob(a.db, a.actor, { sourceId: source.id, status: 'RUNNING' }, t);
        await transitionJob(a.db, a.actor, ended.id, 'COMPLETED', {}, t);
        const unrelated = await createJob(a.db, a.actor, { status: 'PENDING' }, t);
        const client = wsClient(url, a.apiKey);
        try {
          const all = subscribe(client, JOBS, { sourceId: source.id });
          const finishing = subscribe(client, JOBS, { status: ['COMPLETED', 'FAILED'] });
          await all.count(1);
          expect(all.data.map((d) => d.jobsUpdated)).toEqual([{ jobId: active.id, status: 'PENDING', sourceId: source.id }]);
          await transitionJob(a.db, a.actor, unrelated.id, 'RUNNING', {}, t); // neither stream wants this
          await transitionJob(a.db, a.actor, active.id, 'RUNNING', {}, t);
          await transitionJob(a.db, a.actor, active.id, 'COMPLETED', {}, t);
          await all.until((s) => s.data.at(-1)?.jobsUpdated.status === 'COMPLETED', 'completion');
          await finishing.until((s) => s.results.length >= 1, 'completion');
          expect(all.data.map((d) => d.jobsUpdated.status)).toEqual(['PENDING', 'RUNNING', 'COMPLETED']);
          expect(finishing.data.map((d) => [d.jobsUpdated.jobId, d.jobsUpdated.status])).toEqual([[active.id, 'COMPLETED']]);
          expect(all.completed || finishing.completed).toBe(false);
        } finally {
          await client.dispose();
        }
      });

      it('NOT_FOUND for missing ids and other organizations’ objects, BAD_USER_INPUT for malformed ids', async () => {
        const a = await t.tenant();
        const b = await t.tenant();
        const bSource = await newSource(b);
        const bFile = await newFile(b, bSource.id);
        const bJob = await createJob(b.db, b.actor, {}, t);
        const bRun = await startRun(b.db, b.actor, { agentId: await newAgent(t, b.apiKey) }, t);
        const missing = '00000000-0000-4000-8000-000000000000';
        const client = wsClient(url, a.apiKey);
        const sse = sseClient(url, a.apiKey);
        try {
          const cases: [string, Record<string, unknown>, string][] = [
            [JOB, { id: bJob.id }, 'NOT_FOUND'],
            [JOB, { id: `job-${missing}` }, 'NOT_FOUND'],
            [FILE, { id: bFile.id }, 'NOT_FOUND'],
            [SOURCE_FILES, { id: bSource.id }, 'NOT_FOUND'],
            [JOBS, { sourceId: bSource.id }, 'NOT_FOUND'],
            [RUN, { id: bRun.id }, 'NOT_FOUND'],
            [RUN, { id: `run-${missing}` }, 'NOT_FOUND'],
            [JOB, { id: 'not-an-id' }, 'BAD_USER_INPUT'],
            [FILE, { id: bJob.id }, 'BAD_USER_INPUT'],
          ];
          for (const [query, variables, code] of cases) {
            for (const [transport, c] of [['ws', client], ['sse', sse]] as const) {
              const sub = subscribe(c, query, variables, `${transport} ${JSON.stringify(variables)}`);
              await sub.end();
              expect(sub.failure).toBeUndefined();
              expect(sub.results).toHaveLength(1);
              expect(codes(sub.results[0])).toEqual([code]);
              expect(sub.results[0].data ?? null).toBeNull();
              expect(JSON.stringify(sub.results[0])).not.toContain(b.organizationId);
            }
          }
        } finally {
          await client.dispose();
          sse.dispose();
        }
      });

      it('tenant isolation: one organization’s streams never carry another’s events', async () => {
        const a = await t.tenant();
        const b = await t.tenant();
        const client = wsClient(url, a.apiKey);
        try {
          const jobs = subscribe(client, JOBS, {});
          const aSource = await newSource(a);
          const files = subscribe(client, SOURCE_FILES, { id: aSource.id });
          await eventually(() => t.app.hub.size() >= 2, 'both streams to listen');
          const bSource = await newSource(b);
          const bJob = await createJob(b.db, b.actor, { sourceId: bSource.id, status: 'RUNNING' }, t);
          await transitionJob(b.db, b.actor, bJob.id, 'COMPLETED', {}, t);
          const bFile = await newFile(b, bSource.id);
          // Even an event forged to name A's source travels on B's channel, and A never hears it.
          t.events.publish('file', b.organizationId, { ...fileChange(bFile), sourceId: aSource.id });
          const aJob = await createJob(a.db, a.actor, { status: 'RUNNING' }, t);
          const aFile = await newFile(a, aSource.id);
          await advanceFile(a, aFile.id, { processingStatus: 'PARSING' }, t);
          await jobs.until((s) => s.data.some((d) => d.jobsUpdated.jobId === aJob.id), 'A’s job');
          await files.until((s) => s.data.some((d) => d.sourceFilesChanged.fileId === aFile.id), 'A’s file');
          await new Promise((r) => setTimeout(r, 100));
          expect(jobs.data.map((d) => d.jobsUpdated.jobId)).toEqual([aJob.id]);
          expect(files.data.map((d) => d.sourceFilesChanged.fileId)).toEqual([aFile.id]);
        } finally {
          await client.dispose();
        }
      });

      it('resolving an event reads nothing from the database, however many subscribers', async () => {
        const statements: string[] = [];
        const counted = await createTestApp(kind, { onQuery: (sql) => statements.push(sql) }, {}, { events: t.events }); // the same bus
        try {
          const countedUrl = (await counted.app.listen(0)).url;
          const a = await counted.tenant();
          const source = await newSource(a);
          const file = await newFile(a, source.id);
          const clients = Array.from({ length: 4 }, () => wsClient(countedUrl, a.apiKey));
          const subs = clients.flatMap((c) => Array.from({ length: 5 }, () => subscribe(c, SOURCE_FILES, { id: source.id })));
          await Promise.all(subs.map((s) => s.count(1)));
          statements.length = 0;
          const base = fileChange(file);
          for (let n = 1; n <= 5; n++) {
            counted.events.publish('file', a.organizationId, {
              ...base,
              processingStatus: 'EMBEDDING',
              totalChunks: 5,
              chunksEmbedded: n,
              updatedAt: new Date(file.updatedAt.getTime() + n).toISOString(),
            });
          }
          await Promise.all(subs.map((s) => s.until((x) => x.data.at(-1)?.sourceFilesChanged.chunksEmbedded === 5, 'the last event')));
          expect(statements).toEqual([]);
          await Promise.all(clients.map((c) => c.dispose()));
        } finally {
          await counted.close();
        }
      });

      it('the whole object, when selected, is read once per event for all of one user’s subscribers, never from a stale cache', async () => {
        const statements: string[] = [];
        const counted = await createTestApp(kind, { onQuery: (sql) => statements.push(sql) }, {}, { events: t.events }); // the same bus
        try {
          const countedUrl = (await counted.app.listen(0)).url;
          const a = await counted.tenant();
          const source = await newSource(a);
          const file = await newFile(a, source.id);
          const query = `subscription($id: ID!) { sourceFilesChanged(sourceId: $id) { chunksEmbedded file { fileName source { fileCount } } } }`;
          const clients = Array.from({ length: 2 }, () => wsClient(countedUrl, a.apiKey));
          const subs = clients.flatMap((c) => Array.from({ length: 5 }, () => subscribe(c, query, { id: source.id })));
          await Promise.all(subs.map((s) => s.count(1)));
          expect(subs[0].data[0].sourceFilesChanged.file).toEqual({ fileName: 'a.txt', source: { fileCount: 1 } });

          statements.length = 0;
          await advanceFile(a, file.id, { processingStatus: 'EMBEDDING', totalChunks: 2, chunksEmbedded: 1 }, counted);
          await Promise.all(subs.map((s) => s.count(2)));
          const perEvent = statements.filter((sql) => /"File"/.test(sql) && !/UPDATE/.test(sql)).length;
          expect(perEvent).toBeGreaterThan(0);
          expect(perEvent).toBeLessThanOrEqual(2); // the file, and its source's count: once, not once per subscriber

          // A second event is resolved afresh: the count reflects the file added meanwhile.
          await newFile(a, source.id, 'b.txt');
          await advanceFile(a, file.id, { chunksEmbedded: 2 }, counted);
          await Promise.all(subs.map((s) => s.until((x) => x.data.at(-1)?.sourceFilesChanged.chunksEmbedded === 2, 'the second event')));
          for (const s of subs) expect(s.data.at(-1).sourceFilesChanged.file.source.fileCount).toBe(2);
          await Promise.all(clients.map((c) => c.dispose()));
        } finally {
          await counted.close();
        }
      });

      it('SSE (distinct connections): the same subscriptions through graphql-sse’s client', async () => {
        const a = await t.tenant();
        const job = await createJob(a.db, a.actor, {}, t);
        const sse = sseClient(url, a.apiKey);
        try {
          const sub = subscribe(sse, JOB, { id: job.id }, 'sse');
          await sub.count(1);
          await transitionJob(a.db, a.actor, job.id, 'RUNNING', { progress: { done: 1, total: 2 } }, t);
          await sub.until((s) => s.data.at(-1)?.jobUpdated.status === 'RUNNING', 'RUNNING');
          await transitionJob(a.db, a.actor, job.id, 'COMPLETED', {}, t);
          await sub.end();
          expect(sub.failure).toBeUndefined();
          expect(sub.data.map((d) => d.jobUpdated.status)).toEqual(['CREATED', 'RUNNING', 'COMPLETED']);

          const response = await fetch(`${url}/graphql`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${a.apiKey}` },
            body: JSON.stringify({ query: JOB, variables: { id: job.id } }),
          });
          expect(response.status).toBe(200);
          expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
          const text = await response.text();
          expect(text).toMatch(/event: next\ndata: \{"data":\{"jobUpdated":\{"jobId":"job-/);
          expect(text).toMatch(/event: complete/);
        } finally {
          sse.dispose();
        }
      });

      it('authentication: no key or a wrong key gets nothing over either transport', async () => {
        const a = await t.tenant();
        const job = await createJob(a.db, a.actor, {}, t);
        for (const key of [null, 'qk_wrong']) {
          const sse = sseClient(url, key);
          const viaSse = subscribe(sse, JOB, { id: job.id }, 'sse');
          await viaSse.end();
          expect(viaSse.results).toEqual([]);
          expect((viaSse.failure as { response?: Response }).response?.status).toBe(401);
          sse.dispose();

          let closedWith: number | undefined;
          const ws = wsClient(url, key, { on: { closed: (e) => (closedWith = (e as { code: number }).code) } });
          const viaWs = subscribe(ws, JOB, { id: job.id });
          await viaWs.end();
          expect(viaWs.results).toEqual([]);
          expect(closedWith).toBe(4403);
          await ws.dispose();
        }
      });
    });
  }
}

describe('graphql-ws protocol (PROTOCOL.md)', () => {
  let t: TestApp;
  let url: string;
  let key: string;
  let jobId: string;
  beforeAll(async () => {
    t = await createTestApp('pglite', {}, { WS_CONNECTION_INIT_TIMEOUT_MS: 300, WS_KEEPALIVE_MS: 100 });
    url = (await t.app.listen(0)).url;
    const a = await t.tenant();
    key = a.apiKey;
    jobId = (await createJob(a.db, a.actor, { status: 'RUNNING' }, t)).id;
  });
  afterAll(() => t.close());

  const init = (socket: ReturnType<typeof rawSocket>) => socket.send({ type: 'connection_init', payload: { authorization: `Bearer ${key}` } });
  const subscribeMessage = (id: string) => ({ id, type: 'subscribe', payload: { query: JOB, variables: { id: jobId } } });

  it('4400 Bad Request for a message that is not a valid protocol message', async () => {
    const socket = rawSocket(url);
    await socket.opened;
    init(socket);
    await socket.message((m) => m.type === 'connection_ack');
    socket.send('{"type":"subscribe"'); // not even JSON
    expect(await socket.closed).toEqual({ code: 4400, reason: 'Invalid message received' });
  });

  it('4401 Unauthorized for a subscribe before the connection is acknowledged', async () => {
    const socket = rawSocket(url);
    await socket.opened;
    socket.send(subscribeMessage('1'));
    expect(await socket.closed).toEqual({ code: 4401, reason: 'Unauthorized' });
  });

  it('4403 Forbidden for a connection_init without a valid key', async () => {
    const socket = rawSocket(url);
    await socket.opened;
    socket.send({ type: 'connection_init', payload: { authorization: 'Bearer qk_nope' } });
    expect(await socket.closed).toEqual({ code: 4403, reason: 'Forbidden' });
  });

  it('4408 when no connection_init arrives in time (WS_CONNECTION_INIT_TIMEOUT_MS)', async () => {
    const socket = rawSocket(url);
    await socket.opened;
    const started = Date.now();
    expect(await socket.closed).toEqual({ code: 4408, reason: 'Connection initialisation timeout' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
  });

  it('4409 for a second subscription with an id already in use', async () => {
    const socket = rawSocket(url);
    await socket.opened;
    init(socket);
    await socket.message((m) => m.type === 'connection_ack');
    socket.send(subscribeMessage('same'));
    await socket.message((m) => m.type === 'next' && m.id === 'same');
    socket.send(subscribeMessage('same'));
    expect(await socket.closed).toEqual({ code: 4409, reason: 'Subscriber for same already exists' });
  });

  it('4429 for a second connection_init', async () => {
    const socket = rawSocket(url);
    await socket.opened;
    init(socket);
    await socket.message((m) => m.type === 'connection_ack');
    init(socket);
    expect(await socket.closed).toEqual({ code: 4429, reason: 'Too many initialisation requests' });
  });

  it('4406 for a client that does not speak graphql-transport-ws', async () => {
    const socket = rawSocket(url, { protocol: null });
    await socket.opened;
    expect(await socket.closed).toEqual({ code: 4406, reason: 'Subprotocol not acceptable' });
  });

  it('answers ping with pong (payload echoed), before and after the handshake', async () => {
    const socket = rawSocket(url);
    await socket.opened;
    socket.send({ type: 'ping', payload: { n: 1 } });
    expect(await socket.message((m) => m.type === 'pong')).toEqual({ type: 'pong', payload: { n: 1 } });
    init(socket);
    await socket.message((m) => m.type === 'connection_ack');
    socket.send({ type: 'ping' });
    await eventually(() => socket.messages.filter((m) => m.type === 'pong').length === 2, 'the second pong');
    expect(socket.messages.filter((m) => m.type === 'pong').at(-1)).toEqual({ type: 'pong' });
    socket.socket.close(1000);
  });

  it('keep-alive: pings every WS_KEEPALIVE_MS and drops a client that stops answering', async () => {
    const alive = rawSocket(url);
    const silent = rawSocket(url, { autoPong: false });
    await Promise.all([alive.opened, silent.opened]);
    init(alive);
    init(silent);
    await alive.message((m) => m.type === 'connection_ack');
    const closed = await silent.closed;
    expect(closed.code).toBe(1006); // terminated, no close frame
    expect(silent.pings()).toBeGreaterThanOrEqual(1);
    await new Promise((r) => setTimeout(r, 350));
    expect(alive.pings()).toBeGreaterThanOrEqual(3);
    expect(alive.socket.readyState).toBe(alive.socket.OPEN);
    alive.socket.close(1000);
  });

  it('a query that does not parse is an error message, and the socket stays open', async () => {
    const socket = rawSocket(url);
    await socket.opened;
    init(socket);
    await socket.message((m) => m.type === 'connection_ack');
    socket.send({ id: 'bad', type: 'subscribe', payload: { query: 'subscription {' } });
    const error = await socket.message((m) => m.type === 'error');
    expect(error.payload[0].extensions.code).toBe('BAD_USER_INPUT');
    socket.send({ type: 'ping' });
    await socket.message((m) => m.type === 'pong');
    expect(socket.socket.readyState).toBe(socket.socket.OPEN);
    socket.socket.close(1000);
  });
});

describe('subscription limits', () => {
  let t: TestApp;
  let url: string;
  beforeAll(async () => {
    t = await createTestApp('pglite', {}, { SUBSCRIPTIONS_PER_CONNECTION: 2, SUBSCRIPTIONS_PER_ORGANIZATION: 3 });
    url = (await t.app.listen(0)).url;
  });
  afterAll(() => t.close());

  it('refuses past the per-connection and per-organization limits with RATE_LIMITED, and frees places as streams end', async () => {
    const a = await t.tenant();
    const b = await t.tenant();
    const jobs = await Promise.all(Array.from({ length: 5 }, () => createJob(a.db, a.actor, { status: 'RUNNING' }, t)));
    const bJob = await createJob(b.db, b.actor, { status: 'RUNNING' }, t);
    const one = wsClient(url, a.apiKey);
    const two = wsClient(url, a.apiKey);
    const other = wsClient(url, b.apiKey);
    const sse = sseClient(url, a.apiKey);
    try {
      const s1 = subscribe(one, JOB, { id: jobs[0].id });
      const s2 = subscribe(one, JOB, { id: jobs[1].id });
      await Promise.all([s1.count(1), s2.count(1)]);
      const s3 = subscribe(one, JOB, { id: jobs[2].id });
      await s3.end();
      expect(s3.results[0].errors?.[0]).toMatchObject({
        message: 'At most 2 subscriptions may be open on one connection',
        extensions: { code: 'RATE_LIMITED', limit: 'connection', max: 2 },
      });

      const s4 = subscribe(two, JOB, { id: jobs[2].id });
      await s4.count(1); // the organization's third
      const s5 = subscribe(two, JOB, { id: jobs[3].id });
      await s5.end();
      expect(s5.results[0].errors?.[0].extensions).toEqual({ code: 'RATE_LIMITED', limit: 'organization', max: 3 });
      const viaSse = subscribe(sse, JOB, { id: jobs[3].id }, 'sse');
      await viaSse.end();
      expect(codes(viaSse.results[0])).toEqual(['RATE_LIMITED']);

      // Another organization has its own allowance.
      const bSub = subscribe(other, JOB, { id: bJob.id });
      await bSub.count(1);
      expect(bSub.results[0].errors).toBeUndefined();

      // A stream that ends (terminal state) frees its place, and so does a client that unsubscribes.
      await transitionJob(a.db, a.actor, jobs[0].id, 'COMPLETED', {}, t);
      await s1.end();
      const s6 = subscribe(two, JOB, { id: jobs[3].id });
      await s6.count(1);
      expect(s6.results[0].errors).toBeUndefined();
      s2.dispose();
      await eventually(async () => {
        const probe = subscribe(one, JOB, { id: jobs[4].id });
        await probe.count(1);
        if (probe.results[0].errors) return false;
        probe.dispose();
        return true;
      }, 'the place freed by the unsubscribe');
      // And so does an SSE client that disconnects.
      s4.dispose();
      s6.dispose();
      const held = subscribe(sse, JOB, { id: jobs[4].id }, 'sse');
      await held.count(1);
      expect(held.results[0].errors).toBeUndefined();
      held.dispose();
      await eventually(async () => {
        const probe = subscribe(two, JOB, { id: jobs[4].id });
        await probe.count(1);
        if (probe.results[0].errors) return false;
        probe.dispose();
        return true;
      }, 'the place freed by the SSE client');
    } finally {
      await Promise.all([one.dispose(), two.dispose(), other.dispose()]);
      sse.dispose();
    }
  });
});

describe('graceful shutdown', () => {
  it('completes open subscriptions (graphql-ws and SSE) before closing their connections', async () => {
    const t = await createTestApp('pglite');
    let wsClosed: number | undefined;
    try {
      const url = (await t.app.listen(0)).url;
      const a = await t.tenant();
      const job = await createJob(a.db, a.actor, { status: 'RUNNING' }, t);
      const source = await newSource(a);
      const ws = wsClient(url, a.apiKey, { on: { closed: (e) => (wsClosed = (e as { code: number }).code) } });
      const sse = sseClient(url, a.apiKey);
      const subs = [subscribe(ws, JOB, { id: job.id }), subscribe(ws, SOURCE_FILES, { id: source.id }), subscribe(sse, JOB, { id: job.id }, 'sse')];
      await subs[0].count(1);
      await subs[2].count(1);
      await eventually(() => t.app.hub.size() >= 3, 'all three streams to listen');
      const stopped = t.app.stop();
      await Promise.all(subs.map((s) => s.end()));
      for (const s of subs) {
        expect(s.failure).toBeUndefined();
        expect(s.completed).toBe(true);
      }
      await stopped;
      await eventually(() => wsClosed !== undefined, 'the socket to close');
      expect(wsClosed).toBe(1001);
      expect(t.app.hub.size()).toBe(0);
      sse.dispose();
    } finally {
      await t.close();
    }
  });
});
