/**
 * `npm start`: validates configuration, opens the database (PGlite in DATA_DIR, or PostgreSQL with
 * DATABASE_URL), applies migrations where this process owns the database, creates the default organization
 * on first start, and serves until SIGTERM/SIGINT.
 */
import { loadConfigOrExit } from './core/config.js';
import { DataDirInUseError, openDatabase, pgliteDataPath } from './core/db/index.js';
import { EventBus } from './core/events.js';
import { openRedis } from './core/redis.js';
import { createLogger } from './core/logger.js';
import { Metrics } from './core/metrics.js';
import { serveMetrics } from './core/observability.js';
import { installProcessGuards } from './core/request-scope.js';
import { startTracing } from './core/tracing.js';
import { callbackSettings, createCallbacks } from './domain/callbacks.js';
import { bootstrap } from './domain/organizations.js';
import { startIngest } from './ingest/start.js';
import { migrateOrExit } from './startup.js';

async function main() {
  const startedAt = performance.now();
  const config = loadConfigOrExit();
  const log = createLogger(config.LOG_LEVEL);
  // An error escaping one request's handlers is logged and fails that request only; outside any request it exits.
  installProcessGuards(log);
  const callbacks = createCallbacks(callbackSettings(config, log));
  // Before anything it traces is used (off unless OTEL_EXPORTER_OTLP_ENDPOINT or …_TRACES_ENDPOINT is set).
  const tracing = startTracing(config, 'quarry', log);
  // Load the GraphQL stack while the database opens: the two overlap (file copy and WASM compile run off-thread).
  const appModule = import('./app.js');

  let db;
  try {
    db = await openDatabase(config, {
      onThreadExit(error) {
        log.fatal({ err: error }, 'the embedded database stopped; exiting');
        process.exit(1);
      },
    });
  } catch (error) {
    if (error instanceof DataDirInUseError) {
      log.fatal(error.message);
      process.exit(1);
    }
    throw error;
  }
  log.info({ database: db.kind, ...(db.kind === 'pglite' ? { dataDir: pgliteDataPath(config), thread: config.PGLITE_THREAD } : {}) }, 'database open');

  await migrateOrExit(db, config.migrateOnStart, log);

  const boot = await bootstrap(db.prisma, config.QUARRY_API_KEY);
  if (boot.kind === 'created' && boot.generated) {
    // The only time this key is ever shown: only its hash is stored.
    process.stderr.write(
      `\n  Quarry created the default organization and its admin user.\n  API key (shown once, store it now): ${boot.apiKey}\n` +
        `  Use it as:  Authorization: Bearer ${boot.apiKey}\n\n`,
    );
    log.info('default organization created; its API key was printed once to stderr');
  } else if (boot.kind === 'created' || boot.kind === 'key-added') {
    log.info('QUARRY_API_KEY registered for the default admin user');
  }

  // With Redis, job/file/run events from any replica or worker reach subscribers on every replica.
  const redis = openRedis(config, log);
  const events = await EventBus.open(redis);
  // One registry for the process: the server, the workers and the pipeline report to it.
  const metrics = new Metrics({ processMetrics: true });
  const ingest = await startIngest(config, db, log, redis, { callbacks, events }, config.RUN_WORKERS, metrics);
  callbacks.start(db.prisma); // pending callback deliveries, this process's and any whose process stopped
  const { buildApp } = await appModule;
  const app = buildApp({ config, db, log, ingest, callbacks, events, redis, metrics, tracing });
  const { url } = await app.listen(config.PORT, config.HOST);
  const metricsServer = config.METRICS_PORT === undefined ? null : await serveMetrics(metrics, config.METRICS_PORT, config.METRICS_HOST ?? config.HOST, log);
  // CPU time too: on a busy machine the wall-clock time grows with the load, the CPU time does not.
  const cpu = process.cpuUsage();
  log.info({ url: `${url}/graphql`, startupMs: Math.round(performance.now() - startedAt), cpuMs: Math.round((cpu.user + cpu.system) / 1000) }, 'Quarry is listening');

  let shuttingDown = false;
  const shutdown = async (signal: string) => {
    if (shuttingDown) return;
    shuttingDown = true;
    const deadline = Date.now() + config.SHUTDOWN_TIMEOUT_MS;
    log.info({ signal }, 'shutting down: finishing in-flight requests');
    // Whatever still runs when the time is nearly up (a request, a job's step), the database closes in what is left
    // (PGlite is stopped mid-statement if it must; its folder recovers at the next start) and the process ends.
    const grace = Math.min(1000, config.SHUTDOWN_TIMEOUT_MS / 5);
    setTimeout(() => {
      log.warn({ timeoutMs: config.SHUTDOWN_TIMEOUT_MS }, 'shutdown timeout: closing the database and exiting');
      void db.close({ timeoutMs: grace }).finally(() => process.exit(1));
    }, config.SHUTDOWN_TIMEOUT_MS - grace).unref();
    try {
      // At once: in-flight requests finish while running file jobs stop at their next step and are released.
      await Promise.all([app.stop(), ingest.stop(), metricsServer?.close()]);
      await events.close(); // after the workers, whose last steps still publish
      await redis?.close();
      await callbacks.stop(); // outcomes of interrupted deliveries are recorded before the database closes
      // PGlite finishes the statement it runs and closes, within what is left of the shutdown time.
      await db.close({ timeoutMs: Math.max(0, deadline - Date.now()) });
      await tracing?.shutdown(); // the last spans, the shutdown's included
      log.info('shutdown complete');
      process.exit(0);
    } catch (error) {
      log.error({ err: error }, 'shutdown failed');
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
