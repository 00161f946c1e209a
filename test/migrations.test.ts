import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite/vector';
import { Writable } from 'node:stream';
import pg from 'pg';
import { describe, expect, inject, it } from 'vitest';
import { migrate, migrateAtStart, MigrationError, MIGRATIONS_DIR, PendingMigrationsError, readMigrations, type Migration } from '../src/core/db/migrate.js';
import { diffToSchema, SCHEMA_PATH } from '../src/core/db/schema-engine.js';
import { createLogger } from '../src/core/logger.js';
import { pgClientRunner, pgliteRunner, type SqlRunner } from '../src/core/db/sql.js';
import { privateDatabase } from './support/db.js';

const postgresUrl = inject('postgresUrl');

/** A throwaway PostgreSQL database for tests that need an empty one. */
async function withScratchPostgres<T>(fn: (runner: SqlRunner) => Promise<T>): Promise<T> {
  const own = await privateDatabase('quarry_scratch');
  const client = new pg.Client({ connectionString: own.url });
  try {
    await client.connect();
    return await fn(pgClientRunner(client));
  } finally {
    await client.end();
    await own.drop();
  }
}

async function withScratchPGlite<T>(fn: (runner: SqlRunner) => Promise<T>): Promise<T> {
  const db = await PGlite.create({ extensions: { vector } });
  try {
    return await fn(pgliteRunner(db));
  } finally {
    await db.close();
  }
}

const scratch = { pglite: withScratchPGlite, ...(postgresUrl ? { postgres: withScratchPostgres } : {}) };

/**
 * The schema each kind's fresh migration produced in the first test, for the comparison of the two at the end (which
 * migrates fresh databases itself when run alone): each fresh database with every migration costs seconds.
 */
const migratedSchemas: Record<string, Awaited<ReturnType<typeof describeSchema>>> = {};

/** Tables, columns, indexes and constraints as the catalog describes them. */
async function describeSchema(db: SqlRunner) {
  const columns = await db.query(
    `SELECT table_name, column_name, data_type, udt_name, is_nullable, column_default, is_generated, generation_expression
       FROM information_schema.columns WHERE table_schema = 'public' ORDER BY table_name, column_name`,
  );
  const indexes = await db.query(`SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY indexname`);
  const constraints = await db.query(
    `SELECT conrelid::regclass::text AS tbl, conname, pg_get_constraintdef(oid) AS def
       FROM pg_constraint WHERE connamespace = 'public'::regnamespace ORDER BY conname`,
  );
  return { columns, indexes, constraints };
}

// The drift check runs Prisma's schema engine (WebAssembly) over every migration: tens of seconds on a loaded machine,
// so it runs once, against schema.prisma with one column added: the diff must be exactly that column, which proves
// both that migrations and schema.prisma agree and that a change without a migration shows up.
const ADDED_COLUMN = '  instructions     String?\n  color            String?\n';
let driftDiff: Promise<string> | undefined;
async function diffAgainstChangedSchema(): Promise<string> {
  driftDiff ??= readFile(SCHEMA_PATH, 'utf8').then((schema) => {
    const changed = schema.replace('  instructions     String?\n', ADDED_COLUMN);
    expect(changed).not.toBe(schema);
    return diffToSchema('migrations', changed);
  });
  return driftDiff;
}
const ADDED_COLUMN_SQL = /^-- AlterTable\nALTER TABLE "Source" ADD COLUMN\s+"color" TEXT;\n/;

describe('migrations', { timeout: 120_000 }, () => {
  it('schema.prisma and prisma/migrations agree (no drift)', async () => {
    // Anything beyond the added column is drift between the migrations and schema.prisma.
    expect((await diffAgainstChangedSchema()).replace(ADDED_COLUMN_SQL, '')).toBe('');
  });

  it('the drift check fails when schema.prisma changes without a migration', async () => {
    expect(await diffAgainstChangedSchema()).toMatch(ADDED_COLUMN_SQL);
  });

  for (const [kind, withDb] of Object.entries(scratch)) {
    describe(kind, () => {
      it('applies every migration once and records them as prisma migrate deploy does', async () => {
        await withDb(async (db) => {
          const all = await readMigrations();
          // At start-up without MIGRATE_ON_START, an empty database is refused with its pending migrations: core
          // rejects (the entry point reports and exits), it never ends the process itself.
          const logged: string[] = [];
          const log = createLogger('info', new Writable({ write: (chunk, _encoding, done) => (logged.push(String(chunk)), done()) }));
          const atStart = (apply: boolean) => migrateAtStart({ withRunner: (fn) => fn(db) }, apply, log);
          const refused = await atStart(false).catch((error: unknown) => error);
          expect(refused).toBeInstanceOf(PendingMigrationsError);
          expect((refused as PendingMigrationsError).pending).toEqual(all.map((m) => m.name));
          expect(logged).toEqual([]);

          const first = await migrate(db);
          expect(first.applied).toEqual(all.map((m) => m.name));
          const rows = await db.query<{ migration_name: string; checksum: string; finished_at: Date | null; applied_steps_count: number; logs: string | null }>(
            'SELECT migration_name, checksum, finished_at, applied_steps_count, logs FROM "_prisma_migrations" ORDER BY migration_name',
          );
          for (const [i, m] of all.entries()) {
            const sql = await readFile(path.join(MIGRATIONS_DIR, m.name, 'migration.sql'));
            expect(rows[i]).toMatchObject({ migration_name: m.name, applied_steps_count: 1, logs: null });
            expect(rows[i].checksum).toBe(createHash('sha256').update(sql).digest('hex'));
            expect(rows[i].finished_at).toBeInstanceOf(Date);
          }
          const second = await migrate(db);
          expect(second).toEqual({ applied: [], alreadyApplied: all.map((m) => m.name), checksumMismatches: [] });
          expect(await db.query('SELECT 1 FROM "_prisma_migrations"')).toHaveLength(all.length);
          await atStart(false); // nothing pending now: it starts
          expect(logged).toEqual([]);
          migratedSchemas[kind] = await describeSchema(db);
        });
      });

      it('records a failing migration as failed, rolls back its statements, and refuses to go on', async () => {
        await withDb(async (db) => {
          const make = (name: string, sql: string): Migration => ({ name, sql, checksum: createHash('sha256').update(sql).digest('hex') });
          const good = make('001_good', 'CREATE TABLE good (id int);');
          const bad = make('002_bad', 'CREATE TABLE half (id int);\nSELECT * FROM no_such_table;');
          await expect(migrate(db, [good, bad])).rejects.toThrow(MigrationError);
          const rows = await db.query<{ migration_name: string; finished_at: Date | null; logs: string | null }>(
            'SELECT migration_name, finished_at, logs FROM "_prisma_migrations" ORDER BY migration_name',
          );
          expect(rows[0]).toMatchObject({ migration_name: '001_good' });
          expect(rows[0].finished_at).not.toBeNull();
          expect(rows[1]).toMatchObject({ migration_name: '002_bad', finished_at: null });
          expect(rows[1].logs).toMatch(/no_such_table/);
          // The failed migration's first statement was rolled back with it.
          expect(await db.query(`SELECT to_regclass('public.half') AS t`)).toEqual([{ t: null }]);
          await expect(migrate(db, [good, make('002_bad', 'CREATE TABLE half (id int);')])).rejects.toThrow(/failed earlier/);
        });
      });
    });
  }

  it.skipIf(!postgresUrl)('produces the same tables, columns, indexes and constraints on PGlite and PostgreSQL', async () => {
    const onPGlite = migratedSchemas.pglite ?? (await withScratchPGlite(async (db) => (await migrate(db), describeSchema(db))));
    const onPostgres = migratedSchemas.postgres ?? (await withScratchPostgres(async (db) => (await migrate(db), describeSchema(db))));
    expect(onPostgres).toEqual(onPGlite);
    expect(onPGlite.indexes.map((i: any) => i.indexname)).toContain('Passage_fts_idx');
  });
});
