import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { z } from 'zod';
import { parseAllowList } from './outbound.js';

/**
 * Every environment variable Quarry reads, parsed and validated once at start.
 * The README's configuration table mirrors this list.
 */
const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

/** The largest GRAPHQL_MAX_LIST_SIZE allowed; connections clamp to it should a page size ever get past the check. */
export const GRAPHQL_LIST_SIZE_CEILING = 1000;

const schema = z.object({
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: z.coerce.number().int().min(0).max(65535).default(8283),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgresql:// connection string')
    .optional(),
  DATA_DIR: z.string().min(1).default('./data'),
  // Where the embedded database runs: its own thread (the server stays responsive during long statements) or the server's.
  PGLITE_THREAD: z.enum(['worker', 'main']).default('worker'),
  REDIS_URL: z.string().regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL').optional(),
  // Every Redis key, channel and queue of this deployment lives under `<REDIS_PREFIX>:`; deployments sharing a
  // Redis need different prefixes. No colon: it separates the prefix from what follows.
  REDIS_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be 1-64 letters, digits, dots, dashes or underscores')
    .default('quarry'),
  QUARRY_API_KEY: z.string().min(16, 'must be at least 16 characters').optional(),
  MIGRATE_ON_START: bool.optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  GRAPHQL_MAX_DEPTH: z.coerce.number().int().min(1).default(12),
  GRAPHQL_MAX_COMPLEXITY: z.coerce.number().int().min(1).default(5000),
  GRAPHQL_MAX_BREADTH: z.coerce.number().int().min(1).default(200),
  GRAPHIQL: bool.default(true),
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(0).default(10_000),
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).default(10),
  AUTH_CACHE_TTL_MS: z.coerce.number().int().min(0).default(5000),
  CALLBACK_ATTEMPTS: z.coerce.number().int().min(1).max(20).default(5),
  CALLBACK_TIMEOUT_MS: z.coerce.number().int().min(100).default(5000),
  CALLBACK_LEASE_MS: z.coerce.number().int().min(100).default(60_000),
  CALLBACK_SWEEP_MS: z.coerce.number().int().min(50).default(5000),
  // Non-public ranges callbacks may reach (e.g. 127.0.0.0/8,::1 on a laptop); by default none.
  CALLBACK_ALLOW_PRIVATE: z
    .string()
    .default('')
    .transform((value, ctx) => {
      try {
        return parseAllowList(value);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message });
        return z.NEVER;
      }
    }),
  DEFAULT_EMBEDDING: z.string().regex(/^[^/\s]+\/\S+$/, 'must be a provider/model handle').default('local/lexical-384'),
  OPENAI_API_KEY: z.string().min(1).optional(),
  OPENAI_BASE_URL: z.string().url().optional(),
  AZURE_OPENAI_API_KEY: z.string().min(1).optional(),
  AZURE_OPENAI_ENDPOINT: z.string().url().optional(),
  AZURE_OPENAI_API_VERSION: z.string().min(1).optional(),
  OLLAMA_BASE_URL: z.string().url().optional(),
  VLLM_BASE_URL: z.string().url().optional(),
  VLLM_API_KEY: z.string().min(1).optional(),
  LMSTUDIO_BASE_URL: z.string().url().optional(),
  TOGETHER_API_KEY: z.string().min(1).optional(),
  TOGETHER_BASE_URL: z.string().url().optional(),
  MISTRAL_API_KEY: z.string().min(1).optional(),
  MISTRAL_BASE_URL: z.string().url().optional(),
  MAX_UPLOAD_BYTES: z.coerce.number().int().min(1).default(100 * 1024 * 1024),
  MAX_UPLOAD_FILES: z.coerce.number().int().min(1).default(20),
  RUN_WORKERS: bool.default(true),
  WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(2),
  JOB_HEARTBEAT_MS: z.coerce.number().int().min(100).default(5000),
  JOB_STALE_MS: z.coerce.number().int().min(1000).default(30_000),
  JOB_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(20).default(3),
  JOB_RETRY_DELAY_MS: z.coerce.number().int().min(0).default(2000),
  SUBSCRIPTIONS_PER_CONNECTION: z.coerce.number().int().min(1).default(100),
  SUBSCRIPTIONS_PER_ORGANIZATION: z.coerce.number().int().min(1).default(5000),
  WS_KEEPALIVE_MS: z.coerce.number().int().min(0).default(12_000),
  WS_CONNECTION_INIT_TIMEOUT_MS: z.coerce.number().int().min(100).default(3000),
  AUTH_FAILURES_PER_ADDRESS: z.coerce.number().int().min(1).default(60),
  AUTH_FAILURES_PER_KEY_PREFIX: z.coerce.number().int().min(1).default(20),
  AUTH_FAILURE_WINDOW_S: z.coerce.number().int().min(1).default(60),
  JSON_MAX_DEPTH: z.coerce.number().int().min(2).max(1000).default(64),
  GRAPHQL_MAX_TOKENS: z.coerce.number().int().min(100).default(5000),
  GRAPHQL_MAX_LIST_SIZE: z.coerce.number().int().min(1).max(GRAPHQL_LIST_SIZE_CEILING).default(100),
  GRAPHQL_INTROSPECTION: bool.default(true),
  /** Unset: suggestions follow GRAPHQL_INTROSPECTION (they reveal nothing introspection does not). */
  GRAPHQL_SUGGESTIONS: bool.optional(),
  CORS_ORIGINS: z
    .string()
    .default('')
    .transform((list) => list.split(',').map((o) => o.trim()).filter(Boolean))
    .refine((origins) => origins.every((o) => o === '*' || isOrigin(o)), 'must be * or a comma-separated list of origins like https://app.example.com'),
  MAX_CONNECTIONS: z.coerce.number().int().min(1).default(1000),
  HEADERS_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
  REQUEST_TIMEOUT_MS: z.coerce.number().int().min(0).default(120_000),
  TRUSTED_PROXIES: z
    .string()
    .default('')
    .transform((list) => list.split(',').map((entry) => entry.trim()).filter(Boolean))
    .refine((entries) => entries.every(isAddressOrRange), 'must be IP addresses or CIDR ranges, separated by commas'),
  PROCESSING_MEMORY_MB: z.coerce.number().int().min(32).default(512),
  MAX_FILE_PASSAGES: z.coerce.number().int().min(1).default(250_000),
  MAX_INFLATE_RATIO: z.coerce.number().min(1).default(100),
  INGEST_BATCH_SIZE: z.coerce.number().int().min(1).max(4096).default(1024),
  // /metrics on a port of its own (no token asked: keep it on a private network), and/or on the main port behind a token.
  METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  METRICS_HOST: z.string().min(1).optional(),
  METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  // OpenTelemetry tracing (core/tracing.ts), off unless an OTLP/HTTP endpoint is set: the standard variables.
  OTEL_EXPORTER_OTLP_ENDPOINT: z.string().url().optional(),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: z.string().url().optional(),
  OTEL_EXPORTER_OTLP_HEADERS: z.string().optional(),
  OTEL_SERVICE_NAME: z.string().min(1).optional(),
  OTEL_TRACES_SAMPLER_ARG: z.coerce.number().min(0).max(1).default(1),
}).refine((c) => c.REQUEST_TIMEOUT_MS === 0 || c.HEADERS_TIMEOUT_MS <= c.REQUEST_TIMEOUT_MS, {
  message: 'must not exceed REQUEST_TIMEOUT_MS',
  path: ['HEADERS_TIMEOUT_MS'],
})
  // A claim that lapses while its delivery may still be running lets a second process send the same callback.
  .refine((c) => c.CALLBACK_LEASE_MS > c.CALLBACK_TIMEOUT_MS, {
    message: 'must be longer than CALLBACK_TIMEOUT_MS (a delivery still running would lose its claim)',
    path: ['CALLBACK_LEASE_MS'],
  });

/** Every variable the configuration reads (the docs test checks each is in .env.example and the README). */
export const CONFIG_VARIABLES: readonly string[] = Object.keys(schema.shape);

function isAddressOrRange(entry: string): boolean {
  const [address, bits, ...rest] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length) return false;
  return bits === undefined || (/^\d+$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128));
}

/** `scheme://host[:port]` exactly as browsers send it in Origin. */
function isOrigin(value: string): boolean {
  try {
    return new URL(value).origin === value;
  } catch {
    return false;
  }
}

export type Config = Omit<z.infer<typeof schema>, 'GRAPHQL_SUGGESTIONS'> & {
  GRAPHQL_SUGGESTIONS: boolean;
  databaseKind: 'pglite' | 'postgres';
  migrateOnStart: boolean;
};

export class ConfigError extends Error {}

/** Reads `.env` (if present) without overriding real environment variables, then validates. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, envFile = '.env'): Config {
  if (env === process.env && existsSync(envFile)) process.loadEnvFile(envFile);
  const result = schema.safeParse(env);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join('\n')}`);
  }
  const c = result.data;
  const databaseKind = c.DATABASE_URL ? 'postgres' : 'pglite';
  return {
    ...c,
    DATA_DIR: path.resolve(c.DATA_DIR),
    databaseKind,
    // The embedded database is ours alone, so it migrates itself; a shared PostgreSQL is migrated
    // as a one-shot step (npm run db:migrate) unless MIGRATE_ON_START=true.
    migrateOnStart: c.MIGRATE_ON_START ?? databaseKind === 'pglite',
    GRAPHQL_SUGGESTIONS: c.GRAPHQL_SUGGESTIONS ?? c.GRAPHQL_INTROSPECTION,
  };
}

/** For entry points: the configuration, or the validation message on stderr and exit code 1. */
export function loadConfigOrExit(): Config {
  try {
    return loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }
}
