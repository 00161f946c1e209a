import { createContextCache } from '@pothos/core';
import { resolveCursorConnection, type DefaultConnectionArguments } from '@pothos/plugin-relay';
import { setRowMappings, type Mappings } from '@pothos/selection-mapper';
import {
  getArgumentValues,
  getNamedType,
  isObjectType,
  Kind,
  type FieldNode,
  type GraphQLObjectType,
  type GraphQLResolveInfo,
  type SelectionSetNode,
} from 'graphql';
import type { Context } from '../context.js';
import { GRAPHQL_LIST_SIZE_CEILING } from '../core/config.js';
import { isColumn } from '../domain/reads/sql.js';
import { SOURCE_EXTRAS, readSources, type ChildPage, type ChildRows, type ReadSource, type SourcesRead } from '../domain/reads/sources.js';
import type { ChildConnection } from './child-pages.js';

/**
 * Compiles the GraphQL selection of a `sources` page (and the files, agents and counts beneath each source) into
 * one domain read (domain/reads/sources.ts: one SQL statement). The field resolvers below then answer from what
 * that statement returned; a part of a selection this does not compile (arguments, fields or directives it does not
 * know) is left out of the statement and resolved as before, through the batched loaders.
 */

/** GraphQL fields of a child node → the columns they read. A field not listed keeps its child page uncompiled. */
const FILE_FIELDS: Record<string, string[]> = {
  id: [], __typename: [], fileName: ['fileName'], storedFileName: ['fileName'], originalFileName: ['originalFileName'],
  filePath: ['filePath'], mediaType: ['mediaType'], sizeBytes: ['sizeBytes'], contentHash: ['contentHash'],
  processingStatus: ['processingStatus'], errorMessage: ['errorMessage'], processingNote: ['processingNote'],
  totalChunks: ['totalChunks'], chunksEmbedded: ['chunksEmbedded'], createdAt: ['createdAt'], updatedAt: ['updatedAt'],
};
const AGENT_FIELDS: Record<string, string[]> = {
  id: [], __typename: [], name: ['name'], description: ['description'], agentType: ['agentType'], system: ['system'], model: ['model'],
  tags: ['tags'], metadata: ['metadata'], maxFilesOpen: ['maxFilesOpen'], perFileViewWindowCharLimit: ['perFileViewWindowCharLimit'],
  createdAt: ['createdAt'], updatedAt: ['updatedAt'],
};
const CONNECTION_FIELDS = new Set(['edges', 'pageInfo', 'totalCount', '__typename']);
const EDGE_FIELDS = new Set(['node', 'cursor', '__typename']);

type Fields = Map<string, FieldNode[]>;

/** The fields of a selection by response key, fragments flattened; null where a directive or another type makes it conditional. */
function collect(info: GraphQLResolveInfo, type: GraphQLObjectType, sets: (SelectionSetNode | undefined)[], into: Fields = new Map()): Fields | null {
  for (const set of sets) {
    for (const selection of set?.selections ?? []) {
      if (selection.directives?.length) return null;
      if (selection.kind === Kind.FIELD) {
        const key = selection.alias?.value ?? selection.name.value;
        const list = into.get(key);
        if (list) list.push(selection);
        else into.set(key, [selection]);
        continue;
      }
      const fragment = selection.kind === Kind.INLINE_FRAGMENT ? selection : info.fragments[selection.name.value];
      if (!fragment || (fragment.typeCondition && fragment.typeCondition.name.value !== type.name)) return null;
      if (!collect(info, type, [fragment.selectionSet], into)) return null;
    }
  }
  return into;
}

const selectionsOf = (nodes: FieldNode[]) => nodes.map((n) => n.selectionSet);

function fieldType(type: GraphQLObjectType, name: string): GraphQLObjectType | null {
  const field = type.getFields()[name];
  const named = field && getNamedType(field.type);
  return named && isObjectType(named) ? named : null;
}

/** The node selection of a connection (edges.node), with whether it asks for `totalCount`; null if it asks for more. */
function connectionNodes(info: GraphQLResolveInfo, connection: GraphQLObjectType, nodes: FieldNode[]) {
  const fields = collect(info, connection, selectionsOf(nodes));
  const edge = fieldType(connection, 'edges');
  const node = edge && fieldType(edge, 'node');
  if (!fields || !edge || !node) return null;
  let totalCount = false;
  const edgeNodes: FieldNode[] = [];
  for (const [, list] of fields) {
    const name = list[0].name.value;
    if (!CONNECTION_FIELDS.has(name)) return null;
    if (name === 'totalCount') totalCount = true;
    if (name === 'edges') edgeNodes.push(...list);
  }
  const edgeFields = collect(info, edge, selectionsOf(edgeNodes));
  if (!edgeFields) return null;
  const nodeNodes: FieldNode[] = [];
  for (const [, list] of edgeFields) {
    const name = list[0].name.value;
    if (!EDGE_FIELDS.has(name)) return null;
    if (name === 'node') nodeNodes.push(...list);
  }
  const nodeFields = collect(info, node, selectionsOf(nodeNodes));
  return nodeFields && { totalCount, node, nodeFields };
}

/** A child page of one source (its files or its agents), if its arguments and selection compile. */
function childPage(info: GraphQLResolveInfo, parent: GraphQLObjectType, key: string, nodes: FieldNode[], allowed: Record<string, string[]>) {
  const field = parent.getFields()[nodes[0].name.value];
  const connection = getNamedType(field.type);
  if (!isObjectType(connection)) return null;
  const { first, status, ...rest } = getArgumentValues(field, nodes[0], info.variableValues) as { first?: number | null; status?: string | null };
  if (Object.values(rest).some((v) => v != null)) return null;
  if (first != null && (first < 1 || first > GRAPHQL_LIST_SIZE_CEILING)) return null;
  const selection = connectionNodes(info, connection, nodes);
  if (!selection) return null;
  const columns = new Set(['id']);
  const aliases: string[] = [];
  for (const [alias, list] of selection.nodeFields) {
    const needs = allowed[list[0].name.value];
    if (!needs) return null;
    for (const column of needs) columns.add(column);
    aliases.push(alias);
  }
  const page: ChildPage = { key, columns: [...columns], limit: (first ?? 20) + 1, count: selection.totalCount, ...(status ? { status } : {}) };
  return { page, aliases };
}

type PrismaPage = { select?: Record<string, unknown>; take: number; skip: number; cursor?: { id?: string } };
type SourceArgs = { name?: string | null; metadata?: Record<string, unknown> | null; orderBy?: { field: string; direction?: string | null } | null };

const ORDER = { CREATED_AT: 'createdAt', UPDATED_AT: 'updatedAt', NAME: 'name' } as const;

/** The read of a `sources` page, or null when its page or filters are ones only the Prisma path serves. */
function compileSources(info: GraphQLResolveInfo, query: PrismaPage, args: SourceArgs) {
  if (args.metadata && Object.keys(args.metadata).length) return null;
  if (query.cursor ? query.skip !== 1 || typeof query.cursor.id !== 'string' : query.skip !== 0) return null;
  const columns = Object.entries(query.select ?? {});
  if (columns.some(([column, value]) => value !== true || !isColumn('Source', column))) return null;
  const connection = getNamedType(info.returnType);
  if (!isObjectType(connection)) return null;
  const selection = connectionNodes(info, connection, [...info.fieldNodes]);
  if (!selection) return null;
  const read: SourcesRead = {
    columns: [...new Set(['id', ...columns.map(([c]) => c)])],
    ...(args.name ? { name: args.name } : {}),
    order: ORDER[(args.orderBy?.field ?? 'CREATED_AT') as keyof typeof ORDER],
    direction: args.orderBy?.direction === 'DESC' ? 'DESC' : 'ASC',
    take: query.take,
    ...(query.cursor ? { cursor: query.cursor.id } : {}),
    total: selection.totalCount,
    fileCount: false,
    totalSize: false,
    files: [],
    agents: [],
  };
  if (!read.order) return null;
  const agentMappings = new Map<string, Mappings>();
  for (const [key, list] of selection.nodeFields) {
    const name = list[0].name.value;
    if (name === 'fileCount') read.fileCount = true;
    if (name === 'totalSize') read.totalSize = true;
    if (name === 'files') {
      const child = childPage(info, selection.node, key, list, FILE_FIELDS);
      if (child) read.files.push(child.page);
    }
    if (name === 'agents') {
      const child = childPage(info, selection.node, key, list, AGENT_FIELDS);
      if (child) {
        read.agents.push(child.page);
        agentMappings.set(key, Object.fromEntries(child.aliases.map((a) => [`Agent@edges.node.${a}`, SCALAR])));
      }
    }
  }
  return { read, agentMappings };
}

type Compiled = NonNullable<ReturnType<typeof compileSources>>;

/**
 * Compiled reads per document field and variables: the document is yoga's cached parse, so a client repeating a
 * read compiles it once. `query` is read on every call all the same (plugin-prisma checks that it was).
 */
const compiledReads = new WeakMap<FieldNode, Map<string, Compiled | null>>();

function compiledFor(info: GraphQLResolveInfo, query: PrismaPage, args: SourceArgs): Compiled | null {
  let byVariables = compiledReads.get(info.fieldNodes[0]);
  if (!byVariables) compiledReads.set(info.fieldNodes[0], (byVariables = new Map()));
  const key = JSON.stringify(info.variableValues ?? {});
  const cached = byVariables.get(key);
  // `select` is the planned query's own (usage-checked) part; take, skip and cursor are the page's.
  if (cached !== undefined && query.select && (cached === null || cached.read.take === query.take)) return cached;
  const compiled = compileSources(info, query, args);
  if (byVariables.size >= 64 || key.length > 4096) byVariables.clear();
  if (key.length <= 4096) byVariables.set(key, compiled);
  return compiled;
}

/** Per request: the root `totalCount` a compiled read counted, by the field execution (its `info`) it belongs to. */
const totals = createContextCache(() => new WeakMap<object, number>());
/** The plugin-prisma selection mappings of compiled agent pages: their rows carry the columns the Agent fields select. */
const agentMappings = new WeakMap<ChildRows, Mappings>();
/** A scalar field's mapping: nothing nested beneath it. */
const SCALAR = Object.freeze({ nested: Object.freeze({}) });

/**
 * The rows of a `sources` page read by one compiled statement, or null when the selection does not compile (the
 * caller then reads through Prisma). `query` is plugin-prisma's planned page (select, take, skip, cursor).
 */
export async function readSourcesPage(ctx: Context, info: GraphQLResolveInfo, query: PrismaPage, args: SourceArgs): Promise<ReadSource[] | null> {
  const compiled = compiledFor(info, query, args);
  if (!compiled) return null;
  const { rows, total } = await readSources(ctx.reader, compiled.read);
  if (total !== undefined) totals(ctx).set(info, total);
  for (const [key, mappings] of compiled.agentMappings) {
    for (const row of rows) agentMappings.set(row[SOURCE_EXTRAS].agents[key], mappings);
  }
  return rows;
}

/** The root `totalCount` the compiled read of this field execution counted, if it did. */
export function compiledTotal(ctx: Context, info: GraphQLResolveInfo): number | undefined {
  return totals(ctx).get(info);
}

const extrasOf = (source: object) => (source as Partial<ReadSource>)[SOURCE_EXTRAS];

/** A source's file count and size, each when the compiled read brought it. */
export function compiledFileStats(source: object): { count?: number; size?: number } | undefined {
  const extras = extrasOf(source);
  return extras && { count: extras.fileCount, size: extras.totalSize };
}

/** The page of files or agents the compiled read brought for this field of this source, as a connection. */
export function compiledChildConnection<T>(
  ctx: Context,
  source: object,
  kind: 'files' | 'agents',
  args: DefaultConnectionArguments,
  info: GraphQLResolveInfo,
): Promise<ChildConnection<T>> | null {
  const page = extrasOf(source)?.[kind][String(info.path.key)];
  if (!page) return null;
  const mappings = agentMappings.get(page);
  // The agents' fields are plugin-prisma fields: tell it this page's rows carry what they select.
  if (mappings) setRowMappings(ctx, info, mappings);
  return pageConnection(page, args);
}

async function pageConnection<T>(page: ChildRows, args: DefaultConnectionArguments): Promise<ChildConnection<T>> {
  const connection = await resolveCursorConnection(
    { args, toCursor: (row) => String((row as { id: string }).id), defaultSize: 20, maxSize: GRAPHQL_LIST_SIZE_CEILING },
    () => page.rows as T[],
  );
  return { ...(connection as unknown as Omit<ChildConnection<T>, 'totalCount'>), totalCount: async () => page.count ?? 0 };
}
