import { createContextCache } from '@pothos/core';
import DataLoader from 'dataloader';
import type { Context } from '../context.js';
import { Prisma, type File as FileRow, type Passage as PassageRow } from '../generated/prisma/client.js';
import {
  bulkUpsertSources,
  createSource,
  deleteSource,
  getSourceByName,
  sourcesMetadata,
  sourceWhere,
  updateSource,
} from '../domain/sources.js';
import { orNotFound, requireId } from '../domain/ids.js';
import { builder, nodeOptions } from './builder.js';
import { EmbeddingConfigInput, EmbeddingConfigRef } from './embeddings.js';
import { FILES_OF_SOURCE, PASSAGES_OF_SOURCE, fileStatusIs } from '../domain/reads/children.js';
import { sourceFileStats } from '../domain/reads/sources.js';
import { childConnection, childCount, withTotalCount } from './child-pages.js';
import { compiledChildConnection, compiledFileStats, compiledTotal, readSourcesPage } from './compiled-reads.js';
import { File, FileStatusEnum } from './files.js';
import { Passage } from './passages.js';

/** Sources: folders of documents, their files, passages and the agents they are attached to. */

const SourceOrderField = builder.enumType('SourceOrderField', { values: ['CREATED_AT', 'UPDATED_AT', 'NAME'] as const });
export const OrderDirection = builder.enumType('OrderDirection', { values: ['ASC', 'DESC'] as const });

const SourceOrder = builder.inputType('SourceOrder', {
  fields: (t) => ({
    field: t.field({ type: SourceOrderField, required: true }),
    direction: t.field({ type: OrderDirection, defaultValue: 'ASC' }),
  }),
});

const ORDER_COLUMN = { CREATED_AT: 'createdAt', UPDATED_AT: 'updatedAt', NAME: 'name' } as const;

export const Source = builder.prismaNode('Source', {
  ...nodeOptions,
  fields: (t) => ({
    name: t.exposeString('name'),
    description: t.exposeString('description', { nullable: true }),
    instructions: t.exposeString('instructions', { nullable: true, description: 'How an agent should use this source.' }),
    metadata: t.field({ type: 'JSONObject', nullable: true, select: { metadata: true }, resolve: (s) => s.metadata as Record<string, unknown> | null }),
    embeddingConfig: t.field({ type: EmbeddingConfigRef, select: { embeddingConfig: true }, resolve: (s) => s.embeddingConfig as never }),
    vectorDbProvider: t.exposeString('vectorDbProvider'),
    createdById: t.exposeString('createdById', { nullable: true }),
    lastUpdatedById: t.exposeString('lastUpdatedById', { nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    files: t.connection(
      {
        type: File,
        description: 'Newest first.',
        args: { status: t.arg({ type: FileStatusEnum, required: false }) },
        resolve: (s, { status, ...args }, ctx, info) =>
          compiledChildConnection<FileRow>(ctx, s, 'files', args, info) ??
          (status
            ? childConnection<FileRow>(ctx, FILES_OF_SOURCE, s.id, args, fileStatusIs(status))
            : childConnection<FileRow>(ctx, FILES_OF_SOURCE, s.id, args, undefined, async () => (await fileStats(ctx).load(s.id)).count)),
      },
      withTotalCount,
    ),
    passages: t.connection(
      {
        type: Passage,
        description: 'In file order: oldest file first, then chunk order.',
        resolve: (s, args, ctx) => childConnection<PassageRow>(ctx, PASSAGES_OF_SOURCE, s.id, args),
      },
      withTotalCount,
    ),
    // Counts and sizes come from loaders that aggregate only the sources on the page. (Prisma's relation
    // counts aggregate the whole child table and join the result, which grows with every organization's data.)
    fileCount: t.int({ resolve: (s, _args, ctx) => compiledFileStats(s)?.count ?? fileStats(ctx).load(s.id).then((f) => f.count) }),
    totalSize: t.float({
      description: 'Bytes in all of its files.',
      resolve: (s, _args, ctx) => compiledFileStats(s)?.size ?? fileStats(ctx).load(s.id).then((f) => f.size),
    }),
    passageCount: t.int({ resolve: (s, _args, ctx) => childCount(ctx, PASSAGES_OF_SOURCE, s.id) }),
  }),
});

/** Per request: file count and total bytes of each source asked for, in one grouped query. */
const fileStats = createContextCache(
  (ctx: Context) =>
    new DataLoader<string, { count: number; size: number }>((ids) => sourceFileStats(ctx.reader, ids)),
);

builder.queryFields((t) => ({
  sources: t.prismaConnection({
    type: 'Source',
    cursor: 'id',
    description: 'Sources of your organization, oldest first unless ordered otherwise.',
    args: {
      name: t.arg.string({ description: 'Case-insensitive substring of the name.' }),
      metadata: t.arg({ type: 'JSONObject', description: 'Sources whose metadata has each of these keys with exactly this value.' }),
      orderBy: t.arg({ type: SourceOrder }),
    },
    // One statement for the page and what is selected beneath it when the selection compiles (compiled-reads.ts).
    resolve: async (query, _root, args, ctx, info) => {
      const where = sourceWhere(args);
      const compiled = await readSourcesPage(ctx, info, query, args);
      if (compiled) return compiled as never;
      const column = ORDER_COLUMN[args.orderBy?.field ?? 'CREATED_AT'];
      const direction = (args.orderBy?.direction ?? 'ASC') === 'ASC' ? 'asc' : 'desc';
      const orderBy: Prisma.SourceOrderByWithRelationInput[] = [{ [column]: direction }, { id: direction }];
      return ctx.db.source.findMany({ ...query, where, orderBy });
    },
    totalCount: (_root, args, ctx, info) => compiledTotal(ctx, info) ?? ctx.db.source.count({ where: sourceWhere(args) }),
  }),
  source: t.prismaField({
    type: 'Source',
    args: { id: t.arg.id({ required: true }) },
    resolve: async (query, _root, { id }, ctx) => {
      // One query: the lookup carries the GraphQL selection.
      const key = requireId('source', String(id), 'id');
      return orNotFound(ctx.db.source.findUnique({ ...query, where: { id: key } }), 'Source', key);
    },
  }),
  sourceByName: t.prismaField({
    type: 'Source',
    description: 'The source with exactly this name.',
    args: { name: t.arg.string({ required: true }) },
    resolve: async (query, _root, { name }, ctx) => {
      const { id } = await getSourceByName(ctx.db, name);
      return ctx.db.source.findUniqueOrThrow({ ...query, where: { id } });
    },
  }),
  sourcesCount: t.int({ resolve: (_root, _args, ctx) => ctx.db.source.count() }),
  sourcesMetadata: t.field({
    type: SourcesMetadataRef,
    args: { detailed: t.arg.boolean({ defaultValue: false, description: 'Include per-source and per-file detail.' }) },
    resolve: (_root, { detailed }, ctx) => sourcesMetadata(ctx.db, detailed ?? false),
  }),
}));

const SourceFileStats = builder
  .objectRef<{ fileId: string; fileName: string; fileSize: number | null }>('SourceFileStats')
  .implement({ fields: (t) => ({ fileId: t.exposeID('fileId'), fileName: t.exposeString('fileName'), fileSize: t.exposeFloat('fileSize', { nullable: true }) }) });

const SourceStats = builder
  .objectRef<{ sourceId: string; sourceName: string; fileCount: number; totalSize: number; files: { fileId: string; fileName: string; fileSize: number | null }[] }>('SourceStats')
  .implement({
    fields: (t) => ({
      sourceId: t.exposeID('sourceId'),
      sourceName: t.exposeString('sourceName'),
      fileCount: t.exposeInt('fileCount'),
      totalSize: t.exposeFloat('totalSize'),
      files: t.field({ type: [SourceFileStats], resolve: (s) => s.files }),
    }),
  });

const SourcesMetadataRef = builder.objectRef<Awaited<ReturnType<typeof sourcesMetadata>>>('SourcesMetadata').implement({
  description: 'Totals over the organization’s sources (Letta’s OrganizationSourcesStats).',
  fields: (t) => ({
    totalSources: t.exposeInt('totalSources'),
    totalFiles: t.exposeInt('totalFiles'),
    totalSize: t.exposeFloat('totalSize', { description: 'Bytes in all files.' }),
    sources: t.field({ type: [SourceStats], description: 'Empty unless detailed: true.', resolve: (m) => m.sources }),
  }),
});

// ───────────── mutations ─────────────

const CreateSourceInput = builder.inputType('CreateSourceInput', {
  fields: (t) => ({
    name: t.string({ required: true }),
    description: t.string(),
    instructions: t.string(),
    metadata: t.field({ type: 'JSONObject' }),
    embedding: t.string({ description: 'A provider/model handle, e.g. local/lexical-384 or openai/text-embedding-3-small.' }),
    embeddingChunkSize: t.int({ description: 'Tokens per passage when `embedding` is given (default 300).' }),
    embeddingConfig: t.field({ type: EmbeddingConfigInput, description: 'A full configuration; wins over `embedding`.' }),
  }),
});

const UpdateSourceInput = builder.inputType('UpdateSourceInput', {
  description: 'Fields left out (or null) keep their value. A new embedding model, dimension or chunk size re-embeds the files.',
  fields: (t) => ({
    name: t.string(),
    description: t.string(),
    instructions: t.string(),
    metadata: t.field({ type: 'JSONObject' }),
    embedding: t.string({ description: 'A provider/model handle, as on create; keeps the current chunk size unless `embeddingChunkSize` is given.' }),
    embeddingChunkSize: t.int({ description: 'Tokens per passage; alone, changes only the chunk size.' }),
    embeddingConfig: t.field({ type: EmbeddingConfigInput, description: 'A full configuration; wins over `embedding`.' }),
    callbackUrl: t.string({ description: 'An http(s) URL POSTed each re-embedding job as JSON when it ends.' }),
  }),
});


const sourcePayload = (name: string) =>
  builder.objectRef<{ sourceId: string }>(name).implement({
    fields: (t) => ({
      source: t.prismaField({
        type: 'Source',
        resolve: (query, p, _args, ctx) => ctx.db.source.findUniqueOrThrow({ ...query, where: { id: p.sourceId } }),
      }),
    }),
  });

const CreateSourcePayload = sourcePayload('CreateSourcePayload');
const UpdateSourcePayload = sourcePayload('UpdateSourcePayload');

const DeleteSourcePayload = builder.objectRef<{ id: string; name: string }>('DeleteSourcePayload').implement({
  fields: (t) => ({
    deletedSourceId: t.exposeID('id'),
    name: t.exposeString('name'),
  }),
});

const BulkUpsertResult = builder.objectRef<{ sourceId: string; created: boolean }>('BulkUpsertSourceResult').implement({
  fields: (t) => ({
    created: t.exposeBoolean('created', { description: 'True when the source was new, false when an existing one was updated.' }),
    source: t.prismaField({
      type: 'Source',
      resolve: (query, r, _args, ctx) => ctx.db.source.findUniqueOrThrow({ ...query, where: { id: r.sourceId } }),
    }),
  }),
});

builder.mutationFields((t) => ({
  createSource: t.field({
    type: CreateSourcePayload,
    args: { input: t.arg({ type: CreateSourceInput, required: true }) },
    resolve: async (_root, { input }, ctx) => ({ sourceId: (await createSource(ctx.db, ctx.actor, input, ctx)).id }),
  }),
  updateSource: t.field({
    type: UpdateSourcePayload,
    args: { id: t.arg.id({ required: true }), input: t.arg({ type: UpdateSourceInput, required: true }) },
    resolve: async (_root, { id, input }, ctx) => ({ sourceId: (await updateSource(ctx.db, ctx.actor, String(id), input, ctx)).id }),
  }),
  deleteSource: t.field({
    type: DeleteSourcePayload,
    description: 'Deletes the source with its files, passages, agent links and per-agent file state. Agents stay.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, ctx) => deleteSource(ctx.db, String(id), ctx),
  }),
  bulkUpsertSources: t.field({
    type: [BulkUpsertResult],
    description:
      'Creates or updates sources matched by name, in one transaction; existing ids and unspecified fields are kept. A new embedding ' +
      'model, dimension or chunk size re-embeds an existing source’s files, as updateSource does.',
    args: { sources: t.arg({ type: [CreateSourceInput], required: true }) },
    resolve: async (_root, { sources }, ctx) =>
      (await bulkUpsertSources(ctx.db, ctx.actor, sources, ctx)).map((r) => ({ sourceId: r.source.id, created: r.created })),
  }),
}));

