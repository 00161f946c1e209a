import { GraphQLUpload, type FileUpload } from 'graphql-upload-ts';
import type { Context } from '../context.js';
import { AppError, badInput } from '../core/errors.js';
import { reprocessFile } from '../domain/file-jobs.js';
import { DUPLICATE_HANDLING, uploadFile, type UploadOutcome, type UploadResult } from '../domain/upload.js';
import { builder } from './builder.js';

/**
 * Uploads (GraphQL multipart requests, streamed by graphql-upload-ts before yoga sees the request) and
 * reprocessing. Each uploaded file becomes a file row plus a processing job; progress shows on `File` and `Job`
 * and on the subscriptions.
 */

builder.addScalarType('Upload', GraphQLUpload);

const DuplicateHandling = builder.enumType('DuplicateHandling', {
  description:
    'What to do when the source already has a file of that name: SUFFIX stores `name_(n).ext`, REPLACE swaps the old file out once the new one has completed (the old one stays searchable until then), SKIP returns the existing file, ERROR fails with CONFLICT.',
  values: DUPLICATE_HANDLING,
});

const UploadOutcomeEnum = builder.enumType('UploadOutcome', { values: ['CREATED', 'REPLACED', 'SKIPPED', 'FAILED'] as const });

type Failure = { code: string; message: string };
type UploadRow = { outcome: UploadOutcome | 'FAILED'; fileId: string | null; jobId: string | null; error: Failure | null; name: string };

// A plain object, not the AppError itself: graphql-js treats an Error returned by a resolver as a thrown one.
const UploadFailure = builder.objectRef<Failure>('UploadFailure').implement({
  fields: (t) => ({
    code: t.exposeString('code'),
    message: t.exposeString('message'),
  }),
});

/** No row to load: the selection is consumed (plugin-prisma checks that every selection is used) and null returned. */
const nothing = (query: object) => (void { ...query }, null);

const UploadFileResult = builder.objectRef<UploadRow>('UploadFileResult').implement({
  fields: (t) => ({
    outcome: t.field({ type: UploadOutcomeEnum, resolve: (r) => r.outcome }),
    name: t.exposeString('name', { description: 'The name as uploaded (after sanitising), or as given in `name`.' }),
    file: t.prismaField({
      type: 'File',
      nullable: true,
      description: 'The new file; for SKIPPED, the existing one; null when the upload failed.',
      resolve: (query, r, _args, ctx) => (r.fileId ? ctx.db.file.findUnique({ ...query, where: { id: r.fileId } }) : nothing(query)),
    }),
    job: t.prismaField({
      type: 'Job',
      nullable: true,
      description: 'The processing job; null when skipped or failed.',
      resolve: (query, r, _args, ctx) => (r.jobId ? ctx.db.job.findUnique({ ...query, where: { id: r.jobId } }) : nothing(query)),
    }),
    error: t.field({ type: UploadFailure, nullable: true, resolve: (r) => r.error }),
  }),
});

const ReprocessFilePayload = builder.objectRef<{ fileId: string; jobId: string }>('ReprocessFilePayload').implement({
  fields: (t) => ({
    file: t.prismaField({ type: 'File', resolve: (query, r, _args, ctx) => ctx.db.file.findUniqueOrThrow({ ...query, where: { id: r.fileId } }) }),
    job: t.prismaField({ type: 'Job', resolve: (query, r, _args, ctx) => ctx.db.job.findUniqueOrThrow({ ...query, where: { id: r.jobId } }) }),
  }),
});

const UploadFileInput = builder.inputType('UploadFileInput', {
  fields: (t) => ({
    sourceId: t.id({ required: true }),
    file: t.field({ type: 'Upload', required: true }),
    name: t.string({ description: 'Store under this name instead of the upload\'s own; may be a relative path like `notes/a.txt`.' }),
    duplicateHandling: t.field({ type: DuplicateHandling, defaultValue: 'SUFFIX' }),
    callbackUrl: t.string({ description: 'An http(s) URL POSTed the processing job as JSON when it ends.' }),
  }),
});

const UploadFilesInput = builder.inputType('UploadFilesInput', {
  fields: (t) => ({
    sourceId: t.id({ required: true }),
    files: t.field({ type: ['Upload'], required: true }),
    duplicateHandling: t.field({ type: DuplicateHandling, defaultValue: 'SUFFIX' }),
    callbackUrl: t.string({ description: 'An http(s) URL POSTed each file’s processing job as JSON when it ends.' }),
  }),
});

interface Receiving {
  sourceId: string;
  name?: string | null;
  duplicateHandling?: (typeof DUPLICATE_HANDLING)[number] | null;
  callbackUrl?: string | null;
}

async function receive(ctx: Context, upload: Promise<FileUpload>, request: Receiving): Promise<UploadResult & { name: string }> {
  // A part the multipart parser could not read (malformed headers, client gone) is the client's problem.
  const file = await upload.catch((error: Error) => {
    throw badInput(`The upload could not be read: ${error.message}`, 'file');
  });
  const result = await uploadFile(
    ctx.db,
    ctx.actor,
    { filename: file.filename, stream: file.createReadStream(), declaredType: file.mimetype },
    { ...request, duplicateHandling: request.duplicateHandling ?? 'SUFFIX' },
    ctx,
  );
  return { ...result, name: result.file.originalFileName };
}

const row = (r: UploadResult & { name: string }): UploadRow => ({ outcome: r.outcome, fileId: r.file.id, jobId: r.job?.id ?? null, error: null, name: r.name });

builder.mutationFields((t) => ({
  uploadFile: t.field({
    type: UploadFileResult,
    description: 'Uploads one file (GraphQL multipart request) into a source and queues its processing. Errors: NOT_FOUND, CONFLICT (ERROR handling), PAYLOAD_TOO_LARGE, UNSUPPORTED_MEDIA_TYPE, BAD_USER_INPUT, SERVICE_UNAVAILABLE (the job queue is unreachable: nothing stored, try again).',
    args: { input: t.arg({ type: UploadFileInput, required: true }) },
    resolve: async (_root, { input }, ctx) => row(await receive(ctx, input.file, { ...input, sourceId: String(input.sourceId) })),
  }),
  uploadFiles: t.field({
    type: [UploadFileResult],
    description:
      'Uploads several files into a source, one result per file in order. Each file stands alone: one that fails (type, size, duplicate with ERROR) has outcome FAILED and an error, the others are stored.',
    args: { input: t.arg({ type: UploadFilesInput, required: true }) },
    resolve: async (_root, { input }, ctx) => {
      if (input.files.length > ctx.uploads.maxFiles) {
        throw new AppError('PAYLOAD_TOO_LARGE', `At most ${ctx.uploads.maxFiles} files per request (MAX_UPLOAD_FILES)`, { field: 'files' });
      }
      const rows: UploadRow[] = [];
      for (const upload of input.files) {
        try {
          rows.push(row(await receive(ctx, upload, { ...input, sourceId: String(input.sourceId) })));
        } catch (error) {
          if (!(error instanceof AppError) || error.code === 'NOT_FOUND') throw error; // the source itself: nothing can succeed
          const name = await upload.then((f) => f.filename).catch(() => '');
          rows.push({ outcome: 'FAILED', fileId: null, jobId: null, error: { code: error.code, message: error.message }, name });
        }
      }
      return rows;
    },
  }),
  reprocessFile: t.field({
    type: ReprocessFilePayload,
    description:
      'Parses, chunks and embeds a file again from its stored original, with its source\'s current embedding config. Its passages are swapped in one transaction when the new ones are ready. CONFLICT while it is being processed.',
    args: { id: t.arg.id({ required: true }), callbackUrl: t.arg.string({ description: 'An http(s) URL POSTed the job as JSON when it ends.' }) },
    resolve: async (_root, { id, callbackUrl }, ctx) => {
      const { file, job } = await reprocessFile(ctx.db, ctx.actor, String(id), callbackUrl, ctx);
      return { fileId: file.id, jobId: job.id };
    },
  }),
}));
