import { context, propagation, SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import { useOpenTelemetry } from '@envelop/opentelemetry';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, NodeTracerProvider, ParentBasedSampler, TraceIdRatioBasedSampler } from '@opentelemetry/sdk-trace-node';
import { PrismaInstrumentation } from '@prisma/instrumentation';
import type { Plugin } from 'graphql-yoga';
import type { Logger } from './logger.js';

/**
 * Optional OpenTelemetry tracing, off unless an OTLP endpoint is configured (the standard OTEL_* variables; the
 * exporter speaks OTLP over HTTP). One trace per request: the HTTP server span (core/observability.ts, the W3C
 * `traceparent` of the caller continued), the GraphQL operation and its resolvers (@envelop/opentelemetry), the
 * database statements Prisma runs (@prisma/instrumentation), and requests to other servers, embedding providers
 * included (core/outbound.ts, which passes the trace on in `traceparent`). With tracing off the API is a no-op.
 */

/** The standard OTEL_* settings tracing reads (core/config.ts parses them). */
export interface TracingConfig {
  OTEL_EXPORTER_OTLP_ENDPOINT?: string;
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?: string;
  OTEL_EXPORTER_OTLP_HEADERS?: string;
  OTEL_SERVICE_NAME?: string;
  OTEL_TRACES_SAMPLER_ARG: number;
}

/** Where spans go: the traces endpoint as given, or the general endpoint's `/v1/traces` (as the specification says). */
export function tracesUrl(config: TracingConfig): string | null {
  if (config.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return config.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  if (!config.OTEL_EXPORTER_OTLP_ENDPOINT) return null;
  return `${config.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, '')}/v1/traces`;
}

export interface Tracing {
  /** The GraphQL plugin that traces operations (last in yoga's list, so it wraps the execution the others chose). */
  graphqlPlugin(): Plugin;
  /** Sends what is buffered and stops. */
  shutdown(): Promise<void>;
}

/** Starts tracing for this process when an endpoint is configured; null (tracing off) otherwise. */
export function startTracing(config: TracingConfig, defaultServiceName: string, log?: Logger): Tracing | null {
  const url = tracesUrl(config);
  if (!url) return null;
  const exporter = new OTLPTraceExporter({ url, headers: parseHeaders(config.OTEL_EXPORTER_OTLP_HEADERS) });
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': config.OTEL_SERVICE_NAME ?? defaultServiceName }),
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(config.OTEL_TRACES_SAMPLER_ARG) }),
    spanProcessors: [new BatchSpanProcessor(exporter, { scheduledDelayMillis: 1000 })],
  });
  // The global tracer provider, AsyncLocalStorage context and W3C trace-context propagation.
  provider.register();
  const prisma = new PrismaInstrumentation();
  prisma.setTracerProvider(provider);
  prisma.enable();
  log?.info({ url, sampleRatio: config.OTEL_TRACES_SAMPLER_ARG }, 'OpenTelemetry tracing on');
  return {
    graphqlPlugin: () =>
      useOpenTelemetry(
        // Resolver spans for the domain's work; default resolvers (plain properties) are not worth a span each.
        // No documents' inline values, variables or results: they may hold what users wrote.
        { resolvers: true, defaultResolvers: false, variables: false, result: false, document: false },
        provider as never,
        SpanKind.INTERNAL,
        {},
        'quarry-graphql',
      ) as Plugin,
    async shutdown() {
      prisma.disable();
      await provider.shutdown().catch((error: unknown) => log?.warn({ err: error }, 'tracing: could not send the last spans'));
      trace.disable();
      context.disable();
      propagation.disable();
    },
  };
}

/** OTEL_EXPORTER_OTLP_HEADERS: `name=value` pairs separated by commas, values URL-encoded. */
function parseHeaders(text: string | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const pair of (text ?? '').split(',')) {
    const at = pair.indexOf('=');
    if (at > 0) headers[pair.slice(0, at).trim()] = decodeURIComponent(pair.slice(at + 1).trim());
  }
  return headers;
}

/** Asked for at each use: a tracer kept from before a provider was registered (or after it shut down) would stay a no-op. */
const tracer = () => trace.getTracer('quarry');

/**
 * Runs `fn` in a span of its own, a child of the active one, ended when `fn` settles (an error marks it failed).
 * Without tracing, `fn` just runs.
 */
export function inSpan<T>(name: string, kind: SpanKind, attributes: Record<string, string | number>, fn: (span: Span) => Promise<T>): Promise<T> {
  return tracer().startActiveSpan(name, { kind, attributes }, async (span) => {
    try {
      return await fn(span);
    } catch (error) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
      throw error;
    } finally {
      span.end();
    }
  });
}

/** Starts the server span of an incoming request, continuing the caller's trace (its `traceparent`), and runs `fn` in it. */
export function inServerSpan<T>(headers: Record<string, string | string[] | undefined>, name: string, fn: (span: Span) => T): T {
  const parent = propagation.extract(context.active(), headers);
  const span = tracer().startSpan(name, { kind: SpanKind.SERVER }, parent);
  return context.with(trace.setSpan(parent, span), () => fn(span));
}

/** Headers that pass the active trace on to the server called (`traceparent`); empty without tracing. */
export function traceHeaders(): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier;
}
