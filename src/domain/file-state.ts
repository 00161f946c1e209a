import { AppError } from '../core/errors.js';
import { currentRequestId } from '../core/request-scope.js';
import { fileChange } from '../core/events.js';
import type { SqlRunner } from '../core/db/sql.js';
import type { DocumentKind } from '../documents/parsers/index.js';
import type { File, FileStatus, Job, PassageSet, Prisma, PrismaClient } from '../generated/prisma/client.js';
import { ACTIVE_FILE_STATUSES, FILE_TASKS, type FileTask } from './job-states.js';
import { announceJob, claimJob, fileToError, transitionJob, transitionJobInTransaction, type JobServices } from './job-transitions.js';

/**
 * The one owner of a file job's state: the job row, its file's processing status and counters, and the file's
 * passage sets (STAGED while a job writes them, LIVE once the file completes, RETIRED when replaced, failed or
 * cancelled). Uploads, reprocessing and re-embedding build their job rows here; the worker claims, reports,
 * completes, fails, cancels and releases through these functions, each a compare-and-set that publishes what
 * changed after it is written. The job is always moved before its file, so whoever sees the file's final state
 * finds the job ended too.
 *
 *   file:  PENDING → PARSING → CHUNKING → EMBEDDING → COMPLETED        (any active state → ERROR)
 *   set:   STAGED (written batch by batch) → LIVE (the file completes) → RETIRED (replaced) → deleted
 *          STAGED → RETIRED (the job failed or was cancelled)
 */

export { ACTIVE_FILE_STATUSES, FILE_TASKS, type FileTask };

/** Why a run stops early, when it is not an error of the file's own. */
export type StopReason = 'cancelled' | 'lost' | 'file-deleted' | 'config-changed' | 'shutdown';

export class FileJobStop extends Error {
  constructor(readonly reason: StopReason) {
    super(reason);
  }
}

/** What an upload records on its job so a worker parses the file as it was detected. */
export interface FileJobMetadata {
  kind: DocumentKind;
  language?: string;
  mediaType: string;
  /** Whether the file's bytes are valid UTF-8, as the upload found them (absent for files uploaded before). */
  utf8?: boolean;
}

/** The row of a new file job (an upload, a reprocessing, a re-embedding): the one place such rows are built. */
export function fileJobRow(input: {
  organizationId: string;
  userId: string;
  sourceId: string;
  fileId: string;
  task: FileTask;
  metadata: Prisma.InputJsonObject;
  /** POSTed the job when it ends (checked with checkCallbackUrl by the caller). */
  callbackUrl?: string | null;
}): Prisma.JobUncheckedCreateInput & { metadata: Prisma.InputJsonObject; callbackUrl: string | null } {
  return {
    organizationId: input.organizationId,
    userId: input.userId,
    createdById: input.userId,
    jobType: 'JOB',
    status: 'PENDING',
    task: input.task,
    sourceId: input.sourceId,
    fileId: input.fileId,
    metadata: input.metadata,
    requestId: currentRequestId(),
    callbackUrl: input.callbackUrl ?? null,
  };
}

/** Inserts a file job row (fileJobRow's) through a raw transaction, for writes that bypass Prisma (uploads); its id. */
export async function insertFileJob(tx: SqlRunner, row: ReturnType<typeof fileJobRow>): Promise<string> {
  const [job] = await tx.query<{ id: string }>(
    `INSERT INTO "Job" ("organizationId", "userId", "createdById", "jobType", status, task, "sourceId", "fileId", metadata, "requestId", "callbackUrl", "updatedAt")
     VALUES ($1, $2, $3, $4::"JobType", $5::"JobStatus", $6, $7, $8, $9::jsonb, $10, $11, now()) RETURNING id`,
    [row.organizationId, row.userId, row.createdById, row.jobType, row.status, row.task, row.sourceId, row.fileId, JSON.stringify(row.metadata), row.requestId, row.callbackUrl],
  );
  return job.id;
}

/**
 * Takes the job if nobody holds it, or its holder's heartbeat lapsed. A lapsed job whose cancellation was asked
 * for while its worker was gone ends CANCELLED here instead (nobody else would end it).
 */
export async function claimFileJob(db: PrismaClient, jobId: string, workerId: string, staleMs: number, services: JobServices): Promise<Job | null> {
  const staleBefore = new Date(Date.now() - staleMs);
  const job = await claimJob(db, jobId, workerId, staleBefore, services);
  if (job) return job;
  const lapsed = { status: 'RUNNING' as const, OR: [{ heartbeatAt: null }, { heartbeatAt: { lt: staleBefore } }] };
  const orphan = await db.job.findFirst({ where: { id: jobId, NOT: { cancelRequestedAt: null }, ...lapsed } });
  if (orphan) await endFileJob(db, orphan, 'CANCELLED', 'cancelled', 'Processing was cancelled', undefined, services);
  return null;
}

/**
 * Reports progress: the job's (which tells whether a cancel was requested or the job was taken from us) and the
 * file's status and counters. Throws FileJobStop when the run must stop.
 */
export async function reportFileProgress(
  db: PrismaClient,
  job: Job,
  workerId: string,
  status: FileStatus,
  progress: Prisma.InputJsonObject,
  fields: Partial<Pick<File, 'totalChunks' | 'chunksEmbedded' | 'processingNote'>>,
  services: JobServices,
): Promise<void> {
  const reported = await transitionJob(db, job.organizationId, job.id, 'RUNNING', { progress, heartbeatAt: new Date() }, services).catch((error) => {
    if (error instanceof AppError) throw new FileJobStop(error.code === 'NOT_FOUND' ? 'lost' : 'cancelled');
    throw error;
  });
  if (reported.status === 'CANCELLED') throw new FileJobStop('cancelled');
  if (reported.lockedBy !== workerId) throw new FileJobStop('lost');
  const settled: FileStatus[] = job.task === 'file_reembedding' ? ['COMPLETED', 'ERROR'] : [];
  const [file] = await db.file.updateManyAndReturn({
    where: { id: job.fileId!, processingStatus: { in: [...ACTIVE_FILE_STATUSES, ...settled] } },
    data: { processingStatus: status, errorMessage: null, ...fields },
  });
  if (!file) {
    const exists = await db.file.count({ where: { id: job.fileId! } });
    throw new FileJobStop(exists ? 'cancelled' : 'file-deleted');
  }
  services.events.publish('file', file.organizationId, fileChange(file));
}

/**
 * Keeps the claim alive. Returns what the holder must do: go on, stop (taken or deleted), or cancel. A job that a
 * progress report of this run has just ended CANCELLED (a cancel request is honoured at the next step) is
 * `cancelled`, not `lost`: a lost run leaves its staged set alone, a cancelled one retires it.
 */
export async function beatFileJob(db: PrismaClient, job: Job, workerId: string): Promise<'ok' | 'lost' | 'cancelled'> {
  const [held] = await db.job.updateManyAndReturn({
    where: { id: job.id, lockedBy: workerId, status: 'RUNNING' },
    data: { heartbeatAt: new Date() },
    select: { cancelRequestedAt: true },
  });
  if (held) return held.cancelRequestedAt ? 'cancelled' : 'ok';
  const now = await db.job.findFirst({ where: { id: job.id }, select: { status: true } });
  return now?.status === 'CANCELLED' ? 'cancelled' : 'lost';
}

/**
 * The STAGED set this job writes: the one it started before (after a crash or a shutdown: the run resumes from its
 * counters), or a new one.
 */
export async function stagedSetFor(db: PrismaClient, job: Job): Promise<PassageSet> {
  const existing = await db.passageSet.findFirst({ where: { jobId: job.id, fileId: job.fileId!, state: 'STAGED' }, orderBy: { createdAt: 'desc' } });
  if (existing) return existing;
  return db.passageSet.create({ data: { organizationId: job.organizationId, fileId: job.fileId!, jobId: job.id, state: 'STAGED' } });
}

/** Gives up a staged set (its rows are deleted later, in batches: see purgeRetiredSets in the pipeline). */
export async function retireSet(db: PrismaClient, setId: string): Promise<void> {
  await db.passageSet.updateMany({ where: { id: setId, state: { not: 'RETIRED' } }, data: { state: 'RETIRED', jobId: null } });
}

/**
 * A run that lost its job (deleted, ended by someone else, or taken over): its staged set is retired unless another
 * worker now runs the job (that worker resumes the set). Returns whether it was retired.
 */
export async function retireSetIfAbandoned(db: PrismaClient, setId: string): Promise<boolean> {
  const retired = await db.$executeRaw`
    UPDATE "PassageSet" s SET state = 'RETIRED', "jobId" = NULL, "updatedAt" = now()
     WHERE s.id = ${setId} AND s.state = 'STAGED'
       AND NOT EXISTS (SELECT 1 FROM "Job" j WHERE j.id = s."jobId" AND j.status IN ('CREATED', 'PENDING', 'RUNNING'))`;
  return retired > 0;
}

/** Staged sets whose job ended or disappeared (a worker died, then the job was cancelled or deleted): retired. */
export async function retireAbandonedSets(db: PrismaClient): Promise<number> {
  const abandoned = await db.$queryRaw<{ id: string }[]>`
    SELECT s.id FROM "PassageSet" s
     WHERE s.state = 'STAGED'
       AND NOT EXISTS (SELECT 1 FROM "Job" j WHERE j.id = s."jobId" AND j.status IN ('CREATED', 'PENDING', 'RUNNING'))
     LIMIT 1000`;
  if (!abandoned.length) return 0;
  const retired = await db.passageSet.updateMany({ where: { id: { in: abandoned.map((s) => s.id) }, state: 'STAGED' }, data: { state: 'RETIRED', jobId: null } });
  return retired.count;
}

export interface Completion {
  job: Job;
  workerId: string;
  setId: string;
  /** The embedding config the passages were made with, as stored on the source (JSON). */
  configJson: string;
  totalChunks: number;
  note: string | null;
}

/**
 * The file completes: in one small transaction its staged set becomes LIVE (and the set it replaces RETIRED), the
 * file COMPLETED, the job COMPLETED, and a file it replaces (REPLACE upload) deleted. Search and listings switch
 * from the old passages to the new ones at the commit. Throws FileJobStop when the source's embedding changed
 * meanwhile, the job was cancelled or taken, or the file deleted.
 */
export async function completeFileJob(db: PrismaClient, c: Completion, services: JobServices): Promise<File> {
  const { job } = c;
  const { file, ended } = await db.$transaction(
    async (tx) => {
      const source = await tx.source.findUnique({ where: { id: job.sourceId! }, select: { embeddingConfig: true } });
      if (source && JSON.stringify(source.embeddingConfig) !== c.configJson) throw new FileJobStop('config-changed');
      const live = await tx.passageSet.updateMany({ where: { id: c.setId, state: 'STAGED' }, data: { state: 'LIVE', jobId: null } });
      if (!live.count) throw new FileJobStop('cancelled');
      await tx.passageSet.updateMany({ where: { fileId: job.fileId!, state: 'LIVE', id: { not: c.setId } }, data: { state: 'RETIRED', jobId: null } });
      const [file] = await tx.file.updateManyAndReturn({
        where: { id: job.fileId! },
        data: { processingStatus: 'COMPLETED', totalChunks: c.totalChunks, chunksEmbedded: c.totalChunks, errorMessage: null, processingNote: c.note },
      });
      if (!file) throw new FileJobStop('file-deleted');
      const ended = await transitionJobInTransaction(
        tx,
        job.organizationId,
        job.id,
        'COMPLETED',
        {
          stopReason: 'end_turn',
          progress: { step: 'completed', done: c.totalChunks, total: c.totalChunks, stored: c.totalChunks },
          metadata: { ...((job.metadata ?? {}) as object), numPassages: c.totalChunks },
        },
        { lockedBy: c.workerId, status: 'RUNNING' },
      );
      if (!ended) throw new FileJobStop(await tx.job.count({ where: { id: job.id, NOT: { cancelRequestedAt: null } } }) ? 'cancelled' : 'lost');
      if (file.replacesFileId) await tx.file.deleteMany({ where: { id: file.replacesFileId, sourceId: file.sourceId } });
      return { file, ended };
    },
    { timeout: 60_000, maxWait: 60_000 },
  );
  if (file.replacesFileId) services.events.publish('file', file.organizationId, fileChange({ ...file, id: file.replacesFileId }, false));
  services.events.publish('file', file.organizationId, fileChange(file));
  announceJob(db, ended, services);
  return file;
}

/**
 * The job ends FAILED or CANCELLED with `message` as its error, which takes the file to ERROR with that message
 * (settleFile in job-transitions.ts), and its staged set is retired. A job that had already ended or was deleted leaves the
 * file to be settled here.
 */
export async function endFileJob(
  db: PrismaClient,
  job: Job,
  status: 'FAILED' | 'CANCELLED',
  stopReason: string,
  message: string,
  setId: string | undefined,
  services: JobServices,
): Promise<void> {
  await transitionJob(db, job.organizationId, job.id, status, { stopReason, metadata: { ...((job.metadata ?? {}) as object), error: message } }, services).catch((error) => {
    if (!(error instanceof AppError)) throw error; // already ended or deleted meanwhile: its state stands
  });
  if (setId) await retireSet(db, setId);
  else await db.passageSet.updateMany({ where: { jobId: job.id, state: 'STAGED' }, data: { state: 'RETIRED', jobId: null } });
  await fileToError(db, job.organizationId, job.fileId!, message, services);
}

/**
 * The job goes back to PENDING for another run (a passing failure, a changed embedding, a shutdown). `countAttempt`
 * false gives the attempt back: the run did not fail. Returns whether the job is PENDING now (and should be queued).
 */
export async function requeueFileJob(db: PrismaClient, job: Job, progress: Prisma.InputJsonObject, countAttempt: boolean, services: JobServices): Promise<boolean> {
  const again = await transitionJob(db, job.organizationId, job.id, 'PENDING', {
    lockedBy: null,
    heartbeatAt: null,
    ...(countAttempt ? {} : { attempts: Math.max(0, job.attempts - 1) }),
    progress,
  }, services).catch(() => null);
  return again?.status === 'PENDING';
}

/** Embedded only: nobody else can hold a job, so what a previous run left RUNNING goes back to PENDING. */
export async function takeOverFileJobs(db: PrismaClient, services: JobServices): Promise<number> {
  const jobs = await db.job.findMany({ where: { task: { in: [...FILE_TASKS] }, status: 'RUNNING' }, select: { id: true, organizationId: true } });
  let count = 0;
  for (const job of jobs) {
    // A job whose cancel was asked while its worker was gone ends CANCELLED here (transitionJob), its file ERROR.
    const moved = await transitionJob(db, job.organizationId, job.id, 'PENDING', { lockedBy: null, heartbeatAt: null }, services).catch((error) => {
      if (error instanceof AppError) return null; // ended or deleted meanwhile
      throw error;
    });
    if (moved) count++;
  }
  return count;
}
