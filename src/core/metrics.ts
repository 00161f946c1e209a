import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * The process's metrics, in Prometheus's text format (`GET /metrics`, see core/observability.ts). One registry per
 * process, made by the entry point (main.ts, worker.ts) and handed to what it instruments: the HTTP server, the
 * GraphQL plugin (core/graphql-metrics.ts), the job queue and workers, the ingestion pipeline and the embedding
 * providers. Nothing here is module-global, so tests get a registry of their own.
 *
 * Label values are bounded: routes are templates, never raw paths, and names clients choose (GraphQL operation
 * names) go through a BoundedLabel, so no client can grow the number of series without limit.
 */

/** Latency buckets for requests and operations, in seconds (5 ms … 30 s). */
const REQUEST_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Buckets for work that takes longer: a file's stages, a provider request (10 ms … 10 min). */
const WORK_BUCKETS = [0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

export type JobOutcome = 'completed' | 'failed' | 'cancelled' | 'retried' | 'released' | 'skipped';
export type IngestStage = 'read_and_chunk' | 'embed' | 'store' | 'total';

/** What the database reports about its connection pool (core/db). */
export interface PoolStats {
  /** Connections open (in use or idle). */
  total: number;
  idle: number;
  /** Checkouts waiting for a connection. */
  waiting: number;
  max: number;
}

/** What the job queue reports about its backlog (core/queue). */
export interface QueueDepth {
  waiting: number;
  active: number;
  delayed: number;
}

export interface MetricsOptions {
  /** Process metrics (CPU, memory, event loop lag, GC): on for servers and workers, off in tests. */
  processMetrics?: boolean;
}

export class Metrics {
  readonly registry = new Registry();
  readonly httpDuration: Histogram<'method' | 'route' | 'status'>;
  readonly websockets: Gauge;
  readonly jobsQueued: Counter<'queue'>;
  readonly jobOutcomes: Counter<'task' | 'outcome'>;
  readonly ingestBytes: Counter;
  readonly ingestChunks: Counter;
  readonly ingestStages: Histogram<'stage'>;
  readonly embeddingRequests: Counter<'provider' | 'outcome'>;
  readonly embeddingDuration: Histogram<'provider'>;
  private subscriptionCounts: (() => number) | null = null;
  private poolStats: (() => PoolStats | null) | null = null;
  private queueDepth: (() => Promise<QueueDepth>) | null = null;

  constructor(options: MetricsOptions = {}) {
    const registers = [this.registry];
    if (options.processMetrics) collectDefaultMetrics({ register: this.registry });
    this.httpDuration = new Histogram({
      name: 'quarry_http_request_duration_seconds',
      help: 'HTTP requests by method, route template (REST path template, /graphql, /healthz…; unmatched paths are "other") and status',
      labelNames: ['method', 'route', 'status'],
      buckets: REQUEST_BUCKETS,
      registers,
    });
    this.websockets = new Gauge({ name: 'quarry_websocket_connections', help: 'Open GraphQL WebSocket connections', registers });
    const self = this;
    new Gauge({
      name: 'quarry_subscriptions_open',
      help: 'Open GraphQL subscriptions on this process (WebSocket and SSE)',
      registers,
      collect() {
        this.set(self.subscriptionCounts?.() ?? 0);
      },
    });
    new Gauge({
      name: 'quarry_db_pool_connections',
      help: 'Database pool connections by state (total, idle, waiting checkouts, max); absent for the in-process database',
      labelNames: ['state'],
      registers,
      collect() {
        const stats = self.poolStats?.();
        if (!stats) return;
        for (const [state, value] of Object.entries(stats)) this.set({ state }, value);
      },
    });
    new Gauge({
      name: 'quarry_queue_jobs',
      help: 'File jobs in the queue by state (waiting, active, delayed); with Redis, the shared queue of every process',
      labelNames: ['state'],
      registers,
      async collect() {
        // A queue that cannot answer (Redis away) leaves the series out rather than holding the scrape.
        const depth = self.queueDepth ? await withinMs(self.queueDepth(), 1000).catch(() => null) : null;
        if (!depth) return;
        for (const [state, value] of Object.entries(depth)) this.set({ state }, value);
      },
    });
    this.jobsQueued = new Counter({ name: 'quarry_jobs_queued_total', help: 'Jobs put on the queue (first deliveries and redeliveries)', labelNames: ['queue'], registers });
    this.jobOutcomes = new Counter({
      name: 'quarry_jobs_processed_total',
      help: 'File job runs by task and outcome (completed, failed, cancelled, retried, released at shutdown, skipped)',
      labelNames: ['task', 'outcome'],
      registers,
    });
    this.ingestBytes = new Counter({ name: 'quarry_ingest_bytes_total', help: "Bytes of files' originals read by processing", registers });
    this.ingestChunks = new Counter({ name: 'quarry_ingest_chunks_total', help: 'Chunks embedded and stored as passages', registers });
    this.ingestStages = new Histogram({
      name: 'quarry_ingest_stage_duration_seconds',
      help: "Time one file's processing spent per stage (read_and_chunk, embed, store) and in total",
      labelNames: ['stage'],
      buckets: WORK_BUCKETS,
      registers,
    });
    this.embeddingRequests = new Counter({
      name: 'quarry_embedding_requests_total',
      help: 'Requests to remote embedding providers by provider and outcome (ok, error); every retry is a request',
      labelNames: ['provider', 'outcome'],
      registers,
    });
    this.embeddingDuration = new Histogram({
      name: 'quarry_embedding_request_duration_seconds',
      help: 'Duration of requests to remote embedding providers',
      labelNames: ['provider'],
      buckets: WORK_BUCKETS,
      registers,
    });
  }

  /** Reads the number of open subscriptions at each scrape. */
  observeSubscriptions(count: () => number): void {
    this.subscriptionCounts = count;
  }

  /** Reads the database pool's use at each scrape. */
  observePool(stats: (() => PoolStats | null) | undefined): void {
    this.poolStats = stats ?? null;
  }

  /** Reads the queue's depth at each scrape. */
  observeQueue(depth: () => Promise<QueueDepth>): void {
    this.queueDepth = depth;
  }

  /** The function embedding providers report each request through (embeddings/). */
  embeddingObserver(provider: string): EmbeddingObserver {
    return (ok, seconds) => {
      this.embeddingRequests.inc({ provider, outcome: ok ? 'ok' : 'error' });
      this.embeddingDuration.observe({ provider }, seconds);
    };
  }

  /** The exposition text and its content type. */
  async exposition(): Promise<{ body: string; contentType: string }> {
    return { body: await this.registry.metrics(), contentType: this.registry.contentType };
  }
}

function withinMs<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('timed out')), ms)));
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** Called once per request to an embedding provider: whether it succeeded, and how long it took. */
export type EmbeddingObserver = (ok: boolean, seconds: number) => void;

/**
 * A label whose values come from clients (a GraphQL operation name): the first `max` distinct values are kept,
 * later ones are reported as `other`, and every value is cut to `maxLength` characters.
 */
export class BoundedLabel {
  private readonly seen = new Set<string>();
  constructor(
    private readonly max = 500,
    private readonly maxLength = 100,
  ) {}

  value(raw: string | undefined | null, fallback = 'anonymous'): string {
    if (!raw) return fallback;
    const value = raw.slice(0, this.maxLength);
    if (this.seen.has(value)) return value;
    if (this.seen.size >= this.max) return 'other';
    this.seen.add(value);
    return value;
  }
}
