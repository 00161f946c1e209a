import type { FileStatus, JobStatus } from '../generated/prisma/client.js';

/**
 * The job and file state machines as data: which statuses are active or final, and which moves are legal. Pure (it
 * imports nothing from domain/), so every module that needs a status list takes it from here without importing the
 * modules that move jobs. The moves themselves are made by job-transitions.ts (any job) and file-state.ts (file jobs).
 *
 *   job:   CREATED ─┬─> PENDING ─┬─> RUNNING ──> COMPLETED
 *                   └────────────┴─> (any active state) ──> FAILED | CANCELLED | EXPIRED
 *          RUNNING may go back to PENDING (requeued for a retry, released, taken over); an active state may repeat
 *          (progress reports). Terminal states are final.
 *   file:  PENDING → PARSING → CHUNKING → EMBEDDING → COMPLETED        (any active state → ERROR)
 */

export const ACTIVE_JOB_STATUSES = ['CREATED', 'PENDING', 'RUNNING'] as const satisfies readonly JobStatus[];
export const TERMINAL_JOB_STATUSES = ['COMPLETED', 'FAILED', 'CANCELLED', 'EXPIRED'] as const satisfies readonly JobStatus[];
export type TerminalJobStatus = (typeof TERMINAL_JOB_STATUSES)[number];

const STOPPING: JobStatus[] = ['FAILED', 'CANCELLED', 'EXPIRED'];
/** The legal moves from each status. */
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

/** Whether a job may move from `from` to `to`. */
export const canMove = (from: JobStatus, to: JobStatus): boolean => NEXT[from].includes(to);

/** The tasks whose jobs process one file; their file follows their state. */
export const FILE_TASKS = ['file_processing', 'file_reembedding'] as const;
export type FileTask = (typeof FILE_TASKS)[number];
/** A file in one of these is being processed (or waits to be). */
export const ACTIVE_FILE_STATUSES: FileStatus[] = ['PENDING', 'PARSING', 'CHUNKING', 'EMBEDDING'];
