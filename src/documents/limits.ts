/**
 * What one file may cost the server while it is processed. Plain text streams through the pipeline in batches,
 * so its size is bounded only by MAX_FILE_PASSAGES; formats whose parsers need the whole file (PDF, DOCX, HTML,
 * JSON, CSV, Markdown) get a share of PROCESSING_MEMORY_MB, and ZIP-based ones may inflate at most
 * MAX_INFLATE_RATIO times. Every refusal is a LimitError whose message names the setting to change.
 */
export interface IngestLimits {
  /** Bytes the files processed at once may use together. */
  memoryBytes: number;
  /** Files processed at once by this process: they share memoryBytes. */
  concurrency: number;
  maxFilePassages: number;
  maxInflateRatio: number;
  /** Chunks per embedding batch (and per stored batch). */
  batchSize: number;
  /** Characters of a document chunked at once (document-stream.ts); smaller only in tests. */
  windowChars?: number;
}

/** The settings (core/config.ts) these limits come from. */
export interface LimitSettings {
  PROCESSING_MEMORY_MB: number;
  MAX_FILE_PASSAGES: number;
  MAX_INFLATE_RATIO: number;
  INGEST_BATCH_SIZE: number;
  WORKER_CONCURRENCY: number;
}

export function limitsFromConfig(config: LimitSettings): IngestLimits {
  return {
    memoryBytes: config.PROCESSING_MEMORY_MB * 1024 * 1024,
    concurrency: config.WORKER_CONCURRENCY,
    maxFilePassages: config.MAX_FILE_PASSAGES,
    maxInflateRatio: config.MAX_INFLATE_RATIO,
    batchSize: config.INGEST_BATCH_SIZE,
  };
}

export const DEFAULT_LIMITS: IngestLimits = { memoryBytes: 512 << 20, concurrency: 2, maxFilePassages: 250_000, maxInflateRatio: 100, batchSize: 1024 };

/**
 * How many times its size a document parsed whole takes in memory at its peak: the bytes, the parser's own
 * structures (a DOM, PDF objects), the text as UTF-16 and the sections. Measured on HTML and PDF; generous.
 */
export const WHOLE_PARSE_EXPANSION = 8;

/** The bytes one file may occupy while it is processed. */
export const memoryShare = (limits: IngestLimits) => Math.floor(limits.memoryBytes / Math.max(1, limits.concurrency));

/** A file past one of the limits above: processing ends ERROR with this message, which names the setting. */
export class LimitError extends Error {
  override readonly name = 'LimitError';
}

const mib = (bytes: number) => `${Math.max(1, Math.round(bytes / (1 << 20)))} MiB`;

/** Refuses a file too large to parse whole within its memory share. */
export function checkWholeParse(limits: IngestLimits, sizeBytes: number, kindName: string): void {
  const allowed = Math.floor(memoryShare(limits) / WHOLE_PARSE_EXPANSION);
  if (sizeBytes > allowed) {
    throw new LimitError(
      `The file is too large to process: a ${kindName} file is read whole, and ${mib(sizeBytes)} is more than the ${mib(allowed)} ` +
        `that PROCESSING_MEMORY_MB (${mib(limits.memoryBytes)} shared by ${limits.concurrency} files at once) allows for it`,
    );
  }
}

/** The most bytes a ZIP-based file of `sizeBytes` may inflate to. */
export function inflateBudget(limits: IngestLimits, sizeBytes: number): number {
  return Math.min(Math.floor(sizeBytes * limits.maxInflateRatio), Math.floor(memoryShare(limits) / WHOLE_PARSE_EXPANSION));
}

export function inflateError(limits: IngestLimits, sizeBytes: number, budget: number): LimitError {
  const byRatio = budget >= Math.floor(sizeBytes * limits.maxInflateRatio);
  return new LimitError(
    byRatio
      ? `The document expands to more than ${limits.maxInflateRatio} times its size when unpacked (MAX_INFLATE_RATIO), as a decompression bomb does; it was not processed`
      : `The document expands to more than ${mib(budget)} when unpacked, more than PROCESSING_MEMORY_MB allows for one file; it was not processed`,
  );
}

export function tooManyPassages(limits: IngestLimits): LimitError {
  return new LimitError(`The file makes more than ${limits.maxFilePassages.toLocaleString('en-US')} passages, the limit per file (MAX_FILE_PASSAGES); nothing was stored`);
}
