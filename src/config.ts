import { existsSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

/**
 * Every environment variable Quarry reads, parsed and validated once at start.
 * The README's configuration table mirrors this list.
 */
const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const schema = z.object({
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: z.coerce.number().int().min(0).max(65535).default(8283),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgresql:// connection string')
    .optional(),
  DATA_DIR: z.string().min(1).default('./data'),
  REDIS_URL: z.string().regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL').optional(),
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
  PROCESSING_MEMORY_MB: z.coerce.number().int().min(32).default(512),
  MAX_FILE_PASSAGES: z.coerce.number().int().min(1).default(250_000),
  MAX_INFLATE_RATIO: z.coerce.number().min(1).default(100),
  INGEST_BATCH_SIZE: z.coerce.number().int().min(1).max(4096).default(1024),
});

export type Config = z.infer<typeof schema> & { databaseKind: 'pglite' | 'postgres'; migrateOnStart: boolean };

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
