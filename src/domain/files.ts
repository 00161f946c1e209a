import { notFound } from '../core/errors.js';
import { events, fileChange } from '../core/events.js';
import type { File, PrismaClient } from '../generated/prisma/client.js';
import { orNotFound, requireId } from './ids.js';
import { LIVE_CONTENT } from './passage-visibility.js';

/** Files of a source. Upload and processing live in src/ingest; these are the reads and deletes. */

export async function getFile(db: PrismaClient, id: string, field = 'id'): Promise<File> {
  requireId('file', id, field);
  return orNotFound(db.file.findUnique({ where: { id } }), 'File', id);
}

/** Deletes the file; foreign keys cascade to its content, original bytes, passages and per-agent state. */
export async function deleteFile(db: PrismaClient, id: string): Promise<File> {
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
