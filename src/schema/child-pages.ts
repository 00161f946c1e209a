import { createContextCache } from '@pothos/core';
import { resolveCursorConnection, type DefaultConnectionArguments, type PageInfoShape, type ResolveCursorConnectionArgs } from '@pothos/plugin-relay';
import DataLoader from 'dataloader';
import type { Context } from '../context.js';
import { GRAPHQL_LIST_SIZE_CEILING } from '../config.js';
import { livePassageSql } from '../domain/passage-visibility.js';
import { Prisma } from '../generated/prisma/client.js';

/**
 * One page of children for each of many parents (a source's files, a file's passages) in a single statement:
 * a LATERAL subquery with its own ORDER BY and LIMIT per parent. Prisma's nested `take` cannot limit per
 * parent, so it reads every child of every parent and slices in memory, which grows with the data; this grows
 * with the page. All parents asked for with the same arguments share one query (a DataLoader per request).
 */
export interface ChildPageSpec {
  /** A stable name for the per-request loader cache. */
  name: string;
  table: 'File' | 'Passage';
  parentColumn: 'sourceId' | 'fileId';
  /** Columns to read, as SQL (the table is aliased `c`). */
  columns: Prisma.Sql;
  /** Sort keys, as SQL expressions over `c`; the last must be unique (the id). */
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

async function loadPages(ctx: Context, spec: ChildPageSpec, page: PageArgs, parentIds: readonly string[]) {
  const table = Prisma.raw(`"${spec.table}"`);
  const keys = Prisma.join(spec.order);
  // For "after", rows come later in the sort; for "before", earlier. Inverting reads backwards from the end.
  const descending = (spec.direction === 'DESC') !== page.inverted;
  // The cursor row is looked up inside the caller's organization: another organization's id, like a missing one,
  // names no row, so the comparison is NULL and the page empty (it must not position the caller's rows).
  const cursorKeys = (id: string) =>
    Prisma.sql`(SELECT ${Prisma.join(spec.order.map((k) => Prisma.sql`${k}`))} FROM ${table} c WHERE c.id = ${id} AND c."organizationId" = ${ctx.actor.organizationId})`;
  const conditions = [Prisma.sql`c.${Prisma.raw(`"${spec.parentColumn}"`)} = p.id`, Prisma.sql`c."organizationId" = ${ctx.actor.organizationId}`];
  if (spec.visible) conditions.push(spec.visible);
  if (page.where) conditions.push(page.where);
  const later = spec.direction === 'DESC' ? Prisma.raw('<') : Prisma.raw('>');
  const earlier = spec.direction === 'DESC' ? Prisma.raw('>') : Prisma.raw('<');
  if (page.after) conditions.push(Prisma.sql`(${keys}) ${later} ${cursorKeys(page.after)}`);
  if (page.before) conditions.push(Prisma.sql`(${keys}) ${earlier} ${cursorKeys(page.before)}`);
  const dir = Prisma.raw(descending ? 'DESC' : 'ASC');
  // Through the raw reader (prepared, no Prisma result mapping): this is the widest result of a nested read.
  const rows = await ctx.sql.query<Record<string, unknown> & { __parent: string }>(Prisma.sql`
    SELECT p.id AS "__parent", page.* FROM unnest(${[...parentIds]}::text[]) AS p(id)
    CROSS JOIN LATERAL (
      SELECT ${spec.columns} FROM ${table} c
       WHERE ${Prisma.join(conditions, ' AND ')}
       ORDER BY ${Prisma.join(spec.order.map((k) => Prisma.sql`${k} ${dir}`))}
       LIMIT ${page.limit}
    ) page`);
  const byParent = new Map<string, Record<string, unknown>[]>(parentIds.map((id) => [id, []]));
  for (const { __parent, ...row } of rows) byParent.get(__parent)!.push(row);
  return parentIds.map((id) => byParent.get(id)!);
}

/** Resolves a Relay connection of a parent's children through the batched page loader. */
export function childConnection<T>(
  ctx: Context,
  spec: ChildPageSpec,
  parentId: string,
  args: DefaultConnectionArguments,
  where?: Prisma.Sql,
): Promise<{ pageInfo: PageInfoShape; edges: { cursor: string; node: T }[] }> {
  return resolveCursorConnection(
    { args, toCursor: (row) => String((row as { id: string }).id), defaultSize: 20, maxSize: GRAPHQL_LIST_SIZE_CEILING },
    (page) => pageLoader(ctx, spec, { ...page, where }).load(parentId) as Promise<T[]>,
  ) as Promise<{ pageInfo: PageInfoShape; edges: { cursor: string; node: T }[] }>;
}

const FILE_COLUMNS = Prisma.sql`c.id, c."organizationId", c."sourceId", c."fileName", c."originalFileName", c."filePath", c."mediaType",
  c."sizeBytes", c."contentHash", c."processingStatus"::text AS "processingStatus", c."errorMessage", c."processingNote",
  c."totalChunks", c."chunksEmbedded", c."createdById", c."createdAt", c."updatedAt"`;

/** Every column but the vector and the full-text vector, which the API never reads this way. */
const PASSAGE_COLUMNS = Prisma.sql`c.id, c."organizationId", c."sourceId", c."fileId", c."fileName", c."chunkIndex", c.text, c.metadata,
  c.tags, c."embeddingConfig", c."embeddingDim", c."createdById", c."createdAt", c."updatedAt"`;

export const FILES_OF_SOURCE: ChildPageSpec = {
  name: 'filesOfSource',
  table: 'File',
  parentColumn: 'sourceId',
  columns: FILE_COLUMNS,
  order: [Prisma.sql`c."createdAt"`, Prisma.sql`c.id`],
  direction: 'DESC',
};

export const PASSAGES_OF_SOURCE: ChildPageSpec = {
  name: 'passagesOfSource',
  table: 'Passage',
  visible: livePassageSql('c'),
  parentColumn: 'sourceId',
  columns: PASSAGE_COLUMNS,
  order: [Prisma.sql`c."createdAt"`, Prisma.sql`COALESCE(c."chunkIndex", -1)`, Prisma.sql`c.id`],
  direction: 'ASC',
};

export const PASSAGES_OF_FILE: ChildPageSpec = {
  name: 'passagesOfFile',
  table: 'Passage',
  visible: livePassageSql('c'),
  parentColumn: 'fileId',
  columns: PASSAGE_COLUMNS,
  order: [Prisma.sql`COALESCE(c."chunkIndex", -1)`, Prisma.sql`c.id`],
  direction: 'ASC',
};
