import { Prisma } from '../../generated/prisma/client.js';

/**
 * Pieces of the compiled reads' SQL. Column and alias names are checked against the table's known columns (they
 * come from the GraphQL selection, through fixed maps, never from a value a client sends); values are parameters.
 */

/** Columns each table may be read by, and which are timestamps. */
export const TABLE_COLUMNS = {
  Source: ['id', 'organizationId', 'name', 'description', 'instructions', 'metadata', 'embeddingConfig', 'vectorDbProvider',
    'createdById', 'lastUpdatedById', 'createdAt', 'updatedAt'],
  File: ['id', 'organizationId', 'sourceId', 'fileName', 'originalFileName', 'filePath', 'mediaType', 'sizeBytes', 'contentHash',
    'processingStatus', 'errorMessage', 'processingNote', 'totalChunks', 'chunksEmbedded', 'replacesFileId', 'createdById', 'createdAt', 'updatedAt'],
  Agent: ['id', 'organizationId', 'name', 'description', 'agentType', 'system', 'model', 'llmConfig', 'embeddingConfig', 'memoryBlocks',
    'memoryVariables', 'tags', 'metadata', 'maxFilesOpen', 'perFileViewWindowCharLimit', 'projectId', 'templateId', 'templateVersionId',
    'createdById', 'lastUpdatedById', 'createdAt', 'updatedAt'],
} as const;

export type Table = keyof typeof TABLE_COLUMNS;
export type ColumnOf<T extends Table> = (typeof TABLE_COLUMNS)[T][number];

const known = Object.fromEntries(Object.entries(TABLE_COLUMNS).map(([t, cs]) => [t, new Set<string>(cs)])) as Record<Table, Set<string>>;
const TIMESTAMPS = new Set(['createdAt', 'updatedAt']);
/** Array columns: NULL reads as an empty list, as Prisma reads it. */
const LISTS = new Set(['tags']);
const ALIAS = /^[a-z]$/;

export function isColumn(table: Table, column: string): boolean {
  return known[table].has(column);
}

/**
 * A row as one JSON object of the given columns. Timestamps come out as the API prints them (ISO-8601, UTC, `Z`,
 * milliseconds), so no layer above parses and re-prints a date; everything else is JSON's own (enums as text).
 */
export function jsonRow(table: Table, alias: string, columns: readonly string[]): Prisma.Sql {
  if (!ALIAS.test(alias)) throw new Error(`Bad alias ${alias}`);
  const parts = columns.map((column) => {
    if (!known[table].has(column)) throw new Error(`${table} has no column ${column}`);
    const ref = `${alias}."${column}"`;
    const value = TIMESTAMPS.has(column)
      ? `to_char(${ref} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`
      : LISTS.has(column)
        ? `coalesce(${ref}, '{}')`
        : ref;
    return `'${column}', ${value}`;
  });
  return Prisma.raw(`json_build_object(${parts.join(', ')})`);
}

/** `json_build_object` of named SQL values (the keys are fixed by the caller, never a client's). */
export function jsonObject(entries: [string, Prisma.Sql][]): Prisma.Sql {
  if (!entries.length) return Prisma.sql`'{}'::json`;
  return Prisma.sql`json_build_object(${Prisma.join(entries.map(([key, value]) => Prisma.sql`${Prisma.raw(literal(key))}, ${value}`))})`;
}

/** A string literal of a key: quotes doubled (the keys are response names: letters, digits and `_` only). */
function literal(key: string): string {
  if (!/^[A-Za-z0-9_.]+$/.test(key)) throw new Error(`Bad key ${key}`);
  return `'${key}'`;
}

/** ILIKE's escaping of a literal substring (backslash is PostgreSQL's default LIKE escape). */
export function likeSubstring(text: string): string {
  return `%${text.replace(/[\\%_]/g, '\\$&')}%`;
}
