import { fileChange, jobChange, runChange, type FileChange, type JobChange, type RunChange } from '../core/events.js';
import { openLiveStream } from '../core/live.js';
import type { SubscriptionConnection, SubscriptionRegistry } from '../core/subscription-limits.js';
import type { FileStatus, JobStatus, JobType, PrismaClient } from '../generated/prisma/client.js';
import { notFound } from '../core/errors.js';
import { requireId } from './ids.js';
import { isTerminal, jobOrder, jobWhere } from './jobs.js';
import { FINAL_RUN_STATUSES } from './runs.js';
import { getSource } from './sources.js';

/**
 * Watching jobs, files and runs: each stream starts with the current state (read from the database once the
 * event subscription is in effect) and continues with every change, newest wins. A single object's stream ends
 * after its terminal state; a missing id, or another organization's, is NOT_FOUND. Events carry the state
 * itself, so delivering one reads nothing from the database.
 */

export interface WatchScope {
  /** Tenant-scoped. */
  db: PrismaClient;
  organizationId: string;
  registry: SubscriptionRegistry;
  connection: SubscriptionConnection;
}

/** Lexicographic order of two version keys. */
function compareKeys(a: number[], b: number[]): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

/**
 * `key` memoized per change object: one event object reaches every local subscriber, and each compares it
 * at least twice, so with 1,000 subscribers the key would otherwise be computed thousands of times.
 */
export function keyed<C extends object>(key: (change: C) => number[]): (a: C, b: C) => number {
  const cache = new WeakMap<C, number[]>();
  const of = (change: C) => {
    let k = cache.get(change);
    if (!k) cache.set(change, (k = key(change)));
    return k;
  };
  return (a, b) => compareKeys(of(a), of(b));
}

const time = (iso: string) => Date.parse(iso);

// ───────────── jobs ─────────────

/**
 * By update time; within one millisecond a terminal state is newer, then further progress. A job may go back
 * from RUNNING to PENDING (a retry), so its status alone does not order it.
 */
const jobKey = (c: JobChange) => {
  const done = (c.progress as { done?: unknown } | null)?.done;
  return [time(c.updatedAt), isTerminal(c.status) ? 1 : 0, typeof done === 'number' ? done : -1];
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

// ───────────── files ─────────────

const FILE_STAGE: Record<FileStatus, number> = { PENDING: 0, PARSING: 1, CHUNKING: 2, EMBEDDING: 3, COMPLETED: 4, ERROR: 4 };
export const isFinalFileChange = (c: FileChange) => !c.exists || c.processingStatus === 'COMPLETED' || c.processingStatus === 'ERROR';

/**
 * A deletion is the last word (it carries the file's last update time); otherwise by update time, then stage and
 * chunks embedded for two states in one millisecond. Reprocessing starts a file over at a later time.
 */
const fileKey = (c: FileChange) => [c.exists ? 0 : 1, time(c.updatedAt), FILE_STAGE[c.processingStatus], c.totalChunks ?? -1, c.chunksEmbedded ?? -1];
export const compareFileChanges = keyed(fileKey);

const FILE_STATE = {
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

/** Every file of a source: first each file's current state (oldest file first), then every change. */
export async function watchSourceFiles(scope: WatchScope, sourceId: string): Promise<AsyncIterableIterator<FileChange>> {
  requireId('source', sourceId, 'sourceId');
  await getSource(scope.db, sourceId, 'sourceId');
  return openLiveStream({
    ...scope,
    topic: 'file',
    match: (c) => c.sourceId === sourceId,
    load: async () => {
      const files = await scope.db.file.findMany({ where: { sourceId }, select: FILE_STATE, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });
      return files.map((f) => fileChange(f));
    },
    compare: compareFileChanges,
  });
}

// ───────────── runs ─────────────

const isFinalRun = (c: RunChange) => (FINAL_RUN_STATUSES as readonly string[]).includes(c.status);
/** A run only moves forward (steps accrue, a final status is final), so that orders it whatever the clocks say. */
const runKey = (c: RunChange) => [isFinalRun(c) ? 1 : 0, c.stepCount, time(c.updatedAt)];
export const compareRunChanges = keyed(runKey);

export async function watchRun(scope: WatchScope, id: string): Promise<AsyncIterableIterator<RunChange>> {
  requireId('run', id, 'id');
  return openLiveStream({
    ...scope,
    topic: 'run',
    match: (c) => c.id === id,
    load: async () => {
      const run = await scope.db.run.findUnique({ where: { id } });
      return run ? [runChange(run)] : [];
    },
    onEmpty: () => {
      throw notFound('Run', id);
    },
    compare: compareRunChanges,
    isFinal: isFinalRun,
  });
}
