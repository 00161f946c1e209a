import { deleteFile, displayFileName, joinContent } from '../domain/files.js';
import { LIVE_CONTENT } from '../domain/passage-visibility.js';
import type { Passage as PassageRow } from '../generated/prisma/client.js';
import { orNotFound, requireId } from '../domain/ids.js';
import { builder } from './builder.js';
import { PASSAGES_OF_FILE } from '../domain/reads/children.js';
import { childConnection, withTotalCount } from './child-pages.js';
import { Passage } from './passages.js';
import type { FileChange } from '../core/events.js';
import { EVENT_TYPE, READS_BEYOND_EVENT } from '../core/live.js';
import { isFinalFileChange, watchFile } from '../domain/files.js';
import { watchSourceFiles } from '../domain/sources.js';
import { at, LAZY, watchScope } from './subscriptions.js';

/** Files of sources: metadata, processing status, extracted content and passages. */

export const FileStatusEnum = builder.enumType('FileStatus', {
  values: ['PENDING', 'PARSING', 'CHUNKING', 'EMBEDDING', 'COMPLETED', 'ERROR'] as const,
});

export const File = builder.prismaNode('File', {
  id: { field: 'id' },
  nullable: true,
  // Include mode (whole rows): pages of a source's files come from raw SQL with every column (child-pages.ts),
  // and whole rows need no second query to resolve scalar fields.
  fields: (t) => ({
    source: t.relation('source'),
    fileName: t.string({ description: 'The name as listed (without the stored source-name prefix).', resolve: (f) => displayFileName(f.fileName) }),
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
      select: { processingStatus: true, contents: { where: LIVE_CONTENT, orderBy: { seq: 'asc' }, select: { text: true } } },
      resolve: (f) => joinContent(f.contents, f.processingStatus),
    }),
    passages: t.connection(
      {
        type: Passage,
        description: 'In chunk order.',
        resolve: (f, args, ctx) => childConnection<PassageRow>(ctx, PASSAGES_OF_FILE, f.id, args),
      },
      withTotalCount,
    ),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

builder.queryField('file', (t) =>
  t.prismaField({
    type: 'File',
    args: { id: t.arg.id({ required: true }) },
    resolve: async (query, _root, { id }, ctx) => {
      // One query: the lookup carries the GraphQL selection.
      const key = requireId('file', String(id), 'id');
      return orNotFound(ctx.db.file.findUnique({ ...query, where: { id: key } }), 'File', key);
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
    resolve: (_root, { id }, ctx) => deleteFile(ctx.db, String(id), ctx),
  }),
);

// Live processing status (subscriptions.ts has the root type).
const FileStatusEvent = builder.objectRef<FileChange>('FileStatusEvent').implement({
  description: 'A file’s processing state as of `updatedAt`.',
  extensions: EVENT_TYPE,
  fields: (t) => ({
    fileId: t.exposeID('id'),
    sourceId: t.exposeID('sourceId'),
    status: t.field({ type: FileStatusEnum, resolve: (c) => c.processingStatus }),
    terminal: t.boolean({ description: 'COMPLETED, ERROR or deleted: nothing follows.', resolve: (c) => isFinalFileChange(c) }),
    deleted: t.boolean({ description: 'The file was deleted (or replaced); this is its last event.', resolve: (c) => !c.exists }),
    totalChunks: t.exposeInt('totalChunks', { nullable: true }),
    chunksEmbedded: t.exposeInt('chunksEmbedded', { nullable: true }),
    errorMessage: t.exposeString('errorMessage', { nullable: true }),
    processingNote: t.exposeString('processingNote', { nullable: true }),
    updatedAt: t.field({ type: 'DateTime', resolve: (c) => at(c.updatedAt) }),
    file: t.prismaField({
      type: 'File',
      nullable: true,
      extensions: READS_BEYOND_EVENT,
      description: `The whole file (null once deleted). ${LAZY}`,
      resolve: (query, c, _args, ctx) => ctx.db.file.findUnique({ ...query, where: { id: c.id } }),
    }),
  }),
});

builder.subscriptionFields((t) => ({
  fileStatusChanged: t.field({
    type: FileStatusEvent,
    description: 'A file’s current processing state, then each change; completes after COMPLETED, ERROR or deletion. NOT_FOUND for an unknown id.',
    args: { fileId: t.arg.id({ required: true }) },
    subscribe: (_root, { fileId }, ctx) => watchFile(watchScope(ctx), String(fileId)),
    resolve: (change) => change,
  }),
  sourceFilesChanged: t.field({
    type: FileStatusEvent,
    description:
      'Every file of a source: first each file’s current state (oldest first), then each change, including new uploads and deletions. Never completes on its own. NOT_FOUND for an unknown source.',
    args: { sourceId: t.arg.id({ required: true }) },
    subscribe: (_root, { sourceId }, ctx) => watchSourceFiles(watchScope(ctx), String(sourceId)),
    resolve: (change) => change,
  }),
}));
