import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Actor } from '../core/auth.js';
import { AppError, badInput, conflict } from '../core/errors.js';
import { fileChange, type EventBus } from '../core/events.js';
import type { QueuedJob } from '../core/queue.js';
import { announce, type JobSink } from './file-jobs.js';
import { checkCallbackUrl } from './callbacks.js';
import { checkName, FORBIDDEN_IN_NAMES, nameProblem } from './names.js';
import { fileJobRow, insertFileJob, type FileJobMetadata } from './file-state.js';
import { getSource } from './sources.js';
import type { SqlRunner } from '../core/db/sql.js';
import type { File, Job, PrismaClient, Source } from '../generated/prisma/client.js';
import { detectMediaType, SNIFF_BYTES, SUPPORTED_TYPES_DESCRIPTION, type MediaType } from '../documents/media-types.js';
import { Utf8Check } from '../documents/parsers/decode.js';

/**
 * Receiving a file: the body is streamed to a temporary file (memory stays flat whatever the size) while it is
 * counted, hashed and its first bytes kept for type detection; then, in one transaction, the file row, its
 * original bytes (in the database, 256 KiB per row, so a worker on any machine can read them) and its processing
 * job are written, and the job is queued. Anything that fails before the commit leaves nothing behind.
 */

export const DUPLICATE_HANDLING = ['SUFFIX', 'REPLACE', 'SKIP', 'ERROR'] as const;
export type DuplicateHandling = (typeof DUPLICATE_HANDLING)[number];
export type UploadOutcome = 'CREATED' | 'REPLACED' | 'SKIPPED';

export interface IncomingUpload {
  /** The name the client sent with the part (only its last path segment is kept). */
  filename: string;
  stream: Readable;
  /** The part's declared content type, only used in error messages: the type is decided from name and bytes. */
  declaredType?: string | null;
}

export interface UploadRequest {
  sourceId: string;
  /** A name to store instead of the upload's own (Letta's `name`); may be a relative path like `a/b.txt`. */
  name?: string | null;
  duplicateHandling?: DuplicateHandling | null;
  /** POSTed the processing job when it ends. */
  callbackUrl?: string | null;
}

/** The services an upload uses (a Context has them under these names): raw SQL for the bulk write, the queue, the limit. */
export interface UploadServices {
  /** A raw SQL transaction on the same database (core/db): bytes go through the driver, not Prisma's engine. */
  transact: <T>(fn: (tx: SqlRunner) => Promise<T>) => Promise<T>;
  /** Where the processing job goes; while it cannot take jobs, an upload is refused before anything is stored. */
  ingest: JobSink;
  uploads: { maxBytes: number };
  /** Where the new file and job are announced. */
  events: EventBus;
}

export interface UploadResult {
  outcome: UploadOutcome;
  file: File;
  /** The processing job; null when the upload was skipped. */
  job: Job | null;
}

/** Rows of original bytes: small enough that writing one costs little memory, big enough to be few. */
const BLOB_BYTES = 256 << 10;
const MAX_NAME_LENGTH = 255;

export async function uploadFile(
  db: PrismaClient,
  actor: Actor,
  incoming: IncomingUpload,
  request: UploadRequest,
  services: UploadServices,
): Promise<UploadResult> {
  const deps = { transact: services.transact, jobs: services.ingest, maxBytes: services.uploads.maxBytes };
  let staged: Staged | null = null;
  try {
    deps.jobs.assertAvailable(); // before reading the body: refused at once
    const handling = request.duplicateHandling ?? 'SUFFIX';
    const callbackUrl = request.callbackUrl == null ? null : checkCallbackUrl(request.callbackUrl);
    if (!DUPLICATE_HANDLING.includes(handling)) throw badInput(`duplicateHandling must be one of ${DUPLICATE_HANDLING.join(', ')}`, 'duplicateHandling');
    const source = await getSource(db, request.sourceId, 'sourceId');
    const name = request.name != null ? checkCustomName(request.name) : sanitizeUploadName(incoming.filename);

    // SKIP and ERROR need no bytes when the name is taken: answer before receiving the body.
    if (handling === 'SKIP' || handling === 'ERROR') {
      const taken = await deps.transact((tx) => sameName(tx, actor.organizationId, source.id, name));
      if (taken.duplicate) {
        incoming.stream.resume();
        if (handling === 'ERROR') throw alreadyExists(name, source);
        return { outcome: 'SKIPPED', file: await db.file.findUniqueOrThrow({ where: { id: taken.duplicate } }), job: null };
      }
    }

    staged = await stage(incoming.stream, deps.maxBytes);
    const type = detectMediaType(incoming.filename, staged.head) ?? (request.name != null ? detectMediaType(name, staged.head) : null);
    if (!type) throw unsupported(incoming, name);

    deps.jobs.assertAvailable(); // again: receiving a large body takes a while
    // Raw SQL: Prisma turns every byte of a Bytes value into base64 and back, which costs more memory than the
    // bytes themselves; through the driver, memory stays flat. Every statement names the organization.
    const org = actor.organizationId;
    const written = await deps.transact(async (tx) => {
      // Concurrent uploads to one source pick names one at a time, so two never get the same suffix.
      await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [source.id]);
      const taken = await sameName(tx, org, source.id, name);
      if (taken.duplicate && handling === 'ERROR') throw alreadyExists(name, source);
      if (taken.duplicate && handling === 'SKIP') return { outcome: 'SKIPPED' as const, fileId: taken.duplicate, jobId: null };
      const replaces = handling === 'REPLACE' ? taken.duplicate : null;
      const stored = taken.duplicate && handling === 'SUFFIX' ? await freeSuffix(tx, org, source.id, name, taken.sameOriginal) : name;
      const [file] = await tx.query<{ id: string }>(
        `INSERT INTO "File" ("organizationId", "sourceId", "fileName", "originalFileName", "mediaType", "sizeBytes", "contentHash", "processingStatus", "replacesFileId", "createdById", "updatedAt")
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'PENDING', $8, $9, now()) RETURNING id`,
        [org, source.id, `${source.name}/${stored}`, name, type.mediaType, staged!.size, staged!.sha256, replaces, actor.userId],
      );
      let seq = 0;
      for await (const data of createReadStream(staged!.path, { highWaterMark: BLOB_BYTES })) {
        await tx.query('INSERT INTO "FileBlob" ("fileId", seq, "organizationId", data) VALUES ($1, $2, $3, $4)', [file.id, seq++, org, data]);
      }
      const row = fileJobRow({ organizationId: org, userId: actor.userId, sourceId: source.id, fileId: file.id, task: 'file_processing', metadata: { ...jobMetadata(type, name, staged!.utf8) }, callbackUrl });
      const jobId = await insertFileJob(tx, row);
      return { outcome: replaces ? ('REPLACED' as const) : ('CREATED' as const), fileId: file.id, jobId };
    });
    const file = await db.file.findUniqueOrThrow({ where: { id: written.fileId } });
    if (!written.jobId) return { outcome: written.outcome, file, job: null };
    const job = await db.job.findUniqueOrThrow({ where: { id: written.jobId } });
    services.events.publish('file', file.organizationId, fileChange(file));
    await announce(job, deps.jobs, services.events);
    return { outcome: written.outcome, file, job };
  } catch (error) {
    incoming.stream.resume(); // drain what is left so the request can finish
    throw error;
  } finally {
    if (staged) await rm(staged.path, { force: true });
  }
}

const jobMetadata = (type: MediaType, fileName: string, utf8: boolean): FileJobMetadata & { fileName: string; language?: string } => {
  const meta: FileJobMetadata & { fileName: string; language?: string } = { kind: type.kind, mediaType: type.mediaType, fileName, utf8 };
  if (type.language) meta.language = type.language;
  return meta;
};

/** The name a stored file is listed under: its stored name without the `<source name>/` prefix. */
const LISTED_NAME = `substr("fileName", strpos("fileName", '/') + 1)`;

/**
 * Whether `name` is taken in the source, and by which file. A file holds the name when it is listed under it (its
 * stored name), or, as in Letta, when it was uploaded under it (its original name) and was suffixed. The file listed
 * under the name comes first: REPLACE replaces that one, so the new file never shares its stored name with an
 * older one (matching on the original name alone picked the newest suffixed copy, `z1_(1).txt`, and stored the
 * replacement as `z1.txt` beside the first `z1.txt`).
 */
async function sameName(tx: SqlRunner, org: string, sourceId: string, name: string): Promise<{ duplicate: string | null; sameOriginal: number }> {
  const rows = await tx.query<{ id: string; listed: boolean; original: boolean }>(
    `SELECT id, ${LISTED_NAME} = $3 AS listed, "originalFileName" = $3 AS original FROM "File"
      WHERE "organizationId" = $1 AND "sourceId" = $2 AND ("originalFileName" = $3 OR ${LISTED_NAME} = $3)
      ORDER BY ${LISTED_NAME} = $3 DESC, "createdAt" DESC, id DESC`,
    [org, sourceId, name],
  );
  return { duplicate: rows[0]?.id ?? null, sameOriginal: rows.filter((r) => r.original).length };
}

/**
 * Letta's suffix for the next copy of `name`: `_(n)` with n the number of files uploaded under that name, or the
 * next number whose name no file is listed under (a copy may have been deleted, or a file uploaded as `z1_(1).txt`).
 */
async function freeSuffix(tx: SqlRunner, org: string, sourceId: string, name: string, copies: number): Promise<string> {
  for (let first = Math.max(1, copies); ; first += 32) {
    const candidates = Array.from({ length: 32 }, (_, i) => withSuffix(name, first + i));
    const listed = await tx.query<{ name: string }>(
      `SELECT ${LISTED_NAME} AS name FROM "File" WHERE "organizationId" = $1 AND "sourceId" = $2 AND ${LISTED_NAME} = ANY($3::text[])`,
      [org, sourceId, candidates],
    );
    const taken = new Set(listed.map((r) => r.name));
    const free = candidates.find((c) => !taken.has(c));
    if (free) return free;
  }
}

const alreadyExists = (name: string, source: Source) => conflict(`File '${name}' already exists in source '${source.name}'`, 'name');

function unsupported(incoming: IncomingUpload, name: string): AppError {
  const declared = incoming.declaredType && incoming.declaredType !== 'application/octet-stream' ? incoming.declaredType : 'unknown';
  return new AppError('UNSUPPORTED_MEDIA_TYPE', `Unsupported file type: ${declared} (filename: ${name}). Supported types: ${SUPPORTED_TYPES_DESCRIPTION}`, {
    field: 'file',
  });
}

interface Staged {
  path: string;
  size: number;
  sha256: string;
  head: Buffer;
  /** The whole file is valid UTF-8 (checked as it streamed in, so processing reads it once). */
  utf8: boolean;
}

/** Streams the body to a temporary file, counting, hashing and keeping the first bytes; refuses past maxBytes. */
async function stage(stream: Readable, maxBytes: number): Promise<Staged> {
  const dir = path.join(tmpdir(), 'quarry-uploads');
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, randomUUID());
  const hash = createHash('sha256');
  const utf8 = new Utf8Check();
  const headParts: Buffer[] = [];
  let headLength = 0;
  let size = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      size += chunk.length;
      if (size > maxBytes) return callback(tooLarge(maxBytes));
      hash.update(chunk);
      utf8.push(chunk);
      if (headLength < SNIFF_BYTES) {
        const part = chunk.subarray(0, SNIFF_BYTES - headLength);
        headParts.push(Buffer.from(part));
        headLength += part.length;
      }
      callback(null, chunk);
    },
  });
  try {
    await pipeline(stream, meter, createWriteStream(file));
  } catch (error) {
    await rm(file, { force: true });
    if (error instanceof AppError) throw error;
    // graphql-upload-ts ends the stream with its own error when its size cap trips first.
    const { code, message } = error as { code?: string; message?: string };
    if (code === 'FILE_TOO_LARGE' || /exceeds the \d+ byte size limit/.test(message ?? '')) throw tooLarge(maxBytes);
    throw badInput(`The upload could not be read: ${(error as Error).message}`, 'file');
  }
  return { path: file, size, sha256: hash.digest('hex'), head: Buffer.concat(headParts), utf8: utf8.end() };
}

export const tooLarge = (maxBytes: number) =>
  new AppError('PAYLOAD_TOO_LARGE', `The file is larger than the ${formatBytes(maxBytes)} upload limit (MAX_UPLOAD_BYTES)`, { field: 'file', maxBytes });

function formatBytes(n: number): string {
  if (n >= 1 << 20 && n % (1 << 20) === 0) return `${n / (1 << 20)} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}

/**
 * An uploaded file's own name: its last path segment, without the characters no name may hold (domain/names),
 * which are dropped rather than refused since the client's software, not its user, chose the name.
 */
export function sanitizeUploadName(filename: string): string {
  const base = filename.normalize('NFC').split(/[/\\]/).pop()!.replace(FORBIDDEN_IN_NAMES, '').trim();
  if (!base || base === '.' || base === '..' || nameProblem(base)) {
    throw badInput(`Invalid filename "${filename.replace(FORBIDDEN_IN_NAMES, '?')}": it has no name left once its path is removed`, 'file');
  }
  if (base.startsWith('.')) throw badInput(`Invalid filename "${base}": names starting with a dot are not accepted`, 'file');
  return truncateName(base);
}

/** A name given by the caller: kept as written (slashes make a relative path), but never a path that escapes. */
export function checkCustomName(name: string): string {
  // The shared rule (domain/names) first, on the name as given, so a lone surrogate is refused before normalising.
  checkName(name, { maxLength: Infinity });
  const normalized = name.normalize('NFC').trim();
  if (normalized.includes('\\')) throw badInput('name must not contain backslashes; use / between folders', 'name');
  const segments = normalized.split('/');
  if (segments.some((s) => s === '' || s === '.' || s === '..' || nameProblem(s))) {
    throw badInput('name must be a relative path without empty, blank, "." or ".." segments', 'name');
  }
  if (normalized.length > MAX_NAME_LENGTH) throw badInput(`name must be at most ${MAX_NAME_LENGTH} characters`, 'name');
  return normalized;
}

/** Letta's duplicate name: `notes.txt` → `notes_(1).txt`, the base shortened so the whole fits 255 characters. */
export function withSuffix(name: string, n: number): string {
  const slash = name.lastIndexOf('/');
  const dot = name.lastIndexOf('.');
  const ext = dot > slash + 1 ? name.slice(dot) : '';
  const base = ext ? name.slice(0, dot) : name;
  const suffix = `_(${n})`;
  return base.slice(0, Math.max(1, MAX_NAME_LENGTH - suffix.length - ext.length)) + suffix + ext;
}

function truncateName(name: string): string {
  if (name.length <= MAX_NAME_LENGTH) return name;
  const dot = name.lastIndexOf('.');
  const ext = dot > 0 && name.length - dot <= 16 ? name.slice(dot) : '';
  return name.slice(0, MAX_NAME_LENGTH - ext.length) + ext;
}
