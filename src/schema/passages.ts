import type { Prisma } from '../generated/prisma/client.js';
import { requireId } from '../domain/ids.js';
import type { PassageHit } from '../domain/passage-search.js';
import { LIVE_PASSAGES } from '../domain/passage-visibility.js';
import { passageEmbeddings } from '../domain/reads/passages.js';
import { searchByText } from '../domain/search-by-text.js';
import { builder } from './builder.js';
import { EmbeddingConfigRef } from './embeddings.js';

/** Passages: the embedded chunks cut from files. */

export const Passage = builder.prismaNode('Passage', {
  id: { field: 'id' },
  nullable: true,
  fields: (t) => ({
    text: t.exposeString('text'),
    source: t.relation('source'),
    file: t.relation('file', { nullable: true }),
    fileName: t.exposeString('fileName', { nullable: true }),
    chunkIndex: t.exposeInt('chunkIndex', { nullable: true }),
    metadata: t.field({ type: 'JSONObject', resolve: (p) => (p.metadata ?? {}) as Record<string, unknown> }),
    tags: t.exposeStringList('tags'),
    embeddingConfig: t.field({ type: EmbeddingConfigRef, nullable: true, resolve: (p) => p.embeddingConfig as never }),
    embedding: t.loadableList({
      type: 'Float',
      nullable: true,
      description: 'The vector, at its native dimension. Read with raw SQL (Prisma cannot read pgvector columns), batched per request.',
      load: async (ids: string[], ctx) => {
        const byId = await passageEmbeddings(ctx.reader, ids);
        return ids.map((id) => byId.get(id) ?? null) as number[][];
      },
      resolve: (p) => p.id,
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

builder.queryField('passages', (t) =>
  t.prismaConnection({
    type: 'Passage',
    cursor: 'id',
    description: 'Passages of your organization, optionally of one source and/or file, in file and chunk order.',
    args: { sourceId: t.arg.id(), fileId: t.arg.id() },
    resolve: (query, _root, args, ctx) => ctx.db.passage.findMany({ ...query, where: passageWhere(args), orderBy: PASSAGE_ORDER }),
    totalCount: (_root, args, ctx) => ctx.db.passage.count({ where: passageWhere(args) }),
  }),
);

const PASSAGE_ORDER: Prisma.PassageOrderByWithRelationInput[] = [{ createdAt: 'asc' }, { chunkIndex: 'asc' }, { id: 'asc' }];

function passageWhere(args: { sourceId?: string | number | null; fileId?: string | number | null }): Prisma.PassageWhereInput {
  const where: Prisma.PassageWhereInput = { ...LIVE_PASSAGES };
  if (args.sourceId != null) where.sourceId = requireId('source', String(args.sourceId), 'sourceId');
  if (args.fileId != null) where.fileId = requireId('file', String(args.fileId), 'fileId');
  return where;
}

const SearchMode = builder.enumType('PassageSearchMode', {
  values: {
    VECTOR: { description: 'Nearest neighbours of the embedded query (cosine).' },
    TEXT: { description: 'Full-text match of any of the query\'s words ("quoted phrases" as phrases, -word excluded), ranked by ts_rank: passages with more of the words first.' },
    HYBRID: { description: 'Both lists fused by reciprocal rank.' },
  } as const,
});

const PassageSearchResult = builder.objectRef<PassageHit>('PassageSearchResult').implement({
  fields: (t) => ({
    passage: t.prismaField({
      type: 'Passage',
      resolve: (query, hit, _args, ctx) => ctx.db.passage.findUniqueOrThrow({ ...query, where: { id: hit.passageId } }),
    }),
    score: t.exposeFloat('score', { description: 'VECTOR: 1 − cosine distance; TEXT: ts_rank; HYBRID: reciprocal-rank-fusion score.' }),
    vectorRank: t.int({ nullable: true, resolve: (hit) => hit.vectorRank ?? null }),
    textRank: t.int({ nullable: true, resolve: (hit) => hit.textRank ?? null }),
  }),
});

builder.queryField('searchPassages', (t) =>
  t.field({
    type: [PassageSearchResult],
    description: 'Passages most relevant to a query, best first. The query is embedded with the searched sources’ own embedding.',
    args: {
      query: t.arg.string({ required: true }),
      sourceIds: t.arg.idList(),
      fileIds: t.arg.idList(),
      agentId: t.arg.id({ description: 'Search the sources attached to this agent.' }),
      topK: t.arg.int({ defaultValue: 10 }),
      mode: t.arg({ type: SearchMode, defaultValue: 'HYBRID' }),
    },
    // A search embeds its query (often a remote call) and runs one or two ranked scans: it costs like a hundred
    // plain fields, so one request holds a few dozen searches at most (GRAPHQL_MAX_COMPLEXITY).
    complexity: (args) => ({ field: 100, multiplier: args.topK ?? 10 }),
    resolve: (_root, args, ctx) =>
      searchByText(
        ctx.db,
        ctx.actor,
        { ...args, sourceIds: args.sourceIds?.map(String), fileIds: args.fileIds?.map(String), agentId: args.agentId == null ? null : String(args.agentId) },
        ctx,
      ),
  }),
);
