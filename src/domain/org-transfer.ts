import { randomUUID } from 'node:crypto';
import type { SqlRunner } from '../core/db/sql.js';
import { AppError, badInput, conflict, notFound } from '../core/errors.js';

/**
 * An organization's data as JSON lines, and back. Generic over the schema: every table with an `organizationId`
 * column (and the Organization row itself) is read from the catalog, each row written as `to_jsonb(row)` (vectors
 * as pgvector's text, bytes as `\x…` hex, arrays as JSON arrays) and read back with `jsonb_populate_recordset`, so a
 * table or column added later needs no code here. API keys are not exported: their hashes are credentials.
 *
 * Lines: a header `{"quarry":"organization-export","version":1,"schema":<last migration>,"organizationId":…}`, then
 * `{"table":…,"row":…}` table after table (parents first), then `{"end":true,"rows":N}` (a file without it is
 * refused as truncated).
 */

export const EXPORT_FORMAT = 'organization-export';
const EXCLUDED = new Set(['ApiKey', '_prisma_migrations']);
const PAGE = 500;
const BATCH = 200;

interface TableInfo {
  name: string;
  /** Columns that can be written (not generated). */
  columns: string[];
  nullable: Set<string>;
  primaryKey: string[];
  references: { columns: string[]; table: string }[];
}

const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;

/** The organization's tables, parents before children (a cycle or a self-reference is left to the importer). */
async function readCatalog(sql: SqlRunner): Promise<TableInfo[]> {
  const columns = await sql.query<{ table: string; column: string; nullable: boolean; generated: boolean }>(
    `SELECT table_name AS table, column_name AS column, is_nullable = 'YES' AS nullable, is_generated <> 'NEVER' AS generated
       FROM information_schema.columns WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position`,
  );
  const constraints = await sql.query<{ table: string; type: string; ref: string | null; columns: string[] }>(
    `SELECT (SELECT relname FROM pg_class WHERE oid = c.conrelid)::text AS table, c.contype::text AS type,
            (SELECT relname FROM pg_class WHERE oid = c.confrelid)::text AS ref,
            ARRAY(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY k(n, i)
                  JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.i) AS columns
       FROM pg_constraint c WHERE c.contype IN ('p', 'f') AND c.connamespace = current_schema()::regnamespace`,
  );
  const tables = new Map<string, TableInfo>();
  for (const c of columns) {
    if (EXCLUDED.has(c.table)) continue;
    const table = tables.get(c.table) ?? { name: c.table, columns: [], nullable: new Set(), primaryKey: [], references: [] };
    tables.set(c.table, table);
    if (!c.generated) table.columns.push(c.column);
    if (c.nullable) table.nullable.add(c.column);
  }
  for (const c of constraints) {
    const table = tables.get(c.table);
    if (!table) continue;
    if (c.type === 'p') table.primaryKey = c.columns;
    else if (c.ref && tables.has(c.ref)) table.references.push({ columns: c.columns, table: c.ref });
  }
  const owned = [...tables.values()].filter((t) => t.name === 'Organization' || t.columns.includes('organizationId'));
  return parentsFirst(owned);
}

/** Kahn's order on the references; in a cycle, the table whose pending references are all nullable goes first. */
function parentsFirst(tables: TableInfo[]): TableInfo[] {
  const placed = new Set<string>();
  const order: TableInfo[] = [];
  const pending = (t: TableInfo) => t.references.filter((r) => r.table !== t.name && !placed.has(r.table));
  const byName = [...tables].sort((a, b) => a.name.localeCompare(b.name));
  while (order.length < tables.length) {
    const left = byName.filter((t) => !placed.has(t.name));
    const next =
      left.find((t) => pending(t).length === 0) ??
      left.find((t) => pending(t).every((r) => r.columns.every((c) => t.nullable.has(c)))) ??
      left[0];
    placed.add(next.name);
    order.push(next);
  }
  return order;
}

async function lastMigration(sql: SqlRunner): Promise<string | null> {
  const [row] = await sql.query<{ name: string }>(
    'SELECT migration_name AS name FROM "_prisma_migrations" WHERE finished_at IS NOT NULL ORDER BY migration_name DESC LIMIT 1',
  );
  return row?.name ?? null;
}

/** Writes the organization as JSON lines through `write` (which may wait for the output to drain), from one snapshot. */
export async function exportOrganization(sql: SqlRunner, organizationId: string, write: (line: string) => Promise<void> | void) {
  return sql.transaction(async (tx) => {
    await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    const [org] = await tx.query('SELECT id FROM "Organization" WHERE id = $1', [organizationId]);
    if (!org) throw notFound('Organization', organizationId);
    const tables = await readCatalog(tx);
    await write(JSON.stringify({ quarry: EXPORT_FORMAT, version: 1, schema: await lastMigration(tx), organizationId, exportedAt: new Date().toISOString() }));
    const counts: Record<string, number> = {};
    let rows = 0;
    for (const table of tables) {
      counts[table.name] = 0;
      const writable = new Set(table.columns);
      for await (const row of pages(tx, table, organizationId)) {
        // Generated columns (a passage's search vector) are computed again on import.
        for (const key of Object.keys(row)) if (!writable.has(key)) delete row[key];
        await write(JSON.stringify({ table: table.name, row }));
        counts[table.name]++;
        rows++;
      }
    }
    await write(JSON.stringify({ end: true, rows }));
    return { rows, tables: counts };
  });
}

/** The organization's rows of one table, in primary-key order, a page at a time. */
async function* pages(sql: SqlRunner, table: TableInfo, organizationId: string): AsyncGenerator<Record<string, unknown>> {
  const owner = table.name === 'Organization' ? 'id' : 'organizationId';
  const key = table.primaryKey.map((c) => `t.${quote(c)}`).join(', ');
  let after: unknown[] | null = null;
  for (;;) {
    const params: unknown[] = [organizationId, ...(after ?? [])];
    const keyset: string = after ? ` AND (${key}) > (${after.map((_, i) => `$${i + 2}`).join(', ')})` : '';
    const rows: { row: Record<string, unknown> }[] = await sql.query<{ row: Record<string, unknown> }>(
      `SELECT to_jsonb(t) AS row FROM ${quote(table.name)} t WHERE t.${quote(owner)} = $1${keyset} ORDER BY ${key} LIMIT ${PAGE}`,
      params,
    );
    for (const { row } of rows) yield row;
    if (rows.length < PAGE) return;
    const last: Record<string, unknown> = rows[rows.length - 1].row;
    after = table.primaryKey.map((c): unknown => last[c]);
  }
}

export interface ImportOptions {
  /** Give every row a new id (a copy beside the original, in the same or another database). */
  newIds?: boolean;
  /** A new name for the organization. */
  name?: string;
}

/**
 * Imports an export in one transaction: all of it or nothing. With the ids kept (the default), ids already present
 * are a CONFLICT (import into a fresh database, or use `newIds`). The organization keeps its default mark only where
 * the database has no default organization yet, and never as a copy.
 */
export async function importOrganization(sql: SqlRunner, lines: AsyncIterable<string>, options: ImportOptions = {}) {
  try {
    return await sql.transaction((tx) => importLines(tx, lines, options));
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === '23505') {
      throw conflict('Rows of this export already exist in the database (same ids): import it into a fresh database, or with new ids to copy it');
    }
    if (code === '23503') throw badInput(`The export refers to rows it does not contain (${(error as Error).message})`);
    throw error;
  }
}

async function importLines(tx: SqlRunner, lines: AsyncIterable<string>, options: ImportOptions) {
  const tables = new Map((await readCatalog(tx)).map((t) => [t.name, t]));
  const remap = idRemapper(options.newIds ?? false);
  const [{ exists: hasDefault }] = await tx.query<{ exists: boolean }>('SELECT EXISTS (SELECT 1 FROM "Organization" WHERE "isDefault") AS exists');
  const started = new Set<string>();
  const deferred: { table: string; id: unknown; values: Record<string, unknown> }[] = [];
  const counts: Record<string, number> = {};
  let batch: { table: TableInfo; rows: Record<string, unknown>[] } | null = null;
  let header: { organizationId: string } | null = null;
  let ended = false;
  const flush = async () => {
    if (batch?.rows.length) await insertRows(tx, batch.table, batch.rows);
    batch = null;
  };
  for await (const raw of lines) {
    if (!raw.trim()) continue;
    if (ended) throw badInput('The export has lines after its end');
    const line = parseLine(raw);
    if (!header) {
      header = await checkHeader(tx, line);
      continue;
    }
    if (line.end === true) {
      ended = true;
      continue;
    }
    const table = tables.get(String(line.table));
    if (!table || typeof line.row !== 'object' || line.row === null) throw badInput(`Unknown table or row in the export: ${raw.slice(0, 200)}`);
    if (batch && (batch.table !== table || batch.rows.length >= BATCH)) await flush();
    started.add(table.name);
    const row = remap(line.row as Record<string, unknown>);
    if (table.name === 'Organization') {
      if (options.name) row.name = options.name;
      if (options.newIds || hasDefault) row.isDefault = false;
    }
    // A reference to a row not inserted yet (a later table, or this table): written after every row is in.
    const later = table.references.filter((r) => r.table === table.name || !started.has(r.table)).flatMap((r) => r.columns);
    const values = Object.fromEntries(later.filter((c) => row[c] !== null && row[c] !== undefined).map((c) => [c, row[c]]));
    if (Object.keys(values).length) {
      for (const c of Object.keys(values)) row[c] = null;
      deferred.push({ table: table.name, id: row.id, values });
    }
    batch ??= { table, rows: [] };
    batch.rows.push(row);
    counts[table.name] = (counts[table.name] ?? 0) + 1;
  }
  await flush();
  if (!header) throw badInput('The export is empty');
  if (!ended) throw badInput('The export is truncated (no end line): nothing was imported');
  for (const d of deferred) {
    const columns = Object.keys(d.values);
    const set = columns.map((c, i) => `${quote(c)} = $${i + 2}`).join(', ');
    await tx.query(`UPDATE ${quote(d.table)} SET ${set} WHERE id = $1`, [d.id, ...columns.map((c) => d.values[c])]);
  }
  const organizationId = String(remap({ id: header.organizationId }).id);
  const rows = Object.values(counts).reduce((a, b) => a + b, 0);
  return { organizationId, rows, tables: counts };
}

function parseLine(raw: string): Record<string, unknown> {
  try {
    const value = JSON.parse(raw) as unknown;
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // answered below
  }
  throw badInput(`Not a line of a Quarry export: ${raw.slice(0, 200)}`);
}

async function checkHeader(tx: SqlRunner, line: Record<string, unknown>) {
  if (line.quarry !== EXPORT_FORMAT || line.version !== 1 || typeof line.organizationId !== 'string') {
    throw badInput('Not a Quarry organization export (version 1)');
  }
  if (line.schema) {
    const [applied] = await tx.query('SELECT 1 FROM "_prisma_migrations" WHERE migration_name = $1 AND finished_at IS NOT NULL', [line.schema]);
    if (!applied) throw new AppError('CONFLICT', `The export was made at migration ${String(line.schema)}, which this database lacks: migrate it first`);
  }
  return { organizationId: line.organizationId };
}

/** Inserts rows through jsonb_populate_recordset: each value parsed by its column's type; columns the rows lack get their defaults. */
async function insertRows(tx: SqlRunner, table: TableInfo, rows: Record<string, unknown>[]) {
  const present = new Set(rows.flatMap((r) => Object.keys(r)));
  const columns = table.columns.filter((c) => present.has(c)).map(quote).join(', ');
  await tx.query(`INSERT INTO ${quote(table.name)} (${columns}) SELECT ${columns} FROM jsonb_populate_recordset(NULL::${quote(table.name)}, $1::jsonb)`, [
    JSON.stringify(rows),
  ]);
}

const QUARRY_ID = /^([a-z_]+)-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** With `fresh`, every id (`id` and `…Id` columns holding a Quarry id) gets a new one of its kind, the same one everywhere it appears. */
function idRemapper(fresh: boolean) {
  const ids = new Map<string, string>();
  const map = (value: unknown) => {
    if (typeof value !== 'string') return value;
    const match = QUARRY_ID.exec(value);
    if (!match) return value;
    let mapped = ids.get(value);
    if (!mapped) ids.set(value, (mapped = `${match[1]}-${randomUUID()}`));
    return mapped;
  };
  return (row: Record<string, unknown>) => {
    if (!fresh) return { ...row };
    return Object.fromEntries(Object.entries(row).map(([k, v]) => [k, k === 'id' || k.endsWith('Id') ? map(v) : v]));
  };
}
