import { createContextCache } from '@pothos/core';
import { resolveCursorConnection, type DefaultConnectionArguments, type PageInfoShape, type ResolveCursorConnectionArgs } from '@pothos/plugin-relay';
import DataLoader from 'dataloader';
import type { Context } from '../context.js';
import { GRAPHQL_LIST_SIZE_CEILING } from '../core/config.js';
import { livePassageSql } from '../domain/passage-visibility.js';
import { Prisma } from '../generated/prisma/client.js';
import { builder } from './builder.js';

/**
 * One page of children for each of many parents (a source's files, a file's passages) in a single statement:
 * a LATERAL subquery with its own ORDER BY and LIMIT per parent. Prisma's nested `take` cannot limit per
 * parent, so it reads every child of every parent and slices in memory, which grows with the data; this grows
 * with the page. All parents asked for with the same arguments share one query (a DataLoader per request).
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

type PageArgs = ResolveCursorConnectionArgs & { where?: Prisma.Sql };

const loaders = createContextCache(() => new Map<string, DataLoader<string, Record<string, unknown>[]>>());

function pageLoader(ctx: Context, spec: ChildPageSpec, page: PageArgs) {
  const key = JSON.stringify([spec.name, page.after, page.before, page.limit, page.inverted, page.where?.sql, page.where?.values]);
  const cache = loaders(ctx);
  let loader = cache.get(key);
  if (!loader) {
    loader = new DataLoader((parentIds: readonly string[]) => loadPages(ctx, spec, page, parentIds));
    cache.set(key, loader);
  }
  return loader;
}

/** The conditions a child of parent `p` meets: its parent, the caller's organization, visibility, the filter. */
function childConditions(ctx: Context, spec: ChildPageSpec, parent: Prisma.Sql, where?: Prisma.Sql): Prisma.Sql[] {
  const conditions = [Prisma.sql`${spec.parent} = ${parent}`, Prisma.sql`c."organizationId" = ${ctx.actor.organizationId}`];
  if (spec.visible) conditions.push(spec.visible);
  if (where) conditions.push(where);
  return conditions;
}

async function loadPages(ctx: Context, spec: ChildPageSpec, page: PageArgs, parentIds: readonly string[]) {
  const keys = Prisma.join(spec.order);
  // For "after", rows come later in the sort; for "before", earlier. Inverting reads backwards from the end.
  const descending = (spec.direction === 'DESC') !== page.inverted;
  // The cursor row is looked up inside the caller's organization and among the same parent's children: another
  // organization's id, like a missing one, names no row, so the comparison is NULL and the page empty (it must not
  // position the caller's rows).
  const cursorKeys = (id: string) =>
    Prisma.sql`(SELECT ${keys} FROM ${spec.from} WHERE c.id = ${id} AND ${spec.parent} = p.id AND c."organizationId" = ${ctx.actor.organizationId})`;
  const conditions = childConditions(ctx, spec, Prisma.sql`p.id`, page.where);
  const later = spec.direction === 'DESC' ? Prisma.raw('<') : Prisma.raw('>');
  const earlier = spec.direction === 'DESC' ? Prisma.raw('>') : Prisma.raw('<');
  if (page.after) conditions.push(Prisma.sql`(${keys}) ${later} ${cursorKeys(page.after)}`);
  if (page.before) conditions.push(Prisma.sql`(${keys}) ${earlier} ${cursorKeys(page.before)}`);
  const dir = Prisma.raw(descending ? 'DESC' : 'ASC');
  // Through the raw reader (prepared, no Prisma result mapping): this is the widest result of a nested read.
  const rows = await ctx.sql.query<Record<string, unknown> & { __parent: string }>(Prisma.sql`
    SELECT p.id AS "__parent", page.* FROM unnest(${[...parentIds]}::text[]) AS p(id)
    CROSS JOIN LATERAL (
      SELECT ${spec.columns} FROM ${spec.from}
       WHERE ${Prisma.join(conditions, ' AND ')}
       ORDER BY ${Prisma.join(spec.order.map((k) => Prisma.sql`${k} ${dir}`))}
       LIMIT ${page.limit}
    ) page`);
  const byParent = new Map<string, Record<string, unknown>[]>(parentIds.map((id) => [id, []]));
  for (const { __parent, ...row } of rows) byParent.get(__parent)!.push(row);
  return parentIds.map((id) => byParent.get(id)!);
}

const counters = createContextCache(() => new Map<string, DataLoader<string, number>>());

/**
 * How many children each parent has (the same conditions as its pages, without the cursor), for all the parents
 * asked for in one grouped statement: a connection's `totalCount`, and the counts beside it (`passageCount`).
 */
export function childCount(ctx: Context, spec: ChildPageSpec, parentId: string, where?: Prisma.Sql): Promise<number> {
  const key = JSON.stringify([spec.name, where?.sql, where?.values]);
  const cache = counters(ctx);
  let loader = cache.get(key);
  if (!loader) {
    loader = new DataLoader(async (parentIds: readonly string[]) => {
      const conditions = childConditions(ctx, spec, Prisma.sql`ANY(${[...parentIds]}::text[])`, where);
      const rows = await ctx.sql.query<{ parent: string; count: number }>(Prisma.sql`
        SELECT ${spec.parent} AS parent, count(*)::int AS count FROM ${spec.from}
         WHERE ${Prisma.join(conditions, ' AND ')} GROUP BY ${spec.parent}`);
      const byParent = new Map(rows.map((r) => [r.parent, r.count]));
      return parentIds.map((id) => byParent.get(id) ?? 0);
    });
    cache.set(key, loader);
  }
  return loader.load(parentId);
}

/** A page of a parent's children, with their count computed only when `totalCount` is asked for. */
export type ChildConnection<T> = { pageInfo: PageInfoShape; edges: { cursor: string; node: T }[]; totalCount: () => Promise<number> };

/**
 * Resolves a Relay connection of a parent's children through the batched page loader; `totalCount` goes through the
 * batched count loader, or `count` when the parent has a loader of its own that already counts them.
 */
export async function childConnection<T>(
  ctx: Context,
  spec: ChildPageSpec,
  parentId: string,
  args: DefaultConnectionArguments,
  where?: Prisma.Sql,
  count: () => Promise<number> = () => childCount(ctx, spec, parentId, where),
): Promise<ChildConnection<T>> {
  const connection = await resolveCursorConnection(
    { args, toCursor: (row) => String((row as { id: string }).id), defaultSize: 20, maxSize: GRAPHQL_LIST_SIZE_CEILING },
    (page) => pageLoader(ctx, spec, { ...page, where }).load(parentId) as Promise<T[]>,
  );
  return { ...(connection as unknown as Omit<ChildConnection<T>, 'totalCount'>), totalCount: count };
}

type SchemaTypes = typeof builder extends PothosSchemaTypes.SchemaBuilder<infer T> ? T : never;

/** The `totalCount` field of a child connection (the connection options of `t.connection`). */
export const withTotalCount = {
  fields: (t: PothosSchemaTypes.ObjectFieldBuilder<SchemaTypes, object>) => ({
    totalCount: t.int({ resolve: (connection) => (connection as { totalCount: () => Promise<number> }).totalCount() }),
  }),
};

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
  order: [Prisma.sql`c."createdAt"`, Prisma.sql`c.id`],
  direction: 'DESC',
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

export const SOURCES_OF_AGENT: ChildPageSpec = {
  name: 'sourcesOfAgent',
  from: Prisma.sql`"SourceAgent" l JOIN "Source" c ON c.id = l."sourceId"`,
  parent: Prisma.sql`l."agentId"`,
  columns: Prisma.sql`c.id`,
  order: [Prisma.sql`l."createdAt"`, Prisma.sql`c.id`],
  direction: 'ASC',
};

export const AGENTS_OF_SOURCE: ChildPageSpec = {
  name: 'agentsOfSource',
  from: Prisma.sql`"SourceAgent" l JOIN "Agent" c ON c.id = l."agentId"`,
  parent: Prisma.sql`l."sourceId"`,
  columns: Prisma.sql`c.id`,
  order: [Prisma.sql`l."createdAt"`, Prisma.sql`c.id`],
  direction: 'ASC',
};

export const TOOLS_OF_AGENT: ChildPageSpec = {
  name: 'toolsOfAgent',
  from: Prisma.sql`"ToolAgent" l JOIN "Tool" c ON c.id = l."toolId"`,
  parent: Prisma.sql`l."agentId"`,
  columns: Prisma.sql`c.id`,
  order: [Prisma.sql`l."createdAt"`, Prisma.sql`c.id`],
  direction: 'ASC',
};

export const FILES_OF_AGENT: ChildPageSpec = {
  name: 'filesOfAgent',
  from: Prisma.sql`"FileAgent" c`,
  parent: Prisma.sql`c."agentId"`,
  columns: Prisma.sql`c.*`,
  order: [Prisma.sql`c."lastAccessedAt"`, Prisma.sql`c.id`],
  direction: 'DESC',
};
