import type { Actor } from '../core/auth.js';
import { conflict, notFound } from '../core/errors.js';
import { fileChange, jobChange, type EventBus } from '../core/events.js';
import type { Job, JobStatus, Prisma, PrismaClient } from '../generated/prisma/client.js';
import { dispatchJobCallback, type CallbackSweeper } from './callbacks.js';
import { orNotFound, requireId } from './ids.js';
import { ACTIVE_FILE_STATUSES, ACTIVE_JOB_STATUSES, canMove, isTerminal, type TerminalJobStatus } from './job-states.js';

/**
 * Every change of a job's status (job-states.ts says which are legal): a worker's transitions, a client's cancel and
 * delete, and the file a job leaves unfinished. Each is a compare-and-set on the status read, so two replicas never
 * both move the same job, announced (event, and the callback once ended) after it is written. Workers may hold an
 * unscoped client, so the transitions they call take the organization explicitly and put it in every statement.
 */

/** What a worker may report along with a status change. */
export type JobReport = Pick<
  Prisma.JobUncheckedUpdateManyInput,
  'progress' | 'stopReason' | 'metadata' | 'lockedBy' | 'heartbeatAt' | 'attempts' | 'ttftNs' | 'totalDurationNs'
>;

/** Columns set when a job ends: it is no longer held by anyone. */
const ending = (status: TerminalJobStatus, stopReason: JobReport['stopReason']) => ({
  completedAt: new Date(),
  lockedBy: null,
  heartbeatAt: null,
  stopReason: stopReason ?? (status === 'CANCELLED' ? 'cancelled' : undefined),
});

/** What a job's transitions use, passed down from the entry point (named as in Context). */
export interface JobServices {
  callbacks: CallbackSweeper;
  events: EventBus;
}

/** Tells subscribers (and, once ended, the job's callback URL) about a job's new state. */
export function announceJob(db: PrismaClient, job: Job, services: JobServices): void {
  services.events.publish('job', job.organizationId, jobChange(job));
  if (isTerminal(job.status)) dispatchJobCallback(db, job, services);
}

/** One compare-and-set update, announced when it matched. */
async function apply(db: PrismaClient, where: Prisma.JobWhereInput, data: Prisma.JobUncheckedUpdateManyInput, services: JobServices): Promise<Job | null> {
  const [job] = await db.job.updateManyAndReturn({ where, data });
  if (job && isTerminal(job.status) && job.status !== 'COMPLETED' && job.fileId) await settleFile(db, job, services);
  if (job) announceJob(db, job, services);
  return job ?? null;
}

/**
 * A file's status follows its processing job: when the job ends without completing (cancelled before a worker
 * took it, failed, expired), a file still in progress ends ERROR with the reason (the error the job recorded, if
 * any), so no file is left pending. The job is written first: whoever sees the file's ERROR sees the job ended.
 */
async function settleFile(db: PrismaClient, job: Job, services: JobServices): Promise<void> {
  const recorded = (job.metadata as { error?: unknown } | null)?.error;
  const reason =
    typeof recorded === 'string' ? recorded : job.status === 'CANCELLED' ? 'Processing was cancelled' : `Processing ended ${job.status.toLowerCase()}`;
  await fileToError(db, job.organizationId, job.fileId!, reason, services);
}

/** A file still in progress ends ERROR with `message` (the one place a file is set to ERROR), announced. */
export async function fileToError(db: PrismaClient, organizationId: string, fileId: string, message: string, { events }: { events: EventBus }): Promise<void> {
  const [file] = await db.file.updateManyAndReturn({
    where: { id: fileId, organizationId, processingStatus: { in: ACTIVE_FILE_STATUSES } },
    data: { processingStatus: 'ERROR', errorMessage: message },
  });
  if (file) events.publish('file', file.organizationId, fileChange(file));
}

/**
 * Moves a job to `status` for a worker (see the state diagram above), with what it reports. Ending it sets
 * completedAt, releases it and sends its callback. Once a cancel was requested, any further step ends the job
 * CANCELLED instead — that is how a held job stops — while COMPLETED and FAILED still stand: the work ended
 * anyway. An illegal move (including any move out of a terminal state) is a CONFLICT. The returned job tells
 * the worker what happened.
 */
export async function transitionJob(
  db: PrismaClient,
  scope: Actor | string,
  id: string,
  status: JobStatus,
  report: JobReport,
  services: JobServices,
): Promise<Job> {
  const organizationId = typeof scope === 'string' ? scope : scope.organizationId;
  requireId('job', id, 'id');
  for (;;) {
    const job = await db.job.findFirst({ where: { id, organizationId } });
    if (!job) throw notFound('Job', id);
    if (isTerminal(job.status)) {
      throw conflict(`Job ${id} already ended ${job.status.toLowerCase()}; its status is final`, 'status');
    }
    const target: JobStatus = job.cancelRequestedAt && !isTerminal(status) ? 'CANCELLED' : status;
    if (!canMove(job.status, target)) {
      throw conflict(`Job ${id} cannot go from ${job.status.toLowerCase()} to ${target.toLowerCase()}`, 'status');
    }
    const data = { ...report, status: target, ...(isTerminal(target) ? ending(target, report.stopReason) : {}) };
    const updated = await apply(db, { id, organizationId, status: job.status }, data, services);
    if (updated) return updated;
    // Another process changed the status between the read and the write: decide again against the new state.
  }
}

/**
 * transitionJob inside a transaction, for a job that must still match `holds` as well (held by this worker, no
 * cancel asked): the job moves, or null is returned when it no longer matches or may not move. Nothing is
 * announced: the caller announces the returned job (announceJob) once the transaction has committed. Used for a
 * completion, which has no file to settle; a move to FAILED, CANCELLED or EXPIRED goes through transitionJob.
 */
export async function transitionJobInTransaction(
  tx: Pick<PrismaClient, 'job'>,
  organizationId: string,
  id: string,
  status: 'RUNNING' | 'PENDING' | 'COMPLETED',
  report: JobReport,
  holds: Prisma.JobWhereInput,
): Promise<Job | null> {
  const job = await tx.job.findFirst({ where: { id, organizationId } });
  if (!job || job.cancelRequestedAt || !canMove(job.status, status)) return null;
  const data = { ...report, status, ...(status === 'COMPLETED' ? ending(status, report.stopReason) : {}) };
  const [moved] = await tx.job.updateManyAndReturn({ where: { AND: [{ id, organizationId, status: job.status }, holds] }, data });
  return moved ?? null;
}

/**
 * A worker takes a job: CREATED or PENDING, or RUNNING with its holder's heartbeat older than `staleBefore` (a take-over),
 * and no cancel asked. It becomes RUNNING, held by `workerId`, its attempt counted, announced; null when not takeable.
 */
export async function claimJob(db: PrismaClient, id: string, workerId: string, staleBefore: Date, services: JobServices): Promise<Job | null> {
  const lapsed = { status: 'RUNNING' as const, OR: [{ heartbeatAt: null }, { heartbeatAt: { lt: staleBefore } }] };
  return apply(
    db,
    { id, cancelRequestedAt: null, OR: [{ status: { in: ['CREATED', 'PENDING'] } }, lapsed] },
    { status: 'RUNNING', lockedBy: workerId, heartbeatAt: new Date(), attempts: { increment: 1 } },
    services,
  );
}

/** transitionJob to a terminal status. */
export function finishJob(db: PrismaClient, scope: Actor | string, id: string, status: TerminalJobStatus, report: JobReport, services: JobServices): Promise<Job> {
  return transitionJob(db, scope, id, status, report, services);
}

export async function getJob(db: PrismaClient, id: string, field = 'id'): Promise<Job> {
  requireId('job', id, field);
  return orNotFound(db.job.findUnique({ where: { id } }), 'Job', id);
}

/**
 * Cancels a job. A job nobody holds ends CANCELLED at once; a job a worker holds gets `cancelRequestedAt` and
 * keeps its status until the worker's next step ends it (transitionJob). A finished job is returned as is.
 */
export async function cancelJob(db: PrismaClient, id: string, services: JobServices): Promise<Job> {
  const job = await getJob(db, id);
  if (isTerminal(job.status)) return job;
  const now = new Date();
  const active = { in: [...ACTIVE_JOB_STATUSES] };
  const cancelled = await apply(db, { id, status: active, lockedBy: null }, { status: 'CANCELLED', cancelRequestedAt: job.cancelRequestedAt ?? now, ...ending('CANCELLED', null) }, services);
  if (cancelled) return cancelled;
  const requested = await apply(db, { id, status: active, cancelRequestedAt: null }, { cancelRequestedAt: now }, services);
  // Null when the job was already asked to stop, or ended meanwhile: either way, its current state is the answer.
  return requested ?? getJob(db, id);
}

/**
 * Deletes a job and returns its last state. An active job is cancelled first (its callback goes out), even when
 * a worker holds it: that worker finds the job gone at its next step. `select` shapes the returned row.
 */
export async function deleteJob(db: PrismaClient, id: string, select: undefined, services: JobServices): Promise<Job>;
export async function deleteJob<S extends Prisma.JobSelect>(db: PrismaClient, id: string, select: S, services: JobServices): Promise<Prisma.JobGetPayload<{ select: S }>>;
export async function deleteJob(db: PrismaClient, id: string, select: Prisma.JobSelect | undefined, services: JobServices): Promise<unknown> {
  const job = await getJob(db, id);
  if (!isTerminal(job.status)) {
    await apply(db, { id, status: { in: [...ACTIVE_JOB_STATUSES] } }, { status: 'CANCELLED', cancelRequestedAt: job.cancelRequestedAt ?? new Date(), ...ending('CANCELLED', null) }, services);
  }
  return db.job.delete({ where: { id }, ...(select ? { select } : {}) });
}
