/**
 * Runs in a thread of its own (started by chunk-thread.ts): reads a file's bytes (asked of the server's thread a
 * stored blob at a time), parses it, cuts it into chunks and, with the local embedder, embeds them, and sends the
 * batches back. The server's thread keeps only the database work and its requests: this CPU work (about as much
 * as the database's for plain text) no longer holds its event loop.
 */
import { parentPort } from 'node:worker_threads';
import { openDocument, type ByteSource } from '../documents/document-stream.js';
import { LexicalEmbedder } from '../embeddings/lexical.js';
import type { FromThread, StartCut, ToThread } from './chunk-thread.js';
import { cutBatches } from './cutting.js';

const port = parentPort!;

/** The run in progress (one at a time per thread). */
interface Current {
  id: number;
  credits: number;
  wake: (() => void) | null;
  reads: Map<number, (data: Uint8Array | null) => void>;
}

let current: Current | null = null;
const post = (message: FromThread, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);

port.on('message', (message: ToThread) => {
  if (message.type === 'start') {
    current = { id: message.id, credits: message.ahead, wake: null, reads: new Map() };
    void run(current, message);
    return;
  }
  const job = current;
  if (!job || job.id !== message.id) return;
  if (message.type === 'bytes') {
    job.reads.get(message.seq)?.(message.data);
    job.reads.delete(message.seq);
  } else if (message.type === 'credit') {
    job.credits++;
    job.wake?.();
  }
});

function read(job: Current, seq: number): Promise<Uint8Array | null> {
  return new Promise((resolve) => {
    job.reads.set(seq, resolve);
    post({ type: 'read', id: job.id, seq });
  });
}

/** Waits until the server's thread has taken enough batches that this one may be sent. */
async function credit(job: Current): Promise<void> {
  while (job.credits <= 0) await new Promise<void>((resolve) => (job.wake = resolve));
  job.wake = null;
  job.credits--;
}

async function run(job: Current, start: StartCut): Promise<void> {
  const { id } = job;
  try {
    const source: ByteSource = {
      size: start.size,
      async *chunks() {
        for (let seq = 0; ; seq++) {
          const data = await read(job, seq);
          if (!data) return;
          yield Buffer.from(data.buffer, data.byteOffset, data.byteLength);
        }
      },
    };
    const stream = await openDocument(source, { kind: start.kind, name: start.name, language: start.language, limits: start.cut.limits, windowChars: start.cut.limits.windowChars, utf8: start.utf8 });
    const embedder = start.embedDim ? new LexicalEmbedder(start.embedDim) : null;
    for await (const batch of cutBatches(stream, start.cut)) {
      let vectors: Float64Array | null = null;
      if (embedder && batch.chunks.length) {
        const dim = embedder.dim;
        vectors = new Float64Array(batch.chunks.length * dim);
        batch.chunks.forEach((chunk, i) => vectors!.set(embedder.vector(chunk.text), i * dim));
      }
      await credit(job);
      post({ type: 'batch', id, ...batch, vectors }, vectors ? [vectors.buffer as ArrayBuffer] : []);
    }
    post({ type: 'end', id, note: stream.note() ?? null });
  } catch (error) {
    post({ type: 'error', id, error: describe(error) });
  } finally {
    if (current === job) current = null;
    post({ type: 'done', id });
  }
}

function describe(error: unknown): { name: string; message: string; code?: string; details?: Record<string, unknown>; stack?: string } {
  if (!(error instanceof Error)) return { name: 'Error', message: String(error) };
  const { code, details } = error as { code?: unknown; details?: unknown };
  return {
    name: error.name,
    message: error.message,
    stack: error.stack,
    ...(typeof code === 'string' ? { code } : {}),
    ...(details && typeof details === 'object' ? { details: details as Record<string, unknown> } : {}),
  };
}
