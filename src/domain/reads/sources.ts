import { COMPILED_ROW } from '../../core/db/reader.js';
import { Prisma } from '../../generated/prisma/client.js';
import { fileListOrderBy } from './children.js';
import type { OrgFilter, OrgReader } from './org-reader.js';
import { columnValues, jsonArray, jsonTuple, likeSubstring, rowOf } from './sql.js';

/**
 * A page of sources with everything asked beneath each one (its newest files, its attached agents, their counts,
 * its file count and size) in one SQL statement: each level is a JSON aggregate of the level below, as
 * PostGraphile and join-monster build them, so the statement count does not depend on the page or the depth.
 */

/** A page of a source's children: its rows' columns, the rows wanted (the page and one more), and their count. */
export interface ChildPage {
  /** The name the page is returned under (the GraphQL response key). */
  key: string;
  columns: string[];
  limit: number;
  count: boolean;
  /** Files only: the processing status they must have. */
  status?: string;
}

export interface SourcesRead {
  columns: string[];
  /** Case-insensitive substring of the name. */
  name?: string;
  order: 'createdAt' | 'updatedAt' | 'name';
  direction: 'ASC' | 'DESC';
  /** Rows to read: negative reads backwards (from the end, or from before the cursor), as Prisma's `take`. */
  take: number;
  /** Rows strictly after (or, with a negative take, before) this source, in the order. */
  cursor?: string;
  total: boolean;
  fileCount: boolean;
  totalSize: boolean;
  files: ChildPage[];
  agents: ChildPage[];
}

export interface ChildRows {
  rows: Record<string, unknown>[];
  count?: number;
}

/** What was read beneath one source, by response key. */
export interface SourceExtras {
  fileCount?: number;
  totalSize?: number;
  files: Record<string, ChildRows>;
  agents: Record<string, ChildRows>;
}

/** The key a read source carries its extras under. */
export const SOURCE_EXTRAS = Symbol('sourceExtras');
export type ReadSource = Record<string, unknown> & { [SOURCE_EXTRAS]: SourceExtras };

export async function readSources(reader: OrgReader, read: SourcesRead): Promise<{ rows: ReadSource[]; total?: number }> {
  const [{ result }] = await reader.query<{ result: [unknown[][], number | null] }>((org) => sourcesStatement(org, read));
  const [tuples, total] = result;
  const rows = tuples.map((tuple) => {
    const row = rowOf(read.columns, tuple) as ReadSource;
    let at = read.columns.length;
    const extras: SourceExtras = { files: {}, agents: {} };
    if (read.fileCount) extras.fileCount = tuple[at++] as number;
    if (read.totalSize) extras.totalSize = tuple[at++] as number;
    for (const page of read.files) extras.files[page.key] = childRows(page, tuple[at++] as ChildTuple, false);
    for (const page of read.agents) extras.agents[page.key] = childRows(page, tuple[at++] as ChildTuple, true);
    row[SOURCE_EXTRAS] = extras;
    (row as { [COMPILED_ROW]?: true })[COMPILED_ROW] = true;
    return row;
  });
  return total === null ? { rows } : { rows, total };
}

/** A child page as the statement returns it: its rows as tuples, and its count (null when not asked). */
type ChildTuple = [unknown[][], number | null];

function childRows(page: ChildPage, [tuples, count]: ChildTuple, compiled: boolean): ChildRows {
  const rows = tuples.map((tuple) => {
    const row = rowOf(page.columns, tuple);
    if (compiled) (row as { [COMPILED_ROW]?: true })[COMPILED_ROW] = true;
    return row;
  });
  return count === null ? { rows } : { rows, count };
}

/**
 * `[[source tuple…], total]`, each source tuple being its columns, then its file count and size if asked, then
 * each page of files and of agents as `[[row tuple…], count]`, in the order of `read`.
 */
function sourcesStatement(org: OrgFilter, read: SourcesRead): Prisma.Sql {
  const where = [org('s')];
  if (read.name) where.push(Prisma.sql`s.name ILIKE ${likeSubstring(read.name)}`);
  const backwards = read.take < 0;
  // Reading backwards walks the order reversed to find the page, then puts its rows back in order.
  const dir = (read.direction === 'DESC') !== backwards ? 'DESC' : 'ASC';
  const keys = (d: string) => Prisma.raw(`s."${read.order}" ${d}, s.id ${d}`);
  const page = [...where];
  if (read.cursor) {
    const cmp = Prisma.raw(dir === 'ASC' ? '>' : '<');
    page.push(Prisma.sql`(s."${Prisma.raw(read.order)}", s.id) ${cmp} (SELECT c."${Prisma.raw(read.order)}", c.id FROM "Source" c WHERE c.id = ${read.cursor} AND ${org('c')})`);
  }
  const values: Prisma.Sql[] = [columnValues('Source', 's', read.columns)];
  if (read.fileCount) values.push(Prisma.sql`(SELECT count(*)::int FROM "File" f WHERE f."sourceId" = s.id AND ${org('f')})`);
  if (read.totalSize) values.push(Prisma.sql`(SELECT coalesce(sum(f."sizeBytes"), 0)::float8 FROM "File" f WHERE f."sourceId" = s.id AND ${org('f')})`);
  for (const files of read.files) values.push(filesOfSource(org, files));
  for (const agents of read.agents) values.push(agentsOfSource(org, agents));
  const source = Prisma.sql`json_build_array(${Prisma.join(values)})`;
  const pageOf = (columns: Prisma.Sql) =>
    Prisma.sql`SELECT ${columns} FROM "Source" s WHERE ${Prisma.join(page, ' AND ')} ORDER BY ${keys(dir)} LIMIT ${Math.abs(read.take)}`;
  const rows = jsonArray(backwards ? Prisma.sql`SELECT ${source} FROM (${pageOf(Prisma.sql`s.*`)}) s ORDER BY ${keys(read.direction)}` : pageOf(source));
  const total = read.total ? Prisma.sql`(SELECT count(*)::int FROM "Source" s WHERE ${Prisma.join(where, ' AND ')})` : Prisma.sql`NULL::int`;
  return Prisma.sql`SELECT json_build_array(${rows}, ${total}) AS result`;
}

/** A source's newest files (in FILE_LIST_ORDER, as every list of them), and their count. */
function filesOfSource(org: OrgFilter, page: ChildPage): Prisma.Sql {
  const where = [Prisma.sql`f."sourceId" = s.id`, org('f')];
  if (page.status) where.push(Prisma.sql`f."processingStatus" = ${page.status}::"FileStatus"`);
  const conditions = Prisma.join(where, ' AND ');
  const rows = jsonArray(Prisma.sql`SELECT ${jsonTuple('File', 'f', page.columns)} FROM "File" f
     WHERE ${conditions} ORDER BY ${fileListOrderBy('f')} LIMIT ${page.limit}`);
  const count = page.count ? Prisma.sql`(SELECT count(*)::int FROM "File" f WHERE ${conditions})` : Prisma.sql`NULL::int`;
  return Prisma.sql`json_build_array(${rows}, ${count})`;
}

/** A source's agents in attachment order (as AGENTS_OF_SOURCE orders them), and their count. */
function agentsOfSource(org: OrgFilter, page: ChildPage): Prisma.Sql {
  const conditions = Prisma.sql`l."sourceId" = s.id AND ${org('l')} AND ${org('a')}`;
  const rows = jsonArray(Prisma.sql`SELECT ${jsonTuple('Agent', 'a', page.columns)} FROM "SourceAgent" l JOIN "Agent" a ON a.id = l."agentId"
     WHERE ${conditions} ORDER BY l."createdAt", a.id LIMIT ${page.limit}`);
  const count = page.count
    ? Prisma.sql`(SELECT count(*)::int FROM "SourceAgent" l JOIN "Agent" a ON a.id = l."agentId" WHERE ${conditions})`
    : Prisma.sql`NULL::int`;
  return Prisma.sql`json_build_array(${rows}, ${count})`;
}

/** File count and total bytes of each source named (zeros for one without files, or not the reader's organization's). */
export async function sourceFileStats(reader: OrgReader, sourceIds: readonly string[]): Promise<{ count: number; size: number }[]> {
  const rows = await reader.query<{ sourceId: string; count: number; size: number }>(
    (org) => Prisma.sql`
      SELECT f."sourceId", count(*)::int AS count, coalesce(sum(f."sizeBytes"), 0)::float8 AS size FROM "File" f
       WHERE f."sourceId" = ANY(${[...sourceIds]}::text[]) AND ${org('f')}
       GROUP BY f."sourceId"`,
  );
  const byId = new Map(rows.map((r) => [r.sourceId, { count: r.count, size: r.size }]));
  return sourceIds.map((id) => byId.get(id) ?? { count: 0, size: 0 });
}
