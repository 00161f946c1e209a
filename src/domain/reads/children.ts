import { Prisma } from '../../generated/prisma/client.js';
import { livePassageSql } from '../passage-visibility.js';
import type { OrgReader } from './org-reader.js';

/**
 * One page of children for each of many parents (a source's files, a file's passages) in a single statement:
 * a LATERAL subquery with its own ORDER BY and LIMIT per parent. Prisma's nested `take` cannot limit per
 * parent, so it reads every child of every parent and slices in memory, which grows with the data; this grows
 * with the page. The organization filter comes from the reader (org-reader.ts), on the child rows (`c`).
 */
export interface ChildPageSpec {
  /** A stable name for the per-request loader cache. */
  name: string;
  /** The child rows, aliased `c`; a link table joined in front of them is aliased `l` (an agent's sources). */
  from: Prisma.Sql;
  /** The column naming the parent, as SQL over `c` or `l`. */
  parent: Prisma.Sql;
  /** Columns to read, as SQL (the table is aliased `c`). */
  columns: Prisma.Sql;
  /** Sort keys, as SQL expressions over `c` (or `l`); the last must be unique among one parent's children (the id). */
  order: Prisma.Sql[];
  direction: 'ASC' | 'DESC';
  /** A condition every child must meet (over `c`), e.g. passages' visibility. */
  visible?: Prisma.Sql;
}

/** Which page: rows after or before a child's id, how many, and whether read backwards from the end (Relay's `last`). */
export interface ChildPageArgs {
  after?: string | null;
  before?: string | null;
  limit: number;
  inverted: boolean;
  /** A filter on the children, built by one of the filters below. */
  where?: ChildFilter;
}

/** A condition on child rows (`c`); built only here, so no caller writes SQL. */
export type ChildFilter = Prisma.Sql & { readonly __childFilter: true };
const filter = (sql: Prisma.Sql) => sql as ChildFilter;
export const fileStatusIs = (status: string): ChildFilter => filter(Prisma.sql`c."processingStatus" = ${status}::"FileStatus"`);
export const fileViewOpen = (isOpen: boolean): ChildFilter => filter(Prisma.sql`c."isOpen" = ${isOpen}`);

/** The conditions a child of parent `p` meets: its parent, the reader's organization, visibility, the filter. */
function childConditions(org: (alias: string) => Prisma.Sql, spec: ChildPageSpec, parent: Prisma.Sql, where?: Prisma.Sql): Prisma.Sql[] {
  const conditions = [Prisma.sql`${spec.parent} = ${parent}`, org('c')];
  if (spec.visible) conditions.push(spec.visible);
  if (where) conditions.push(where);
  return conditions;
}

/** A page of children of each parent, in the parents' order. */
export async function readChildPages(reader: OrgReader, spec: ChildPageSpec, page: ChildPageArgs, parentIds: readonly string[]) {
  const keys = Prisma.join(spec.order);
  // For "after", rows come later in the sort; for "before", earlier. Inverting reads backwards from the end.
  const descending = (spec.direction === 'DESC') !== page.inverted;
  const dir = Prisma.raw(descending ? 'DESC' : 'ASC');
  const later = spec.direction === 'DESC' ? Prisma.raw('<') : Prisma.raw('>');
  const earlier = spec.direction === 'DESC' ? Prisma.raw('>') : Prisma.raw('<');
  const rows = await reader.query<Record<string, unknown> & { __parent: string }>((org) => {
    // The cursor row is looked up inside the reader's organization and among the same parent's children: another
    // organization's id, like a missing one, names no row, so the comparison is NULL and the page empty (it must not
    // position the caller's rows).
    const cursorKeys = (id: string) => Prisma.sql`(SELECT ${keys} FROM ${spec.from} WHERE c.id = ${id} AND ${spec.parent} = p.id AND ${org('c')})`;
    const conditions = childConditions(org, spec, Prisma.sql`p.id`, page.where);
    if (page.after) conditions.push(Prisma.sql`(${keys}) ${later} ${cursorKeys(page.after)}`);
    if (page.before) conditions.push(Prisma.sql`(${keys}) ${earlier} ${cursorKeys(page.before)}`);
    return Prisma.sql`
      SELECT p.id AS "__parent", page.* FROM unnest(${[...parentIds]}::text[]) AS p(id)
      CROSS JOIN LATERAL (
        SELECT ${spec.columns} FROM ${spec.from}
         WHERE ${Prisma.join(conditions, ' AND ')}
         ORDER BY ${Prisma.join(spec.order.map((k) => Prisma.sql`${k} ${dir}`))}
         LIMIT ${page.limit}
      ) page`;
  });
  const byParent = new Map<string, Record<string, unknown>[]>(parentIds.map((id) => [id, []]));
  for (const { __parent, ...row } of rows) byParent.get(__parent)!.push(row);
  return parentIds.map((id) => byParent.get(id)!);
}

/** How many children each parent has (the conditions of its pages, without a cursor), in one grouped statement. */
export async function countChildren(reader: OrgReader, spec: ChildPageSpec, parentIds: readonly string[], where?: ChildFilter): Promise<number[]> {
  const rows = await reader.query<{ parent: string; count: number }>((org) => {
    const conditions = childConditions(org, spec, Prisma.sql`ANY(${[...parentIds]}::text[])`, where);
    return Prisma.sql`
      SELECT ${spec.parent} AS parent, count(*)::int AS count FROM ${spec.from}
       WHERE ${Prisma.join(conditions, ' AND ')} GROUP BY ${spec.parent}`;
  });
  const byParent = new Map(rows.map((r) => [r.parent, r.count]));
  return parentIds.map((id) => byParent.get(id) ?? 0);
}

/** A source's files, newest first: the one order every list of a source's files uses (GraphQL, REST's default on folders, compiled reads). */
export const FILE_LIST_ORDER = { keys: ['createdAt', 'id'] as const, direction: 'DESC' as const };
const fileOrder = (alias: string) => FILE_LIST_ORDER.keys.map((k) => Prisma.raw(`${alias}."${k}"`));
/** FILE_LIST_ORDER as an ORDER BY list over `alias` (e.g. `f."createdAt" DESC, f.id DESC`), for statements built elsewhere. */
export const fileListOrderBy = (alias: string): Prisma.Sql => Prisma.join(fileOrder(alias).map((k) => Prisma.sql`${k} ${Prisma.raw(FILE_LIST_ORDER.direction)}`));

const FILE_COLUMNS = Prisma.sql`c.id, c."organizationId", c."sourceId", c."fileName", c."originalFileName", c."filePath", c."mediaType",
  c."sizeBytes", c."contentHash", c."processingStatus"::text AS "processingStatus", c."errorMessage", c."processingNote",
  c."totalChunks", c."chunksEmbedded", c."createdById", c."createdAt", c."updatedAt"`;

/** Every column but the vector and the full-text vector, which the API never reads this way. */
const PASSAGE_COLUMNS = Prisma.sql`c.id, c."organizationId", c."sourceId", c."fileId", c."fileName", c."chunkIndex", c.text, c.metadata,
  c.tags, c."embeddingConfig", c."embeddingDim", c."createdById", c."createdAt", c."updatedAt"`;

export const FILES_OF_SOURCE: ChildPageSpec = {
  name: 'filesOfSource',
  from: Prisma.sql`"File" c`,
  parent: Prisma.sql`c."sourceId"`,
  columns: FILE_COLUMNS,
  order: fileOrder('c'),
  direction: FILE_LIST_ORDER.direction,
};

export const PASSAGES_OF_SOURCE: ChildPageSpec = {
  name: 'passagesOfSource',
  from: Prisma.sql`"Passage" c`,
  visible: livePassageSql('c'),
  parent: Prisma.sql`c."sourceId"`,
  columns: PASSAGE_COLUMNS,
  order: [Prisma.sql`c."createdAt"`, Prisma.sql`COALESCE(c."chunkIndex", -1)`, Prisma.sql`c.id`],
  direction: 'ASC',
};

export const PASSAGES_OF_FILE: ChildPageSpec = {
  name: 'passagesOfFile',
  from: Prisma.sql`"Passage" c`,
  visible: livePassageSql('c'),
  parent: Prisma.sql`c."fileId"`,
  columns: PASSAGE_COLUMNS,
  order: [Prisma.sql`COALESCE(c."chunkIndex", -1)`, Prisma.sql`c.id`],
  direction: 'ASC',
};

// The agent relations: nodes of select-mode types (Source, Agent, Tool) are read by id here and their selected
// fields loaded by the Prisma plugin in one batched statement per list; an agent's file views are whole rows.

/** A source's agents, and an agent's sources and tools, in attachment order. */
const linked = (name: string, link: string, table: string, parent: string, child: string): ChildPageSpec => ({
  name,
  from: Prisma.raw(`"${link}" l JOIN "${table}" c ON c.id = l."${child}"`),
  parent: Prisma.raw(`l."${parent}"`),
  columns: Prisma.sql`c.id`,
  order: [Prisma.sql`l."createdAt"`, Prisma.sql`c.id`],
  direction: 'ASC',
});

export const SOURCES_OF_AGENT = linked('sourcesOfAgent', 'SourceAgent', 'Source', 'agentId', 'sourceId');
export const AGENTS_OF_SOURCE = linked('agentsOfSource', 'SourceAgent', 'Agent', 'sourceId', 'agentId');
export const TOOLS_OF_AGENT = linked('toolsOfAgent', 'ToolAgent', 'Tool', 'agentId', 'toolId');

export const FILES_OF_AGENT: ChildPageSpec = {
  name: 'filesOfAgent',
  from: Prisma.sql`"FileAgent" c`,
  parent: Prisma.sql`c."agentId"`,
  columns: Prisma.sql`c.*`,
  order: [Prisma.sql`c."lastAccessedAt"`, Prisma.sql`c.id`],
  direction: 'DESC',
};
