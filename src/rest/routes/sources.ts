import { z } from 'zod';
import type { Context } from '../../context.js';
import { AppError } from '../../core/errors.js';
import { attachSource, detachSource } from '../../domain/agents.js';
import { deleteFile, fileText, getFile, joinContent } from '../../domain/files.js';
import { LIVE_CONTENT, LIVE_PASSAGES } from '../../domain/passage-visibility.js';
import { FILE_LIST_ORDER } from '../../domain/reads/children.js';
import { passageEmbeddings } from '../../domain/reads/passages.js';
import {
  bulkUpsertSources,
  createSource,
  deleteSource,
  getSource,
  getSourceByName,
  sourcesMetadata,
  sourceWhere,
  updateSource,
  type SourceInput,
} from '../../domain/sources.js';
import type { File, Passage, Source as SourceRow } from '../../generated/prisma/client.js';
import { uploadFile, type DuplicateHandling } from '../../domain/upload.js';
import { BY_CREATION, page } from '../pages.js';
import { withFilePart } from '../multipart.js';
import { doc } from '../registry.js';
import { noContent, Reply, route, type Route } from '../route.js';
import { idOf, q } from '../validation.js';
import { describe, direction, listParams } from './common.js';
import * as commonJson from '../json/common.js';
import * as embeddingsJson from '../json/embeddings.js';
import * as sourcesJson from '../json/sources.js';

/**
 * `/v1/sources/…` and its twin `/v1/folders/…` (Letta 0.9+): the same rows and handlers, with Letta's Folder shape
 * and folder parameter names on the folders paths. Static paths (`count`, `metadata`, `name/…`, `bulk`) come
 * before `/{id}`, so `/metadata` is reachable here (Letta shadows it, reference §1.2).
 */

type Kind = 'sources' | 'folders';

function sourceInput(body: z.output<typeof sourcesJson.SourceCreate>): SourceInput {
  return {
    name: body.name,
    description: body.description,
    instructions: body.instructions,
    metadata: body.metadata,
    embedding: body.embedding,
    embeddingChunkSize: body.embedding_chunk_size,
    embeddingConfig: embeddingsJson.embeddingInput(body.embedding_config),
  };
}

/** The file, which must belong to the source named in the path (another source's file is not found there). */
async function fileOfSource(ctx: Context, sourceId: string, fileId: string, kind: Kind): Promise<File> {
  await getSource(ctx.db, sourceId, kind === 'folders' ? 'folder_id' : 'source_id');
  const file = await getFile(ctx.db, fileId, 'file_id');
  if (file.sourceId !== sourceId) {
    throw new AppError('NOT_FOUND', `File with id=${fileId} not found in ${kind === 'folders' ? 'folder' : 'source'} ${sourceId}`, { id: fileId });
  }
  return file;
}

/** A source's files in the keys of every list of them (the direction is the router's). */
const FILE_KEYS = FILE_LIST_ORDER.keys.map((field) => ({ field }));

/** Letta's `duplicate_handling` values, lowercase there; any case is accepted here (the seed writes capitals). */
const DUPLICATE_MODES = ['skip', 'error', 'suffix', 'replace'] as const;
const DUPLICATE_HANDLING_OF: Record<(typeof DUPLICATE_MODES)[number], DuplicateHandling> = { skip: 'SKIP', error: 'ERROR', suffix: 'SUFFIX', replace: 'REPLACE' };

const uploadQuery = z.object({
  duplicate_handling: describe(
    z.string().transform((value) => value.toLowerCase()).pipe(z.enum(DUPLICATE_MODES)).default('suffix'),
    'What to do when the source already has a file of that name: suffix (default), skip, error or replace; any case.',
  ),
  name: describe(z.string().min(1).optional(), 'Store the file under this name instead of its own; may be a relative path like `a/b.txt`.'),
  callback_url: describe(z.string().optional(), 'Quarry’s extension: an http(s) URL POSTed the processing job (Letta’s Job JSON) when it ends.'),
});

/** The form, for the documentation only: the handler reads the body itself. */
const UploadForm = z.object({
  file: doc(z.file(), { description: 'The file, with its filename (its type is decided from the name and the bytes).' }),
});

// The id parameter's name depends on the router, so these schemas are typed by their values only.
type Params = z.ZodObject<Record<string, z.ZodString>>;

export function sourceRoutes(kind: Kind): Route[] {
  const r = sourceRouter(kind);
  return [
    ...totalsRoutes(r),
    ...(r.folders ? [] : bulkRoutes(r)),
    ...crudRoutes(r),
    ...linkRoutes(r),
    ...fileRoutes(r),
    ...uploadRoutes(r),
    ...(r.folders ? [] : legacyRoutes(r)),
  ];
}

/** What differs between the routers of this family, and the schemas their routes share. */
function sourceRouter(kind: Kind) {
  const folders = kind === 'folders';
  const idParam = folders ? 'folder_id' : 'source_id';
  const noun = folders ? 'folder' : 'source';
  const Shape = folders ? sourcesJson.Folder : sourcesJson.Source;
  const shape = folders ? sourcesJson.folder : sourcesJson.source;
  const tags = [kind];
  const byId = z.object({ [idParam]: idOf('source', `The ${noun}’s id (a source id, source-<uuid4>).`) }) as Params;
  const idOfParams = (params: Record<string, string>) => params[idParam];
  const withFile = z.object({ [idParam]: idOf('source'), file_id: idOf('file') }) as Params;
  // The two defaults that differ between the routers: the sources list reads oldest first, folders newest first.
  const childOrder: 'asc' | 'desc' = folders ? 'desc' : 'asc';
  return { kind, folders, idParam, noun, Shape, shape, tags, byId, idOfParams, withFile, childOrder };
}
type SourceRouter = ReturnType<typeof sourceRouter>;

/** Counts, totals and lookup by name. */
function totalsRoutes(r: SourceRouter): Route[] {
  const { kind, folders, noun, tags } = r;
  return [
    route({
      method: 'GET',
      path: `/${kind}/count`,
      operationId: `count_${kind}`,
      summary: `Count your organization’s ${kind}`,
      tags,
      response: commonJson.Count,
      handler: ({ ctx }) => ctx.db.source.count(),
    }),
    route({
      method: 'GET',
      path: `/${kind}/metadata`,
      operationId: `get_${kind}_metadata`,
      summary: `Totals over your ${kind}: count, files and bytes`,
      description: 'Per-source detail (files ordered by name) only with include_detailed_per_source_metadata=true.',
      tags,
      query: z.object({ include_detailed_per_source_metadata: q.bool().default(false) }),
      response: sourcesJson.OrganizationSourcesStats,
      handler: async ({ ctx, query }) => sourcesJson.sourcesStats(await sourcesMetadata(ctx.db, query.include_detailed_per_source_metadata)),
    }),
    route({
      method: 'GET',
      path: `/${kind}/name/{${noun}_name}`,
      operationId: `get_${noun}_id_by_name`,
      summary: `The id of the ${noun} with exactly this name`,
      description: 'Answers a JSON string, the id.',
      tags,
      deprecated: folders,
      params: z.object({ [`${noun}_name`]: z.string().min(1) }) as Params,
      response: z.string(),
      handler: async ({ ctx, params }) => (await getSourceByName(ctx.db, params[`${noun}_name`])).id,
    }),
  ];
}

/** Bulk upsert (the /sources router only). */
function bulkRoutes(r: SourceRouter): Route[] {
  const { tags } = r;
  return [
    route({
      method: 'POST',
      path: '/sources/bulk',
      operationId: 'bulk_upsert_sources',
      summary: 'Create or update many sources by name, in one transaction',
      description:
        'Quarry’s extension (seed document): sources are matched by name within your organization; existing ones keep their id and ' +
        'take the fields given (a new embedding re-embeds their files, as modify does), new ones are created (with DEFAULT_EMBEDDING unless an ' +
        'embedding is given). Letta has this only internally.',
      tags,
      body: sourcesJson.BulkUpsertSources,
      bodyLimit: 8 * 1024 * 1024,
      response: z.array(sourcesJson.Source),
      errorStatus: { BAD_USER_INPUT: 400 },
      handler: async ({ ctx, body }) =>
        (await bulkUpsertSources(ctx.db, ctx.actor, body.sources.map(sourceInput), ctx)).map((r) => sourcesJson.source(r.source)),
    }),
  ];
}

/** List, create, read, change and delete. */
function crudRoutes(r: SourceRouter): Route[] {
  const { kind, folders, idParam, noun, Shape, shape, tags, byId, idOfParams } = r;
  return [
    route({
      method: 'GET',
      path: `/${kind}`,
      operationId: `list_${kind}`,
      summary: `List your ${kind}`,
      description:
        'Paginated with before/after/limit/order on both /sources and /folders (Letta’s /sources ignores them; the folders semantics are used). ' +
        '`name` is a case-insensitive substring.',
      tags,
      query: z.object({ ...listParams('source', { limit: 50, order: 'asc' }), name: describe(z.string().optional(), 'Case-insensitive substring of the name.') }),
      response: z.array(Shape),
      handler: async ({ ctx, query }) => {
        const rows = await page<SourceRow>(
          ctx.db.source,
          { where: sourceWhere({ name: query.name }), keys: BY_CREATION, type: 'Source' },
          { ...query, order: direction(query, 'asc') },
        );
        return rows.map(shape);
      },
    }),
    route({
      method: 'POST',
      path: `/${kind}`,
      operationId: `create_${noun}`,
      summary: `Create a ${noun}`,
      description: 'Answers 200 with the new object. A name your organization already uses is a 409; an unknown or unconfigured embedding handle a 400.',
      tags,
      body: sourcesJson.SourceCreate,
      response: Shape,
      errorStatus: { BAD_USER_INPUT: 400 },
      handler: async ({ ctx, body }) => shape(await createSource(ctx.db, ctx.actor, sourceInput(body), ctx)),
    }),
    route({
      method: 'GET',
      path: `/${kind}/{${idParam}}`,
      operationId: `retrieve_${noun}`,
      summary: `Get a ${noun}`,
      tags,
      params: byId,
      response: Shape,
      handler: async ({ ctx, params }) => shape(await getSource(ctx.db, idOfParams(params), idParam)),
    }),
    route({
      method: 'PATCH',
      path: `/${kind}/{${idParam}}`,
      operationId: `modify_${noun}`,
      summary: `Change a ${noun}`,
      description:
        'Fields left out or null keep their value. Renaming onto a name in use is a 409. A new embedding model, dimension or chunk size ' +
        're-embeds the files (one `file_reembedding` job per file).',
      tags,
      params: byId,
      body: sourcesJson.SourceUpdate,
      response: Shape,
      errorStatus: { BAD_USER_INPUT: 400 },
      handler: async ({ ctx, params, body }) =>
        shape(
          await updateSource(ctx.db, ctx.actor, idOfParams(params), {
            name: body.name,
            description: body.description,
            instructions: body.instructions,
            metadata: body.metadata,
            embedding: body.embedding,
            embeddingChunkSize: body.embedding_chunk_size,
            embeddingConfig: embeddingsJson.embeddingInput(body.embedding_config),
          }, ctx),
        ),
    }),
    route({
      method: 'DELETE',
      path: `/${kind}/{${idParam}}`,
      operationId: `delete_${noun}`,
      summary: `Delete a ${noun} with its files and passages`,
      description: 'Answers 200 with `null`, as Letta does (the seed’s 204 is not what Letta sends). Attached agents stay, without it.',
      tags,
      params: byId,
      response: commonJson.Null,
      handler: async ({ ctx, params }) => {
        await deleteSource(ctx.db, idOfParams(params), ctx);
        return null;
      },
    }),
  ];
}

/** The agents a source is attached to, and its passages. */
function linkRoutes(r: SourceRouter): Route[] {
  const { kind, folders, idParam, noun, tags, byId, idOfParams, childOrder } = r;
  return [
    route({
      method: 'GET',
      path: `/${kind}/{${idParam}}/agents`,
      operationId: `get_agents_for_${noun}`,
      summary: `Ids of the agents the ${noun} is attached to`,
      description: `In attachment order (default ${folders ? 'newest' : 'oldest'} first); cursors are agent ids.`,
      tags,
      params: byId,
      query: z.object(listParams('agent', { limit: 50, order: childOrder })),
      response: commonJson.IdList,
      handler: async ({ ctx, params, query }) => {
        const sourceId = idOfParams(params);
        await getSource(ctx.db, sourceId, idParam);
        const links = await page<{ agentId: string }>(
          ctx.db.sourceAgent,
          {
            where: { sourceId },
            keys: [{ field: 'createdAt' }, { field: 'agentId' }],
            cursor: (agentId) => ({ sourceId_agentId: { sourceId, agentId } }),
            type: 'attached agent',
            select: { agentId: true },
          },
          { ...query, order: direction(query, childOrder) },
        );
        return links.map((link) => link.agentId);
      },
    }),
    route({
      method: 'GET',
      path: `/${kind}/{${idParam}}/passages`,
      operationId: `list_${noun}_passages`,
      summary: `The passages cut from the ${noun}’s files`,
      description: `By creation time, then chunk order (default ${folders ? 'newest' : 'oldest'} first). An unknown ${noun} is a 404 (Letta answers []).`,
      tags,
      params: byId,
      query: z.object(listParams('passage', { limit: 100, order: childOrder })),
      response: z.array(sourcesJson.Passage),
      handler: async ({ ctx, params, query }) => {
        const sourceId = idOfParams(params);
        await getSource(ctx.db, sourceId, idParam);
        const rows = await page<Passage>(
          ctx.db.passage,
          { where: { sourceId, ...LIVE_PASSAGES }, keys: [{ field: 'createdAt' }, { field: 'chunkIndex', nullable: true }, { field: 'id' }], type: 'Passage' },
          { ...query, order: direction(query, childOrder) },
        );
        const vectors = await passageEmbeddings(ctx.reader, rows.map((r) => r.id));
        return rows.map((row) => sourcesJson.passage(row, vectors.get(row.id) ?? null));
      },
    }),
  ];
}

/** Its files: the list and one file. */
function fileRoutes(r: SourceRouter): Route[] {
  const { kind, folders, idParam, noun, tags, byId, idOfParams, withFile, childOrder } = r;
  return [
    route({
      method: 'GET',
      path: `/${kind}/{${idParam}}/files`,
      operationId: `list_${noun}_files`,
      summary: `The ${noun}’s files`,
      description:
        `Default ${folders ? 'newest' : 'oldest'} first, 1000 per page; the full text only with include_content=true. ` +
        (folders ? '' : '`check_status_updates` is accepted for compatibility; Quarry’s workers keep statuses current themselves.'),
      tags,
      params: byId,
      query: z.object({
        ...listParams('file', { limit: 1000, order: childOrder }),
        include_content: q.bool().default(false),
        ...(folders ? {} : { check_status_updates: q.bool().default(true) }),
      }),
      response: z.array(sourcesJson.FileMetadata),
      handler: async ({ ctx, params, query }) => {
        const sourceId = idOfParams(params);
        await getSource(ctx.db, sourceId, idParam);
        const rows = await page<File & { contents?: { text: string }[] }>(
          ctx.db.file,
          {
            where: { sourceId },
            keys: FILE_KEYS,
            type: 'File',
            ...(query.include_content ? { include: { contents: { where: LIVE_CONTENT, orderBy: { seq: 'asc' }, select: { text: true } } } } : {}),
          },
          { ...query, order: direction(query, childOrder) },
        );
        return rows.map(({ contents, ...row }) => {
          const text = contents ? joinContent(contents, row.processingStatus) : null;
          return sourcesJson.fileMetadata({ ...row, content: text === null ? null : { text } }, { includeContent: query.include_content });
        });
      },
    }),
    route({
      method: 'GET',
      path: `/${kind}/{${idParam}}/files/{file_id}`,
      operationId: `get_${noun}_file`,
      summary: `One file of the ${noun}`,
      description: `A file of another ${noun} is a 404 here.`,
      tags,
      params: withFile,
      query: z.object({ include_content: q.bool().default(false) }),
      response: sourcesJson.FileMetadata,
      handler: async ({ ctx, params, query }) => {
        const file = await fileOfSource(ctx, idOfParams(params), params.file_id, kind);
        const text = query.include_content ? await fileText(ctx.db, file.id) : null;
        const content = text === null ? null : { text };
        return sourcesJson.fileMetadata({ ...file, content }, { includeContent: query.include_content });
      },
    }),
  ];
}

/** Uploads, before the `/{file_id}` routes (which would also match `…/upload` for their method), and deletes. */
function uploadRoutes(r: SourceRouter): Route[] {
  const { kind, idParam, noun, tags, byId, idOfParams, withFile } = r;
  return [
    ...[`/${kind}/{${idParam}}/upload`, `/${kind}/{${idParam}}/files`].map((path, i) =>
      route({
        method: 'POST',
        path,
        operationId: i === 0 ? `upload_file_to_${noun}` : `upload_${noun}_file`,
        summary: `Upload a file to the ${noun}`,
        description:
          'A multipart/form-data body with the file in a part named `file` (do not set the request’s Content-Type by hand: ' +
          'the boundary is part of it). The type is decided from the file’s name and bytes; the part’s own type may be ' +
          'missing or application/octet-stream. Answers at once with the new file, `processing_status` not yet terminal and ' +
          '`file_name` as stored (`<source name>/<name>`); poll the file until `completed` or `error`. A file with the same ' +
          'name: `suffix` (default) stores `name_(n).ext`, `skip` answers 200 with the existing file and `X-Upload-Result: skipped`, ' +
          '`error` answers 400 (Letta 0.13+), `replace` swaps the old file out once the new one has completed. ' +
          '`duplicate_handling` is accepted in any case. Past MAX_UPLOAD_BYTES: 413; a type Quarry cannot read: 415. ' +
          (i === 0 ? 'Letta’s path.' : 'The seed’s path (not served by Letta), accepted as an alias.'),
        tags,
        params: byId,
        query: uploadQuery,
        rawBody: true,
        bodyMediaType: 'multipart/form-data',
        body: UploadForm,
        response: sourcesJson.FileMetadata,
        responseDescription: 'The new file (or, skipped, the existing one), `file_name` with its stored prefix.',
        errorStatus: { CONFLICT: 400, BAD_USER_INPUT: 400 },
        handler: async ({ ctx, params, query, request }) => {
          const { maxBytes } = ctx.uploads;
          const result = await withFilePart(request, { field: 'file', maxFileBytes: maxBytes }, (part) =>
            uploadFile(
              ctx.db,
              ctx.actor,
              { filename: part.filename, stream: part.stream, declaredType: part.mimeType },
              { sourceId: idOfParams(params), name: query.name ?? null, duplicateHandling: DUPLICATE_HANDLING_OF[query.duplicate_handling], callbackUrl: query.callback_url ?? null },
              ctx,
            ),
          );
          const json = sourcesJson.fileMetadata(result.file, { storedName: true });
          return result.outcome === 'SKIPPED' ? new Reply(json, 200, { 'x-upload-result': 'skipped' }) : json;
        },
      }),
    ),
    ...[`/${kind}/{${idParam}}/{file_id}`, `/${kind}/{${idParam}}/files/{file_id}`].map((path, i) =>
      route({
        method: 'DELETE',
        path,
        operationId: i === 0 ? `delete_file_from_${noun}` : `delete_${noun}_file`,
        summary: `Delete a file of the ${noun}`,
        description:
          'Removes the file, its passages and its place in agents’ working memory. Answers 204 with no body. ' +
          (i === 0 ? 'Letta’s path.' : 'The seed’s path (a 405 on Letta), accepted as an alias.'),
        tags,
        params: withFile,
        status: 204,
        response: z.undefined(),
        responseDescription: 'Deleted.',
        handler: async ({ ctx, params }) => {
          const file = await fileOfSource(ctx, idOfParams(params), params.file_id, kind);
          await deleteFile(ctx.db, file.id, ctx);
          return noContent();
        },
      }),
    ),
  ];
}

/** Attach and detach from the source’s side, as Letta ≤0.6.13 did, answered with the source (the /sources router only). */
function legacyRoutes(r: SourceRouter): Route[] {
  const { tags } = r;
  return [
    ...(['attach', 'detach'] as const).map((action) =>
      route({
        method: 'POST',
        path: `/sources/{source_id}/${action}`,
        operationId: `${action}_source_legacy`,
        summary: `${action === 'attach' ? 'Attach the source to' : 'Detach the source from'} an agent (Letta ≤0.6.13 form)`,
        description: `Same as PATCH /v1/agents/{agent_id}/sources/${action}/{source_id}, but answers with the source.`,
        tags,
        deprecated: true,
        params: z.object({ source_id: idOf('source') }),
        query: z.object({ agent_id: idOf('agent') }),
        response: sourcesJson.Source,
        handler: async ({ ctx, params, query }) => {
          await (action === 'attach' ? attachSource : detachSource)(ctx.db, ctx.actor, query.agent_id, params.source_id);
          return sourcesJson.source(await getSource(ctx.db, params.source_id, 'source_id'));
        },
      }),
    ),
  ];
}
