import type { Actor } from '../core/auth.js';
import { currentRequestId } from '../core/request-scope.js';
import { badInput, notFound } from '../core/errors.js';
import { jobChange, type EventBus, type JobChange } from '../core/events.js';
import type { Job, JobStatus, JobType, Prisma, PrismaClient } from '../generated/prisma/client.js';
import { getAgent } from './agents.js';
import { checkCallbackUrl } from './callbacks.js';
import { getFile } from './files.js';
import { orNotFound, requireId } from './ids.js';
import { getSource } from './sources.js';
import { ACTIVE_JOB_STATUSES, isTerminal } from './job-states.js';
import { openLiveStream } from '../core/live.js';
import { eventTime, keyed, type WatchScope } from './watch.js';

export { ACTIVE_JOB_STATUSES, isTerminal, TERMINAL_JOB_STATUSES, type TerminalJobStatus } from './job-states.js';
export { announceJob, cancelJob, deleteJob, finishJob, getJob, transitionJob, type JobReport, type JobServices } from './job-transitions.js';

/**
 * Jobs: background work (file processing, batches…): creating them, listing them. Their states and legal moves
 * are in job-states.ts, every move in job-transitions.ts (re-exported here for callers of the job API).
 */

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

export async function createJob(db: PrismaClient, actor: Actor, input: JobInput, { events }: { events: EventBus }): Promise<Job> {
  const job = await db.job.create({ data: await prepareJob(db, actor, input) });
  events.publish('job', job.organizationId, jobChange(job));
  return job;
}

// Watching jobs (domain/watch.ts).

/**
 * By update time; within one millisecond a terminal state is newer, then further progress. A job may go back
 * from RUNNING to PENDING (a retry), so its status alone does not order it.
 */
const jobKey = (c: JobChange) => {
  const done = (c.progress as { done?: unknown } | null)?.done;
  return [eventTime(c.updatedAt), isTerminal(c.status) ? 1 : 0, typeof done === 'number' ? done : -1];
};
export const compareJobChanges = keyed(jobKey);

export async function watchJob(scope: WatchScope, id: string): Promise<AsyncIterableIterator<JobChange>> {
  requireId('job', id, 'id');
  return openLiveStream({
    ...scope,
    topic: 'job',
    match: (c) => c.id === id,
    load: async () => {
      const job = await scope.db.job.findUnique({ where: { id } });
      return job ? [jobChange(job)] : [];
    },
    onEmpty: () => {
      throw notFound('Job', id);
    },
    compare: compareJobChanges,
    isFinal: (c) => isTerminal(c.status),
  });
}

export interface JobsWatch {
  sourceId?: string | null;
  jobType?: JobType | null;
  /** Changes into any of these statuses; empty or absent: all. */
  status?: readonly JobStatus[] | null;
}

/**
 * Changes of the organization's jobs that match: first the matching jobs still active (CREATED, PENDING,
 * RUNNING), then every change whose new state matches. A job leaving the `status` filter sends nothing more.
 */
export async function watchJobs(scope: WatchScope, filter: JobsWatch): Promise<AsyncIterableIterator<JobChange>> {
  const sourceId = filter.sourceId == null ? null : requireId('source', filter.sourceId, 'sourceId');
  if (sourceId) await getSource(scope.db, sourceId, 'sourceId');
  const statuses = filter.status?.length ? new Set(filter.status) : null;
  return openLiveStream({
    ...scope,
    topic: 'job',
    match: (c) =>
      (sourceId === null || c.sourceId === sourceId) && (!filter.jobType || c.jobType === filter.jobType) && (!statuses || statuses.has(c.status)),
    load: async () => {
      const jobs = await scope.db.job.findMany({
        where: jobWhere({ sourceId, jobType: filter.jobType, status: filter.status, active: true }),
        orderBy: jobOrder('asc'),
      });
      return jobs.map(jobChange);
    },
    compare: compareJobChanges,
  });
}
