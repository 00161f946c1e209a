/**
 * What the long-running entry points (main.ts, worker.ts) do alike while they start.
 */
import type { Database } from './core/db/index.js';
import { migrateAtStart, PendingMigrationsError } from './core/db/migrate.js';
import type { Logger } from './core/logger.js';

/**
 * Applies the pending migrations (with MIGRATE_ON_START) or refuses a schema behind the code: the process then
 * logs the pending migrations, closes the database and exits 1 (core reports; only an entry point ends a process).
 */
export async function migrateOrExit(db: Database, apply: boolean, log: Logger): Promise<void> {
  try {
    await migrateAtStart(db, apply, log);
  } catch (error) {
    if (!(error instanceof PendingMigrationsError)) throw error;
    log.fatal({ pending: error.pending }, error.message);
    await db.close();
    process.exit(1);
  }
}
