import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTracing, type Tracing } from '../src/core/tracing.js';
import { createTestApp, type TestApp } from './support/app.js';
import { databaseKinds } from './support/db.js';
import { FakeOpenAI } from './support/fake-openai.js';
import { until } from './support/wait.js';

/** A span as OTLP/JSON carries it. */
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: { key: string; value: Record<string, unknown> }[];
}
const SERVER = 2;
const CLIENT = 3;

/** A real OTLP/HTTP receiver: a local HTTP server taking `POST /v1/traces` (JSON, as the OTLP/HTTP exporter sends it). */
class OtlpReceiver {
  readonly spans: OtlpSpan[] = [];
  readonly paths: string[] = [];
  readonly headers: Record<string, unknown>[] = [];
  private server!: Server;
  url = '';

  async start() {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        this.paths.push(req.url ?? '');
        this.headers.push(req.headers);
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { resourceSpans: { scopeSpans: { spans: OtlpSpan[] }[] }[] };
        for (const rs of body.resourceSpans) for (const ss of rs.scopeSpans) this.spans.push(...ss.spans);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{}');
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  close() {
    return new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** Whether `ancestor` is `span`'s parent, its parent's parent… */
function descends(spans: OtlpSpan[], span: OtlpSpan, ancestor: OtlpSpan): boolean {
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  for (let at = span.parentSpanId ? byId.get(span.parentSpanId) : undefined; at; at = at.parentSpanId ? byId.get(at.parentSpanId) : undefined) {
    if (at.spanId === ancestor.spanId) return true;
  }
  return false;
}

describe.each(databaseKinds())('OpenTelemetry tracing on %s', (kind) => {
  let receiver: OtlpReceiver;
  let fake: FakeOpenAI;
  let tracing: Tracing;
  let t: TestApp;
  let url: string;
  let key: string;

  beforeAll(async () => {
    receiver = await new OtlpReceiver().start();
    fake = await FakeOpenAI.start();
    tracing = startTracing(
      { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_HEADERS: 'x-collector-token=s3cret%21', OTEL_SERVICE_NAME: undefined, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: undefined, OTEL_TRACES_SAMPLER_ARG: 1 },
      'quarry-test',
    )!;
    t = await createTestApp(kind, {}, { OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: fake.url } as never, { tracing });
    key = (await t.seed()).apiKey;
    ({ url } = await t.app.listen());
  });
  afterAll(async () => {
    await t.close();
    await tracing.shutdown();
    await fake.close();
    await receiver.close();
  });

  it('is off without an endpoint', () => {
    expect(startTracing({ OTEL_TRACES_SAMPLER_ARG: 1 } as never, 'quarry')).toBeNull();
  });

  it('traces a GraphQL request from the HTTP span through the operation to the database and the embedding provider', async () => {
    const source = await t.gql(key, 'mutation { createSource(input: { name: "traced", embedding: "openai/text-embedding-3-small" }) { source { id } } }');
    const sourceId = source.data.createSource.source.id as string;
    // The caller's own trace is continued (W3C traceparent).
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const callerSpan = '00f067aa0ba902b7';
    const response = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, traceparent: `00-${traceId}-${callerSpan}-01` },
      body: JSON.stringify({ query: 'query Traced($s: ID!) { source(id: $s) { id name } searchPassages(query: "basalt", sourceIds: [$s], mode: VECTOR) { score } }', variables: { s: sourceId } }),
    });
    const body = await response.json();
    expect(body.errors).toBeUndefined();
    // The embedding provider was called within the trace.
    expect(String(fake.last?.headers.traceparent)).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));

    const spans = await until(
      async () => receiver.spans.filter((s) => s.traceId === traceId),
      (found) => found.some((s) => s.name === 'query.Traced') && found.some((s) => s.kind === SERVER) && found.some((s) => s.name === 'POST'),
      10_000,
      100,
    );
    const http = spans.find((s) => s.kind === SERVER)!;
    expect(http.name).toBe('POST /graphql');
    expect(http.parentSpanId).toBe(callerSpan);
    const operation = spans.find((s) => s.name === 'query.Traced')!;
    expect(operation.parentSpanId).toBe(http.spanId);
    const statements = spans.filter((s) => s.name.includes('db_query'));
    expect(statements.length).toBeGreaterThan(0);
    for (const statement of statements) expect(descends(spans, statement, operation)).toBe(true);
    const provider = spans.find((s) => s.name === 'POST')!;
    expect(provider.kind).toBe(CLIENT);
    expect(descends(spans, provider, operation)).toBe(true);
    expect(String(fake.last?.headers.traceparent)).toContain(provider.spanId);
    // Sent where OTEL_EXPORTER_OTLP_ENDPOINT says, with OTEL_EXPORTER_OTLP_HEADERS.
    expect(receiver.paths.every((p) => p === '/v1/traces')).toBe(true);
    expect(receiver.headers[0]['x-collector-token']).toBe('s3cret!');
  });
});
