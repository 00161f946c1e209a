/**
 * `npm run worker`: a processing worker on its own, for production: takes file jobs from the Redis queue and
 * writes to the shared PostgreSQL; as many as you like, on any machine. Needs DATABASE_URL and REDIS_URL (the
 * embedded database belongs to the one `npm start` process, which runs its workers itself).
 */
import { loadConfigOrExit } from './core/config.js';
import { EventBus } from './core/events.js';
import { openRedis } from './core/redis.js';
import { openDatabase } from './core/db/index.js';
import { createLogger } from './core/logger.js';
import { Metrics } from './core/metrics.js';
import { serveMetrics } from './core/observability.js';
import { startTracing } from './core/tracing.js';
import { callbackSettings, createCallbacks } from './domain/callbacks.js';
import { startIngest } from './ingest/start.js';
import { migrateOrExit } from './startup.js';

async function main() {
  const config = loadConfigOrExit();
  const log = createLogger(config.LOG_LEVEL);
  // Jobs a worker ends call back from here: the same policy (allow-list, attempts, timeout) as the server.
  const callbacks = createCallbacks(callbackSettings(config, log));
  if (!config.DATABASE_URL || !config.REDIS_URL) {
    log.fatal('npm run worker needs DATABASE_URL and REDIS_URL: the embedded server (npm start) runs its own workers');
    process.exit(1);
  }
  const tracing = startTracing(config, 'quarry-worker', log);
  const db = await openDatabase(config);
  await migrateOrExit(db, config.migrateOnStart, log);
  const redis = openRedis(config, log)!;
  const events = await EventBus.open(redis);
  const metrics = new Metrics({ processMetrics: true });
  metrics.observePool(db.poolStats);
  const ingest = await startIngest(config, db, log, redis, { callbacks, events }, true, metrics);
  // A worker has no API port: its metrics (queue, jobs, ingestion, embeddings) are served on METRICS_PORT when set.
  const metricsServer = config.METRICS_PORT === undefined ? null : await serveMetrics(metrics, config.METRICS_PORT, config.METRICS_HOST ?? config.HOST, log);
  callbacks.start(db.prisma); // pending callback deliveries, this process's and any whose process stopped
  log.info({ workerId: ingest.workerId, concurrency: config.WORKER_CONCURRENCY }, 'worker ready');

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'worker shutting down: running jobs stop at their next step and are released');
    setTimeout(() => {
      log.error({ timeoutMs: config.SHUTDOWN_TIMEOUT_MS }, 'shutdown took longer than SHUTDOWN_TIMEOUT_MS; exiting');
      process.exit(1);
    }, config.SHUTDOWN_TIMEOUT_MS + 1000).unref();
    try {
      await Promise.all([ingest.stop(), metricsServer?.close()]);
      await events.close();
      await callbacks.stop(); // outcomes of interrupted deliveries are recorded before the database closes
      await redis.close();
      await db.close();
      await tracing?.shutdown();
      process.exit(0);
    } catch (error) {
      log.error({ err: error }, 'worker shutdown failed');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
