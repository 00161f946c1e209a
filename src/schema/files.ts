import { deleteFile, displayFileName, getFile } from '../domain/files.js';
import { builder } from './builder.js';

/** Files of sources: metadata, processing status, extracted content and passages. */

export const FileStatusEnum = builder.enumType('FileStatus', {
  values: ['PENDING', 'PARSING', 'CHUNKING', 'EMBEDDING', 'COMPLETED', 'ERROR'] as const,
});

builder.prismaNode('File', {
  id: { field: 'id' },
  nullable: true,
  // Select mode: each query reads only the columns the operation asks for.
  select: { id: true },
  fields: (t) => ({
    source: t.relation('source'),
    fileName: t.string({ description: 'The name as listed (without the stored source-name prefix).', select: { fileName: true }, resolve: (f) => displayFileName(f.fileName) }),
    storedFileName: t.exposeString('fileName', { description: 'Letta’s stored form, `<source name>/<name>`.' }),
    originalFileName: t.exposeString('originalFileName'),
    filePath: t.exposeString('filePath', { nullable: true }),
    mediaType: t.exposeString('mediaType', { nullable: true }),
    sizeBytes: t.exposeInt('sizeBytes', { nullable: true }),
    contentHash: t.exposeString('contentHash', { nullable: true, description: 'SHA-256 of the original bytes.' }),
    processingStatus: t.expose('processingStatus', { type: FileStatusEnum }),
    errorMessage: t.exposeString('errorMessage', { nullable: true }),
    processingNote: t.exposeString('processingNote', { nullable: true }),
    totalChunks: t.exposeInt('totalChunks', { nullable: true }),
    chunksEmbedded: t.exposeInt('chunksEmbedded', { nullable: true }),
    content: t.string({
      nullable: true,
      description: 'The extracted text; loaded only when asked for.',
      select: { content: { select: { text: true } } },
      resolve: (f) => f.content?.text ?? null,
    }),
    passages: t.relatedConnection('passages', {
      cursor: 'id',
      description: 'In chunk order (`chunksEmbedded` counts them).',
      query: { orderBy: [{ chunkIndex: 'asc' }, { id: 'asc' }] },
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

builder.queryField('file', (t) =>
  t.prismaField({
    type: 'File',
    args: { id: t.arg.id({ required: true }) },
    resolve: async (query, _root, { id }, ctx) => {
      await getFile(ctx.db, String(id));
      return ctx.db.file.findUniqueOrThrow({ ...query, where: { id: String(id) } });
    },
  }),
);

const DeleteFilePayload = builder.objectRef<{ id: string; sourceId: string }>('DeleteFilePayload').implement({
  fields: (t) => ({
    deletedFileId: t.exposeID('id'),
    source: t.prismaField({
      type: 'Source',
      resolve: (query, f, _args, ctx) => ctx.db.source.findUniqueOrThrow({ ...query, where: { id: f.sourceId } }),
    }),
  }),
});

builder.mutationField('deleteFile', (t) =>
  t.field({
    type: DeleteFilePayload,
    description: 'Deletes the file with its content, passages and per-agent state.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, ctx) => deleteFile(ctx.db, String(id)),
  }),
);
