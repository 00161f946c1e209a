import type { ExecutionResult } from 'graphql';
import { createClient as createSseClient, type Client as SseClient } from 'graphql-sse';
import { createClient as createWsClient, type Client as WsClient, type ClientOptions } from 'graphql-ws';
import WebSocket from 'ws';

/**
 * Real subscription clients for tests: graphql-ws's client over a real WebSocket, graphql-sse's client over
 * HTTP (distinct connections mode), and a sink that records what arrives and lets a test wait for it.
 */

export function wsClient(url: string, key: string | null, options: Partial<ClientOptions> = {}): WsClient {
  return createWsClient({
    url: url.replace(/^http/, 'ws') + '/graphql',
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    connectionParams: key ? { authorization: `Bearer ${key}` } : {},
    ...options,
  });
}

export function sseClient(url: string, key: string | null): SseClient {
  return createSseClient({ url: `${url}/graphql`, headers: key ? { authorization: `Bearer ${key}` } : {}, retryAttempts: 0 });
}

export class Sink<T = any> {
  readonly results: ExecutionResult<T>[] = [];
  completed = false;
  failure: unknown = undefined;
  dispose: () => void = () => {};
  private readonly listeners = new Set<() => void>();

  constructor(private readonly label: string) {}

  readonly sink = {
    next: (result: ExecutionResult<T>) => {
      this.results.push(result);
      this.notify();
    },
    error: (error: unknown) => {
      this.failure = error;
      this.notify();
    },
    complete: () => {
      this.completed = true;
      this.notify();
    },
  };

  /** The `data` of each result, in order. */
  get data(): T[] {
    return this.results.map((r) => r.data as T);
  }

  get ended(): boolean {
    return this.completed || this.failure !== undefined;
  }

  /** Resolves when `condition` holds; fails with what arrived so far after `timeoutMs`. */
  until(condition: (sink: this) => boolean, what = 'condition', timeoutMs = 8000): Promise<void> {
    if (condition(this)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!condition(this)) return;
        clearTimeout(timer);
        this.listeners.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.listeners.delete(check);
        reject(new Error(`${this.label}: timed out waiting for ${what}; received ${JSON.stringify({ results: this.results, completed: this.completed, failure: describe(this.failure) })}`));
      }, timeoutMs);
      this.listeners.add(check);
    });
  }

  /** Waits for `n` results in total. */
  count(n: number, timeoutMs?: number) {
    return this.until((s) => s.results.length >= n, `${n} results`, timeoutMs);
  }

  /** Waits for the stream to complete or fail. */
  end(timeoutMs?: number) {
    return this.until((s) => s.ended, 'the end of the stream', timeoutMs);
  }

  private notify() {
    for (const listener of [...this.listeners]) listener();
  }
}

function describe(error: unknown) {
  if (error === undefined) return undefined;
  if (error instanceof Error) return error.message;
  if (Array.isArray(error)) return error;
  const e = error as { code?: number; reason?: string };
  return e.code !== undefined ? { code: e.code, reason: e.reason } : String(error);
}

export function subscribe<T = any>(client: WsClient | SseClient, query: string, variables?: Record<string, unknown>, label = 'subscription'): Sink<T> {
  const sink = new Sink<T>(label);
  sink.dispose = (client as WsClient).subscribe({ query, variables }, sink.sink as never);
  return sink;
}

/** Opens a raw graphql-transport-ws socket and records messages and the close. */
export function rawSocket(url: string, options: { protocol?: string | null; autoPong?: boolean } = {}) {
  const protocols = options.protocol === null ? [] : [options.protocol ?? 'graphql-transport-ws'];
  const socket = new WebSocket(url.replace(/^http/, 'ws') + '/graphql', protocols, { autoPong: options.autoPong ?? true });
  const messages: any[] = [];
  let pings = 0;
  socket.on('message', (data) => messages.push(JSON.parse(String(data))));
  socket.on('ping', () => pings++);
  const opened = new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => socket.once('close', (code, reason) => resolve({ code, reason: String(reason) })));
  return {
    socket,
    messages,
    pings: () => pings,
    opened,
    closed,
    send: (message: unknown) => socket.send(typeof message === 'string' ? message : JSON.stringify(message)),
    /** Resolves with the first message (from the start) that satisfies `match`. */
    async message(match: (m: any) => boolean, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = messages.find(match);
        if (found) return found;
        if (Date.now() > deadline) throw new Error(`no matching message; got ${JSON.stringify(messages)}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
  };
}

/** Retries `fn` until it returns true or the time is up (for effects on the server's side of a socket). */
export async function eventually(fn: () => Promise<boolean> | boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
