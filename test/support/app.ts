import { buildApp, type App } from '../../src/app.js';
import type { Actor } from '../../src/core/auth.js';
import { scopedPrisma } from '../../src/core/tenancy.js';
import type { NewOrganization } from '../../src/domain/organizations.js';
import type { PrismaClient } from '../../src/generated/prisma/client.js';
import type { Database, OpenOptions } from '../../src/core/db/index.js';
import { openRedis } from '../../src/core/redis.js';
import { createLogger, type Logger } from '../../src/core/logger.js';
import { Metrics } from '../../src/core/metrics.js';
import type { Tracing } from '../../src/core/tracing.js';
import { MemoryQueue } from '../../src/core/queue.js';
import type { EmbedderOptions } from '../../src/embeddings/index.js';
import { DEFAULT_LIMITS, type IngestLimits } from '../../src/documents/limits.js';
import { IngestionService, type IngestSettings } from '../../src/ingest/worker.js';
import { createCallbacks, type CallbackOptions, type CallbackSweeper } from '../../src/domain/callbacks.js';
import { EventBus } from '../../src/core/events.js';
import { openTestDatabase, seedOrganization, type DatabaseKind } from './db.js';

export const testConfig = {
  GRAPHQL_MAX_DEPTH: 12,
  GRAPHQL_MAX_COMPLEXITY: 5000,
  GRAPHQL_MAX_BREADTH: 200,
  GRAPHIQL: true,
  SHUTDOWN_TIMEOUT_MS: 2000,
  DEFAULT_EMBEDDING: 'local/lexical-384',
  AUTH_CACHE_TTL_MS: 5000,
  OPENAI_API_KEY: undefined as string | undefined,
  OPENAI_BASE_URL: undefined as string | undefined,
  MAX_UPLOAD_BYTES: 100 * 1024 * 1024,
  MAX_UPLOAD_FILES: 20,
  SUBSCRIPTIONS_PER_CONNECTION: 100,
  SUBSCRIPTIONS_PER_ORGANIZATION: 5000,
  WS_KEEPALIVE_MS: 12_000,
  WS_CONNECTION_INIT_TIMEOUT_MS: 3000,
  REDIS_URL: undefined as string | undefined,
  REDIS_PREFIX: 'quarry',
  // Suites send many wrong keys on purpose from one address; the throttle's own tests set small limits.
  AUTH_FAILURES_PER_ADDRESS: 100_000,
  AUTH_FAILURES_PER_KEY_PREFIX: 100_000,
  AUTH_FAILURE_WINDOW_S: 60,
  JSON_MAX_DEPTH: 64,
  GRAPHQL_MAX_TOKENS: 5000,
  GRAPHQL_MAX_LIST_SIZE: 100,
  GRAPHQL_INTROSPECTION: true,
  GRAPHQL_SUGGESTIONS: true,
  CORS_ORIGINS: [] as string[],
  MAX_CONNECTIONS: 1000,
  HEADERS_TIMEOUT_MS: 10_000,
  REQUEST_TIMEOUT_MS: 120_000,
  TRUSTED_PROXIES: [] as string[],
};

/** Workers as the embedded server runs them. Recovery sweeps every organization of the shared PostgreSQL test database,
 * so in-process tests leave it to the process-level recovery tests: a 10-minute staleness keeps sweeps out of other tests. */
export const testIngestSettings: IngestSettings = { concurrency: 2, heartbeatMs: 200, staleMs: 600_000, maxAttempts: 3, retryDelayMs: 50 };

export interface GraphQLResult<T = any> {
  status: number;
  data?: T;
  errors?: { message: string; path?: (string | number)[]; extensions?: Record<string, any> }[];
}

export interface Tenant extends NewOrganization {
  db: PrismaClient;
  actor: Actor;
}

export interface TestApp {
  app: App;
  db: Database;
  /** Runs an operation through the real HTTP handler (yoga.fetch), authenticated with `key`. */
  gql<T = any>(key: string | null, query: string, variables?: Record<string, unknown>): Promise<GraphQLResult<T>>;
  /** Like gql, but fails the test on any error and returns data. */
  gqlOk<T = any>(key: string, query: string, variables?: Record<string, unknown>): Promise<T>;
  seed: typeof seedOrganization extends (db: Database, ...rest: infer R) => infer P ? (...rest: R) => P : never;
  /** A fresh organization plus what domain functions take: its tenant-scoped client and its admin as actor. */
  tenant(): Promise<Tenant>;
  ingest: IngestionService;
  /** The app's callback sweeper (not sweeping unless a test starts it); also what domain functions take as services. */
  callbacks: CallbackSweeper;
  /** The app's event bus (in memory unless the test passed one over Redis). */
  events: EventBus;
  /** The registry the app and its workers report to. */
  metrics: Metrics;
  close(): Promise<void>;
}

export interface TestAppOptions {
  /** Run the in-process workers (default true); false leaves uploaded files pending, for tests of the queue itself. */
  workers?: boolean;
  ingest?: Partial<IngestSettings>;
  /** HTTP embedder tuning (fast retries in tests). */
  embedderOptions?: EmbedderOptions;
  /** Serve this open database instead of a fresh test database (closed with the app). */
  database?: Database;
  /** Processing limits (small batches make many batches of a small file). */
  limits?: Partial<IngestLimits>;
  /** Called before each batch of passages is stored (to pause or crash a run there). */
  beforeStore?: (info: { jobId: string; firstChunk: number }) => void | Promise<void>;
  /** The app's logger (default: silent unless TEST_LOG_LEVEL says otherwise). */
  log?: Logger;
  /** OpenTelemetry tracing (core/tracing.ts), as main.ts passes it when an endpoint is configured. */
  tracing?: Tracing | null;
  /** Callback settings (fast retries, loopback allowed); the defaults otherwise. */
  callbacks?: Partial<CallbackOptions>;
  /** The event bus (a test's bus over Redis, or another app's, as replicas share one); its owner closes it. Default: a new in-memory one. */
  events?: EventBus;
}

export async function createTestApp(
  kind: DatabaseKind,
  options: OpenOptions = {},
  config: Partial<typeof testConfig> = {},
  appOptions: TestAppOptions = {},
): Promise<TestApp> {
  const db = appOptions.database ?? (await openTestDatabase(kind, options));
  const log = appOptions.log ?? createLogger((process.env.TEST_LOG_LEVEL as 'silent') ?? 'silent');
  const merged = { ...testConfig, ...config };
  const metrics = new Metrics();
  const callbacks = createCallbacks(appOptions.callbacks);
  const events = appOptions.events ?? new EventBus();
  const ingest = new IngestionService({
    db,
    queue: new MemoryQueue(log),
    log,
    settings: { ...testIngestSettings, ...appOptions.ingest },
    embedderEnv: merged,
    embedderOptions: appOptions.embedderOptions,
    limits: { ...DEFAULT_LIMITS, concurrency: appOptions.ingest?.concurrency ?? testIngestSettings.concurrency, ...appOptions.limits },
    beforeStore: appOptions.beforeStore,
    // The shared PostgreSQL test database has other files' jobs: only PGlite is ours alone.
    exclusive: false,
    metrics,
    callbacks,
    events,
  });
  if (appOptions.workers !== false) await ingest.startWorkers();
  // With REDIS_URL the app's Redis-shared parts (the auth throttle) use it, as in production.
  const redis = openRedis(merged, log);
  const app = buildApp({ config: merged, db, log, ingest, callbacks, events, redis, metrics, tracing: appOptions.tracing });
  const gql: TestApp['gql'] = async (key, query, variables) => {
    const response = await app.yoga.fetch('http://quarry/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
      body: JSON.stringify({ query, variables }),
    });
    return { status: response.status, ...(await response.json()) };
  };
  return {
    app,
    db,
    ingest,
    callbacks,
    events,
    metrics,
    gql,
    async gqlOk(key, query, variables) {
      const result = await gql(key, query, variables);
      if (result.errors?.length) {
        throw new Error(`GraphQL errors for\n${query}\n${JSON.stringify(result.errors, null, 2)}`);
      }
      return result.data;
    },
    seed: (name) => seedOrganization(db, name),
    async tenant() {
      const org = await seedOrganization(db);
      const key = await db.prisma.apiKey.findFirstOrThrow({ where: { organizationId: org.organizationId }, select: { id: true } });
      const actor: Actor = { organizationId: org.organizationId, userId: org.userId, role: 'ADMIN', apiKeyId: key.id };
      return { ...org, db: scopedPrisma(db.prisma, org.organizationId), actor };
    },
    async close() {
      await app.stop();
      await ingest.stop();
      await callbacks.stop(); // outcomes of interrupted deliveries are recorded before the database closes
      await redis?.close();
      await db.close();
    },
  };
}
