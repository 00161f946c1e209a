import { createHash } from 'node:crypto';
import type { PGlite } from '@electric-sql/pglite';
import type pg from 'pg';

/**
 * Raw SQL for the hot read paths (pages of children, counts, link tables), on the same connections as Prisma
 * but without going through Prisma's query engine. Measured on the nested sources read: Prisma's `$queryRaw`
 * spends about three times the driver's CPU turning a 100-row result into objects, and sends every statement
 * unprepared, so PostgreSQL plans it again each time. Here each statement is prepared once per connection.
 *
 * Rules for callers: `text` comes from a fixed set of shapes with every value a `$n` parameter (each distinct
 * text becomes a prepared statement on every pooled connection); the statement filters by organization itself
 * (tenancy is not applied here); types that differ between the drivers are cast in SQL (`count(*)::int`, not
 * bigint, which pg returns as a string and PGlite as a number).
 */
/**
 * Marks a row a compiled read (domain/reads) returned with every column its selection's exposed fields read: those
 * fields resolve straight from it (core/graphql-jit.ts), with no ORM selection bookkeeping per field and row.
 */
export const COMPILED_ROW = Symbol('compiledRow');

export interface SqlReader {
  query<T = Record<string, unknown>>(statement: Statement): Promise<T[]>;
}

/** What `Prisma.sql` builds (`text` with `$1…` placeholders), or the same by hand. */
export interface Statement {
  readonly text: string;
  readonly values: unknown[];
}

export function pgReader(pool: pg.Pool, onQuery?: (sql: string) => void): SqlReader {
  const names = new Map<string, string>();
  const nameOf = (text: string) => {
    let name = names.get(text);
    if (!name) {
      // Derived from the text, so every connection agrees and two shapes never collide.
      name = `q_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`;
      names.set(text, name);
    }
    return name;
  };
  return {
    async query<T>({ text, values }: Statement) {
      onQuery?.(text);
      const result = await pool.query({ name: nameOf(text), text, values });
      return result.rows as T[];
    },
  };
}

export function pgliteReader(db: PGlite, onQuery?: (sql: string) => void): SqlReader {
  return {
    async query<T>({ text, values }: Statement) {
      onQuery?.(text);
      return (await db.query<T>(text, values)).rows;
    },
  };
}
