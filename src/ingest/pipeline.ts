import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Actor } from '../core/auth.js';
import { perStatementRunner, type Database } from '../core/db/index.js';
import type { SqlRunner } from '../core/db/sql.js';
import { AppError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { JobOutcome, Metrics } from '../core/metrics.js';
import type { QueuedJob } from '../core/queue.js';
import { scopedPrisma } from '../core/tenancy.js';
import { insertFileForAttachedAgents } from '../domain/agent-files.js';
import type { CallbackSweeper } from '../domain/callbacks.js';
import type { EventBus } from '../core/events.js';
import { asEmbeddingConfig, type EmbeddingConfig } from '../embeddings/config.js';
import {
  beatFileJob,
  claimFileJob,
  completeFileJob,
  endFileJob,
  FILE_TASKS,
  FileJobStop,
  reportFileProgress,
  requeueFileJob,
  retireSetIfAbandoned,
  stagedSetFor,
  type FileJobMetadata,
  type FileTask,
} from '../domain/file-state.js';
import type { File, FileStatus, Job, PassageSet, Prisma, PrismaClient } from '../generated/prisma/client.js';
import { createEmbedder, EmbeddingError, LexicalEmbedder, type EmbedderEnv, type EmbedderOptions } from '../embeddings/index.js';
import { LimitError, type IngestLimits } from '../documents/limits.js';
import { PassageStore, purgeRetiredSets, SetNoLongerStaged } from './passage-store.js';
import { ParseError } from '../documents/parsers/index.js';
import type { ChunkThreads } from './chunk-thread.js';
import { streamBatches, type Counts } from './stream.js';

export { FILE_TASKS, type FileTask } from '../domain/file-state.js';

/**
 * Processing of one file, as one durable job, streamed in batches: parse → chunk → embed → store, with memory
 * bounded by the batch, not the file.
 *
 * The document is read a window at a time (document-stream.ts) and cut into chunks; every INGEST_BATCH_SIZE chunks
 * are embedded, then stored into the file's STAGED passage set (passage-store.ts) while the next batch is embedded.
 * Nothing is visible until the file completes: then, in one small transaction, the set becomes LIVE (replacing the
 * file's previous passages, or the file a REPLACE upload replaces), see domain/file-state.ts, which owns every
 * change of the job's and the file's state. A run that stops (crash, shutdown) resumes from the set's counters:
 * the document is read and chunked again, but stored batches are neither embedded nor written again. A cancel or
 * a failure retires the set, whose rows are then deleted in slices.
 *
 * Tasks: `file_processing` (a new upload) and `file_reembedding` (reprocessing, or the source's embedding
 * changed: the original bytes are parsed again so pages and headings survive, then embedded with the new config).
 */

export interface PipelineOptions {
  /** The database (unscoped): each job is confined to its own organization here. */
  db: Database;
  embedderEnv: EmbedderEnv;
  embedderOptions?: EmbedderOptions;
  log: Logger;
  workerId: string;
  heartbeatMs: number;
  /** A RUNNING job whose heartbeat is older than this is considered abandoned. */
  staleMs: number;
  /** Attempts (claims) per job before it ends FAILED. */
  maxAttempts: number;
  /** Delay before the first retry after a passing failure; doubles per attempt. */
  retryDelayMs: number;
  limits: IngestLimits;
  /** Puts the job back on the queue (after a retryable failure, or a release). */
  requeue: (job: QueuedJob, delayMs: number) => Promise<void>;
  /** Aborts when the process shuts down: the run stops at its next step and the job is released to be resumed. */
  shutdown?: AbortSignal;
  /** Called before each batch is stored (tests simulate a crash here). */
  beforeStore?: (info: { jobId: string; firstChunk: number }) => void | Promise<void>;
  /** Bytes read, chunks stored and stage durations are reported here. */
  metrics?: Metrics;
  /** Where files are parsed, chunked and (local embedder) embedded, off this thread. */
  threads: ChunkThreads;
  /** Delivers the callback of a job that ends. */
  callbacks: CallbackSweeper;
  /** Where the job's and the file's changes are published. */
  events: EventBus;
}

/** How one delivery of a job ended, for metrics: the job's task (`unclaimed` when it was not ours to run) and outcome. */
export interface JobRunResult {
  task: string;
  outcome: JobOutcome;
}

/** Progress events reach subscribers at least this often while a file is processed. */
const PROGRESS_EVERY_MS = 1000;
/**
 * Chunks per batch with the local embedder, which has no request to save (a remote provider gets batches of
 * INGEST_BATCH_SIZE, so few requests): small batches start storing sooner, keep the database busy from the first
 * quarter megabyte, and move the progress counters often.
 */
const LOCAL_BATCH = 256;

export async function processFileJob(options: PipelineOptions, queued: QueuedJob): Promise<JobRunResult> {
  const { workerId, log } = options;
  const db = scopedPrisma(options.db.prisma, queued.organizationId);
  if (options.shutdown?.aborted) return { task: 'unclaimed', outcome: 'skipped' };
  const job = await claimFileJob(db, queued.jobId, workerId, options.staleMs, options);
  if (!job) return { task: 'unclaimed', outcome: 'skipped' }; // someone else holds it, or it ended: nothing to do
  const task = job.task ?? 'unknown';
  if (!job.fileId || !FILE_TASKS.includes(job.task as FileTask)) {
    await endFileJob(db, job, 'FAILED', 'error', `Job ${job.id} is not a file job`, undefined, options).catch(() => {});
    return { task, outcome: 'failed' };
  }
  const run = new Run(db, options, job);
  if (job.attempts > options.maxAttempts) {
    await run.fail(`Processing gave up after ${options.maxAttempts} attempts: the worker processing this file stopped each time`);
    return { task, outcome: 'failed' };
  }
  const heartbeat = setInterval(() => void run.beat(), options.heartbeatMs);
  heartbeat.unref();
  const onShutdown = () => run.stop(new FileJobStop('shutdown'));
  options.shutdown?.addEventListener('abort', onShutdown);
  let outcome: JobOutcome = 'completed';
  try {
    await withRunConnections(options.db, (reader, writers) => run.execute(reader, writers));
  } catch (error) {
    outcome = await run.handle(error);
  } finally {
    clearInterval(heartbeat);
    options.shutdown?.removeEventListener('abort', onShutdown);
    await run.cleanUp(); // even when ending the job failed: a retired set's rows are deleted either way
  }
  log.debug({ jobId: job.id, workerId, outcome }, 'file job done');
  return { task, outcome };
}

/** Batches a file stores at once on PostgreSQL, each on a connection of its own: its inserts use that many cores. */
const POSTGRES_WRITERS = 2;

/**
 * The connections a run reads and writes with. PostgreSQL: its own, held for the whole run (no connection set up
 * per statement; a long store statement does not hold up the next batch's reads): a reader and POSTGRES_WRITERS
 * writers with `synchronous_commit = off`: staged rows are invisible until the file completes, and the completion's
 * own commit waits for the WAL that holds them, so a crash loses only batches whose counters are lost with them,
 * and the run resumes before them. PGlite (one session, one statement at a time): one writer, and a connection per
 * statement, so the run's own heartbeats, progress reports and every request get in between.
 */
async function withRunConnections<T>(db: Database, fn: (reader: SqlRunner, writers: SqlRunner[]) => Promise<T>): Promise<T> {
  if (db.kind !== 'postgres') return fn(perStatementRunner(db), [perStatementRunner(db)]);
  const writers: SqlRunner[] = [];
  const withWriters = async (): Promise<T> => {
    if (writers.length === POSTGRES_WRITERS) return db.withRunner((reader) => fn(reader, writers));
    return db.withRunner(async (writer) => {
      await writer.exec('SET synchronous_commit = off');
      writers.push(writer);
      return withWriters();
    });
  };
  return withWriters();
}

/**
 * The file's stored blob `seq` (null past the last): what the chunking thread reads the file with, a blob at a time.
 * Each blob is reported to `onRead` once, however often it is read.
 */
function blobReader(runner: SqlRunner, file: File, onRead?: (bytes: number) => void): (seq: number) => Promise<Uint8Array | null> {
  let reported = 0;
  return async (seq) => {
    const [row] = await runner.query<{ data: Uint8Array }>('SELECT data FROM "FileBlob" WHERE "fileId" = $1 AND "organizationId" = $2 AND seq = $3', [
      file.id,
      file.organizationId,
      seq,
    ]);
    if (!row) return null;
    if (seq >= reported) {
      reported = seq + 1;
      onRead?.(row.data.byteLength);
    }
    return row.data;
  };
}

/** What one run of a file's job is about: the file, its source's embedding, what the upload found. */
interface RunSubject {
  file: File;
  config: EmbeddingConfig;
  configJson: string;
  meta: FileJobMetadata;
}

/**
 * One run of a file's job: claims, reports, heartbeats and how the job ends (completed, failed, cancelled,
 * released), around the streaming of the file's batches (streamBatches in stream.ts).
 */
class Run {
  private readonly abort = new AbortController();
  private readonly actor: Actor;
  private set: PassageSet | null = null;
  private status: FileStatus = 'PENDING';
  private lastReport = 0;
  private reporting: Promise<void> | null = null;
  private readonly counts: Counts = { cut: 0, embedded: 0, stored: 0, estimate: 0, read: 0 };
  private completed: File | null = null;
  private readonly progressTimer: NodeJS.Timeout;

  constructor(
    private readonly db: PrismaClient,
    private readonly options: PipelineOptions,
    private readonly job: Job,
  ) {
    this.actor = { organizationId: job.organizationId, userId: job.userId ?? job.createdById ?? '', role: 'ADMIN', apiKeyId: '' };
    this.progressTimer = setInterval(() => void this.report(false).catch(() => {}), PROGRESS_EVERY_MS);
    this.progressTimer.unref();
  }

  private get task(): FileTask {
    return this.job.task as FileTask;
  }

  private get fileId(): string {
    return this.job.fileId!;
  }

  stop(reason: FileJobStop): void {
    if (!this.abort.signal.aborted) this.abort.abort(reason);
  }

  private check(): void {
    this.abort.signal.throwIfAborted();
  }

  async execute(reader: SqlRunner, writers: SqlRunner[]): Promise<void> {
    const started = performance.now();
    // How long this process could not answer while the file was processed (reported in the log line below).
    const loopDelay = monitorEventLoopDelay({ resolution: 10 });
    loopDelay.enable();
    try {
      const subject = await this.subject();
      await this.step('PARSING', 'parsing');
      const set = (this.set = await this.resumableSet(reader, subject.configJson));
      this.counts.stored = this.counts.embedded = set.storedChunks;
      await this.step('CHUNKING', 'chunking');
      const { timings, store, note } = await this.stream(subject, set, reader, writers);
      this.check();
      await this.report(true, 'storing');
      const total = this.counts.cut;
      this.completed = await completeFileJob(this.db, {
        job: this.job,
        workerId: this.options.workerId,
        setId: set.id,
        configJson: subject.configJson,
        totalChunks: total,
        note: total === 0 ? (note ?? 'no text found in the file') : note,
      }, this.options);
      const stages = { read_and_chunk: timings.readMs, embed: timings.embedMs, store: timings.storeMs, total: performance.now() - started };
      for (const [stage, ms] of Object.entries(stages)) this.options.metrics?.ingestStages.observe({ stage }, ms / 1000);
      this.options.log.info(
        {
          jobId: this.job.id,
          fileId: subject.file.id,
          bytes: subject.file.sizeBytes,
          chunks: total,
          resumedAt: set.storedChunks || undefined,
          embedMs: Math.round(timings.embedMs),
          storeMs: Math.round(timings.storeMs),
          // Before the first batch is stored (reading, chunking, embedding it) and after the last one (completing).
          firstStoreAtMs: Math.round((timings.firstStoreAt || started) - started),
          completeMs: Math.round(performance.now() - (timings.storedAt || started)),
          statements: store.timings.statements,
          slowestStatementMs: Math.round(store.timings.slowestMs),
          totalMs: Math.round(performance.now() - started),
          eventLoopDelayP99Ms: Math.round(loopDelay.percentile(99) / 1e6),
          eventLoopDelayMaxMs: Math.round(loopDelay.max / 1e6),
        },
        'file processed',
      );
    } finally {
      loopDelay.disable();
    }
  }

  private async subject(): Promise<RunSubject> {
    const file = await this.db.file.findUnique({ where: { id: this.fileId }, include: { source: { select: { embeddingConfig: true } } } });
    if (!file) throw new FileJobStop('file-deleted');
    const meta = (this.job.metadata ?? {}) as Partial<FileJobMetadata>;
    if (!meta.kind) throw new ParseError(`The file's type was not recorded at upload; upload it again`);
    return { file, config: asEmbeddingConfig(file.source.embeddingConfig), configJson: JSON.stringify(file.source.embeddingConfig), meta: meta as FileJobMetadata };
  }

  /** The file cut (in a chunking thread), embedded and stored batch by batch into `set`. */
  private async stream({ file, config, configJson, meta }: RunSubject, set: PassageSet, reader: SqlRunner, writers: SqlRunner[]) {
    const { metrics, limits } = this.options;
    const embedder = createEmbedder(config, this.options.embedderEnv, {
      ...this.options.embedderOptions,
      observer: metrics ? (provider) => metrics.embeddingObserver(provider) : undefined,
    });
    const local = embedder instanceof LexicalEmbedder;
    const target = { organizationId: file.organizationId, sourceId: file.sourceId, fileId: file.id, fileName: file.originalFileName, setId: set.id, createdById: this.job.createdById, configJson, dim: config.dim, binary: this.options.db.binaryParams };
    const store = new PassageStore(writers[0], target, limits.batchSize);
    const cutting = this.options.threads.cut(
      {
        kind: meta.kind,
        name: file.originalFileName,
        language: meta.language,
        utf8: meta.utf8,
        size: file.sizeBytes ?? 0,
        embedDim: local ? config.dim : null,
        cut: {
          chunkSize: config.chunkSize,
          // The local embedder has no request to save: small batches start storing sooner and move the counters often.
          batchSize: local ? Math.min(LOCAL_BATCH, limits.batchSize) : limits.batchSize,
          limits,
          resumeAt: set.storedChunks,
          storedTexts: set.storedTexts,
        },
      },
      blobReader(reader, file, metrics && ((bytes) => metrics.ingestBytes.inc(bytes))),
      this.abort.signal,
    );
    const timings = await streamBatches({
      batches: cutting.batches,
      embedder: local ? null : embedder,
      dim: config.dim,
      store,
      writers,
      counts: this.counts,
      signal: this.abort.signal,
      embedding: () => (this.status === 'EMBEDDING' ? Promise.resolve() : this.step('EMBEDDING', 'embedding')),
      beforeStore: this.options.beforeStore && ((firstChunk) => this.options.beforeStore!({ jobId: this.job.id, firstChunk })),
      stored: (count) => {
        metrics?.ingestChunks.inc(count);
        void this.report(false).catch(() => {});
      },
    });
    return { timings, store, note: cutting.note() };
  }

  /**
   * The staged set to write: this job's from an earlier run when its passages were made with the same embedding
   * (so the run resumes), else a fresh one.
   */
  private async resumableSet(runner: SqlRunner, configJson: string): Promise<PassageSet> {
    const set = await stagedSetFor(this.db, this.job);
    if (set.storedChunks === 0 && set.storedTexts === 0) return set;
    const [stored] = await runner.query<{ config: string }>('SELECT "embeddingConfig"::text AS config FROM "Passage" WHERE "setId" = $1 LIMIT 1', [set.id]);
    if (!stored || JSON.stringify(JSON.parse(stored.config)) === JSON.stringify(JSON.parse(configJson))) return set;
    await this.db.passageSet.updateMany({ where: { id: set.id, state: 'STAGED' }, data: { state: 'RETIRED', jobId: null } });
    return stagedSetFor(this.db, this.job);
  }

  private progress(step: string): Prisma.InputJsonObject {
    const { cut, embedded, stored, estimate, read } = this.counts;
    return { step, done: stored, total: Math.max(estimate, cut), chunked: cut, embedded, stored, read: Math.round(read * 1000) / 1000 };
  }

  private async step(status: FileStatus, step: string): Promise<void> {
    this.check();
    this.status = status;
    await this.report(true, step);
  }

  /**
   * Reports the job's progress and the file's counters (at most every quarter second unless `force`); this is also
   * how a cancel request is noticed between heartbeats.
   */
  private async report(force: boolean, step?: string): Promise<void> {
    if (this.completed || this.abort.signal.aborted || this.status === 'PENDING') return;
    if (!force && (this.reporting || Date.now() - this.lastReport < 250)) return;
    if (this.reporting) await this.reporting.catch(() => {});
    this.lastReport = Date.now();
    const name = step ?? (this.counts.embedded > this.counts.stored ? 'storing' : this.status.toLowerCase());
    const fields = this.status === 'EMBEDDING' || this.counts.stored > 0 ? { totalChunks: Math.max(this.counts.estimate, this.counts.cut), chunksEmbedded: this.counts.stored } : {};
    this.reporting = reportFileProgress(this.db, this.job, this.options.workerId, this.status, this.progress(name), fields, this.options).catch((error) => {
      if (error instanceof FileJobStop) this.stop(error);
      else throw error;
    });
    try {
      await this.reporting;
    } finally {
      this.reporting = null;
    }
    this.check();
  }

  /** Keeps the claim alive; notices a cancel request or a lost job and aborts the work in progress. */
  async beat(): Promise<void> {
    try {
      const state = await beatFileJob(this.db, this.job, this.options.workerId);
      if (state !== 'ok') this.stop(new FileJobStop(state));
    } catch (error) {
      this.options.log.warn({ err: error, jobId: this.job.id }, 'heartbeat failed');
    }
  }

  /** Ends the job after an exception, with the file in a state that says why. */
  async handle(error: unknown): Promise<JobOutcome> {
    clearInterval(this.progressTimer);
    const aborted = this.abort.signal.aborted ? this.abort.signal.reason : null;
    const reason = error instanceof FileJobStop ? error.reason : aborted instanceof FileJobStop ? aborted.reason : error instanceof SetNoLongerStaged ? 'cancelled' : null;
    const setId = this.set?.id;
    if (reason === 'lost') {
      // Taken over by another worker (which resumes the set), or ended or deleted by someone else: then the set is retired.
      if (setId) await retireSetIfAbandoned(this.db, setId);
      return 'skipped';
    }
    if (reason === 'file-deleted') {
      await endFileJob(this.db, this.job, 'CANCELLED', 'file_deleted', 'The file was deleted during processing', setId, this.options).catch(() => {});
      return 'cancelled';
    }
    if (reason === 'shutdown') {
      // Not a failure: the staged set stays, and the next run resumes from it.
      const released = await requeueFileJob(this.db, this.job, { ...this.progress('waiting'), reason: 'the server stopped; resuming at its next start' }, false, this.options);
      this.options.log.info({ jobId: this.job.id, stored: this.counts.stored, released }, 'file job released at shutdown');
      // Another worker (with a shared queue) takes it over at once; an in-memory queue ignores it, and the next start resumes it.
      if (released) await this.options.requeue({ jobId: this.job.id, organizationId: this.job.organizationId }, 0).catch(() => {});
      return 'released';
    }
    if (reason === 'config-changed') {
      if (setId) await this.db.passageSet.updateMany({ where: { id: setId, state: 'STAGED' }, data: { state: 'RETIRED', jobId: null } });
      const again = await requeueFileJob(this.db, this.job, { step: 'waiting', reason: "the source's embedding changed; starting over" }, false, this.options);
      if (again) await this.options.requeue({ jobId: this.job.id, organizationId: this.job.organizationId }, 0);
      return 'retried';
    }
    if (reason === 'cancelled') {
      await endFileJob(this.db, this.job, 'CANCELLED', 'cancelled', this.task === 'file_reembedding' ? 'Re-embedding was cancelled' : 'Processing was cancelled', setId, this.options);
      return 'cancelled';
    }
    if (error instanceof EmbeddingError && error.retryable && this.job.attempts < this.options.maxAttempts) {
      const delayMs = error.retryAfterMs ?? Math.min(60_000, this.options.retryDelayMs * 2 ** (this.job.attempts - 1));
      this.options.log.warn({ err: error, jobId: this.job.id, attempt: this.job.attempts, delayMs }, 'embedding failed, job requeued');
      // The staged set stays: the next attempt resumes after the batches already stored.
      const requeued = await requeueFileJob(this.db, this.job, { step: 'waiting', retryInMs: delayMs, lastError: error.message }, true, this.options);
      if (requeued) await this.options.requeue({ jobId: this.job.id, organizationId: this.job.organizationId }, delayMs);
      return 'retried';
    }
    await this.fail(describeFailure(error, this.job, this.options.log));
    return 'failed';
  }

  async fail(message: string): Promise<void> {
    clearInterval(this.progressTimer);
    await endFileJob(this.db, this.job, 'FAILED', 'error', message, this.set?.id, this.options);
  }

  /** After the run: agents attached to the source see the new file; retired passages are deleted in slices. */
  async cleanUp(): Promise<void> {
    clearInterval(this.progressTimer);
    try {
      if (this.completed && this.task === 'file_processing') await insertFileForAttachedAgents(this.db, this.actor, this.fileId);
      if (!this.options.shutdown?.aborted) {
        const rowsPerStatement = this.options.db.kind === 'pglite' ? 500 : 5000;
        await purgeRetiredSets(perStatementRunner(this.options.db), { fileId: this.fileId, rowsPerStatement, signal: this.options.shutdown });
      }
    } catch (error) {
      this.options.log.warn({ err: error, jobId: this.job.id }, 'clean-up after file processing failed');
    }
  }
}

/**
 * The file's error in Quarry's words: a parse, limit, embedding or request error says what is wrong with the file
 * or the provider; anything else is logged in full and reported without a library's internals.
 */
function describeFailure(error: unknown, job: Job, log: Logger): string {
  if (error instanceof ParseError || error instanceof LimitError || error instanceof AppError) return error.message;
  if (error instanceof EmbeddingError) return `Embedding failed: ${error.message}`;
  log.error({ err: error, jobId: job.id, fileId: job.fileId }, 'file processing failed');
  return `Processing failed because of an internal error (logged on the server with job id ${job.id})`;
}
