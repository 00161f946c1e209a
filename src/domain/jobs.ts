import type { Actor } from '../core/auth.js';
import { currentRequestId } from '../core/request-scope.js';
import { badInput, conflict, notFound } from '../core/errors.js';
import { events, fileChange, jobChange } from '../core/events.js';
import type { Job, JobStatus, JobType, Prisma, PrismaClient } from '../generated/prisma/client.js';
import { getAgent } from './agents.js';
import { checkCallbackUrl, dispatchJobCallback } from './callbacks.js';
import { getFile } from './files.js';
import { orNotFound, requireId } from './ids.js';
import { getSource } from './sources.js';

/**
 * Jobs: background work (file processing, batches…) and its life cycle. Reads and client actions take the
 * tenant-scoped `db`; workers may hold an unscoped client, so the transitions they call take the organization
 * explicitly and put it in every statement.
 *
 *   CREATED ─┬─> PENDING ─┬─> RUNNING ──> COMPLETED
 *            └────────────┴─> (any active state) ──> FAILED | CANCELLED | EXPIRED
 *
 * RUNNING may go back to PENDING (requeued for a retry); an active state may repeat (progress reports).
 * Terminal states are final. Every change of status is a compare-and-set on the status read, so two replicas
 * never both move the same job.
 */

export const ACTIVE_JOB_STATUSES = ['CREATED', 'PENDING', 'RUNNING'] as const satisfies readonly JobStatus[];
export const TERMINAL_JOB_STATUSES = ['COMPLETED', 'FAILED', 'CANCELLED', 'EXPIRED'] as const satisfies readonly JobStatus[];
export type TerminalJobStatus = (typeof TERMINAL_JOB_STATUSES)[number];

const STOPPING: JobStatus[] = ['FAILED', 'CANCELLED', 'EXPIRED'];
const NEXT: Record<JobStatus, readonly JobStatus[]> = {
  CREATED: ['CREATED', 'PENDING', 'RUNNING', ...STOPPING],
  PENDING: ['PENDING', 'RUNNING', ...STOPPING],
  RUNNING: ['RUNNING', 'PENDING', 'COMPLETED', ...STOPPING],
  COMPLETED: [],
  FAILED: [],
  CANCELLED: [],
  EXPIRED: [],
};

export const isTerminal = (status: JobStatus): status is TerminalJobStatus => (TERMINAL_JOB_STATUSES as readonly string[]).includes(status);

export async function getJob(db: PrismaClient, id: string, field = 'id'): Promise<Job> {
  requireId('job', id, field);
  return orNotFound(db.job.findUnique({ where: { id } }), 'Job', id);
}

export interface JobFilter {
  /** Any of these statuses; empty or absent: all. */
  status?: readonly JobStatus[] | null;
  jobType?: JobType | null;
  sourceId?: string | null;
  /** Only jobs not yet ended (intersected with `status` when both are given). */
  active?: boolean;
}

/** Prisma filter for job lists. */
export function jobWhere(filter: JobFilter): Prisma.JobWhereInput {
  const where: Prisma.JobWhereInput = {};
  if (filter.sourceId != null) where.sourceId = requireId('source', filter.sourceId, 'sourceId');
  if (filter.jobType) where.jobType = filter.jobType;
  let statuses: readonly JobStatus[] | null = filter.status?.length ? filter.status : null;
  if (filter.active) statuses = ACTIVE_JOB_STATUSES.filter((s) => !statuses || statuses.includes(s));
  if (statuses) where.status = { in: [...statuses] };
  return where;
}

/** Chronological order with the id as tie-break, so cursors are stable. */
export const jobOrder = (direction: 'asc' | 'desc'): Prisma.JobOrderByWithRelationInput[] => [{ createdAt: direction }, { id: direction }];

export interface JobInput {
  jobType?: JobType;
  /** The initial status; only an active one. */
  status?: (typeof ACTIVE_JOB_STATUSES)[number];
  /** What the job does, e.g. `file_processing`. */
  task?: string | null;
  metadata?: Record<string, unknown> | null;
  sourceId?: string | null;
  /** Implies its source; must belong to `sourceId` when both are given. */
  fileId?: string | null;
  agentId?: string | null;
  background?: boolean | null;
  callbackUrl?: string | null;
}

/**
 * Validates a new job and returns the row to insert (for callers that insert it alongside other rows). Linked
 * source, file and agent must exist in the actor's organization, like any other id.
 */
export async function prepareJob(db: PrismaClient, actor: Actor, input: JobInput): Promise<Prisma.JobUncheckedCreateInput> {
  if (input.metadata != null && (typeof input.metadata !== 'object' || Array.isArray(input.metadata))) {
    throw badInput('metadata must be a JSON object', 'metadata');
  }
  if (input.status && !(ACTIVE_JOB_STATUSES as readonly string[]).includes(input.status)) {
    throw badInput(`A job starts CREATED, PENDING or RUNNING, not ${input.status}`, 'status');
  }
  const callbackUrl = input.callbackUrl == null ? null : checkCallbackUrl(input.callbackUrl);
  let sourceId = input.sourceId ?? null;
  if (input.fileId != null) {
    const file = await getFile(db, input.fileId, 'fileId');
    if (sourceId != null && file.sourceId !== sourceId) throw badInput(`File ${file.id} is not a file of source ${sourceId}`, 'fileId');
    sourceId = file.sourceId;
  } else if (sourceId != null) {
    await getSource(db, sourceId, 'sourceId');
  }
  if (input.agentId != null) await getAgent(db, actor, input.agentId, 'agentId');
  return {
    organizationId: actor.organizationId,
    userId: actor.userId,
    createdById: actor.userId,
    jobType: input.jobType ?? 'JOB',
    status: input.status ?? 'CREATED',
    task: input.task ?? null,
    metadata: (input.metadata ?? undefined) as Prisma.InputJsonValue | undefined,
    sourceId,
    fileId: input.fileId ?? null,
    agentId: input.agentId ?? null,
    background: input.background ?? null,
    callbackUrl,
    requestId: currentRequestId(),
  };
}

export async function createJob(db: PrismaClient, actor: Actor, input: JobInput): Promise<Job> {
  const job = await db.job.create({ data: await prepareJob(db, actor, input) });
  events.publish('job', job.organizationId, jobChange(job));
  return job;
}

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

/** Tells subscribers (and, once ended, the job's callback URL) about a job's new state. */
export function announceJob(db: PrismaClient, job: Job): void {
  events.publish('job', job.organizationId, jobChange(job));
  if (isTerminal(job.status)) dispatchJobCallback(db, job);
}

/** One compare-and-set update, announced when it matched. */
async function apply(db: PrismaClient, where: Prisma.JobWhereInput, data: Prisma.JobUncheckedUpdateManyInput): Promise<Job | null> {
  const [job] = await db.job.updateManyAndReturn({ where, data });
  if (job && isTerminal(job.status) && job.status !== 'COMPLETED' && job.fileId) await settleFile(db, job);
  if (job) announceJob(db, job);
  return job ?? null;
}

/**
 * A file's status follows its processing job: when the job ends without completing (cancelled before a worker
 * took it, failed, expired), a file still in progress ends ERROR with the reason (the error the job recorded, if
 * any), so no file is left pending. The job is written first: whoever sees the file's ERROR sees the job ended.
 */
async function settleFile(db: PrismaClient, job: Job): Promise<void> {
  const recorded = (job.metadata as { error?: unknown } | null)?.error;
  const reason =
    typeof recorded === 'string' ? recorded : job.status === 'CANCELLED' ? 'Processing was cancelled' : `Processing ended ${job.status.toLowerCase()}`;
  const [file] = await db.file.updateManyAndReturn({
    where: { id: job.fileId!, organizationId: job.organizationId, processingStatus: { in: ['PENDING', 'PARSING', 'CHUNKING', 'EMBEDDING'] } },
    data: { processingStatus: 'ERROR', errorMessage: reason },
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
export async function transitionJob(db: PrismaClient, scope: Actor | string, id: string, status: JobStatus, report: JobReport = {}): Promise<Job> {
  const organizationId = typeof scope === 'string' ? scope : scope.organizationId;
  requireId('job', id, 'id');
  for (;;) {
    const job = await db.job.findFirst({ where: { id, organizationId } });
    if (!job) throw notFound('Job', id);
    if (isTerminal(job.status)) {
      throw conflict(`Job ${id} already ended ${job.status.toLowerCase()}; its status is final`, 'status');
    }
    const target: JobStatus = job.cancelRequestedAt && !isTerminal(status) ? 'CANCELLED' : status;
    if (!NEXT[job.status].includes(target)) {
      throw conflict(`Job ${id} cannot go from ${job.status.toLowerCase()} to ${target.toLowerCase()}`, 'status');
    }
    const data = { ...report, status: target, ...(isTerminal(target) ? ending(target, report.stopReason) : {}) };
    const updated = await apply(db, { id, organizationId, status: job.status }, data);
    if (updated) return updated;
    // Another process changed the status between the read and the write: decide again against the new state.
  }
}

/** transitionJob to a terminal status. */
export function finishJob(db: PrismaClient, scope: Actor | string, id: string, status: TerminalJobStatus, report: JobReport = {}): Promise<Job> {
  return transitionJob(db, scope, id, status, report);
}

/**
 * Cancels a job. A job nobody holds ends CANCELLED at once; a job a worker holds gets `cancelRequestedAt` and
 * keeps its status until the worker's next step ends it (transitionJob). A finished job is returned as is.
 */
export async function cancelJob(db: PrismaClient, id: string): Promise<Job> {
  const job = await getJob(db, id);
  if (isTerminal(job.status)) return job;
  const now = new Date();
  const active = { in: [...ACTIVE_JOB_STATUSES] };
  const cancelled = await apply(db, { id, status: active, lockedBy: null }, { status: 'CANCELLED', cancelRequestedAt: job.cancelRequestedAt ?? now, ...ending('CANCELLED', null) });
  if (cancelled) return cancelled;
  const requested = await apply(db, { id, status: active, cancelRequestedAt: null }, { cancelRequestedAt: now });
  // Null when the job was already asked to stop, or ended meanwhile: either way, its current state is the answer.
  return requested ?? getJob(db, id);
}

/**
 * Deletes a job and returns its last state. An active job is cancelled first (its callback goes out), even when
 * a worker holds it: that worker finds the job gone at its next step. `select` shapes the returned row.
 */
export async function deleteJob(db: PrismaClient, id: string): Promise<Job>;
export async function deleteJob<S extends Prisma.JobSelect>(db: PrismaClient, id: string, select: S): Promise<Prisma.JobGetPayload<{ select: S }>>;
export async function deleteJob(db: PrismaClient, id: string, select?: Prisma.JobSelect): Promise<unknown> {
  const job = await getJob(db, id);
  if (!isTerminal(job.status)) {
    await apply(db, { id, status: { in: [...ACTIVE_JOB_STATUSES] } }, { status: 'CANCELLED', cancelRequestedAt: job.cancelRequestedAt ?? new Date(), ...ending('CANCELLED', null) });
  }
  return db.job.delete({ where: { id }, ...(select ? { select } : {}) });
}
