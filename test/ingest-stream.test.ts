import { describe, expect, it } from 'vitest';
import type { SqlRunner } from '../src/core/db/sql.js';
import type { Chunk } from '../src/documents/chunker.js';
import { openDocument } from '../src/documents/document-stream.js';
import { DEFAULT_LIMITS, LimitError } from '../src/documents/limits.js';
import { LexicalEmbedder } from '../src/embeddings/index.js';
import { ChunkThreads, type ThreadBatch } from '../src/ingest/chunk-thread.js';
import { cutBatches } from '../src/ingest/cutting.js';
import type { PassageStore, StoredReach, TextPiece } from '../src/ingest/passage-store.js';
import { streamBatches, type Counts } from '../src/ingest/stream.js';

/**
 * The data flow of a run without a database: batches stored on several writers at once never let the set's counters
 * pass a batch that is not stored (a resumed run starts after them), and the chunking thread gives what cutting in
 * this thread gives.
 */

const chunk = (index: number): Chunk => ({ text: `chunk ${index}`, index, tokenCount: 2, startOffset: index * 8, endOffset: index * 8 + 7 });
const batchOf = (first: number, count: number, seq: number): ThreadBatch => ({
  chunks: Array.from({ length: count }, (_, i) => chunk(first + i)),
  pieces: [{ seq, text: 'x'.repeat(8 * count), endChars: 8 * (first + count) }],
  vectors: new Float64Array(count * 2).fill(0.5),
  cut: first + count,
  estimate: 100,
  read: 0.5,
});

async function* batches(...list: ThreadBatch[]) {
  for (const b of list) yield b;
}

/** A store whose writes end when the test says, recording what the counters were moved to, and how. */
function heldStore() {
  const writes: { first: number; advance: boolean; runner: SqlRunner; release: () => void }[] = [];
  const counters: StoredReach[] = [];
  const store = {
    store(chunks: Chunk[], _v: ArrayLike<number>[], pieces: TextPiece[], options: { runner?: SqlRunner; advance?: boolean } = {}) {
      return new Promise<void>((release) => {
        writes.push({ first: chunks[0].index, advance: options.advance ?? true, runner: options.runner!, release: () => {
          // A write that advances moves the counters past its own rows, in the same statement.
          if (options.advance) counters.push({ chunks: chunks.at(-1)!.index + 1, texts: pieces.at(-1)!.seq + 1, chars: pieces.at(-1)!.endChars });
          release();
        } });
      });
    },
    async advance(reach: StoredReach) {
      counters.push(reach);
    },
  } as unknown as PassageStore;
  return { store, writes, counters };
}

const until = async (check: () => boolean) => {
  while (!check()) await new Promise((r) => setTimeout(r, 1));
};

describe('storing batches on several writers', () => {
  it('moves the counters only past batches stored with every batch before them', async () => {
    const { store, writes, counters } = heldStore();
    const writers = [{ kind: 'postgres' } as SqlRunner, { kind: 'postgres' } as SqlRunner];
    const counts: Counts = { cut: 0, embedded: 0, stored: 0, estimate: 0, read: 0 };
    const flow = streamBatches({
      batches: batches(batchOf(0, 4, 0), batchOf(4, 4, 1), batchOf(8, 4, 2)),
      embedder: null,
      dim: 2,
      store,
      writers,
      counts,
      signal: new AbortController().signal,
      embedding: async () => {},
      stored: () => {},
    });
    await until(() => writes.length === 2);
    // Two batches at once, each on its own writer; only the first may move the counters itself.
    expect(writes.map((w) => [w.first, w.advance])).toEqual([[0, true], [4, false]]);
    expect(writes[0].runner).not.toBe(writes[1].runner);
    // The second ends first: the counters stay before the first batch, which is not stored yet.
    writes[1].release();
    await new Promise((r) => setTimeout(r, 20));
    expect(counters).toEqual([]);
    expect(writes.length).toBe(2); // the third batch waits for its writer (the first's)
    writes[0].release();
    await until(() => writes.length === 3);
    expect(counters).toEqual([{ chunks: 4, texts: 1, chars: 32 }, { chunks: 8, texts: 2, chars: 64 }]);
    // Everything before the third batch is stored: it moves the counters itself.
    expect(writes[2].advance).toBe(true);
    writes[2].release();
    await flow;
    expect(counters.at(-1)).toEqual({ chunks: 12, texts: 3, chars: 96 });
    expect(counts).toMatchObject({ cut: 12, embedded: 12, stored: 12 });
  });
});

describe('the chunking thread', () => {
  const text = Array.from({ length: 400 }, (_, i) => `Paragraph ${i}: granite and basalt in layered sediment, sampled near the quarry wall.`).join('\n\n');
  const bytes = Buffer.from(text);
  const blobs = (size: number) => async (seq: number) => (seq * size < bytes.length ? bytes.subarray(seq * size, (seq + 1) * size) : null);
  const limits = { ...DEFAULT_LIMITS, windowChars: 4096 };
  const cut = { chunkSize: 64, batchSize: 16, limits, resumeAt: 0, storedTexts: 0 };

  it('cuts and embeds as this thread would, skips what a resumed run stored, and stops at once when left early', async () => {
    const here: ThreadBatch[] = [];
    const doc = await openDocument({ size: bytes.length, async *chunks() { yield bytes; } }, { kind: 'text', name: 't.txt', limits, windowChars: 4096 });
    for await (const b of cutBatches(doc, cut)) here.push({ ...b, vectors: null });
    const embedder = new LexicalEmbedder(32);
    const threads = new ChunkThreads();
    try {
      const got: ThreadBatch[] = [];
      const cutting = threads.cut({ kind: 'text', name: 't.txt', size: bytes.length, cut, embedDim: 32 }, blobs(1000));
      for await (const b of cutting.batches) got.push(b);
      expect(got.map((b) => b.chunks)).toEqual(here.map((b) => b.chunks));
      expect(got.flatMap((b) => b.pieces).map((p) => p.text).join('')).toBe(text);
      expect(Array.from(got[1].vectors!.subarray(0, 32))).toEqual(Array.from(new Float64Array((await embedder.embed([got[1].chunks[0].text]))[0])));
      expect(cutting.note()).toBeNull();

      // Resumed after 40 chunks and 3 text pieces: those are counted, not sent.
      const resumed: ThreadBatch[] = [];
      for await (const b of threads.cut({ kind: 'text', name: 't.txt', size: bytes.length, cut: { ...cut, resumeAt: 40, storedTexts: 3 }, embedDim: null }, blobs(1000)).batches) resumed.push(b);
      expect(resumed.flatMap((b) => b.chunks)).toEqual(here.flatMap((b) => b.chunks).filter((c) => c.index >= 40));
      expect(resumed.flatMap((b) => b.pieces).map((p) => p.seq)[0]).toBe(3);
      expect(resumed.at(-1)!.cut).toBe(here.at(-1)!.cut);

      // Left after one batch, then a file past MAX_FILE_PASSAGES: the error is the pipeline's LimitError.
      for await (const _ of threads.cut({ kind: 'text', name: 't.txt', size: bytes.length, cut, embedDim: null }, blobs(1000)).batches) break;
      const tooMany = threads.cut({ kind: 'text', name: 't.txt', size: bytes.length, cut: { ...cut, limits: { ...limits, maxFilePassages: 20 } }, embedDim: null }, blobs(1000));
      await expect((async () => { for await (const _ of tooMany.batches); })()).rejects.toBeInstanceOf(LimitError);

      // A shutdown while the thread waits (here for a blob that never comes, as for a long parse): the wait ends.
      const stop = new AbortController();
      const never = async (seq: number) => (seq === 0 ? bytes.subarray(0, 1000) : new Promise<null>(() => {}));
      const stuck = threads.cut({ kind: 'text', name: 't.txt', size: bytes.length, cut, embedDim: null }, never, stop.signal);
      const ended = (async () => { for await (const _ of stuck.batches); })();
      setTimeout(() => stop.abort(new Error('shutdown')), 50);
      await expect(ended).rejects.toThrow('shutdown');
    } finally {
      await threads.close();
    }
  });
});
