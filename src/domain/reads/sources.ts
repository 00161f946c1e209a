import { COMPILED_ROW } from '../../core/db/reader.js';
import { Prisma } from '../../generated/prisma/client.js';
import type { OrgFilter, OrgReader } from './org-reader.js';
import { jsonObject, jsonRow, likeSubstring } from './sql.js';

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
  fileStats: boolean;
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
  const [{ result }] = await reader.query<{ result: { rows: { r: ReadSource; x: Omit<SourceExtras, 'files' | 'agents'> & Record<string, ChildRows | number> }[]; total?: number } }>(
    (org) => sourcesStatement(org, read),
  );
  const rows = result.rows.map(({ r, x }) => {
    const extras: SourceExtras = { fileCount: x.fileCount as number | undefined, totalSize: x.totalSize as number | undefined, files: {}, agents: {} };
    for (const f of read.files) extras.files[f.key] = x[`f.${f.key}`] as ChildRows;
    for (const a of read.agents) {
      const page = (extras.agents[a.key] = x[`a.${a.key}`] as ChildRows);
      for (const agent of page.rows) (agent as { [COMPILED_ROW]?: true })[COMPILED_ROW] = true;
    }
    r[SOURCE_EXTRAS] = extras;
    (r as { [COMPILED_ROW]?: true })[COMPILED_ROW] = true;
    return r;
  });
  return { rows, total: result.total };
}

function sourcesStatement(org: OrgFilter, read: SourcesRead): Prisma.Sql {
  const where = [org('s')];
  if (read.name) where.push(Prisma.sql`s.name ILIKE ${likeSubstring(read.name)}`);
  const backwards = read.take < 0;
  // Reading backwards walks the order reversed, then the aggregate puts the rows back in order.
  const dir = (read.direction === 'DESC') !== backwards ? 'DESC' : 'ASC';
  const keys = Prisma.raw(`s."${read.order}" ${dir}, s.id ${dir}`);
  const page = [...where];
  if (read.cursor) {
    const cmp = Prisma.raw(dir === 'ASC' ? '>' : '<');
    page.push(Prisma.sql`(s."${Prisma.raw(read.order)}", s.id) ${cmp} (SELECT c."${Prisma.raw(read.order)}", c.id FROM "Source" c WHERE c.id = ${read.cursor} AND ${org('c')})`);
  }
  const extras: [string, Prisma.Sql][] = [];
  if (read.fileStats) {
    extras.push(['fileCount', Prisma.sql`(SELECT count(*)::int FROM "File" f WHERE f."sourceId" = s.id AND ${org('f')})`]);
    extras.push(['totalSize', Prisma.sql`(SELECT coalesce(sum(f."sizeBytes"), 0)::float8 FROM "File" f WHERE f."sourceId" = s.id AND ${org('f')})`]);
  }
  for (const files of read.files) extras.push([`f.${files.key}`, filesOfSource(org, files)]);
  for (const agents of read.agents) extras.push([`a.${agents.key}`, agentsOfSource(org, agents)]);
  const row = Prisma.sql`json_build_object('r', ${jsonRow('Source', 's', read.columns)}, 'x', ${jsonObject(extras)})`;
  const rows = Prisma.sql`(SELECT coalesce(json_agg(${row} ORDER BY s.__n ${Prisma.raw(backwards ? 'DESC' : 'ASC')}), '[]'::json) FROM (
    SELECT s.*, row_number() OVER (ORDER BY ${keys}) AS __n FROM "Source" s
     WHERE ${Prisma.join(page, ' AND ')} ORDER BY ${keys} LIMIT ${Math.abs(read.take)}) s)`;
  const total = read.total ? Prisma.sql`, 'total', (SELECT count(*)::int FROM "Source" s WHERE ${Prisma.join(where, ' AND ')})` : Prisma.empty;
  return Prisma.sql`SELECT json_build_object('rows', ${rows}${total}) AS result`;
}

/** A source's newest files (as FILES_OF_SOURCE orders them), and their count. */
function filesOfSource(org: OrgFilter, page: ChildPage): Prisma.Sql {
  const where = [Prisma.sql`f."sourceId" = s.id`, org('f')];
  if (page.status) where.push(Prisma.sql`f."processingStatus" = ${page.status}::"FileStatus"`);
  const conditions = Prisma.join(where, ' AND ');
  const rows = Prisma.sql`(SELECT coalesce(json_agg(${jsonRow('File', 'f', page.columns)} ORDER BY f.__n), '[]'::json) FROM (
    SELECT f.*, row_number() OVER (ORDER BY f."createdAt" DESC, f.id DESC) AS __n FROM "File" f
     WHERE ${conditions} ORDER BY f."createdAt" DESC, f.id DESC LIMIT ${page.limit}) f)`;
  const count = page.count ? Prisma.sql`, 'count', (SELECT count(*)::int FROM "File" f WHERE ${conditions})` : Prisma.empty;
  return Prisma.sql`json_build_object('rows', ${rows}${count})`;
}

/** A source's agents in attachment order (as AGENTS_OF_SOURCE orders them), and their count. */
function agentsOfSource(org: OrgFilter, page: ChildPage): Prisma.Sql {
  const conditions = Prisma.sql`l."sourceId" = s.id AND ${org('l')} AND ${org('a')}`;
  const rows = Prisma.sql`(SELECT coalesce(json_agg(${jsonRow('Agent', 'a', page.columns)} ORDER BY a.__n), '[]'::json) FROM (
    SELECT a.*, row_number() OVER (ORDER BY l."createdAt", a.id) AS __n FROM "SourceAgent" l JOIN "Agent" a ON a.id = l."agentId"
     WHERE ${conditions} ORDER BY l."createdAt", a.id LIMIT ${page.limit}) a)`;
  const count = page.count
    ? Prisma.sql`, 'count', (SELECT count(*)::int FROM "SourceAgent" l JOIN "Agent" a ON a.id = l."agentId" WHERE ${conditions})`
    : Prisma.empty;
  return Prisma.sql`json_build_object('rows', ${rows}${count})`;
}
