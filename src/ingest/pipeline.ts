import type { Actor } from '../core/auth.js';
import { AppError } from '../core/errors.js';
import { events, fileChange } from '../core/events.js';
import type { Logger } from '../core/logger.js';
import type { QueuedJob } from '../core/queue.js';
import { scopedPrisma } from '../core/tenancy.js';
import { insertFileForAttachedAgents } from '../domain/agent-files.js';
import { asEmbeddingConfig, type EmbeddingConfig } from '../domain/embedding-config.js';
import { announceJob, transitionJob } from '../domain/jobs.js';
import type { File, FileStatus, Job, Prisma, PrismaClient } from '../generated/prisma/client.js';
import { chunk, DEFAULT_OVERLAP, type Chunk } from './chunker.js';
import { createEmbedder, EmbeddingError, type EmbedderEnv, type EmbedderOptions } from './embedders/index.js';
import { parse, ParseError, type DocumentKind, type ParsedDocument } from './parsers/index.js';

/**
 * Processing of one file, as one durable job: parse → chunk → embed → store.
 *
 * The job row is the truth. A worker claims it with a compare-and-set (PENDING, or RUNNING with a lapsed
 * heartbeat), beats a heartbeat while it works, and reports each step on the job and on the file; every change is
 * published for subscribers. Steps are idempotent: the text is upserted, and the passages of a file are replaced
 * in one transaction together with the file's `completed` status (and, for a REPLACE upload, the deletion of the
 * file it replaces), so re-running any step never duplicates passages and search never sees half a file.
 *
 * Tasks: `file_processing` (a new upload) and `file_reembedding` (the source's embedding changed: the original bytes
 * are parsed again so pages and headings survive, then embedded with the new config).
 */

export const FILE_TASKS = ['file_processing', 'file_reembedding'] as const;
export type FileTask = (typeof FILE_TASKS)[number];

/** What an upload records on its job so a worker parses the file as it was detected. */
export interface FileJobMetadata {
  kind: DocumentKind;
  language?: string;
  mediaType: string;
}

export interface PipelineOptions {
  /** Unscoped client: each job is confined to its own organization here. */
  prisma: PrismaClient;
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
  /** Puts the job back on the queue (after a retryable failure). */
  requeue: (job: QueuedJob, delayMs: number) => Promise<void>;
}

/** Texts per embed call: the unit of progress reports. Providers split it further within their own limits. */
const EMBED_GROUP = 1024;
/** Rows per INSERT when storing passages. */
const INSERT_BATCH = 500;
const ACTIVE_FILE: FileStatus[] = ['PENDING', 'PARSING', 'CHUNKING', 'EMBEDDING'];

/** Why a run stopped early, when it was not an error of the file's own. */
class Stop extends Error {
  constructor(readonly reason: 'cancelled' | 'lost' | 'file-deleted' | 'config-changed') {
    super(reason);
  }
}

export async function processFileJob(options: PipelineOptions, queued: QueuedJob): Promise<void> {
  const { prisma, workerId, log } = options;
  const db = scopedPrisma(prisma, queued.organizationId);
  const job = await claim(db, options, queued.jobId);
  if (!job) return; // someone else holds it, or it ended: nothing to do
  if (!job.fileId || !FILE_TASKS.includes(job.task as FileTask)) {
    await transitionJob(db, job.organizationId, job.id, 'FAILED', { stopReason: 'error', metadata: withError(job, `Job ${job.id} is not a file job`) });
    return;
  }
  const run = new Run(db, options, job);
  if (job.attempts > options.maxAttempts) {
    await run.fail(`Processing gave up after ${options.maxAttempts} attempts: the worker processing this file stopped each time`);
    return;
  }
  const heartbeat = setInterval(() => void run.beat(), options.heartbeatMs);
  heartbeat.unref();
  try {
    await run.execute();
  } catch (error) {
    await run.handle(error);
  } finally {
    clearInterval(heartbeat);
  }
  log.debug({ jobId: job.id, workerId }, 'file job done');
}

/** Takes the job if nobody holds it (or its holder's heartbeat lapsed). */
async function claim(db: PrismaClient, options: PipelineOptions, jobId: string): Promise<Job | null> {
  const staleBefore = new Date(Date.now() - options.staleMs);
  const [job] = await db.job.updateManyAndReturn({
    where: {
      id: jobId,
      cancelRequestedAt: null,
      OR: [{ status: { in: ['CREATED', 'PENDING'] } }, { status: 'RUNNING', OR: [{ heartbeatAt: null }, { heartbeatAt: { lt: staleBefore } }] }],
    },
    data: { status: 'RUNNING', lockedBy: options.workerId, heartbeatAt: new Date(), attempts: { increment: 1 } },
  });
  if (job) announceJob(db, job);
  return job ?? null;
}

class Run {
  private readonly abort = new AbortController();
  private readonly actor: Actor;

  constructor(
    private readonly db: PrismaClient,
    private readonly options: PipelineOptions,
    private readonly job: Job,
  ) {
    this.actor = { organizationId: job.organizationId, userId: job.userId ?? job.createdById ?? '', role: 'ADMIN', apiKeyId: '' };
  }

  private get task(): FileTask {
    return this.job.task as FileTask;
  }

  private get fileId(): string {
    return this.job.fileId!;
  }

  async execute(): Promise<void> {
    const file = await this.db.file.findUnique({ where: { id: this.fileId }, include: { source: { select: { embeddingConfig: true } } } });
    if (!file) throw new Stop('file-deleted');
    const config = asEmbeddingConfig(file.source.embeddingConfig);

    const timings: Record<string, number> = {};
    let mark = performance.now();
    const lap = (name: string) => {
      const now = performance.now();
      timings[name] = Math.round(now - mark);
      mark = now;
    };

    // parse
    await this.step('PARSING', { step: 'parsing' });
    const doc = await this.parse(file);
    await this.db.fileContent.upsert({
      where: { fileId: file.id },
      create: { organizationId: file.organizationId, fileId: file.id, text: doc.text },
      update: { text: doc.text },
    });
    if (this.task === 'file_processing') await insertFileForAttachedAgents(this.db, this.actor, file.id);
    lap('parseMs');

    // chunk
    await this.step('CHUNKING', { step: 'chunking' }, { processingNote: doc.note ?? null });
    const chunks = chunk(doc, { chunkSize: config.chunkSize, overlap: Math.min(DEFAULT_OVERLAP, Math.floor(config.chunkSize / 2)) });
    lap('chunkMs');

    // embed
    await this.step('EMBEDDING', { step: 'embedding', done: 0, total: chunks.length }, { totalChunks: chunks.length, chunksEmbedded: 0 });
    const vectors = await this.embed(config, chunks);
    lap('embedMs');

    // store: passages, the file's final state, the job's, and a replaced file's deletion, all in one transaction
    await this.store(file, config, chunks, vectors, doc);
    lap('storeMs');
    this.options.log.info({ jobId: this.job.id, fileId: file.id, bytes: file.sizeBytes, chunks: chunks.length, ...timings }, 'file processed');
  }

  private async parse(file: File): Promise<ParsedDocument> {
    const meta = (this.job.metadata ?? {}) as Partial<FileJobMetadata>;
    const blobs = await this.db.fileBlob.findMany({ where: { fileId: file.id }, orderBy: { seq: 'asc' }, select: { data: true } });
    const bytes = Buffer.concat(blobs.map((b) => Buffer.from(b.data)));
    if (!meta.kind) throw new ParseError(`The file's type was not recorded at upload; upload it again`);
    return parse({ bytes, name: file.originalFileName, kind: meta.kind, language: meta.language });
  }

  private async embed(config: EmbeddingConfig, chunks: Chunk[]): Promise<Float32Array[]> {
    const vectors: Float32Array[] = [];
    if (chunks.length === 0) return vectors;
    const embedder = createEmbedder(config, this.options.embedderEnv, this.options.embedderOptions);
    for (let start = 0; start < chunks.length; start += EMBED_GROUP) {
      const group = chunks.slice(start, start + EMBED_GROUP).map((c) => c.text);
      const result = await embedder.embed(group, this.abort.signal);
      for (const v of result) vectors.push(Float32Array.from(v));
      const done = vectors.length;
      await this.step('EMBEDDING', { step: 'embedding', done, total: chunks.length }, { chunksEmbedded: done });
    }
    return vectors;
  }

  private async store(file: File, config: EmbeddingConfig, chunks: Chunk[], vectors: Float32Array[], doc: ParsedDocument): Promise<void> {
    this.abort.signal.throwIfAborted();
    const note = chunks.length === 0 ? (doc.note ?? 'no text found in the file') : (doc.note ?? null);
    const displayName = file.originalFileName;
    const { file: stored, job } = await this.db.$transaction(
      async (tx) => {
        // The source's embedding may have changed while this file was being embedded: start over with the new one.
        const source = await tx.source.findUnique({ where: { id: file.sourceId }, select: { embeddingConfig: true } });
        if (source && JSON.stringify(source.embeddingConfig) !== JSON.stringify(config)) throw new Stop('config-changed');
        await tx.passage.deleteMany({ where: { fileId: file.id } });
        for (let start = 0; start < chunks.length; start += INSERT_BATCH) {
          const rows = chunks.slice(start, start + INSERT_BATCH);
          await tx.$executeRawUnsafe(
            `INSERT INTO "Passage" ("organizationId", "sourceId", "fileId", "fileName", "chunkIndex", text, metadata, "embeddingConfig", "embeddingDim", embedding, "createdById", "updatedAt")
             SELECT $1, $2, $3, $4, r.idx, r.text, r.meta, $5::jsonb, $6::int, r.vec::vector, $7, now()
             FROM unnest($8::int[], $9::text[], $10::jsonb[], $11::text[]) AS r(idx, text, meta, vec)`,
            file.organizationId,
            file.sourceId,
            file.id,
            displayName,
            JSON.stringify(config),
            config.dim,
            this.job.createdById,
            rows.map((c) => c.index),
            rows.map((c) => c.text),
            rows.map((c) => JSON.stringify(passageMetadata(displayName, c))),
            rows.map((_, i) => vectorLiteral(vectors[start + i])),
          );
        }
        const [updated] = await tx.file.updateManyAndReturn({
          where: { id: file.id },
          data: { processingStatus: 'COMPLETED', totalChunks: chunks.length, chunksEmbedded: chunks.length, errorMessage: null, processingNote: note },
        });
        if (!updated) throw new Stop('file-deleted');
        const [ended] = await tx.job.updateManyAndReturn({
          where: { id: this.job.id, lockedBy: this.options.workerId, status: 'RUNNING' },
          data: {
            status: 'COMPLETED',
            completedAt: new Date(),
            lockedBy: null,
            heartbeatAt: null,
            stopReason: 'end_turn',
            progress: { step: 'completed', done: chunks.length, total: chunks.length },
            metadata: { ...((this.job.metadata ?? {}) as object), numPassages: chunks.length },
          },
        });
        if (!ended) throw new Stop('lost');
        if (updated.replacesFileId) await tx.file.deleteMany({ where: { id: updated.replacesFileId, sourceId: updated.sourceId } });
        return { file: updated, job: ended };
      },
      { timeout: 10 * 60_000, maxWait: 60_000 },
    );
    if (stored.replacesFileId) {
      events.publish('file', stored.organizationId, { ...fileChange({ ...file, id: stored.replacesFileId }, false) });
    }
    events.publish('file', stored.organizationId, fileChange(stored));
    announceJob(this.db, job);
  }

  /**
   * Moves the file to `status` (with counters) and reports progress on the job. The job's transition tells
   * whether a cancel was requested (it then ends CANCELLED) or the job was taken from us.
   */
  private async step(status: FileStatus, progress: Prisma.InputJsonObject, fields: Partial<Pick<File, 'totalChunks' | 'chunksEmbedded' | 'processingNote'>> = {}) {
    this.abort.signal.throwIfAborted();
    const job = await transitionJob(this.db, this.job.organizationId, this.job.id, 'RUNNING', { progress, heartbeatAt: new Date() }).catch((error) => {
      if (error instanceof AppError) throw new Stop(error.code === 'NOT_FOUND' ? 'lost' : 'cancelled');
      throw error;
    });
    if (job.status === 'CANCELLED') throw new Stop('cancelled');
    if (job.lockedBy !== this.options.workerId) throw new Stop('lost');
    const [file] = await this.db.file.updateManyAndReturn({
      where: { id: this.fileId, processingStatus: { in: ACTIVE_FILE.concat(this.task === 'file_reembedding' ? ['COMPLETED', 'ERROR'] : []) } },
      data: { processingStatus: status, errorMessage: null, ...fields },
    });
    if (!file) {
      const exists = await this.db.file.count({ where: { id: this.fileId } });
      throw exists ? new Stop('cancelled') : new Stop('file-deleted');
    }
    events.publish('file', file.organizationId, fileChange(file));
  }

  /** Keeps the claim alive; notices a cancel request or a lost job and aborts the work in progress. */
  async beat(): Promise<void> {
    try {
      const [job] = await this.db.job.updateManyAndReturn({
        where: { id: this.job.id, lockedBy: this.options.workerId, status: 'RUNNING' },
        data: { heartbeatAt: new Date() },
        select: { cancelRequestedAt: true },
      });
      if (!job) this.abort.abort(new Stop('lost'));
      else if (job.cancelRequestedAt) this.abort.abort(new Stop('cancelled'));
    } catch (error) {
      this.options.log.warn({ err: error, jobId: this.job.id }, 'heartbeat failed');
    }
  }

  /** Ends the job after an exception, with the file in a state that says why. */
  async handle(error: unknown): Promise<void> {
    const reason = error instanceof Stop ? error : this.abort.signal.aborted && this.abort.signal.reason instanceof Stop ? this.abort.signal.reason : null;
    if (reason?.reason === 'lost') return; // deleted, or taken over by another worker: not ours to touch any more
    if (reason?.reason === 'file-deleted') {
      await this.end('CANCELLED', 'file_deleted', 'The file was deleted during processing').catch(() => {});
      return;
    }
    if (reason?.reason === 'config-changed') {
      const again = await transitionJob(this.db, this.job.organizationId, this.job.id, 'PENDING', {
        lockedBy: null,
        heartbeatAt: null,
        attempts: Math.max(0, this.job.attempts - 1), // not a failure: this run does not count
        progress: { step: 'waiting', reason: "the source's embedding changed; starting over" },
      }).catch(() => null);
      if (again?.status === 'PENDING') await this.options.requeue({ jobId: this.job.id, organizationId: this.job.organizationId }, 0);
      return;
    }
    if (reason?.reason === 'cancelled') {
      await this.end('CANCELLED', 'cancelled', this.task === 'file_reembedding' ? 'Re-embedding was cancelled' : 'Processing was cancelled');
      return;
    }
    if (error instanceof EmbeddingError && error.retryable && this.job.attempts < this.options.maxAttempts) {
      const delayMs = error.retryAfterMs ?? Math.min(60_000, this.options.retryDelayMs * 2 ** (this.job.attempts - 1));
      this.options.log.warn({ err: error, jobId: this.job.id, attempt: this.job.attempts, delayMs }, 'embedding failed, job requeued');
      const requeued = await transitionJob(this.db, this.job.organizationId, this.job.id, 'PENDING', {
        lockedBy: null,
        heartbeatAt: null,
        progress: { step: 'waiting', retryInMs: delayMs, lastError: error.message },
      }).catch(() => null);
      if (requeued?.status === 'PENDING') await this.options.requeue({ jobId: this.job.id, organizationId: this.job.organizationId }, delayMs);
      return;
    }
    const message =
      error instanceof ParseError
        ? error.message
        : error instanceof EmbeddingError
          ? `Embedding failed: ${error.message}`
          : error instanceof AppError
            ? error.message
            : `Processing failed: ${error instanceof Error ? error.message : String(error)}`;
    if (!(error instanceof ParseError || error instanceof EmbeddingError || error instanceof AppError)) {
      this.options.log.error({ err: error, jobId: this.job.id }, 'file processing failed');
    }
    await this.fail(message);
  }

  async fail(message: string): Promise<void> {
    await this.end('FAILED', 'error', message);
  }

  /**
   * The job goes to `status` with `message` as its error, which takes the file to ERROR with that message (see
   * settleFile in domain/jobs.ts): job first, so a client that sees the file fail finds its job ended too. A job
   * that had already ended or was deleted leaves the file to be settled here.
   */
  private async end(status: 'FAILED' | 'CANCELLED', stopReason: string, message: string): Promise<void> {
    await transitionJob(this.db, this.job.organizationId, this.job.id, status, { stopReason, metadata: withError(this.job, message) }).catch((error) => {
      if (!(error instanceof AppError)) throw error; // already ended or deleted meanwhile: its state stands
    });
    const [file] = await this.db.file.updateManyAndReturn({
      where: { id: this.fileId, processingStatus: { in: ACTIVE_FILE } },
      data: { processingStatus: 'ERROR', errorMessage: message },
    });
    if (file) events.publish('file', file.organizationId, fileChange(file));
  }
}

const withError = (job: Job, message: string) => ({ ...((job.metadata ?? {}) as object), error: message });

function passageMetadata(fileName: string, c: Chunk): Record<string, unknown> {
  return {
    fileName,
    chunkIndex: c.index,
    tokenCount: c.tokenCount,
    startOffset: c.startOffset,
    endOffset: c.endOffset,
    ...(c.page != null ? { page: c.page } : {}),
    ...(c.headingPath?.length ? { headingPath: c.headingPath } : {}),
  };
}

/** pgvector's text form. Float32 is what pgvector stores, so nothing is lost by keeping vectors as Float32Array. */
function vectorLiteral(v: Float32Array): string {
  let out = '[';
  for (let i = 0; i < v.length; i++) out += (i ? ',' : '') + v[i];
  return out + ']';
}
