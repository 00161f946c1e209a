import { chunkSection, DEFAULT_OVERLAP, type Chunk } from '../documents/chunker.js';
import type { DocumentStream } from '../documents/document-stream.js';
import { tooManyPassages, type IngestLimits } from '../documents/limits.js';
import type { TextPiece } from './passage-store.js';

/**
 * A document cut into batches of chunks (what chunk-thread-entry.ts runs, off the server's thread): every
 * `batchSize` chunks, a batch with the text pieces read since the previous one. Chunks and pieces a resumed run
 * stored before are counted but left out, so they are neither embedded nor sent again.
 */
export interface CutOptions {
  chunkSize: number;
  batchSize: number;
  /** MAX_FILE_PASSAGES and the rest (the limits are plain data, so they cross to a thread). */
  limits: IngestLimits;
  /** Chunks (by index) and text pieces (by seq) below these were stored by an earlier run. */
  resumeAt: number;
  storedTexts: number;
}

export interface CutBatch {
  chunks: Chunk[];
  pieces: TextPiece[];
  /** Chunks cut so far, stored ones included. */
  cut: number;
  /** The document's chunks as estimated from the share read so far (at least `cut`). */
  estimate: number;
  /** Share of the document read, 0 to 1. */
  read: number;
}

export const overlapFor = (chunkSize: number) => Math.min(DEFAULT_OVERLAP, Math.floor(chunkSize / 2));

export async function* cutBatches(stream: DocumentStream, o: CutOptions): AsyncGenerator<CutBatch> {
  const options = { chunkSize: o.chunkSize, overlap: overlapFor(o.chunkSize) };
  let chunks: Chunk[] = [];
  let pieces: TextPiece[] = [];
  let seq = 0;
  let chars = 0;
  let cut = 0;
  let estimate = 0;
  const batch = (): CutBatch => {
    const out = { chunks, pieces, cut, estimate: Math.max(estimate, cut), read: stream.progress() };
    chunks = [];
    pieces = [];
    return out;
  };
  let pending = 0;
  for await (const piece of stream.pieces) {
    chars += piece.text.length;
    if (seq >= o.storedTexts) pieces.push({ seq, text: piece.text, endChars: chars });
    seq++;
    for (const section of piece.sections) {
      for (const chunk of chunkSection(section, options, cut)) {
        if (chunk.index >= o.limits.maxFilePassages) throw tooManyPassages(o.limits);
        if (chunk.index >= o.resumeAt) chunks.push(chunk);
        cut++;
        // Counted whether stored before or not, so a resumed run moves its counters through the stored part too.
        if (++pending >= o.batchSize) {
          pending = 0;
          estimate = Math.round(cut / Math.max(0.01, stream.progress()));
          yield batch();
        }
      }
    }
    estimate = Math.max(cut, Math.round(cut / Math.max(0.01, stream.progress())));
  }
  if (chunks.length || pieces.length || pending) yield batch();
}
