import { Worker } from 'node:worker_threads';
import { AppError, type ErrorCode } from '../core/errors.js';
import { threadModule } from '../core/thread-module.js';
import type { Chunk } from '../documents/chunker.js';
import { LimitError } from '../documents/limits.js';
import { ParseError, type DocumentKind } from '../documents/parsers/index.js';
import type { CutBatch, CutOptions } from './cutting.js';
import type { TextPiece } from './passage-store.js';

/**
 * Threads that parse files, cut them into chunks and (local embedder) embed them, off the server's thread: a pool of
 * at most one per file processed at once, started when first needed and kept for the next file. The server's thread
 * answers each thread's reads (the file's stored blobs, one at a time) and takes its batches; a thread works at most
 * AHEAD batches ahead of what was taken, so memory stays bounded by the batch.
 */

/** Batches a thread may have cut before the server's thread takes them. */
const AHEAD = 2;

export interface CutRequest {
  kind: DocumentKind;
  name: string;
  language?: string;
  utf8?: boolean;
  size: number;
  cut: CutOptions;
  /** The local embedder's dimension: the thread embeds the chunks. Null: the caller embeds them (a remote provider). */
  embedDim: number | null;
}

export type StartCut = CutRequest & { type: 'start'; id: number; ahead: number };

export type ToThread =
  | StartCut
  | { type: 'bytes'; id: number; seq: number; data: Uint8Array | null }
  | { type: 'credit'; id: number };

export interface ThreadError {
  name: string;
  message: string;
  code?: string;
  details?: Record<string, unknown>;
  stack?: string;
}

export type ThreadBatch = CutBatch & { chunks: Chunk[]; pieces: TextPiece[]; vectors: Float64Array | null };

export type FromThread =
  | { type: 'read'; id: number; seq: number }
  | ({ type: 'batch'; id: number } & ThreadBatch)
  | { type: 'end'; id: number; note: string | null }
  | { type: 'error'; id: number; error: ThreadError }
  | { type: 'done'; id: number };

export interface Cutting {
  batches: AsyncGenerator<ThreadBatch>;
  /** The parser's remark, once every batch was taken. */
  note(): string | null;
}

const entry = () => threadModule(new URL('./chunk-thread-entry.ts', import.meta.url), 'chunk-thread-entry', import.meta.url);

export class ChunkThreads {
  private readonly idle: Worker[] = [];
  private readonly all = new Set<Worker>();
  private ids = 0;
  private closed = false;

  /**
   * Cuts one file in a thread. `readBlob(seq)` gives the file's stored blob `seq` (null past the last). Leaving the
   * batches early (an error, a cancel, a shutdown), or `signal` aborting (then the wait for the next batch throws its
   * reason), stops the thread's work at once: a long parse does not hold up a shutdown.
   */
  cut(request: CutRequest, readBlob: (seq: number) => Promise<Uint8Array | null>, signal?: AbortSignal): Cutting {
    let note: string | null = null;
    const batches = this.run(request, readBlob, (n) => (note = n), signal);
    return { batches, note: () => note };
  }

  private async *run(
    request: CutRequest,
    readBlob: (seq: number) => Promise<Uint8Array | null>,
    onNote: (note: string | null) => void,
    signal?: AbortSignal,
  ): AsyncGenerator<ThreadBatch> {
    signal?.throwIfAborted();
    const worker = await this.acquire();
    const id = ++this.ids;
    const inbox: (FromThread | { type: 'failed'; error: unknown })[] = [];
    let wake: (() => void) | null = null;
    let done = false;
    const deliver = (message: FromThread | { type: 'failed'; error: unknown }) => {
      inbox.push(message);
      wake?.();
    };
    const onMessage = (message: FromThread) => {
      if (message.id !== id) return;
      if (message.type === 'read') {
        readBlob(message.seq).then(
          (data) => {
            // A copy the thread owns (a driver's buffer may be a view into a bigger one).
            const copy = data ? new Uint8Array(data) : null;
            worker.postMessage({ type: 'bytes', id, seq: message.seq, data: copy } satisfies ToThread, copy ? [copy.buffer] : []);
          },
          (error: unknown) => deliver({ type: 'failed', error }),
        );
        return;
      }
      if (message.type === 'done') done = true;
      deliver(message);
    };
    const onExit = (code: number) => deliver({ type: 'failed', error: new Error(`The chunking thread ended (exit code ${code})`) });
    const onAbort = () => deliver({ type: 'failed', error: signal!.reason });
    worker.on('message', onMessage);
    worker.once('exit', onExit);
    signal?.addEventListener('abort', onAbort, { once: true });
    worker.postMessage({ type: 'start', id, ahead: AHEAD, ...request } satisfies ToThread);
    try {
      for (;;) {
        while (!inbox.length) await new Promise<void>((resolve) => (wake = resolve));
        const message = inbox.shift()!;
        if (message.type === 'failed') throw message.error;
        if (message.type === 'error') throw revive(message.error);
        if (message.type === 'end') {
          onNote(message.note);
          while (!done) await new Promise<void>((resolve) => (wake = resolve));
          return;
        }
        if (message.type === 'batch') {
          worker.postMessage({ type: 'credit', id } satisfies ToThread);
          const { type: _type, id: _id, ...batch } = message;
          yield batch;
        }
      }
    } finally {
      worker.off('message', onMessage);
      worker.off('exit', onExit);
      signal?.removeEventListener('abort', onAbort);
      if (done) this.release(worker);
      else {
        // Stopped early: the thread may be deep in a parse; a fresh one serves the next file.
        this.all.delete(worker);
        void worker.terminate();
      }
    }
  }

  private async acquire(): Promise<Worker> {
    if (this.closed) throw new Error('The chunking threads are closed');
    const idle = this.idle.pop();
    if (idle) return idle;
    const worker = new Worker(await entry());
    // Idle threads do not keep the process alive.
    worker.unref();
    worker.on('error', () => {}); // reported through its exit
    worker.once('exit', () => {
      this.all.delete(worker);
      const at = this.idle.indexOf(worker);
      if (at >= 0) this.idle.splice(at, 1);
    });
    this.all.add(worker);
    return worker;
  }

  private release(worker: Worker): void {
    if (this.closed || !this.all.has(worker)) void worker.terminate();
    else this.idle.push(worker);
  }

  async close(): Promise<void> {
    this.closed = true;
    const workers = [...this.all];
    this.all.clear();
    this.idle.length = 0;
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

/** The thread's error as the class the pipeline tells apart (a file's own problem, or an internal error). */
function revive(error: ThreadError): Error {
  let revived: Error;
  if (error.name === 'ParseError') revived = new ParseError(error.message);
  else if (error.name === 'LimitError') revived = new LimitError(error.message);
  else if (error.name === 'AppError' && error.code) revived = new AppError(error.code as ErrorCode, error.message, error.details);
  else revived = new Error(error.message);
  if (error.stack) revived.stack = `${revived.name}: ${error.message}\n    (in the chunking thread)\n${error.stack.split('\n').slice(1).join('\n')}`;
  return revived;
}
