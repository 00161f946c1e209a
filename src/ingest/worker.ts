import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { EventBus } from '../core/events.js';
import { serviceUnavailable } from '../core/errors.js';
import { perStatementRunner, type Database } from '../core/db/index.js';
import type { Logger } from '../core/logger.js';
import type { Metrics } from '../core/metrics.js';
import type { AddOptions, JobQueue, QueuedJob } from '../core/queue.js';
import { FILE_TASKS, retireAbandonedSets, takeOverFileJobs } from '../domain/file-state.js';
import type { EmbedderEnv, EmbedderOptions } from '../embeddings/index.js';
import { DEFAULT_LIMITS, type IngestLimits } from '../documents/limits.js';
import { purgeRetiredSets } from './passage-store.js';
import { ChunkThreads } from './chunk-thread.js';
import type { CallbackSweeper } from '../domain/callbacks.js';
import { processFileJob, type PipelineOptions } from './pipeline.js';

export interface IngestSettings {
  /** Files processed at once by this process's workers. */
  concurrency: number;
  heartbeatMs: number;
  /** A RUNNING job whose heartbeat is older than this is taken over by another worker. */
  staleMs: number;
  maxAttempts: number;
  /** First delay before a job that failed for a passing reason (provider throttling or outage) runs again; doubles per attempt. */
  retryDelayMs: number;
}

/**
 * The ingestion service of one process: puts file jobs on the queue and, when this process runs workers,
 * processes them and recovers abandoned ones. The API uses `enqueue`; `npm run worker` and the embedded server
 * call `startWorkers`.
 *
 * Recovery: every half `staleMs`, jobs RUNNING with a lapsed heartbeat and jobs PENDING for longer than `staleMs`
 * go back on the queue; the claim in the pipeline decides who gets them and counts the attempt, so a file whose
 * worker keeps dying ends in ERROR after `maxAttempts`, never stuck. With `exclusive` (the embedded database:
 * no other process can be working on it), jobs left RUNNING by a previous run are taken over at once. The sweep
 * also retires passage sets nobody will finish and deletes retired ones, a slice at a time.
 *
 * Stopping aborts the files being processed at their next step (a statement or a batch away): their jobs go back
 * to PENDING with what they stored kept, and the next start resumes them.
 */
export class IngestionService {
  readonly workerId = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  private sweep: NodeJS.Timeout | null = null;
  private working = false;
  private readonly shutdown = new AbortController();
  private housekeeping: Promise<void> | null = null;
  private threads: ChunkThreads | null = null;

  constructor(
    private readonly options: {
      db: Database;
      queue: JobQueue;
      log: Logger;
      settings: IngestSettings;
      limits?: IngestLimits;
      embedderEnv: EmbedderEnv;
      embedderOptions?: EmbedderOptions;
      exclusive?: boolean;
      /** Tests only: called before each batch is stored. */
      beforeStore?: PipelineOptions['beforeStore'];
      /** Queue depth, jobs queued and their outcomes, and the pipeline's own figures are reported here. */
      metrics?: Metrics;
      /** Delivers the callback of a job that ends (the process's sweeper). */
      callbacks: CallbackSweeper;
      /** Where job and file changes are published (the process's bus). */
      events: EventBus;
    },
  ) {
    options.metrics?.observeQueue(() => options.queue.depth());
  }

  get queueKind() {
    return this.options.queue.kind;
  }

  /** Before writing work that must be queued: SERVICE_UNAVAILABLE while the queue is unreachable, so nothing is half-written. */
  assertAvailable(): void {
    if (!this.options.queue.available()) throw serviceUnavailable('The job queue is unreachable right now; nothing was stored. Try again shortly.');
  }

  /** Queues a job whose row is committed. If the queue is unreachable it is queued on reconnection (or by the sweep). */
  enqueue(job: QueuedJob): Promise<void> {
    return this.add(job);
  }

  /** Every add goes through here, so quarry_jobs_queued_total counts first deliveries and redeliveries alike. */
  private async add(job: QueuedJob, options?: AddOptions): Promise<void> {
    await this.options.queue.add(job, options);
    this.options.metrics?.jobsQueued.inc({ queue: this.options.queue.kind });
  }

  async startWorkers(): Promise<void> {
    if (this.working) return;
    this.working = true;
    const { queue, settings, log } = this.options;
    this.threads = new ChunkThreads();
    const pipeline: PipelineOptions = {
      db: this.options.db,
      embedderEnv: this.options.embedderEnv,
      embedderOptions: this.options.embedderOptions,
      log,
      workerId: this.workerId,
      heartbeatMs: settings.heartbeatMs,
      staleMs: settings.staleMs,
      maxAttempts: settings.maxAttempts,
      retryDelayMs: settings.retryDelayMs,
      limits: this.options.limits ?? { ...DEFAULT_LIMITS, concurrency: settings.concurrency },
      // A requeue that fails (Redis down) is made again on reconnection; the job's row stays PENDING meanwhile.
      requeue: (job, delayMs) => this.add(job, { delayMs, redelivery: true }).catch((error: unknown) => log.warn({ err: error, jobId: job.jobId }, 'requeue failed; retried when the queue is back')),
      shutdown: this.shutdown.signal,
      beforeStore: this.options.beforeStore,
      metrics: this.options.metrics,
      threads: this.threads,
      callbacks: this.options.callbacks,
      events: this.options.events,
    };
    const outcomes = this.options.metrics?.jobOutcomes;
    await queue.consume(async (job) => {
      const { task, outcome } = await processFileJob(pipeline, job);
      outcomes?.inc({ task, outcome });
    }, settings.concurrency);
    if (this.options.exclusive) await this.takeOver();
    await this.recover(this.options.exclusive ? 0 : settings.staleMs);
    this.sweep = setInterval(() => void this.recover(settings.staleMs), Math.max(1000, settings.staleMs / 2));
    this.sweep.unref();
    // Redis may have come back empty (restarted without persistence): look for forgotten jobs at once.
    queue.onReconnect(() => void this.recover(settings.staleMs));
    log.info({ workerId: this.workerId, queue: queue.kind, concurrency: settings.concurrency }, 'ingestion workers started');
  }

  /** Requeues abandoned and forgotten file jobs; returns how many. */
  async recover(staleMs = this.options.settings.staleMs): Promise<number> {
    const prisma = this.options.db.prisma;
    try {
      const staleBefore = new Date(Date.now() - staleMs);
      const jobs = await prisma.job.findMany({
        where: {
          task: { in: [...FILE_TASKS] },
          OR: [
            { status: 'RUNNING', OR: [{ heartbeatAt: null }, { heartbeatAt: { lt: staleBefore } }] },
            { status: { in: ['CREATED', 'PENDING'] }, updatedAt: { lte: staleBefore } },
          ],
        },
        select: { id: true, organizationId: true, status: true },
        orderBy: { createdAt: 'asc' },
        take: 1000,
      });
      if (jobs.length && !this.options.queue.available()) return 0; // the reconnection runs the sweep again
      for (const job of jobs) {
        await this.add({ jobId: job.id, organizationId: job.organizationId }, { redelivery: job.status === 'RUNNING' });
      }
      if (jobs.length) this.options.log.info({ count: jobs.length }, 'requeued file jobs');
      this.startHousekeeping();
      return jobs.length;
    } catch (error) {
      this.options.log.error({ err: error }, 'job recovery sweep failed');
      return 0;
    }
  }

  /** Retires passage sets whose job is gone and deletes retired sets, in the background, one sweep at a time. */
  private startHousekeeping(): void {
    if (this.housekeeping || this.shutdown.signal.aborted) return;
    const { db, log } = this.options;
    this.housekeeping = (async () => {
      try {
        await retireAbandonedSets(db.prisma);
        const rowsPerStatement = db.kind === 'pglite' ? 500 : 5000;
        const deleted = await purgeRetiredSets(perStatementRunner(db), { rowsPerStatement, signal: this.shutdown.signal });
        if (deleted) log.info({ passages: deleted }, 'deleted passages of retired passage sets');
      } catch (error) {
        log.warn({ err: error }, 'passage set housekeeping failed');
      } finally {
        this.housekeeping = null;
      }
    })();
  }

  /** Embedded only: nobody else can hold a job, so what a previous run left RUNNING goes back to PENDING. */
  private async takeOver(): Promise<void> {
    const count = await takeOverFileJobs(this.options.db.prisma, this.options);
    if (count) this.options.log.warn({ count }, 'resuming file jobs interrupted by the previous run');
  }

  async stop(): Promise<void> {
    if (this.sweep) clearInterval(this.sweep);
    this.sweep = null;
    this.shutdown.abort();
    await this.options.queue.close();
    await this.housekeeping;
    await this.threads?.close();
  }
}
