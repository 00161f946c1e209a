import { notFound } from '../core/errors.js';
import { fileChange, type EventBus, type FileChange } from '../core/events.js';
import type { File, FileStatus, PrismaClient } from '../generated/prisma/client.js';
import { orNotFound, requireId } from './ids.js';
import { LIVE_CONTENT } from './passage-visibility.js';
import { openLiveStream } from '../core/live.js';
import { eventTime, keyed, type WatchScope } from './watch.js';

/** Files of a source. Upload and processing live in src/ingest; these are the reads and deletes. */

export async function getFile(db: PrismaClient, id: string, field = 'id'): Promise<File> {
  requireId('file', id, field);
  return orNotFound(db.file.findUnique({ where: { id } }), 'File', id);
}

/** Deletes the file; foreign keys cascade to its content, original bytes, passages and per-agent state. */
export async function deleteFile(db: PrismaClient, id: string, { events }: { events: EventBus }): Promise<File> {
  const file = await getFile(db, id);
  await db.file.delete({ where: { id } });
  events.publish('file', file.organizationId, fileChange(file, false)); // ends the file's subscriptions
  return file;
}

/** The file's extracted text: its LIVE set's pieces in order; '' for a completed file with no text, null before. */
export async function fileText(db: PrismaClient, fileId: string): Promise<string | null> {
  const [pieces, file] = await Promise.all([
    db.fileContent.findMany({ where: { fileId, ...LIVE_CONTENT }, orderBy: { seq: 'asc' }, select: { text: true } }),
    db.file.findUnique({ where: { id: fileId }, select: { processingStatus: true } }),
  ]);
  return joinContent(pieces, file?.processingStatus ?? null);
}

export function joinContent(pieces: { text: string }[], status: string | null): string | null {
  if (pieces.length) return pieces.map((p) => p.text).join('');
  return status === 'COMPLETED' ? '' : null;
}

/** Letta stores `<source name>/<name>` and shows the part after the first slash. */
export function displayFileName(stored: string): string {
  const slash = stored.indexOf('/');
  return slash >= 0 ? stored.slice(slash + 1) : stored;
}

// Watching a file (domain/watch.ts).

const FILE_STAGE: Record<FileStatus, number> = { PENDING: 0, PARSING: 1, CHUNKING: 2, EMBEDDING: 3, COMPLETED: 4, ERROR: 4 };
export const isFinalFileChange = (c: FileChange) => !c.exists || c.processingStatus === 'COMPLETED' || c.processingStatus === 'ERROR';

/**
 * A deletion is the last word (it carries the file's last update time); otherwise by update time, then stage and
 * chunks embedded for two states in one millisecond. Reprocessing starts a file over at a later time.
 */
const fileKey = (c: FileChange) => [c.exists ? 0 : 1, eventTime(c.updatedAt), FILE_STAGE[c.processingStatus], c.totalChunks ?? -1, c.chunksEmbedded ?? -1];
export const compareFileChanges = keyed(fileKey);

export const FILE_STATE = {
  id: true, organizationId: true, sourceId: true, processingStatus: true, totalChunks: true, chunksEmbedded: true,
  errorMessage: true, processingNote: true, updatedAt: true,
} as const;

export async function watchFile(scope: WatchScope, id: string): Promise<AsyncIterableIterator<FileChange>> {
  requireId('file', id, 'fileId');
  return openLiveStream({
    ...scope,
    topic: 'file',
    match: (c) => c.id === id,
    load: async () => {
      const file = await scope.db.file.findUnique({ where: { id }, select: FILE_STATE });
      return file ? [fileChange(file)] : [];
    },
    onEmpty: () => {
      throw notFound('File', id);
    },
    compare: compareFileChanges,
    isFinal: isFinalFileChange,
  });
}
