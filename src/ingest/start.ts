import type { Config } from '../core/config.js';
import type { Database } from '../core/db/index.js';
import type { Logger } from '../core/logger.js';
import type { Metrics } from '../core/metrics.js';
import { openQueue } from '../core/queue.js';
import type { RedisConnections } from '../core/redis.js';
import { limitsFromConfig } from '../documents/limits.js';
import type { CallbackSweeper } from '../domain/callbacks.js';
import type { EventBus } from '../core/events.js';
import { IngestionService } from './worker.js';

/**
 * The ingestion service as configured: an in-memory queue, or BullMQ on the process's Redis connections (with
 * REDIS_URL); workers in this process unless RUN_WORKERS=false (then `npm run worker` processes run them).
 */
export async function startIngest(
  config: Config,
  db: Database,
  log: Logger,
  redis: RedisConnections | null,
  { callbacks, events }: { callbacks: CallbackSweeper; events: EventBus },
  runWorkers = config.RUN_WORKERS,
  metrics?: Metrics,
): Promise<IngestionService> {
  const queue = await openQueue(redis, log);
  const ingest = new IngestionService({
    db,
    queue,
    log,
    settings: {
      concurrency: config.WORKER_CONCURRENCY,
      heartbeatMs: config.JOB_HEARTBEAT_MS,
      staleMs: config.JOB_STALE_MS,
      maxAttempts: config.JOB_MAX_ATTEMPTS,
      retryDelayMs: config.JOB_RETRY_DELAY_MS,
    },
    limits: limitsFromConfig(config),
    embedderEnv: config,
    // The embedded database belongs to this process alone (its lockfile says so): nobody else holds its jobs.
    exclusive: db.kind === 'pglite',
    metrics,
    callbacks,
    events,
  });
  if (runWorkers) await ingest.startWorkers();
  return ingest;
}
