import { setTimeout as sleep } from 'node:timers/promises';
import { outboundFetch } from '../core/outbound.js';
import type { EmbeddingObserver } from '../core/metrics.js';
import { EmbeddingError, type Embedder } from './types.js';

export interface AzureDeployment {
  endpoint: string;
  deployment: string;
  apiVersion: string;
}

export interface OpenAIEmbedderOptions {
  model: string;
  dim: number;
  apiKey: string;
  /** An OpenAI-compatible API root, e.g. https://api.openai.com/v1 or http://localhost:11434/v1. */
  baseUrl?: string;
  /** Azure OpenAI instead of `baseUrl`: the deployment's URL and the `api-key` header. */
  azure?: AzureDeployment;
  /** Sent as `dimensions`; only models that can shorten their vectors accept it (text-embedding-3-*). */
  dimensions?: number;
  /** Inputs per request; OpenAI allows 2,048. */
  maxInputsPerRequest?: number;
  /** Estimated tokens per request; OpenAI allows 300,000. */
  maxTokensPerRequest?: number;
  /** Token estimate of one input; defaults to ceil(chars / 4). */
  countTokens?: (text: string) => number;
  /** Requests in flight at once, across all `embed` calls on this embedder. */
  concurrency?: number;
  /** Attempts per request, the first included. */
  maxAttempts?: number;
  /** First backoff delay; it doubles per attempt, with jitter. */
  retryBaseDelayMs?: number;
  /** Longest wait between attempts; a Retry-After beyond it fails the call (retryable) instead of waiting. */
  retryMaxDelayMs?: number;
  /** Per attempt, from sending the request to reading the whole response. */
  timeoutMs?: number;
  /** Told of every request (each attempt): whether it succeeded and how long it took (metrics). */
  onRequest?: EmbeddingObserver;
}

export const OPENAI_DEFAULTS = {
  baseUrl: 'https://api.openai.com/v1',
  maxInputsPerRequest: 2048,
  maxTokensPerRequest: 300_000,
  concurrency: 3,
  maxAttempts: 5,
  retryBaseDelayMs: 500,
  retryMaxDelayMs: 30_000,
  timeoutMs: 60_000,
} as const;

/**
 * The OpenAI embeddings API (`POST /embeddings`), which OpenAI, Azure, Ollama, vLLM, LM Studio, Together and
 * Mistral all speak. Splits the input into requests within the provider's limits, runs a bounded number at
 * once, retries transient failures, and checks every response: order by `index`, one vector per input, each
 * of exactly `dim` finite numbers. A vector of another length is an error, never padded or truncated.
 */
export class OpenAIEmbedder implements Embedder {
  readonly model: string;
  readonly dim: number;
  private readonly url: string;
  private readonly headers: Record<string, string>;
  private readonly dimensions: number | undefined;
  private readonly maxInputs: number;
  private readonly maxTokens: number;
  private readonly countTokens: (text: string) => number;
  private readonly maxAttempts: number;
  private readonly retryBaseDelayMs: number;
  private readonly retryMaxDelayMs: number;
  private readonly timeoutMs: number;
  private readonly slots: Semaphore;
  private readonly onRequest: EmbeddingObserver | undefined;

  constructor(options: OpenAIEmbedderOptions) {
    const d = OPENAI_DEFAULTS;
    this.model = options.model;
    this.dim = positive('dim', options.dim);
    this.dimensions = options.dimensions;
    this.maxInputs = positive('maxInputsPerRequest', options.maxInputsPerRequest ?? d.maxInputsPerRequest);
    this.maxTokens = positive('maxTokensPerRequest', options.maxTokensPerRequest ?? d.maxTokensPerRequest);
    this.countTokens = options.countTokens ?? ((text) => Math.ceil(text.length / 4));
    this.maxAttempts = positive('maxAttempts', options.maxAttempts ?? d.maxAttempts);
    this.retryBaseDelayMs = options.retryBaseDelayMs ?? d.retryBaseDelayMs;
    this.retryMaxDelayMs = options.retryMaxDelayMs ?? d.retryMaxDelayMs;
    this.timeoutMs = options.timeoutMs ?? d.timeoutMs;
    this.slots = new Semaphore(positive('concurrency', options.concurrency ?? d.concurrency));
    this.onRequest = options.onRequest;
    if (options.azure) {
      const { endpoint, deployment, apiVersion } = options.azure;
      this.url =
        `${trimSlash(endpoint)}/openai/deployments/${encodeURIComponent(deployment)}/embeddings` +
        `?api-version=${encodeURIComponent(apiVersion)}`;
      this.headers = { 'content-type': 'application/json', 'api-key': options.apiKey };
    } else {
      this.url = `${trimSlash(options.baseUrl ?? d.baseUrl)}/embeddings`;
      // Local servers (Ollama, LM Studio) take no key: send none rather than an empty Bearer.
      this.headers = { 'content-type': 'application/json', ...(options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {}) };
    }
  }

  async embed(texts: string[], signal?: AbortSignal): Promise<number[][]> {
    signal?.throwIfAborted();
    const empty = texts.indexOf('');
    // OpenAI answers 400 to an empty input, failing the whole request; say which one instead.
    if (empty >= 0) throw new EmbeddingError(`Input ${empty} is empty; embeddings APIs reject empty strings`, { retryable: false });
    const vectors: number[][] = new Array(texts.length);
    // The first failed request fails the call: abort the others rather than spend requests on a lost result.
    const stop = new AbortController();
    const forward = () => stop.abort(signal?.reason);
    signal?.addEventListener('abort', forward, { once: true });
    try {
      await Promise.all(
        this.batches(texts).map(async ([start, end]) => {
          try {
            const batch = await this.embedBatch(texts.slice(start, end), stop.signal);
            for (let i = 0; i < batch.length; i++) vectors[start + i] = batch[i];
          } catch (error) {
            stop.abort(error);
            throw error;
          }
        }),
      );
    } finally {
      signal?.removeEventListener('abort', forward);
    }
    return vectors;
  }

  /** [start, end) ranges of consecutive inputs, each within the input and token limits. */
  private batches(texts: string[]): [number, number][] {
    const ranges: [number, number][] = [];
    let start = 0;
    let tokens = 0;
    for (let i = 0; i < texts.length; i++) {
      const t = this.countTokens(texts[i]);
      // An input over the token budget on its own still goes, alone: the estimate is approximate, the API decides.
      if (i > start && (i - start >= this.maxInputs || tokens + t > this.maxTokens)) {
        ranges.push([start, i]);
        start = i;
        tokens = 0;
      }
      tokens += t;
    }
    if (texts.length > start) ranges.push([start, texts.length]);
    return ranges;
  }

  private async embedBatch(inputs: string[], signal: AbortSignal): Promise<number[][]> {
    for (let attempt = 1; ; attempt++) {
      let delay: number;
      try {
        return await this.request(inputs, signal);
      } catch (error) {
        if (signal.aborted) throw signal.reason;
        if (!(error instanceof EmbeddingError) || !error.retryable) throw error;
        if (attempt >= this.maxAttempts) {
          throw new EmbeddingError(`${error.message} (gave up after ${attempt} attempts)`, {
            retryable: true,
            status: error.status,
            retryAfterMs: error.retryAfterMs,
            cause: error,
          });
        }
        if (error.retryAfterMs !== null && error.retryAfterMs > this.retryMaxDelayMs) {
          throw new EmbeddingError(
            `${error.message} (the API asked to wait ${Math.ceil(error.retryAfterMs / 1000)} s,` +
              ` longer than the ${this.retryMaxDelayMs / 1000} s this embedder waits)`,
            { retryable: true, status: error.status, retryAfterMs: error.retryAfterMs, cause: error },
          );
        }
        delay = error.retryAfterMs ?? this.backoff(attempt);
      }
      try {
        await sleep(delay, undefined, { signal });
      } catch {
        throw signal.reason;
      }
    }
  }

  /** Exponential, capped, with "equal jitter": half fixed, half random, so clients that failed together spread out. */
  private backoff(attempt: number): number {
    const ceiling = Math.min(this.retryMaxDelayMs, this.retryBaseDelayMs * 2 ** (attempt - 1));
    return ceiling / 2 + Math.random() * (ceiling / 2);
  }

  /** One attempt, holding one of the concurrency slots. */
  private async request(inputs: string[], signal: AbortSignal): Promise<number[][]> {
    await this.slots.acquire();
    const started = performance.now();
    let ok = false;
    try {
      signal.throwIfAborted();
      const timeout = AbortSignal.timeout(this.timeoutMs);
      const body = JSON.stringify({
        model: this.model,
        input: inputs,
        encoding_format: 'float',
        ...(this.dimensions !== undefined && { dimensions: this.dimensions }),
      });
      let response: Response;
      let text: string;
      try {
        // The operator configured this endpoint (a local Ollama is fine), so any address is allowed; the shared
        // client still follows no redirect and resolves the host once.
        response = await outboundFetch(this.url, {
          method: 'POST',
          headers: this.headers,
          body,
          signal: AbortSignal.any([signal, timeout]),
          timeoutMs: this.timeoutMs,
          policy: { allowPrivate: 'any' },
        });
        text = await response.text();
      } catch (error) {
        if (signal.aborted) throw signal.reason;
        if (timeout.aborted) {
          throw new EmbeddingError(`Embeddings request to ${this.where} timed out after ${this.timeoutMs} ms`, { retryable: true });
        }
        const failure = error as { code?: string; message?: string; cause?: { code?: string; message?: string } };
        const detail = failure.code ?? failure.cause?.code ?? failure.cause?.message ?? failure.message ?? String(error);
        throw new EmbeddingError(`Embeddings request to ${this.where} failed: ${detail}`, {
          retryable: true,
          cause: error,
        });
      }
      if (!response.ok) throw this.httpError(response, text);
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        // A complete body that is not JSON is a misconfigured endpoint (an HTML page, a proxy), not a blip.
        throw new EmbeddingError(
          `Embeddings API at ${this.where} answered ${response.status} with a body that is not JSON` +
            ` (content-type ${response.headers.get('content-type') ?? 'none'}): ${excerpt(text)}`,
          { retryable: false, status: response.status },
        );
      }
      const vectors = this.vectors(json, inputs.length);
      ok = true;
      return vectors;
    } finally {
      this.slots.release();
      // A request this side abandoned (a cancel, a shutdown) says nothing about the provider.
      if (!signal.aborted) this.onRequest?.(ok, (performance.now() - started) / 1000);
    }
  }

  private httpError(response: Response, text: string): EmbeddingError {
    const status = response.status;
    let detail = excerpt(text);
    try {
      const message = (JSON.parse(text) as { error?: { message?: unknown } }).error?.message;
      if (typeof message === 'string') detail = message;
    } catch {
      // Not JSON: the excerpt of the raw body says what the server said.
    }
    return new EmbeddingError(`Embeddings API at ${this.where} answered ${status}${detail ? `: ${detail}` : ''}`, {
      retryable: status === 408 || status === 429 || status >= 500,
      status,
      retryAfterMs: retryAfterMs(response.headers),
    });
  }

  /** The response's vectors in input order, after checking its shape. */
  private vectors(json: unknown, count: number): number[][] {
    const invalid = (why: string) => new EmbeddingError(`Embeddings API at ${this.where} sent an invalid response: ${why}`, { retryable: false });
    const data = (json as { data?: unknown } | null)?.data;
    if (!Array.isArray(data)) throw invalid('no "data" array');
    if (data.length !== count) throw invalid(`${data.length} embeddings for ${count} inputs`);
    const vectors: number[][] = new Array(count);
    data.forEach((item: { index?: unknown; embedding?: unknown } | null, position) => {
      const index = item?.index;
      if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index >= count || vectors[index]) {
        throw invalid(`data[${position}].index is ${JSON.stringify(index)}, not a unique integer from 0 to ${count - 1}`);
      }
      const embedding = item?.embedding;
      if (!Array.isArray(embedding)) throw invalid(`data[${position}].embedding is not an array of numbers`);
      if (embedding.length !== this.dim) {
        throw new EmbeddingError(
          `Model ${this.model} returned vectors of ${embedding.length} dimensions; expected ${this.dim} (the embedding config's dim).` +
            ` Vectors are never padded or truncated: fix the config's dim or the model.`,
          { retryable: false },
        );
      }
      const bad = embedding.findIndex((v) => typeof v !== 'number' || !Number.isFinite(v));
      if (bad >= 0) throw invalid(`data[${position}].embedding[${bad}] is ${JSON.stringify(embedding[bad])}, not a finite number`);
      vectors[index] = embedding;
    });
    return vectors;
  }

  /** The endpoint for messages: no query string, so nothing secret-looking is repeated. */
  private get where(): string {
    return this.url.split('?')[0];
  }
}

/** The wait a response asks for: `retry-after-ms` (OpenAI, Azure), else `Retry-After` in seconds or as an HTTP date. */
export function retryAfterMs(headers: Headers, now = Date.now()): number | null {
  const ms = Number(headers.get('retry-after-ms') ?? NaN);
  if (Number.isFinite(ms) && ms >= 0) return ms;
  const value = headers.get('retry-after')?.trim();
  if (!value) return null;
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

/** Counts permits; a released permit goes straight to the longest waiter. */
class Semaphore {
  private free: number;
  private readonly waiting: (() => void)[] = [];

  constructor(size: number) {
    this.free = size;
  }

  async acquire(): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  release() {
    const next = this.waiting.shift();
    if (next) next();
    else this.free++;
  }
}

function positive(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${value}`);
  return value;
}

const trimSlash = (url: string) => url.replace(/\/+$/, '');
const excerpt = (text: string) => (text.length > 300 ? `${text.slice(0, 300)}…` : text).trim();
