/** Turns passages' text into vectors. One embedder serves one embedding config: one model, one dimension. */
export interface Embedder {
  /** The model name, as in the source's embedding config. */
  readonly model: string;
  /** The length of every vector `embed` returns. */
  readonly dim: number;
  /**
   * One vector per text, in the order given. Rejects with an EmbeddingError, or with the signal's reason once the
   * signal aborts.
   */
  embed(texts: string[], signal?: AbortSignal): Promise<number[][]>;
}

/**
 * Why embedding failed. `retryable` tells the caller whether the same call may succeed later (rate limit, outage,
 * timeout, network) or never will as configured (bad key, bad request, wrong dimension, malformed response).
 */
export class EmbeddingError extends Error {
  override readonly name = 'EmbeddingError';
  readonly retryable: boolean;
  /** The provider's HTTP status, when it answered. */
  readonly status: number | null;
  /** How long the provider asked callers to wait before trying again (Retry-After), when it said. */
  readonly retryAfterMs: number | null;

  constructor(
    message: string,
    options: { retryable: boolean; status?: number | null; retryAfterMs?: number | null; cause?: unknown },
  ) {
    super(message, { cause: options.cause });
    this.retryable = options.retryable;
    this.status = options.status ?? null;
    this.retryAfterMs = options.retryAfterMs ?? null;
  }
}
