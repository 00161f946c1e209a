import type { Embedder } from '../embeddings/index.js';
import type { ThreadBatch } from './chunk-thread.js';
import type { SqlRunner } from '../core/db/sql.js';
import type { PassageStore, StoredReach } from './passage-store.js';

/**
 * The data flow of one file's run: batches come cut (and, with the local embedder, embedded) from a chunking thread;
 * a remote provider embeds them here; each is stored while the next is cut and embedded, so the database works
 * while the thread and the provider do. With more than one writer (PostgreSQL: one connection each), that many
 * batches are stored at once, each on its own writer: the database uses more than one core for a file.
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
  /** The connections batches are stored on, one batch at a time each. */
  writers: SqlRunner[];
  counts: Counts;
  /** Aborts the run: checked between steps, and passed to the provider's requests. */
  signal: AbortSignal;
  /** Called before the first batch is embedded (the file's status moves to EMBEDDING). */
  embedding: () => Promise<void>;
  /** Called before each batch is stored, once every batch before it is, with its first chunk's index (tests pause there). */
  beforeStore?: (firstChunk: number) => void | Promise<void>;
  /** Called after each batch is stored, with its chunk count. */
  stored: (count: number) => void;
}

export async function streamBatches(flow: Flow): Promise<Timings> {
  const { counts, signal } = flow;
  const timings: Timings = { readMs: 0, embedMs: 0, storeMs: 0, firstStoreAt: 0, storedAt: 0 };
  const writes = new Writes(flow, timings);
  let asked = performance.now();
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
      const mark = performance.now();
      const vectors = await vectorsOf(flow, batch);
      timings.embedMs += performance.now() - mark;
      counts.embedded += batch.chunks.length;
      await writes.start(batch, vectors);
      asked = performance.now();
    }
    await writes.all();
    timings.storedAt = performance.now();
  } finally {
    // Never leave a write running past the run: a retired set must get no rows after its purge.
    await writes.settle();
  }
  return timings;
}

/**
 * The batches being stored, each on the next writer (round robin, so a writer has one batch at a time). The set's
 * counters only ever cover batches stored with every batch before them: a batch started while an earlier one is
 * still being written leaves them alone, and they move once the earlier ones are stored too.
 */
class Writes {
  private readonly pending: Promise<void>[] = [];
  private started = 0;
  /** Batches stored with every one before them, and what the counters were last moved to (in batches). */
  private stored = 0;
  private recorded = 0;
  private readonly done = new Set<number>();
  /** reach[b]: how far the set reaches once batches 0..b are stored. */
  private readonly reach: StoredReach[] = [];

  constructor(
    private readonly flow: Flow,
    private readonly timings: Timings,
  ) {}

  async start(batch: ThreadBatch, vectors: ArrayLike<number>[]): Promise<void> {
    const { flow } = this;
    const b = this.started++;
    const previous = this.reach[b - 1] ?? { chunks: 0, texts: 0, chars: 0 };
    const lastPiece = batch.pieces.at(-1);
    this.reach[b] = {
      chunks: batch.chunks.length ? batch.chunks[batch.chunks.length - 1].index + 1 : previous.chunks,
      texts: lastPiece ? lastPiece.seq + 1 : previous.texts,
      chars: lastPiece ? lastPiece.endChars : previous.chars,
    };
    // The writer's previous batch must be stored before it takes this one; a hook sees every earlier batch stored.
    if (flow.beforeStore) await Promise.all(this.pending);
    else await this.pending[b - flow.writers.length];
    flow.signal.throwIfAborted();
    await flow.beforeStore?.(batch.chunks[0]?.index ?? flow.counts.stored);
    const began = performance.now();
    this.timings.firstStoreAt ||= began;
    const advance = this.stored === b;
    const writing = flow.store
      .store(batch.chunks, vectors, batch.pieces, { runner: flow.writers[b % flow.writers.length], advance })
      .then(async () => {
        this.timings.storeMs += performance.now() - began;
        if (advance) this.recorded = Math.max(this.recorded, b + 1);
        await this.finished(b);
        flow.counts.stored += batch.chunks.length;
        flow.stored(batch.chunks.length);
      });
    // Observed when awaited; without this a failure while the next batch is cut would be unhandled.
    writing.catch(() => {});
    this.pending[b] = writing;
  }

  private async finished(b: number): Promise<void> {
    this.done.add(b);
    while (this.done.has(this.stored)) this.done.delete(this.stored++);
    if (this.stored > this.recorded) {
      const upTo = this.stored;
      await this.flow.store.advance(this.reach[upTo - 1]);
      this.recorded = Math.max(this.recorded, upTo);
    }
  }

  /** Every batch stored, or the first failure. */
  async all(): Promise<void> {
    for (const writing of this.pending) await writing;
  }

  async settle(): Promise<void> {
    await Promise.allSettled(this.pending);
  }
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
