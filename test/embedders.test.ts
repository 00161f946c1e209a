import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { EmbeddingConfig } from '../src/embeddings/config.js';
import { createEmbedder, EmbeddingError, LexicalEmbedder, OpenAIEmbedder, type OpenAIEmbedderOptions } from '../src/embeddings/index.js';
import { retryAfterMs } from '../src/embeddings/openai.js';

interface Received {
  url: string;
  headers: IncomingHttpHeaders;
  body: { model: string; input: string[]; encoding_format?: string; dimensions?: number };
}

type Handler = (request: Received, response: ServerResponse, n: number) => void | Promise<void>;

const servers: { close(): void }[] = [];
afterEach(() => {
  for (const server of servers.splice(0)) server.close();
});

/** A real HTTP server on a free port; `requests` records every request in arrival order. */
async function fakeApi(handler: Handler) {
  const requests: Received[] = [];
  const server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (part: Buffer) => parts.push(part));
    req.on('end', () => {
      const received = { url: req.url ?? '', headers: req.headers, body: JSON.parse(Buffer.concat(parts).toString('utf8')) };
      requests.push(received);
      void handler(received, res, requests.length);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  servers.push({
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  });
  return { baseUrl: `http://127.0.0.1:${port}/v1`, requests };
}

/** A fixed vector per text, so results can be checked against their inputs. */
const vectorFor = (text: string, dim: number) => Array.from({ length: dim }, (_, j) => text.charCodeAt(j % text.length) / 100 + j);

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
}

/** Answers like OpenAI, but lists the embeddings in reverse so callers must restore the order by `index`. */
function embeddings(req: Received, res: ServerResponse, dim = 8) {
  const data = req.body.input.map((text, index) => ({ object: 'embedding', index, embedding: vectorFor(text, dim) })).reverse();
  send(res, 200, { object: 'list', data, model: req.body.model, usage: { prompt_tokens: 1, total_tokens: 1 } });
}

const texts = (n: number, prefix = 'text') => Array.from({ length: n }, (_, i) => `${prefix} ${i}`);

function embedder(baseUrl: string, options: Partial<OpenAIEmbedderOptions> = {}) {
  return new OpenAIEmbedder({ model: 'test-embed', dim: 8, apiKey: 'sk-test', baseUrl, retryBaseDelayMs: 5, ...options });
}

async function failure(promise: Promise<unknown>): Promise<EmbeddingError> {
  const error = await promise.then(
    () => expect.fail('expected the call to fail'),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(EmbeddingError);
  return error as EmbeddingError;
}

const config = (overrides: Partial<EmbeddingConfig>): EmbeddingConfig => ({
  endpointType: 'openai',
  endpoint: null,
  model: 'text-embedding-3-small',
  dim: 8,
  chunkSize: 300,
  handle: null,
  batchSize: 32,
  azureEndpoint: null,
  azureVersion: null,
  azureDeployment: null,
  ...overrides,
});

describe('OpenAI-compatible embedder', () => {
  it('posts the OpenAI request and restores input order from data[].index', async () => {
    const api = await fakeApi((req, res) => embeddings(req, res));
    const input = ['alpha', 'beta', 'gamma', 'delta', 'epsilon'];
    const vectors = await embedder(api.baseUrl, { dimensions: 8 }).embed(input);
    expect(vectors).toEqual(input.map((t) => vectorFor(t, 8)));
    expect(api.requests).toHaveLength(1);
    const [request] = api.requests;
    expect(request.url).toBe('/v1/embeddings');
    expect(request.headers.authorization).toBe('Bearer sk-test');
    expect(request.headers['content-type']).toBe('application/json');
    expect(request.body).toEqual({ model: 'test-embed', input, encoding_format: 'float', dimensions: 8 });
  });

  it('sends nothing for no texts, and rejects an empty text before sending', async () => {
    const api = await fakeApi((req, res) => embeddings(req, res));
    expect(await embedder(api.baseUrl).embed([])).toEqual([]);
    const error = await failure(embedder(api.baseUrl).embed(['a', '', 'c']));
    expect(error.message).toMatch(/Input 1 is empty/);
    expect(error.retryable).toBe(false);
    expect(api.requests).toHaveLength(0);
  });

  it('splits 1,000 inputs into exactly 2 requests of at most 512', async () => {
    const api = await fakeApi((req, res) => embeddings(req, res));
    const input = texts(1000);
    const vectors = await embedder(api.baseUrl, { maxInputsPerRequest: 512 }).embed(input);
    expect(api.requests.map((r) => r.body.input.length).sort()).toEqual([488, 512]);
    expect(vectors).toEqual(input.map((t) => vectorFor(t, 8)));
  });

  it('splits by the token budget, estimating ceil(chars / 4), and sends an oversized input alone', async () => {
    const api = await fakeApi((req, res) => embeddings(req, res));
    // 400 chars = 100 estimated tokens; a 250-token budget fits two per request.
    const input = [...Array.from({ length: 5 }, (_, i) => `${i}`.padEnd(400, 'x')), 'y'.repeat(2000)];
    const vectors = await embedder(api.baseUrl, { maxTokensPerRequest: 250, concurrency: 1 }).embed(input);
    expect(api.requests.map((r) => r.body.input.length)).toEqual([2, 2, 1, 1]);
    expect(vectors).toEqual(input.map((t) => vectorFor(t, 8)));
  });

  it('uses a given token counter', async () => {
    const api = await fakeApi((req, res) => embeddings(req, res));
    await embedder(api.baseUrl, { maxTokensPerRequest: 3, countTokens: () => 1 }).embed(texts(7));
    expect(api.requests).toHaveLength(3);
  });

  it('waits for Retry-After on 429, then succeeds', async () => {
    const api = await fakeApi((req, res, n) =>
      n === 1 ? send(res, 429, { error: { message: 'Rate limit reached' } }, { 'retry-after': '1' }) : embeddings(req, res),
    );
    const started = performance.now();
    const vectors = await embedder(api.baseUrl).embed(['one', 'two']);
    expect(performance.now() - started).toBeGreaterThanOrEqual(950);
    expect(vectors).toEqual([vectorFor('one', 8), vectorFor('two', 8)]);
    expect(api.requests).toHaveLength(2);
  });

  it('fails at once, retryable, when Retry-After is longer than it waits', async () => {
    const api = await fakeApi((_req, res) => send(res, 429, { error: { message: 'Quota' } }, { 'retry-after': '120' }));
    const error = await failure(embedder(api.baseUrl).embed(['one']));
    expect(error.retryable).toBe(true);
    expect(error.retryAfterMs).toBe(120_000);
    expect(error.message).toMatch(/answered 429: Quota .*wait 120 s/);
    expect(api.requests).toHaveLength(1);
  });

  it('reads Retry-After as seconds, an HTTP date or retry-after-ms', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(retryAfterMs(new Headers({ 'retry-after': '3' }), now)).toBe(3000);
    expect(retryAfterMs(new Headers({ 'retry-after': 'Thu, 01 Jan 2026 00:00:05 GMT' }), now)).toBe(5000);
    expect(retryAfterMs(new Headers({ 'retry-after': 'Wed, 31 Dec 2025 23:00:00 GMT' }), now)).toBe(0);
    expect(retryAfterMs(new Headers({ 'retry-after-ms': '250', 'retry-after': '1' }), now)).toBe(250);
    expect(retryAfterMs(new Headers({ 'retry-after': 'soon' }), now)).toBeNull();
    expect(retryAfterMs(new Headers(), now)).toBeNull();
  });

  it('retries 500 twice with backoff, then succeeds', async () => {
    const api = await fakeApi((req, res, n) => (n <= 2 ? send(res, 500, 'upstream exploded') : embeddings(req, res)));
    expect(await embedder(api.baseUrl).embed(['one'])).toEqual([vectorFor('one', 8)]);
    expect(api.requests).toHaveLength(3);
  });

  it('gives up after maxAttempts on a lasting 503, retryable', async () => {
    const api = await fakeApi((_req, res) => send(res, 503, { error: { message: 'Service Unavailable' } }));
    const error = await failure(embedder(api.baseUrl, { maxAttempts: 3 }).embed(['one']));
    expect(error).toMatchObject({ retryable: true, status: 503 });
    expect(error.message).toMatch(/answered 503: Service Unavailable \(gave up after 3 attempts\)/);
    expect(api.requests).toHaveLength(3);
  });

  it('does not retry a 400, and says what the API said', async () => {
    const api = await fakeApi((_req, res) =>
      send(res, 400, { error: { message: "This model's maximum context length is 8192 tokens", type: 'invalid_request_error' } }),
    );
    const error = await failure(embedder(api.baseUrl).embed(['one']));
    expect(error).toMatchObject({ retryable: false, status: 400 });
    expect(error.message).toBe(`Embeddings API at ${api.baseUrl}/embeddings answered 400: This model's maximum context length is 8192 tokens`);
    expect(api.requests).toHaveLength(1);
  });

  it('rejects vectors of the wrong dimension, naming expected and got, without retrying', async () => {
    const api = await fakeApi((req, res) => embeddings(req, res, 4));
    const error = await failure(embedder(api.baseUrl).embed(['one', 'two']));
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(/returned vectors of 4 dimensions; expected 8/);
    expect(api.requests).toHaveLength(1);
  });

  it('rejects a body that is not JSON, without retrying', async () => {
    const api = await fakeApi((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html>Welcome to nginx</html>');
    });
    const error = await failure(embedder(api.baseUrl).embed(['one']));
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(/not JSON \(content-type text\/html\): <html>Welcome to nginx<\/html>/);
    expect(api.requests).toHaveLength(1);
  });

  it.each([
    ['no data array', { object: 'list' }, /no "data" array/],
    ['a missing embedding', { data: [{ index: 0, embedding: vectorFor('a', 8) }] }, /1 embeddings for 2 inputs/],
    [
      'a duplicate index',
      { data: [{ index: 0, embedding: vectorFor('a', 8) }, { index: 0, embedding: vectorFor('b', 8) }] },
      /data\[1\]\.index is 0, not a unique integer from 0 to 1/,
    ],
    [
      'a non-number',
      { data: [{ index: 0, embedding: vectorFor('a', 8) }, { index: 1, embedding: [...vectorFor('b', 7), null] }] },
      /data\[1\]\.embedding\[7\] is null, not a finite number/,
    ],
  ])('rejects a response with %s', async (_case, body, message) => {
    const api = await fakeApi((_req, res) => send(res, 200, body));
    const error = await failure(embedder(api.baseUrl).embed(['a', 'b']));
    expect(error.retryable).toBe(false);
    expect(error.message).toMatch(message);
  });

  it('times out a request that never answers, retries it, then fails retryable', async () => {
    const api = await fakeApi(() => {
      // Never answers.
    });
    const started = performance.now();
    const error = await failure(embedder(api.baseUrl, { timeoutMs: 100, maxAttempts: 2 }).embed(['one']));
    expect(error.retryable).toBe(true);
    expect(error.message).toMatch(/timed out after 100 ms \(gave up after 2 attempts\)/);
    expect(api.requests).toHaveLength(2);
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it('treats a refused connection as a retryable network error', async () => {
    const api = await fakeApi((req, res) => embeddings(req, res));
    servers.splice(0).forEach((s) => s.close());
    const error = await failure(embedder(api.baseUrl, { maxAttempts: 2 }).embed(['one']));
    expect(error.retryable).toBe(true);
    expect(error.message).toMatch(/failed: ECONNREFUSED \(gave up after 2 attempts\)/);
  });

  it('keeps at most `concurrency` requests in flight across calls', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const api = await fakeApi(async (req, res) => {
      maxInFlight = Math.max(maxInFlight, ++inFlight);
      await new Promise((resolve) => setTimeout(resolve, 30));
      inFlight--;
      embeddings(req, res);
    });
    const shared = embedder(api.baseUrl, { maxInputsPerRequest: 1 });
    const [a, b] = await Promise.all([shared.embed(texts(6, 'a')), shared.embed(texts(6, 'b'))]);
    expect(a).toEqual(texts(6, 'a').map((t) => vectorFor(t, 8)));
    expect(b).toEqual(texts(6, 'b').map((t) => vectorFor(t, 8)));
    expect(api.requests).toHaveLength(12);
    expect(maxInFlight).toBe(3);
  });

  it('stops when the caller aborts, with the caller reason and no retries', async () => {
    const api = await fakeApi(() => {
      // Never answers.
    });
    const controller = new AbortController();
    const pending = embedder(api.baseUrl).embed(['one'], controller.signal);
    setTimeout(() => controller.abort(new Error('job cancelled')), 50);
    await expect(pending).rejects.toThrow('job cancelled');
    expect(api.requests).toHaveLength(1);
  });

  it('fails the whole call on one failed batch and sends no further batches', async () => {
    const api = await fakeApi((req, res) => (req.body.input[0] === 'text 0' ? send(res, 401, { error: { message: 'Incorrect API key' } }) : embeddings(req, res)));
    const error = await failure(embedder(api.baseUrl, { maxInputsPerRequest: 1, concurrency: 1 }).embed(texts(5)));
    expect(error).toMatchObject({ retryable: false, status: 401 });
    expect(api.requests).toHaveLength(1);
  });
});

describe('createEmbedder', () => {
  const env = { OPENAI_API_KEY: 'sk-env' };

  it('calls the Azure deployment URL with the api-key header', async () => {
    const api = await fakeApi((req, res) => embeddings(req, res));
    const azureEndpoint = api.baseUrl.replace(/\/v1$/, '/');
    const azureEnv = { AZURE_OPENAI_API_KEY: 'sk-env', AZURE_OPENAI_ENDPOINT: azureEndpoint };
    const e = createEmbedder(config({ endpointType: 'azure', azureEndpoint, azureDeployment: 'embed-small', azureVersion: '2024-10-21' }), azureEnv);
    expect(await e.embed(['one'])).toEqual([vectorFor('one', 8)]);
    const [request] = api.requests;
    expect(request.url).toBe('/openai/deployments/embed-small/embeddings?api-version=2024-10-21');
    expect(request.headers['api-key']).toBe('sk-env');
    expect(request.headers.authorization).toBeUndefined();
  });

  it('uses the configured endpoint, the config batch size, and dimensions only for text-embedding-3 models', async () => {
    const api = await fakeApi((req, res) => embeddings(req, res));
    const env = { OPENAI_API_KEY: 'sk-env', OPENAI_BASE_URL: api.baseUrl };
    await createEmbedder(config({ endpoint: api.baseUrl, batchSize: 4 }), env).embed(texts(10));
    expect(api.requests.map((r) => r.body.input.length).sort()).toEqual([2, 4, 4]);
    expect(api.requests[0].body.dimensions).toBe(8);
    expect(api.requests[0].headers.authorization).toBe('Bearer sk-env');
    await createEmbedder(config({ endpoint: api.baseUrl, model: 'nomic-embed-text' }), env).embed(['one']);
    expect(api.requests[3].body).not.toHaveProperty('dimensions');
  });

  it('calls OPENAI_BASE_URL for a config without an endpoint', async () => {
    const api = await fakeApi((req, res) => embeddings(req, res));
    await createEmbedder(config({}), { ...env, OPENAI_BASE_URL: `${api.baseUrl}/` }).embed(['one']);
    expect(api.requests[0].url).toBe('/v1/embeddings');
  });

  it('builds the lexical embedder for local configs', async () => {
    const e = createEmbedder(config({ endpointType: 'local', model: 'lexical-384', dim: 384 }), {});
    expect(e).toBeInstanceOf(LexicalEmbedder);
    expect(e).toMatchObject({ model: 'lexical-384', dim: 384 });
  });

  it.each([
    ['an unknown endpoint type', config({ endpointType: 'cohere' }), env, /endpoint type "cohere" has no provider in Quarry \(available: local, openai, azure, ollama, vllm, lmstudio, together, mistral\)/],
    ['a missing API key', config({}), {}, /needs OPENAI_API_KEY/],
    ['a partial Azure config', config({ azureEndpoint: 'https://x.openai.azure.com' }), env, /needs all of azureEndpoint, azureDeployment and azureVersion/],
    ['an unknown local model', config({ endpointType: 'local', model: 'text-embedding-3-small', dim: 1536 }), env, /Local embedding model "text-embedding-3-small"/],
    ['an endpoint the operator did not configure', config({ endpoint: 'http://169.254.169.254/v1' }), env, /endpoint http:\/\/169.254.169.254\/v1 is not the one this server is configured with for openai \(OPENAI_BASE_URL\)/],
    ['an Azure endpoint the operator did not configure', config({ endpointType: 'azure', azureEndpoint: 'http://10.0.0.1', azureDeployment: 'd', azureVersion: 'v' }), { ...env, AZURE_OPENAI_API_KEY: 'k', AZURE_OPENAI_ENDPOINT: 'https://mine.openai.azure.com' }, /endpoint http:\/\/10.0.0.1 is not the one this server is configured with for azure/],
  ])('refuses %s instead of falling back', (_case, c, e, message) => {
    expect(() => createEmbedder(c, e)).toThrow(message);
    expect(() => createEmbedder(c, e)).toThrow(EmbeddingError);
  });
});

describe('lexical embedder', () => {
  const lexical = new LexicalEmbedder();
  const cosine = (a: number[], b: number[]) => a.reduce((sum, v, i) => sum + v * b[i], 0);
  const norm = (v: number[]) => Math.sqrt(cosine(v, v));

  it('gives unit vectors of the configured dimension', async () => {
    const [v] = await lexical.embed(['Quarry ingests documents into passages.']);
    expect(v).toHaveLength(384);
    expect(v.every(Number.isFinite)).toBe(true);
    expect(norm(v)).toBeCloseTo(1, 12);
    expect((await new LexicalEmbedder(64).embed(['x']))[0]).toHaveLength(64);
  });

  it('is deterministic, down to the values pinned here for every machine', async () => {
    const text = 'The quick brown fox jumps over the lazy dog; the dog sleeps.';
    const [a] = await lexical.embed([text]);
    const [b] = await new LexicalEmbedder(384).embed([text]);
    expect(a).toEqual(b);
    // "hello world": two unigrams (weight 1) and one bigram (0.5), norm 1.5.
    const sparse = Object.fromEntries(lexical.vector('Hello, WORLD!').flatMap((v, i) => (v ? [[i, Number(v.toFixed(6))]] : [])));
    expect(sparse).toEqual(PINNED_HELLO_WORLD);
  });

  it('ranks texts sharing words above unrelated ones', async () => {
    const [query, similar, unrelated] = await lexical.embed([
      'How do I upload a PDF file to a source?',
      'Uploading a PDF file into a source starts a processing job.',
      'Grilled salmon with lemon butter and fresh dill tastes great.',
    ]);
    expect(cosine(query, similar)).toBeGreaterThan(0.2);
    expect(cosine(query, similar)).toBeGreaterThan(cosine(query, unrelated) + 0.2);
  });

  it('folds case, compatibility forms and composed/decomposed accents; splits on any non-word', async () => {
    const [a, b, c] = await lexical.embed(['Zürich café résumé', 'ZU\u0308RICH — CAFE\u0301 / RÉSUMÉ', 'zürich,café;résumé']);
    expect(b).toEqual(a);
    expect(c).toEqual(a);
    expect(lexical.vector('ﬁle ２０２４')).toEqual(lexical.vector('file 2024'));
  });

  it('leaves English stop words out, unless a text has nothing else', async () => {
    // Stop words neither count as features nor break a bigram: "upload of the file" pairs "upload" with "file".
    expect(lexical.vector('Upload of the file to a source')).toEqual(lexical.vector('upload file source'));
    // Sharing only stop words is sharing nothing.
    expect(cosine(lexical.vector('what is the state of the art'), lexical.vector('it is what it is, and the rest of them'))).toBe(0);
    // A text of stop words alone keeps them, so it still has a direction to search by.
    const [onlyStopWords] = await lexical.embed(['To be or not to be']);
    expect(norm(onlyStopWords)).toBeCloseTo(1, 12);
    expect(cosine(onlyStopWords, lexical.vector('not to be'))).toBeGreaterThan(0.5);
  });

  it('gives a zero vector, not NaN, for text without words', async () => {
    for (const v of await lexical.embed(['', '   ', '!!! ... ---'])) {
      expect(v).toHaveLength(384);
      expect(v.every((x) => x === 0)).toBe(true);
    }
  });

  it('stops between texts when aborted', async () => {
    const controller = new AbortController();
    controller.abort(new Error('cancelled'));
    await expect(lexical.embed(['a'], controller.signal)).rejects.toThrow('cancelled');
  });
});

/** Bucket → value of "Hello, WORLD!"; a change here changes every stored local vector. */
const PINNED_HELLO_WORLD: Record<number, number> = { 156: 0.666667, 174: 0.333333, 311: -0.666667 };
