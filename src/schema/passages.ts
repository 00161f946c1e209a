import type { Prisma } from '../generated/prisma/client.js';
import { requireId } from '../domain/ids.js';
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
        const rows = await ctx.db.$queryRaw<{ id: string; embedding: string | null }[]>`
          SELECT id, embedding::text AS embedding FROM "Passage"
           WHERE id = ANY(${ids}::text[]) AND "organizationId" = ${ctx.actor.organizationId}`;
        const byId = new Map(rows.map((r) => [r.id, r.embedding ? (JSON.parse(r.embedding) as number[]) : null]));
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
  const where: Prisma.PassageWhereInput = {};
  if (args.sourceId != null) where.sourceId = requireId('source', String(args.sourceId), 'sourceId');
  if (args.fileId != null) where.fileId = requireId('file', String(args.fileId), 'fileId');
  return where;
}
