import { createHash, randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { PROJECT_ROOT } from '../paths.js';
import type { Logger } from '../logger.js';
import type { SqlRunner } from './sql.js';

/**
 * Applies prisma/migrations offline, recording each in `_prisma_migrations` exactly as `prisma migrate deploy`
 * does (same table, checksum = sha256 of migration.sql, finished_at, applied_steps_count), so a machine with
 * Prisma's native engine can run the stock command on the same database and folder.
 *
 * Each migration runs in its own transaction. A failure rolls back its statements and leaves its row with
 * `finished_at = NULL` and the error in `logs` — recorded as failed, never as applied — and later deploys
 * refuse to continue until it is resolved, as Prisma does (P3009).
 */

export const MIGRATIONS_DIR = path.join(PROJECT_ROOT, 'prisma', 'migrations');

/** The key Prisma's own migrate uses, so the two never run at once against one database. */
const ADVISORY_LOCK_KEY = 72707369;

const CREATE_TABLE = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`;

export interface Migration {
  name: string;
  sql: string;
  checksum: string;
}

export interface MigrateResult {
  applied: string[];
  alreadyApplied: string[];
  checksumMismatches: string[];
}

export class MigrationError extends Error {
  constructor(
    message: string,
    readonly migration: string,
  ) {
    super(message);
  }
}

export async function readMigrations(dir = MIGRATIONS_DIR): Promise<Migration[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const names = entries.filter((e) => e.isDirectory()).map((e) => e.name).sort();
  return Promise.all(
    names.map(async (name) => {
      const sql = await readFile(path.join(dir, name, 'migration.sql'), 'utf8');
      return { name, sql, checksum: createHash('sha256').update(sql).digest('hex') };
    }),
  );
}

interface Row {
  id: string;
  migration_name: string;
  checksum: string;
  finished_at: Date | null;
  rolled_back_at: Date | null;
}

export async function migrate(db: SqlRunner, migrations?: Migration[]): Promise<MigrateResult> {
  const list = migrations ?? (await readMigrations());
  const locked = db.kind === 'postgres';
  if (locked) await db.query('SELECT pg_advisory_lock($1)', [ADVISORY_LOCK_KEY]);
  try {
    await db.exec(CREATE_TABLE);
    const rows = await db.query<Row>(
      'SELECT id, migration_name, checksum, finished_at, rolled_back_at FROM "_prisma_migrations" ORDER BY started_at',
    );
    const failed = rows.find((r) => r.finished_at === null && r.rolled_back_at === null);
    if (failed) {
      throw new MigrationError(
        `Migration ${failed.migration_name} failed earlier and is not resolved. Fix the database, then mark it ` +
          `rolled back (UPDATE "_prisma_migrations" SET rolled_back_at = now() WHERE id = '${failed.id}') ` +
          `or run \`prisma migrate resolve\`.`,
        failed.migration_name,
      );
    }
    const done = new Map(rows.filter((r) => r.finished_at !== null).map((r) => [r.migration_name, r]));
    const result: MigrateResult = { applied: [], alreadyApplied: [], checksumMismatches: [] };
    for (const m of list) {
      const existing = done.get(m.name);
      if (existing) {
        result.alreadyApplied.push(m.name);
        if (existing.checksum !== m.checksum) result.checksumMismatches.push(m.name);
        continue;
      }
      await applyOne(db, m);
      result.applied.push(m.name);
    }
    return result;
  } finally {
    if (locked) await db.query('SELECT pg_advisory_unlock($1)', [ADVISORY_LOCK_KEY]);
  }
}

/** Migrations in the folder that the database has not finished applying (all of them on an empty database). */
export async function pendingMigrations(db: SqlRunner, migrations?: Migration[]): Promise<string[]> {
  const list = migrations ?? (await readMigrations());
  const applied = await db
    .query<{ migration_name: string }>('SELECT migration_name FROM "_prisma_migrations" WHERE finished_at IS NOT NULL')
    .catch(() => []);
  const names = new Set(applied.map((r) => r.migration_name));
  return list.map((m) => m.name).filter((n) => !names.has(n));
}

export class PendingMigrationsError extends Error {
  constructor(readonly pending: string[]) {
    super(`the database has unapplied migrations: run \`npm run db:migrate\` (or set MIGRATE_ON_START=true): ${pending.join(', ')}`);
  }
}

/**
 * What every process does before it touches the schema (server, worker, CLI): applies pending migrations when it
 * owns them (`apply`: MIGRATE_ON_START, on by default for the embedded database), else refuses to run on a
 * database whose schema is behind its code. Several processes may apply at once: the advisory lock orders them.
 */
export async function migrateOrCheck(db: SqlRunner, apply: boolean): Promise<MigrateResult> {
  if (apply) return migrate(db);
  const pending = await pendingMigrations(db);
  if (pending.length) throw new PendingMigrationsError(pending);
  return { applied: [], alreadyApplied: [], checksumMismatches: [] };
}

/**
 * migrateOrCheck for a process starting up: logs what it applied. A database behind its code rejects with
 * PendingMigrationsError; the entry point reports it and exits (core never ends the process).
 */
export async function migrateAtStart(
  db: { withRunner<T>(fn: (runner: SqlRunner) => Promise<T>): Promise<T> },
  apply: boolean,
  log: Pick<Logger, 'info'>,
): Promise<void> {
  const result = await db.withRunner((runner) => migrateOrCheck(runner, apply));
  if (result.applied.length) log.info({ applied: result.applied }, 'migrations applied');
}

async function applyOne(db: SqlRunner, m: Migration): Promise<void> {
  const id = randomUUID();
  await db.query(
    'INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, applied_steps_count) VALUES ($1, $2, $3, now(), 0)',
    [id, m.checksum, m.name],
  );
  try {
    await db.transaction(async (tx) => {
      await tx.exec(m.sql);
      await tx.query(
        'UPDATE "_prisma_migrations" SET finished_at = now(), applied_steps_count = 1 WHERE id = $1',
        [id],
      );
    });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    await db.query('UPDATE "_prisma_migrations" SET logs = $2 WHERE id = $1', [id, message]);
    throw new MigrationError(`Migration ${m.name} failed: ${message}`, m.name);
  }
}
