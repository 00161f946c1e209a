import { checkCallbackUrl } from './callbacks.js';
import type { Actor } from '../core/auth.js';
import { badInput, conflict } from '../core/errors.js';
import { jobChange, type EventBus } from '../core/events.js';
import type { QueuedJob } from '../core/queue.js';
import type { File, Job, Prisma, PrismaClient } from '../generated/prisma/client.js';
import { detectMediaType } from '../documents/media-types.js';
import { fileJobRow } from './file-state.js';
import { getFile } from './files.js';
import { ACTIVE_JOB_STATUSES } from './job-states.js';

/**
 * Jobs that process an existing file again from its stored original: on request (`reprocessFile`) and when its
 * source's embedding changes (`reembedFiles`). Both run the `file_reembedding` task: the original is parsed again
 * (so pages and headings survive), chunked with the source's current chunk size and embedded with its current
 * config; the old passages stay searchable until the new ones replace them in one transaction.
 */

/** Where new jobs go (the ingestion service). */
export interface JobSink {
  /** Throws SERVICE_UNAVAILABLE while jobs cannot be queued: called before writing anything that needs a job. */
  assertAvailable(): void;
  /** Queues a committed job; if that fails, the job is queued later (reconnection, recovery sweep). */
  enqueue(job: QueuedJob): Promise<void>;
}

/** Queues one file for processing again. A file whose processing is under way is a CONFLICT. */
export async function reprocessFile(
  db: PrismaClient,
  actor: Actor,
  fileId: string,
  callbackUrl: string | null | undefined,
  { ingest: jobs, events }: { ingest: JobSink; events: EventBus },
): Promise<{ file: File; job: Job }> {
  const url = callbackUrl == null ? null : checkCallbackUrl(callbackUrl);
  const file = await getFile(db, fileId);
  const metadata = await detectedType(db, file);
  jobs.assertAvailable();
  const job = await db.$transaction(async (tx) => {
    await tx.$executeRawUnsafe('SELECT pg_advisory_xact_lock(hashtext($1))', file.id);
    const active = await tx.job.findFirst({ where: { fileId: file.id, status: { in: [...ACTIVE_JOB_STATUSES] } }, select: { id: true } });
    if (active) throw conflict(`File ${file.id} is being processed (job ${active.id}); wait for it or cancel it first`, 'id');
    return tx.job.create({ data: reembeddingJob(actor, file, metadata, url) });
  });
  await announce(job, jobs, events);
  return { file, job };
}

/**
 * Queues every file of a source that is not being processed for re-embedding; called in the transaction that
 * changes the source's embedding. Files being processed right now notice the change when they store their
 * passages and start over with the new config (see the pipeline), so none ends up with the old one.
 */
export async function prepareReembedding(tx: PrismaClient, actor: Actor, sourceId: string, callbackUrl: string | null = null): Promise<Job[]> {
  const files = await tx.file.findMany({
    where: { sourceId, jobs: { none: { status: { in: [...ACTIVE_JOB_STATUSES] } } } },
    orderBy: { createdAt: 'asc' },
  });
  const jobs: Job[] = [];
  for (const file of files) jobs.push(await tx.job.create({ data: reembeddingJob(actor, file, await detectedType(tx, file), callbackUrl) }));
  return jobs;
}

/** Tells subscribers about a new job and queues it. */
export async function announce(job: Job, jobs: JobSink, events: EventBus): Promise<void> {
  events.publish('job', job.organizationId, jobChange(job));
  // Committed: if the queue became unreachable since `assertAvailable`, the job is queued when it is back.
  await jobs.enqueue({ jobId: job.id, organizationId: job.organizationId }).catch(() => {});
}

function reembeddingJob(actor: Actor, file: File, metadata: Prisma.InputJsonObject, callbackUrl: string | null): Prisma.JobUncheckedCreateInput {
  return fileJobRow({ organizationId: actor.organizationId, userId: actor.userId, sourceId: file.sourceId, fileId: file.id, task: 'file_reembedding', metadata, callbackUrl });
}

/** How the file was parsed: what its upload recorded, or detected again from its name and first bytes. */
async function detectedType(db: PrismaClient, file: File): Promise<Prisma.InputJsonObject> {
  const previous = await db.job.findFirst({
    where: { fileId: file.id, task: { in: ['file_processing', 'file_reembedding'] } },
    orderBy: { createdAt: 'desc' },
    select: { metadata: true },
  });
  const meta = previous?.metadata as { kind?: string; mediaType?: string; language?: string; utf8?: boolean } | null;
  if (meta?.kind) {
    const { kind, language, utf8 } = meta;
    return { kind, mediaType: meta.mediaType ?? file.mediaType ?? 'application/octet-stream', ...(language ? { language } : {}), ...(utf8 !== undefined ? { utf8 } : {}), fileName: file.originalFileName };
  }
  const head = await db.fileBlob.findFirst({ where: { fileId: file.id, seq: 0 }, select: { data: true } });
  const type = detectMediaType(file.originalFileName, Buffer.from(head?.data ?? new Uint8Array()));
  if (!type) throw badInput(`The type of file ${file.id} cannot be determined again; upload it again`, 'id');
  return { kind: type.kind, mediaType: type.mediaType, ...(type.language ? { language: type.language } : {}), fileName: file.originalFileName };
}
