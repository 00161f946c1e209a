import { createContextCache } from '@pothos/core';
import { resolveCursorConnection, type DefaultConnectionArguments, type PageInfoShape, type ResolveCursorConnectionArgs } from '@pothos/plugin-relay';
import DataLoader from 'dataloader';
import type { Context } from '../context.js';
import { GRAPHQL_LIST_SIZE_CEILING } from '../core/config.js';
import { countChildren, readChildPages, type ChildFilter, type ChildPageSpec } from '../domain/reads/children.js';
import { builder } from './builder.js';

/**
 * GraphQL connections over a parent's children (domain/reads/children.ts reads them): all parents asked for with
 * the same arguments share one statement (a DataLoader per request), and so do their counts.
 */
type PageArgs = ResolveCursorConnectionArgs & { where?: ChildFilter };

const loaders = createContextCache(() => new Map<string, DataLoader<string, Record<string, unknown>[]>>());

function pageLoader(ctx: Context, spec: ChildPageSpec, page: PageArgs) {
  const key = JSON.stringify([spec.name, page.after, page.before, page.limit, page.inverted, page.where?.sql, page.where?.values]);
  const cache = loaders(ctx);
  let loader = cache.get(key);
  if (!loader) {
    loader = new DataLoader((parentIds: readonly string[]) => readChildPages(ctx.reader, spec, page, parentIds));
    cache.set(key, loader);
  }
  return loader;
}

const counters = createContextCache(() => new Map<string, DataLoader<string, number>>());

/**
 * How many children each parent has (the same conditions as its pages, without the cursor), for all the parents
 * asked for in one grouped statement: a connection's `totalCount`, and the counts beside it (`passageCount`).
 */
export function childCount(ctx: Context, spec: ChildPageSpec, parentId: string, where?: ChildFilter): Promise<number> {
  const key = JSON.stringify([spec.name, where?.sql, where?.values]);
  const cache = counters(ctx);
  let loader = cache.get(key);
  if (!loader) {
    loader = new DataLoader((parentIds: readonly string[]) => countChildren(ctx.reader, spec, parentIds, where));
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
  where?: ChildFilter,
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
