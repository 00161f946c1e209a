import { Writable } from 'node:stream';
import { renderGraphiQL as yogaDefaultGraphiQL } from 'graphql-yoga';
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createLogger } from '../src/core/logger.js';
import { Metrics } from '../src/core/metrics.js';
import { serveMetrics } from '../src/core/observability.js';
import { createTestApp, type TestApp } from './support/app.js';
import { openPostgres } from '../src/core/db/index.js';
import { migrateAtStart } from '../src/core/db/migrate.js';
import { databaseKinds, privateDatabase, type PrivateDatabase } from './support/db.js';
import { FakeOpenAI } from './support/fake-openai.js';
import { uploadOne } from './support/upload.js';
import { Sink, sseClient, wsClient } from './support/subscriptions.js';
import { until } from './support/wait.js';

const TOKEN = 'metrics-token-0123456789';

/** The value of the first series named `name` whose labels include `labels` (undefined when there is none). */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

/** Log lines as pino wrote them, parsed. */
class LogLines extends Writable {
  readonly lines: Record<string, any>[] = [];
  override _write(chunk: Buffer, _encoding: string, done: () => void) {
    for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) this.lines.push(JSON.parse(line));
    done();
  }
}

const FILE_STATE = 'query($id: ID!) { file(id: $id) { processingStatus } }';

describe.each(databaseKinds())('metrics, request ids and the access log on %s', (kind) => {
  let t: TestApp;
  // On PostgreSQL a database of its own: the counts below are the process's, and the shared test database holds
  // other files' pending jobs, which this app's workers would take and count.
  let own: PrivateDatabase | undefined;
  let url: string;
  let key: string;
  let fake: FakeOpenAI;
  const logs = new LogLines();
  const metrics = async () => {
    const response = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    return response.text();
  };
  const gql = (query: string, variables: Record<string, unknown> = {}, headers: Record<string, string> = {}) =>
    fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, ...headers },
      body: JSON.stringify({ query, variables }),
    });

  beforeAll(async () => {
    fake = await FakeOpenAI.start();
    let database;
    if (kind === 'postgres') {
      own = await privateDatabase('quarry_metrics');
      database = await openPostgres(own.url, 5);
      await migrateAtStart(database, true, createLogger('silent'));
    }
    t = await createTestApp(
      kind,
      {},
      { METRICS_TOKEN: TOKEN, OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: fake.url } as never,
      { log: createLogger('debug', logs), embedderOptions: { retryBaseDelayMs: 10, maxAttempts: 2, timeoutMs: 10_000 }, database },
    );
    key = (await t.seed()).apiKey;
    ({ url } = await t.app.listen());
  });
  afterAll(async () => {
    await t.close();
    await fake.close();
    await own?.drop();
  });

  it('serves /metrics on the main port only with METRICS_TOKEN', async () => {
    expect((await fetch(`${url}/metrics`)).status).toBe(401);
    expect((await fetch(`${url}/metrics`, { headers: { authorization: 'Bearer metrics-token-wrong-wrong' } })).status).toBe(401);
    const text = await metrics();
    for (const name of ['quarry_http_request_duration_seconds', 'quarry_websocket_connections', 'quarry_subscriptions_open', 'quarry_queue_jobs', 'quarry_jobs_queued_total', 'quarry_ingest_bytes_total', 'quarry_embedding_requests_total']) {
      expect(text).toContain(`# TYPE ${name} `);
    }
    // Without a token configured the path does not exist on the main port.
    const closed = await createTestApp('pglite');
    try {
      const { url: other } = await closed.app.listen();
      expect((await fetch(`${other}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(404);
    } finally {
      await closed.close();
    }
  });

  it('counts GraphQL operations by name and outcome, and errors by code', async () => {
    const before = await metrics();
    const okBefore = sample(before, 'graphql_envelop_request', { operationName: 'Probe', outcome: 'ok' }) ?? 0;
    const notFoundBefore = sample(before, 'graphql_envelop_error_result', { operationName: 'Missing', code: 'NOT_FOUND' }) ?? 0;
    expect((await (await gql('query Probe { me { user { id } } }')).json()).errors).toBeUndefined();
    expect((await (await gql('query Probe { me { user { id } } }')).json()).errors).toBeUndefined();
    const missing = await (await gql('query Missing { source(id: "source-00000000-0000-4000-8000-000000000000") { id } }')).json();
    expect(missing.errors[0].extensions.code).toBe('NOT_FOUND');
    const broken = await (await gql('mutation Broken { deleteSource(id: "source-00000000-0000-4000-8000-000000000000") { __typename } }')).json();
    expect(broken.errors[0].extensions.code).toBe('NOT_FOUND');
    const after = await metrics();
    expect(sample(after, 'graphql_envelop_request', { operationName: 'Probe', operationType: 'query', outcome: 'ok' })).toBe(okBefore + 2);
    expect(sample(after, 'graphql_envelop_request_duration_count', { operationName: 'Probe', outcome: 'ok' })).toBe(okBefore + 2);
    expect(sample(after, 'graphql_envelop_request', { operationName: 'Missing', operationType: 'query', outcome: 'error' })).toBe(1);
    expect(sample(after, 'graphql_envelop_request', { operationName: 'Broken', operationType: 'mutation', outcome: 'error' })).toBe(1);
    expect(sample(after, 'graphql_envelop_error_result', { operationName: 'Missing', phase: 'execute', code: 'NOT_FOUND' })).toBe(notFoundBefore + 1);
    expect(sample(after, 'graphql_envelop_error_result', { operationName: 'Broken', code: 'NOT_FOUND' })).toBe(1);
    // A query that does not validate counts as the client's error.
    await gql('query Typo { nope }');
    expect(sample(await metrics(), 'graphql_envelop_error_result', { operationName: 'Typo', phase: 'validate', code: 'BAD_USER_INPUT' })).toBe(1);
  });

  it('counts operations over WebSocket and SSE as over HTTP: queries, refused queries and subscriptions once ended', async () => {
    const source = (await (await gql('mutation { createSource(input: { name: "counted" }) { source { id } } }')).json()).data.createSource.source.id;
    const missingId = 'source-00000000-0000-4000-8000-000000000000';
    const ws = wsClient(url, key, { lazy: false });
    const sse = sseClient(url, key);
    try {
      const wsQuery = new Sink('ws query');
      ws.subscribe({ query: 'query WsProbe { me { user { id } } }' }, wsQuery.sink);
      await wsQuery.until((s) => s.completed);
      expect(wsQuery.results[0].errors).toBeUndefined();
      const wsMissing = new Sink('ws missing');
      ws.subscribe({ query: `query WsMissing { source(id: "${missingId}") { id } }` }, wsMissing.sink);
      await wsMissing.until((s) => s.completed);
      expect(wsMissing.results[0].errors?.[0].extensions?.code).toBe('NOT_FOUND');
      const wsWatch = new Sink('ws subscription');
      const stopWs = ws.subscribe({ query: 'subscription WsWatch($s: ID!) { sourceFilesChanged(sourceId: $s) { fileId } }', variables: { s: source } }, wsWatch.sink);
      const sseQuery = new Sink('sse query');
      sse.subscribe({ query: 'query SseProbe { me { user { id } } }' }, sseQuery.sink);
      await sseQuery.until((s) => s.completed);
      const sseWatch = new Sink('sse subscription');
      const stopSse = sse.subscribe({ query: 'subscription SseWatch($s: ID!) { sourceFilesChanged(sourceId: $s) { fileId } }', variables: { s: source } }, sseWatch.sink);
      await until(metrics, (text) => sample(text, 'quarry_subscriptions_open') === 2);
      stopWs();
      stopSse();
      const text = await until(metrics, (t) => sample(t, 'graphql_envelop_request', { operationName: 'SseWatch' }) === 1 && sample(t, 'graphql_envelop_request', { operationName: 'WsWatch' }) === 1);
      expect(sample(text, 'graphql_envelop_request', { operationName: 'WsProbe', operationType: 'query', outcome: 'ok' })).toBe(1);
      expect(sample(text, 'graphql_envelop_request_duration_count', { operationName: 'WsProbe', outcome: 'ok' })).toBe(1);
      expect(sample(text, 'graphql_envelop_request', { operationName: 'WsMissing', operationType: 'query', outcome: 'error' })).toBe(1);
      expect(sample(text, 'graphql_envelop_error_result', { operationName: 'WsMissing', phase: 'execute', code: 'NOT_FOUND' })).toBe(1);
      expect(sample(text, 'graphql_envelop_request', { operationName: 'SseProbe', operationType: 'query', outcome: 'ok' })).toBe(1);
      expect(sample(text, 'graphql_envelop_request', { operationName: 'WsWatch', operationType: 'subscription', outcome: 'ok' })).toBe(1);
      expect(sample(text, 'graphql_envelop_request', { operationName: 'SseWatch', operationType: 'subscription', outcome: 'ok' })).toBe(1);
    } finally {
      await ws.dispose();
      sse.dispose();
    }
  });

  it('times REST calls by route template, never by raw path', async () => {
    const id = 'source-00000000-0000-4000-8000-00000000abcd';
    const labels = { method: 'GET', route: '/v1/sources/{source_id}', status: '404' };
    const before = sample(await metrics(), 'quarry_http_request_duration_seconds_count', labels) ?? 0;
    const response = await fetch(`${url}/v1/sources/${id}`, { headers: { authorization: `Bearer ${key}` } });
    expect(response.status).toBe(404);
    const text = await metrics();
    expect(sample(text, 'quarry_http_request_duration_seconds_count', labels)).toBe(before + 1);
    expect(text).not.toContain(id);
    await fetch(`${url}/no/such/${id}`);
    expect(sample(await metrics(), 'quarry_http_request_duration_seconds_count', { route: 'other', status: '404' })).toBeGreaterThanOrEqual(1);
  });

  it('reports processing: jobs queued and completed, bytes and chunks, stage durations', async () => {
    const before = await metrics();
    const completedBefore = sample(before, 'quarry_jobs_processed_total', { task: 'file_processing', outcome: 'completed' }) ?? 0;
    const chunksBefore = sample(before, 'quarry_ingest_chunks_total') ?? 0;
    const bytesBefore = sample(before, 'quarry_ingest_bytes_total') ?? 0;
    const queuedBefore = sample(before, 'quarry_jobs_queued_total', { queue: 'memory' }) ?? 0;
    const source = (await (await gql('mutation { createSource(input: { name: "metered", embeddingChunkSize: 64 }) { source { id } } }')).json()).data.createSource.source.id;
    const content = 'Granite is an igneous rock. '.repeat(200);
    const upload = await uploadOne(url, key, source, { name: 'granite.txt', content });
    const fileId = upload.data.uploadFile.file.id;
    await until(() => t.gql(key, FILE_STATE, { id: fileId }), (r) => r.data?.file?.processingStatus === 'COMPLETED');
    const after = await until(metrics, (text) => (sample(text, 'quarry_jobs_processed_total', { task: 'file_processing', outcome: 'completed' }) ?? 0) > completedBefore);
    expect(sample(after, 'quarry_jobs_processed_total', { task: 'file_processing', outcome: 'completed' })).toBe(completedBefore + 1);
    expect(sample(after, 'quarry_jobs_queued_total', { queue: 'memory' })).toBe(queuedBefore + 1);
    expect(sample(after, 'quarry_ingest_bytes_total')).toBe(bytesBefore + content.length);
    expect(sample(after, 'quarry_ingest_chunks_total')! - chunksBefore).toBeGreaterThan(1);
    for (const stage of ['read_and_chunk', 'embed', 'store', 'total']) expect(sample(after, 'quarry_ingest_stage_duration_seconds_count', { stage })).toBeGreaterThanOrEqual(1);
    expect(sample(after, 'quarry_queue_jobs', { state: 'waiting' })).toBe(0);
  });

  it('counts embedding requests and failures by provider', async () => {
    const source = (await (await gql('mutation { createSource(input: { name: "remote", embedding: "openai/text-embedding-3-small", embeddingChunkSize: 64 }) { source { id } } }')).json()).data.createSource.source.id;
    const before = await metrics();
    const okBefore = sample(before, 'quarry_embedding_requests_total', { provider: 'openai', outcome: 'ok' }) ?? 0;
    const errorBefore = sample(before, 'quarry_embedding_requests_total', { provider: 'openai', outcome: 'error' }) ?? 0;
    const good = (await uploadOne(url, key, source, { name: 'a.txt', content: 'basalt and pumice' })).data.uploadFile.file.id;
    await until(() => t.gql(key, FILE_STATE, { id: good }), (r) => r.data?.file?.processingStatus === 'COMPLETED');
    fake.fallback = { status: 401 }; // a rejected key: not retried, the file fails
    try {
      const bad = (await uploadOne(url, key, source, { name: 'b.txt', content: 'obsidian' })).data.uploadFile.file.id;
      await until(() => t.gql(key, FILE_STATE, { id: bad }), (r) => r.data?.file?.processingStatus === 'ERROR');
    } finally {
      fake.fallback = 'ok';
    }
    const after = await until(metrics, (text) => (sample(text, 'quarry_jobs_processed_total', { outcome: 'failed' }) ?? 0) >= 1);
    expect(sample(after, 'quarry_embedding_requests_total', { provider: 'openai', outcome: 'ok' })).toBe(okBefore + 1);
    expect(sample(after, 'quarry_embedding_requests_total', { provider: 'openai', outcome: 'error' })).toBe(errorBefore + 1);
    expect(sample(after, 'quarry_embedding_request_duration_seconds_count', { provider: 'openai' })).toBe(okBefore + errorBefore + 2);
    // A search embeds its query text with the source's provider: that request is counted too.
    const requestsBefore = fake.requests;
    const search = await (await gql('query($s: ID!) { searchPassages(query: "basalt", sourceIds: [$s], mode: VECTOR) { passage { id } } }', { s: source })).json();
    expect(search.errors).toBeUndefined();
    expect(search.data.searchPassages.length).toBeGreaterThan(0);
    expect(fake.requests).toBe(requestsBefore + 1);
    const searched = await metrics();
    expect(sample(searched, 'quarry_embedding_requests_total', { provider: 'openai', outcome: 'ok' })).toBe(okBefore + 2);
    expect(sample(searched, 'quarry_embedding_request_duration_seconds_count', { provider: 'openai' })).toBe(okBefore + errorBefore + 3);
  });

  it('gauges open WebSockets and subscriptions', async () => {
    const source = (await (await gql('mutation { createSource(input: { name: "watched" }) { source { id } } }')).json()).data.createSource.source.id;
    const client = createClient({ url: url.replace('http', 'ws') + '/graphql', webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${key}` }, lazy: false, retryAttempts: 0 });
    const events: unknown[] = [];
    const stop = client.subscribe({ query: 'subscription($s: ID!) { sourceFilesChanged(sourceId: $s) { fileId } }', variables: { s: source } }, { next: (e) => events.push(e), error: () => {}, complete: () => {} });
    try {
      const open = await until(metrics, (text) => sample(text, 'quarry_subscriptions_open') === 1 && sample(text, 'quarry_websocket_connections') === 1);
      expect(sample(open, 'quarry_websocket_connections')).toBe(1);
    } finally {
      stop();
      await client.dispose();
    }
    const closed = await until(metrics, (text) => sample(text, 'quarry_websocket_connections') === 0 && sample(text, 'quarry_subscriptions_open') === 0);
    expect(sample(closed, 'quarry_subscriptions_open')).toBe(0);
  });

  it.runIf(kind === 'postgres')('reports the database pool', async () => {
    const text = await metrics();
    expect(sample(text, 'quarry_db_pool_connections', { state: 'max' })).toBe(5);
    expect(sample(text, 'quarry_db_pool_connections', { state: 'total' })).toBeGreaterThanOrEqual(1);
  });

  it('answers with a request id on every response: its own when sane, a new one otherwise', async () => {
    const given = await gql('{ __typename }', {}, { 'x-request-id': 'client-req.42:a/b' });
    expect(given.headers.get('x-request-id')).toBe('client-req.42:a/b');
    for (const bad of ['x'.repeat(129), 'has space', 'quote"d', 'semi;colon']) {
      const response = await gql('{ __typename }', {}, { 'x-request-id': bad });
      expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    }
    const responses = [
      await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ __typename }"}' }), // 401
      await fetch(`${url}/v1/sources/`, { headers: { authorization: `Bearer ${key}` } }),
      await fetch(`${url}/v1/sources/source-00000000-0000-4000-8000-000000000000`, { headers: { authorization: `Bearer ${key}` } }), // 404
      await fetch(`${url}/v1/sources/`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: '{' }), // 422
      await fetch(`${url}/healthz`),
      await fetch(`${url}/nowhere`),
    ];
    expect(responses.map((r) => r.status)).toEqual([401, 200, 404, 422, 200, 404]);
    const ids = responses.map((r) => r.headers.get('x-request-id'));
    for (const id of ids) expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('puts the request id on its log lines, its access line and the jobs it creates; client errors are not logged as errors', async () => {
    const source = (await (await gql('mutation { createSource(input: { name: "traced" }) { source { id } } }')).json()).data.createSource.source.id;
    const requestId = `trace-${kind}-upload`;
    const form = new FormData();
    form.append('operations', JSON.stringify({ query: 'mutation($f: Upload!, $s: ID!) { uploadFile(input: { sourceId: $s, file: $f }) { job { id requestId } } }', variables: { f: null, s: source } }));
    form.append('map', JSON.stringify({ 0: ['variables.f'] }));
    form.append('0', new Blob(['Marble is metamorphic.']), 'marble.txt');
    const response = await fetch(`${url}/graphql`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'x-request-id': requestId }, body: form });
    expect(response.headers.get('x-request-id')).toBe(requestId);
    const job = (await response.json()).data.uploadFile.job;
    expect(job.requestId).toBe(requestId);
    expect((await t.db.prisma.job.findUniqueOrThrow({ where: { id: job.id } })).requestId).toBe(requestId);

    const access = (await until(async () => logs.lines.find((l) => l.msg === 'request' && l.requestId === requestId), Boolean))!;
    const organizationId = (await t.db.prisma.job.findUniqueOrThrow({ where: { id: job.id } })).organizationId;
    expect(access).toMatchObject({ level: 30, method: 'POST', route: '/graphql', status: 200, organizationId });
    expect(access.durationMs).toBeGreaterThan(0);
    // Lines written while the request was served (yoga's, the upload's) carry its id too.
    expect(logs.lines.filter((l) => l.requestId === requestId).length).toBeGreaterThan(1);

    // Bad input, a missing key, an unknown id: logged at info (the access line) or below, never at error.
    const mark = logs.lines.length;
    await gql('query { source(id: "nope") { id } }', {}, { 'x-request-id': 'client-mistakes-1' });
    await gql('mutation { deleteSource(id: "source-00000000-0000-4000-8000-000000000000") { __typename } }', {}, { 'x-request-id': 'client-mistakes-2' });
    await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': 'client-mistakes-3' }, body: '{"query":"{ __typename }"}' });
    await fetch(`${url}/v1/sources/`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'x-request-id': 'client-mistakes-4' }, body: '{}' });
    await until(async () => logs.lines.slice(mark).filter((l) => l.msg === 'request').length, (n) => n >= 4);
    const lines = logs.lines.slice(mark);
    expect(lines.filter((l) => l.level >= 50)).toEqual([]);
    const accessLines = lines.filter((l) => l.msg === 'request');
    expect(accessLines.map((l) => [l.requestId, l.status, l.level])).toEqual([
      ['client-mistakes-1', 200, 30],
      ['client-mistakes-2', 200, 30],
      ['client-mistakes-3', 401, 30],
      ['client-mistakes-4', 422, 30],
    ]);
    expect(accessLines[3].route).toBe('/v1/sources');
  });
});

describe('metrics on a port of their own (METRICS_PORT)', () => {
  it('serves /metrics without a token and nothing else', async () => {
    const metrics = new Metrics();
    metrics.jobsQueued.inc({ queue: 'memory' });
    const log = createLogger('silent');
    const server = await serveMetrics(metrics, 0, '127.0.0.1', log);
    try {
      const response = await fetch(`http://127.0.0.1:${server.port}/metrics`);
      expect(response.status).toBe(200);
      expect(sample(await response.text(), 'quarry_jobs_queued_total', { queue: 'memory' })).toBe(1);
      expect((await fetch(`http://127.0.0.1:${server.port}/graphql`)).status).toBe(404);
      expect((await fetch(`http://127.0.0.1:${server.port}/metrics`, { method: 'POST' })).status).toBe(405);
    } finally {
      await server.close();
    }
  });
});

describe('GraphiQL without internet', () => {
  let t: TestApp;
  let url: string;
  beforeAll(async () => {
    t = await createTestApp('pglite');
    ({ url } = await t.app.listen());
  });
  afterAll(() => t.close());

  /** Every address the page would load something from: script and link sources, imports, CSS urls. */
  const loads = (html: string) => [
    ...[...html.matchAll(/<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)\s*=\s*["']?([^"'\s>]+)/gi)].map((m) => m[1]),
    ...[...html.matchAll(/\bimport\s*\(\s*["']([^"']+)["']/g)].map((m) => m[1]),
    ...[...html.matchAll(/@import\s+(?:url\()?["']?([^"')\s]+)/g)].map((m) => m[1]),
  ];
  const external = (address: string) => /^(https?:)?\/\//i.test(address);

  it("serves the page and its code from the package, loading nothing from another host", async () => {
    const response = await fetch(`${url}/graphql`, { headers: { accept: 'text/html' } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/text\/html/);
    const html = await response.text();
    expect(html).toContain('<title>Quarry</title>');
    expect(html).toContain('Bearer <your API key>'); // the key header, prefilled
    expect(html).toContain('renderYogaGraphiQL'); // the code is in the page itself
    expect(html.length).toBeGreaterThan(1_000_000);
    expect(loads(html).filter(external)).toEqual([]);
    expect(html).not.toMatch(/unpkg\.com|cdn\.jsdelivr\.net|esm\.sh|fonts\.googleapis\.com/);
    // The check can fail: yoga's own page loads its code from unpkg.
    const stock = yogaDefaultGraphiQL({ title: 'Quarry' });
    expect(loads(stock).filter(external).length).toBeGreaterThan(0);
  });
});
