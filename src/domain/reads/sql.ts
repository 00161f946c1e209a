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
 * A row as a JSON array of the given columns, in their order (`rowOf` turns it back into an object): PostgreSQL
 * builds an array for less than an object with its keys, and the caller knows the keys anyway. Timestamps come
 * out as the API prints them (ISO-8601, UTC, `Z`, milliseconds), so no layer above parses and re-prints a date;
 * everything else is JSON's own (enums as text).
 */
export function jsonTuple(table: Table, alias: string, columns: readonly string[]): Prisma.Sql {
  return Prisma.sql`json_build_array(${columnValues(table, alias, columns)})`;
}

/** The values `jsonTuple` puts in its array, for a caller that appends values of its own after them. */
export function columnValues(table: Table, alias: string, columns: readonly string[]): Prisma.Sql {
  if (!ALIAS.test(alias)) throw new Error(`Bad alias ${alias}`);
  const parts = columns.map((column) => {
    if (!known[table].has(column)) throw new Error(`${table} has no column ${column}`);
    const ref = `${alias}."${column}"`;
    if (TIMESTAMPS.has(column)) return `to_char(${ref} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
    return LISTS.has(column) ? `coalesce(${ref}, '{}')` : ref;
  });
  return Prisma.raw(parts.join(', '));
}

/** The object of a row `jsonTuple` read with these columns. */
export function rowOf(columns: readonly string[], tuple: readonly unknown[]): Record<string, unknown> {
  const row: Record<string, unknown> = {};
  for (let i = 0; i < columns.length; i++) row[columns[i]!] = tuple[i];
  return row;
}

/**
 * The rows of a subquery as one JSON array, in the subquery's order: an ARRAY(…) subquery keeps its ORDER BY (an
 * aggregate would sort again), and its LIMIT stops the scan early.
 */
export function jsonArray(subquery: Prisma.Sql): Prisma.Sql {
  return Prisma.sql`array_to_json(ARRAY(${subquery}))`;
}

/** ILIKE's escaping of a literal substring (backslash is PostgreSQL's default LIKE escape). */
export function likeSubstring(text: string): string {
  return `%${text.replace(/[\\%_]/g, '\\$&')}%`;
}
