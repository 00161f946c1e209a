import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A real local HTTP server speaking OpenAI's embeddings API (`POST /v1/embeddings`), whose behaviour a test
 * scripts: answer, fail with a status (and Retry-After), return vectors of the wrong length, or hold requests
 * until released. Vectors are deterministic per input text.
 */
export type Behaviour = 'ok' | 'wrong-dim' | 'hold' | { status: number; retryAfter?: string };

export class FakeOpenAI {
  requests = 0;
  inputs = 0;
  /** Path and headers of the last request, to check where a provider sends what. */
  last: { path: string; headers: Record<string, string | string[] | undefined> } | null = null;
  /** Applied to requests in order; when empty, `fallback` applies. */
  readonly script: Behaviour[] = [];
  fallback: Behaviour = 'ok';
  private held: (() => void)[] = [];
  private server!: Server;
  url = '';

  static async start(): Promise<FakeOpenAI> {
    const fake = new FakeOpenAI();
    fake.server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', async () => {
        fake.requests++;
        fake.last = { path: req.url ?? '', headers: req.headers };
        const behaviour = fake.script.shift() ?? fake.fallback;
        if (behaviour === 'hold') await new Promise<void>((resolve) => fake.held.push(resolve));
        if (typeof behaviour === 'object') {
          res.writeHead(behaviour.status, { 'content-type': 'application/json', ...(behaviour.retryAfter ? { 'retry-after': behaviour.retryAfter } : {}) });
          res.end(JSON.stringify({ error: { message: `scripted ${behaviour.status}`, type: 'server_error' } }));
          return;
        }
        const { input, dimensions, model } = JSON.parse(body) as { input: string[]; dimensions?: number; model: string };
        fake.inputs += input.length;
        const dim = (dimensions ?? NATIVE_DIMS[model] ?? 1536) + (behaviour === 'wrong-dim' ? 1 : 0);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            object: 'list',
            data: input.map((text, index) => ({ object: 'embedding', index, embedding: vectorFor(text, dim) })),
            model: 'text-embedding-3-small',
            usage: { prompt_tokens: input.length, total_tokens: input.length },
          }),
        );
      });
    });
    await new Promise<void>((resolve) => fake.server.listen(0, '127.0.0.1', resolve));
    fake.url = `http://127.0.0.1:${(fake.server.address() as AddressInfo).port}/v1`;
    return fake;
  }

  /** Lets every held request answer. */
  release() {
    for (const resolve of this.held.splice(0)) resolve();
  }

  get holding(): number {
    return this.held.length;
  }

  async close() {
    this.release();
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

/** Models that do not take `dimensions` answer at their native size. */
const NATIVE_DIMS: Record<string, number> = { 'mistral-embed': 1024, 'nomic-embed-text': 768, 'text-embedding-ada-002': 1536 };

function vectorFor(text: string, dim: number): number[] {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  const v = Array.from({ length: dim }, (_, i) => Math.sin(h + i * 7919));
  const norm = Math.hypot(...v);
  return v.map((x) => x / norm);
}
