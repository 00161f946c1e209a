import type { PGlite } from '@electric-sql/pglite';
import pg from 'pg';

/**
 * The smallest SQL surface the migration runner and health checks need, over either database.
 * Application code uses Prisma; this exists for the places Prisma cannot reach (migrations, locks).
 */
export interface SqlRunner {
  readonly kind: 'pglite' | 'postgres';
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Runs a multi-statement script. */
  exec(script: string): Promise<void>;
  /** Runs `fn` inside BEGIN/COMMIT, rolling back when it throws. */
  transaction<T>(fn: (tx: SqlRunner) => Promise<T>): Promise<T>;
}

export function pgliteRunner(db: PGlite): SqlRunner {
  const runner: SqlRunner = {
    kind: 'pglite',
    async query<T>(sql: string, params: unknown[] = []) {
      return (await db.query(sql, params)).rows as T[];
    },
    async exec(script) {
      await db.exec(script);
    },
    transaction(fn) {
      return db.transaction((tx) =>
        fn({
          kind: 'pglite',
          query: async <T>(sql: string, params: unknown[] = []) => (await tx.query(sql, params)).rows as T[],
          exec: async (script) => void (await tx.exec(script)),
          transaction: () => Promise.reject(new Error('nested transactions are not supported')),
        }),
      );
    },
  };
  return runner;
}

/**
 * A runner over a pool: each statement on whichever connection is free, a transaction on one connection held until it
 * ends. For PGlite in its own thread, whose pool has its one session: like pgliteRunner, holding the runner does not
 * hold the database, so other queries (Prisma's, the reader's) interleave with the runner's statements.
 */
export function pgPoolRunner(pool: pg.Pool, kind: SqlRunner['kind']): SqlRunner {
  return {
    kind,
    async query<T>(sql: string, params: unknown[] = []) {
      return (await pool.query(sql, params)).rows as T[];
    },
    async exec(script) {
      await pool.query(script);
    },
    async transaction(fn) {
      const client = await pool.connect();
      try {
        return await pgClientRunner(client, kind).transaction((tx) => fn({ ...tx, transaction: () => Promise.reject(new Error('nested transactions are not supported')) }));
      } finally {
        client.release();
      }
    },
  };
}

/**
 * A runner over one dedicated PostgreSQL connection (session-level advisory locks need the same session); `kind`
 * says which database answers on it (PGlite in its thread speaks the same protocol).
 */
export function pgClientRunner(client: pg.Client | pg.PoolClient, kind: SqlRunner['kind'] = 'postgres'): SqlRunner {
  const runner: SqlRunner = {
    kind,
    async query<T>(sql: string, params: unknown[] = []) {
      return (await client.query(sql, params)).rows as T[];
    },
    async exec(script) {
      await client.query(script);
    },
    async transaction(fn) {
      await client.query('BEGIN');
      try {
        const result = await fn(runner);
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK');
        throw error;
      }
    },
  };
  return runner;
}
