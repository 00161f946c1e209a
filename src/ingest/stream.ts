import type { Embedder } from '../embeddings/index.js';
import type { ThreadBatch } from './chunk-thread.js';
import type { PassageStore } from './passage-store.js';

/**
 * The data flow of one file's run: batches come cut (and, with the local embedder, embedded) from a chunking thread;
 * a remote provider embeds them here; each is stored while the next is cut and embedded, so the database works
 * while the thread and the provider do.
 */

/** A run's counters, which its progress reports show. */
export interface Counts {
  cut: number;
  embedded: number;
  stored: number;
  estimate: number;
  /** Share of the document read, 0 to 1. */
  read: number;
}

/** Milliseconds spent waiting for batches, embedding (here) and storing, and when storing began and ended. */
export interface Timings {
  readMs: number;
  embedMs: number;
  storeMs: number;
  firstStoreAt: number;
  storedAt: number;
}

export interface Flow {
  batches: AsyncIterable<ThreadBatch>;
  /** The remote provider's embedder; null when the batches come embedded. */
  embedder: Embedder | null;
  dim: number;
  store: PassageStore;
  counts: Counts;
  /** Aborts the run: checked between steps, and passed to the provider's requests. */
  signal: AbortSignal;
  /** Called before the first batch is embedded (the file's status moves to EMBEDDING). */
  embedding: () => Promise<void>;
  /** Called before each batch is stored, with its first chunk's index (tests pause there). */
  beforeStore?: (firstChunk: number) => void | Promise<void>;
  /** Called after each batch is stored, with its chunk count. */
  stored: (count: number) => void;
}

export async function streamBatches(flow: Flow): Promise<Timings> {
  const { counts, store, signal } = flow;
  const timings: Timings = { readMs: 0, embedMs: 0, storeMs: 0, firstStoreAt: 0, storedAt: 0 };
  let asked = performance.now();
  let storing: Promise<void> | null = null;
  try {
    for await (const batch of flow.batches) {
      timings.readMs += performance.now() - asked;
      signal.throwIfAborted();
      counts.cut = batch.cut;
      counts.estimate = batch.estimate;
      counts.read = batch.read;
      if (!batch.chunks.length && !batch.pieces.length) {
        asked = performance.now();
        continue;
      }
      await flow.embedding();
      let mark = performance.now();
      const vectors = await vectorsOf(flow, batch);
      timings.embedMs += performance.now() - mark;
      counts.embedded += batch.chunks.length;
      if (storing) await storing;
      signal.throwIfAborted();
      await flow.beforeStore?.(batch.chunks[0]?.index ?? counts.stored);
      mark = performance.now();
      timings.firstStoreAt ||= mark;
      const started = mark;
      storing = store.store(batch.chunks, vectors, batch.pieces).then(() => {
        timings.storeMs += performance.now() - started;
        counts.stored += batch.chunks.length;
        flow.stored(batch.chunks.length);
      });
      // Observed when awaited; without this a failure while the next batch is cut would be unhandled.
      storing.catch(() => {});
      asked = performance.now();
    }
    if (storing) await storing;
    timings.storedAt = performance.now();
  } finally {
    // Never leave a write running past the run: a retired set must get no rows after its purge.
    await (storing as Promise<void> | null)?.catch(() => {});
  }
  return timings;
}

/** The batch's vectors: the thread's (one Float64Array, a row per chunk), or the provider's. */
async function vectorsOf(flow: Flow, batch: ThreadBatch): Promise<ArrayLike<number>[]> {
  if (!batch.chunks.length) return [];
  if (batch.vectors) {
    const { vectors } = batch;
    return batch.chunks.map((_, i) => vectors.subarray(i * flow.dim, (i + 1) * flow.dim));
  }
  if (!flow.embedder) throw new Error('A batch came without vectors and there is no embedder to make them');
  return flow.embedder.embed(
    batch.chunks.map((c) => c.text),
    flow.signal,
  );
}
