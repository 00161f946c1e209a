import { request } from 'node:http';
import { serverAudits } from 'graphql-http';
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createTestApp, type TestApp } from './support/app.js';

describe('HTTP and WebSocket transport', () => {
  let t: TestApp;
  let key: string;
  let url: string;
  beforeAll(async () => {
    t = await createTestApp('pglite');
    key = (await t.seed()).apiKey;
    url = (await t.app.listen(0)).url;
  });
  afterAll(() => t.close());

  describe('graphql-http audits (GraphQL over HTTP spec), with auth on', () => {
    const authedFetch: typeof fetch = async (input, init) => {
      const headers = new Headers(init?.headers);
      headers.set('authorization', `Bearer ${key}`);
      return t.app.yoga.fetch(input as string, { ...init, headers });
    };
    for (const audit of serverAudits({ url: 'http://quarry/graphql', fetchFn: authedFetch })) {
      it(audit.name, async () => {
        const result = await audit.fn();
        // Both MUST (error) and SHOULD (warn) audits have to pass.
        expect(result.status === 'ok' || result.status === 'notice' ? 'ok' : `${result.status}: ${result.reason}`).toBe('ok');
      });
    }
  });

  it('serves /healthz and /readyz', async () => {
    expect(await (await fetch(`${url}/healthz`)).json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ok', database: 'pglite' });
    const missing = await fetch(`${url}/nope`);
    expect(missing.status).toBe(404);
  });

  it('serves GraphiQL on GET /graphql for browsers', async () => {
    const page = await fetch(`${url}/graphql`, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('Quarry');
  });

  it('answers over HTTP on a real socket with the key', async () => {
    const response = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(await response.json()).toEqual({ data: { __typename: 'Query' } });
  });

  it('rejects queries past the depth limit before executing them', async () => {
    const limited = await createTestApp('pglite', {}, { GRAPHQL_MAX_DEPTH: 3 });
    try {
      const k = (await limited.seed()).apiKey;
      expect((await limited.gql(k, '{ me { apiKey { id } } }')).errors).toBeUndefined();
      const tooDeep = await limited.gql(k, '{ me { apiKey { user { id } } } }');
      expect(tooDeep.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', limit: 'depth', max: 3 });
      expect(tooDeep.data?.me ?? null).toBeNull();
    } finally {
      await limited.close();
    }
  });

  describe('graphql-ws', () => {
    const wsUrl = () => url.replace('http', 'ws') + '/graphql';

    it('runs operations with the key in the connection_init payload', async () => {
      const client = createClient({ url: wsUrl(), webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { authorization: `Bearer ${key}` } });
      try {
        const result = await new Promise((resolve, reject) => {
          let value: unknown;
          client.subscribe({ query: '{ me { apiKey { prefix } } }' }, { next: (v) => (value = v), error: reject, complete: () => resolve(value) });
        });
        expect(result).toEqual({ data: { me: { apiKey: { prefix: key.slice(0, 9) } } } });
      } finally {
        await client.dispose();
      }
    });

    it('accepts the key from the upgrade request headers too', async () => {
      const client = createClient({
        url: wsUrl(),
        retryAttempts: 0,
        webSocketImpl: class extends WebSocket {
          constructor(address: string, protocols?: string | string[]) {
            super(address, protocols, { headers: { 'x-api-key': key } });
          }
        },
      });
      try {
        const result = await new Promise((resolve, reject) => {
          let value: unknown;
          client.subscribe({ query: '{ __typename }' }, { next: (v) => (value = v), error: reject, complete: () => resolve(value) });
        });
        expect(result).toEqual({ data: { __typename: 'Query' } });
      } finally {
        await client.dispose();
      }
    });

    it('closes with 4403 Forbidden for a missing or wrong key', async () => {
      for (const connectionParams of [{}, { authorization: 'Bearer qk_wrong' }]) {
        const closed = new Promise<{ code: number; reason: string }>((resolve) => {
          const socket = new WebSocket(wsUrl(), 'graphql-transport-ws');
          socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: connectionParams })));
          socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
        });
        expect(await closed).toEqual({ code: 4403, reason: 'Forbidden' });
      }
    });
  });
});

describe('graceful shutdown', () => {
  it('finishes a request already in flight, then refuses new connections', async () => {
    const t = await createTestApp('pglite');
    try {
      const { apiKey } = await t.seed();
      const { port } = await t.app.listen(0);
      const body = JSON.stringify({ query: '{ me { user { role } } }' });
      // A request whose body is still arriving when shutdown starts.
      const inFlight = new Promise<{ status: number; text: string }>((resolve, reject) => {
        const req = request({ port, method: 'POST', path: '/graphql', headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}`, 'content-length': Buffer.byteLength(body) } }, (res) => {
          let text = '';
          res.on('data', (d) => (text += d));
          res.on('end', () => resolve({ status: res.statusCode!, text }));
        });
        req.on('error', reject);
        req.write(body.slice(0, 10));
        setTimeout(() => req.end(body.slice(10)), 300);
      });
      await new Promise((r) => setTimeout(r, 100));
      const stopped = t.app.stop();
      const result = await inFlight;
      expect(result.status).toBe(200);
      expect(JSON.parse(result.text)).toEqual({ data: { me: { user: { role: 'ADMIN' } } } });
      await stopped;
      await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
    } finally {
      await t.close();
    }
  });
});
