import { connect, type Socket } from 'node:net';
import { getIntrospectionQuery } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, type App } from '../src/app.js';
import { loadConfig } from '../src/core/config.js';
import { createLogger } from '../src/core/logger.js';
import { parserCaches } from '../src/core/query-limits.js';
import { createTestApp, testConfig, type GraphQLResult, type TestApp } from './support/app.js';
import { databaseKinds } from './support/db.js';
import { FakeOpenAI } from './support/fake-openai.js';
import { Sink, wsClient } from './support/subscriptions.js';

/** Issue 13: what a query may cost is bounded before anything runs, and what the server discloses and accepts is configurable. */

const SOURCE_ID = (i: number) => `source-00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
const aliases = (n: number, field: string) => `{ ${Array.from({ length: n }, (_, i) => `a${i}: ${field}`).join(' ')} }`;

/** A request-level refusal: one error, the code, no data, and an HTTP 400. */
function expectRefused(result: GraphQLResult, extensions: Record<string, unknown> = {}) {
  expect(result.errors, JSON.stringify(result.errors?.slice(0, 2))).toHaveLength(1);
  expect(result.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', ...extensions });
  expect(result.data ?? null).toBeNull();
  expect(result.status).toBe(400);
}

describe.each(databaseKinds())('query cost on %s', (kind) => {
  let t: TestApp;
  let fake: FakeOpenAI;
  let key: string;
  let sourceId: string;
  beforeAll(async () => {
    fake = await FakeOpenAI.start();
    t = await createTestApp(kind, {}, { OPENAI_API_KEY: 'sk-test', OPENAI_BASE_URL: fake.url });
    key = (await t.seed()).apiKey;
    const created = await t.gqlOk(key, 'mutation { createSource(input: { name: "remote", embedding: "openai/text-embedding-3-small" }) { source { id } } }');
    sourceId = created.createSource.source.id;
  });
  afterAll(async () => {
    await t.close();
    await fake.close();
  });

  it('refuses nodes(ids:) with 100,000 ids as BAD_USER_INPUT, and answers 100', async () => {
    const ids = Array.from({ length: 100_000 }, (_, i) => SOURCE_ID(i));
    const NODES = 'query($ids: [ID!]!) { nodes(ids: $ids) { id } }';
    expectRefused(await t.gql(key, NODES, { ids }), { limit: 'listSize', argument: 'ids', value: 100_000, max: 100 });
    const inline = await t.gql(key, `{ nodes(ids: [${ids.slice(0, 101).map((id) => `"${id}"`).join(',')}]) { id } }`);
    expectRefused(inline, { limit: 'listSize', value: 101 });
    const { nodes } = await t.gqlOk(key, NODES, { ids: [sourceId, ...ids.slice(0, 99)] });
    expect(nodes).toHaveLength(100);
    expect(nodes[0]).toEqual({ id: sourceId });
  });

  it('counts each id of nodes(ids:) toward complexity', async () => {
    const ids = Array.from({ length: 100 }, (_, i) => SOURCE_ID(i));
    // 1 + 100 ids × (files 32 + passages 32): each connection is 1 + edges (1 + 10 × node (1 + 2 fields)).
    const PAGES = 'files(first: 20) { edges { node { id fileName } } } passages(first: 20) { edges { node { id text } } }';
    const heavy = await t.gql(key, `query($ids: [ID!]!) { nodes(ids: $ids) { ... on Source { ${PAGES} } } }`, { ids });
    expectRefused(heavy, { limit: 'complexity', value: 6401, max: 5000 });
    const light = await t.gql(key, `query($ids: [ID!]!) { nodes(ids: $ids) { ... on Source { ${PAGES} } } }`, { ids: ids.slice(0, 50) });
    expect(light.errors).toBeUndefined();
  });

  it('refuses page sizes and lists past GRAPHQL_MAX_LIST_SIZE instead of clamping them', async () => {
    expectRefused(await t.gql(key, '{ sources(first: 101) { edges { node { id } } } }'), { limit: 'listSize', argument: 'first', value: 101 });
    expectRefused(await t.gql(key, 'query($n: Int) { runs(last: $n) { edges { node { id } } } }', { n: 1000 }), { argument: 'last', value: 1000 });
    expectRefused(await t.gql(key, 'query($n: Int = 500) { jobs(first: $n) { edges { node { id } } } }'), { argument: 'first', value: 500 });
    expectRefused(await t.gql(key, `{ source(id: "${sourceId}") { files(first: 101) { edges { node { id } } } } }`), { argument: 'first' });
    expectRefused(await t.gql(key, 'query($ids: [ID!]) { tools(ids: $ids) { totalCount } }', { ids: Array.from({ length: 101 }, (_, i) => `tool-${i}`) }), { argument: 'ids' });
    expectRefused(await t.gql(key, '{ searchPassages(query: "x", topK: 101) { score } }'), { argument: 'topK' });
    const page = await t.gqlOk(key, '{ sources(first: 100) { edges { node { id } } } }');
    expect(page.sources.edges.map((e: any) => e.node.id)).toEqual([sourceId]);
  });

  it('refuses 1,000 aliases of searchPassages, and 60 within the breadth limit, before any search runs', async () => {
    const SEARCH = `searchPassages(query: "granite", sourceIds: ["${sourceId}"]) { score }`;
    // One search embeds its query with the source's (remote) embedding: the fake provider sees it.
    const before = fake.requests;
    await t.gqlOk(key, `{ ${SEARCH} }`);
    expect(fake.requests).toBe(before + 1);

    expectRefused(await t.gql(key, aliases(1000, SEARCH)));
    expectRefused(await t.gql(key, aliases(60, SEARCH)), { limit: 'complexity', max: 5000 });
    expect(fake.requests).toBe(before + 1);
  });

  it('refuses alias floods of __typename: 100,000 at the token limit, 1,000 at the breadth limit', async () => {
    const flood = await t.gql(key, aliases(100_000, '__typename'));
    expectRefused(flood);
    expect(flood.errors![0].message).toMatch(/more that 5000 tokens/);
    expectRefused(await t.gql(key, aliases(1000, '__typename')), { limit: 'breadth', value: 1000, max: 200 });
    // Fragments count as often as they are spread.
    const spread = 'query { ...A ...A } fragment A on Query { ...B ...B ...B ...B ...B ...B ...B ...B ...B ...B } fragment B on Query { a: __typename b: __typename c: __typename d: __typename e: __typename f: __typename g: __typename h: __typename i: __typename j: __typename k: __typename }';
    expectRefused(await t.gql(key, spread), { limit: 'breadth', value: 220 });
    expect((await t.gqlOk(key, aliases(150, '__typename'))).a149).toBe('Query');
  });

  it('refuses a 1 MB document at the token limit', async () => {
    const result = await t.gql(key, `{ ${'me '.repeat(350_000)}}`);
    expectRefused(result);
    expect(result.errors![0].message).toMatch(/tokens/);
  });

  it('answers deep nesting with BAD_USER_INPUT, never INTERNAL', async () => {
    const nested = (n: number) => `{ ${'me { '.repeat(n)}id${' }'.repeat(n)} }`;
    expectRefused(await t.gql(key, nested(20_000)));
    expectRefused(await t.gql(key, nested(1000)), { limit: 'depth', max: 12 });
    expectRefused(await t.gql(key, nested(13)), { limit: 'depth', max: 12 });
    const viaFragment = 'query { ...F } fragment F on Query { me { apiKey { user { id } } } }';
    expect((await t.gql(key, viaFragment)).errors).toBeUndefined();
  });
});

describe('configuration', () => {
  const load = (env: Record<string, string>) => loadConfig(env, '/nonexistent/.env');
  it('validates and defaults the new limits', () => {
    const defaults = load({});
    expect(defaults).toMatchObject({ GRAPHQL_MAX_TOKENS: 5000, GRAPHQL_MAX_LIST_SIZE: 100, GRAPHQL_INTROSPECTION: true, GRAPHQL_SUGGESTIONS: true, CORS_ORIGINS: [] });
    expect(defaults).toMatchObject({ MAX_CONNECTIONS: 1000, HEADERS_TIMEOUT_MS: 10_000, REQUEST_TIMEOUT_MS: 120_000 });
    expect(load({ GRAPHQL_INTROSPECTION: 'false' }).GRAPHQL_SUGGESTIONS).toBe(false);
    expect(load({ GRAPHQL_INTROSPECTION: 'false', GRAPHQL_SUGGESTIONS: 'true' }).GRAPHQL_SUGGESTIONS).toBe(true);
    expect(load({ CORS_ORIGINS: 'https://app.example.com, http://localhost:5173' }).CORS_ORIGINS).toEqual(['https://app.example.com', 'http://localhost:5173']);
    expect(() => load({ CORS_ORIGINS: 'https://app.example.com/path' })).toThrow(/CORS_ORIGINS/);
    expect(() => load({ GRAPHQL_MAX_LIST_SIZE: '5000' })).toThrow(/GRAPHQL_MAX_LIST_SIZE/);
    expect(() => load({ HEADERS_TIMEOUT_MS: '5000', REQUEST_TIMEOUT_MS: '1000' })).toThrow(/HEADERS_TIMEOUT_MS: must not exceed REQUEST_TIMEOUT_MS/);
  });
});

describe('the parser cache', () => {
  it('keeps document texts within its budget, and none larger than the budget', () => {
    const { documentCache, errorCache } = parserCaches(1000);
    errorCache.set(`{ me } ${'#'.repeat(2000)}`, new Error('refused'));
    expect(errorCache.size).toBe(0);
    for (let i = 0; i < 50; i++) errorCache.set(`{ a${i}: me } ${'#'.repeat(90)}`, new Error('refused'));
    expect(errorCache.calculatedSize).toBeLessThanOrEqual(1000);
    expect(errorCache.get(`{ a49: me } ${'#'.repeat(90)}`)).toBeInstanceOf(Error);
    expect(errorCache.get(`{ a0: me } ${'#'.repeat(90)}`)).toBeUndefined();
    expect(documentCache.size).toBe(0);
  });
});

describe('query limits on PGlite', () => {
  let t: TestApp;
  let key: string;
  let url: string;
  /** The same database behind other configurations. */
  const extraApps: App[] = [];
  async function appWith(config: Partial<typeof testConfig>) {
    const app = buildApp({ config: { ...testConfig, ...config }, db: t.db, log: createLogger('silent'), ingest: t.ingest, callbacks: t.callbacks, events: t.events });
    extraApps.push(app);
    return app;
  }
  async function gql(app: App, query: string, variables?: Record<string, unknown>): Promise<GraphQLResult> {
    const response = await app.yoga.fetch('http://quarry/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ query, variables }),
    });
    return { status: response.status, ...(await response.json()) };
  }
  beforeAll(async () => {
    t = await createTestApp('pglite');
    key = (await t.seed()).apiKey;
    url = (await t.app.listen(0)).url;
  });
  afterAll(async () => {
    for (const app of extraApps) await app.stop();
    await t.close();
  });

  it('turns parser stack exhaustion into BAD_USER_INPUT when the token limit would allow the document', async () => {
    const app = await appWith({ GRAPHQL_MAX_TOKENS: 1_000_000 });
    const result = await gql(app, `{ ${'me { '.repeat(20_000)}id${' }'.repeat(20_000)} }`);
    expectRefused(result, { limit: 'depth' });
  });

  it('serves GraphiQL’s introspection query, but not two in one request', async () => {
    const full = getIntrospectionQuery({ descriptions: true, specifiedByUrl: true, directiveIsRepeatable: true, schemaDescription: true, inputValueDeprecation: true, oneOf: true });
    const result = await t.gql(key, full);
    expect(result.errors).toBeUndefined();
    expect(result.data.__schema.queryType.name).toBe('Query');
    const body = full.slice(full.indexOf('__schema'), full.indexOf('fragment FullType')).trim();
    const twice = full.replace(body, `a: ${body.replace(/\}\s*$/, '')} b: ${body}`);
    expectRefused(await t.gql(key, twice), { limit: 'breadth', max: 300 });
    let cyclic = 'name';
    for (let i = 0; i < 8; i++) cyclic = `fields { type { ${cyclic} } }`;
    expectRefused(await t.gql(key, `{ __schema { types { ${cyclic} } } }`), { limit: 'depth' });
  });

  it('applies the limits to operations over graphql-ws', async () => {
    const client = wsClient(url, key);
    try {
      const sink = new Sink('ws');
      sink.dispose = client.subscribe({ query: 'query($ids: [ID!]!) { nodes(ids: $ids) { id } }', variables: { ids: Array.from({ length: 101 }, (_, i) => SOURCE_ID(i)) } }, sink.sink);
      await sink.until((s) => s.ended || s.results.length > 0, 'a refusal');
      const errors = (sink.results[0]?.errors ?? sink.failure) as { extensions?: Record<string, unknown> }[];
      expect(errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', limit: 'listSize' });
      const deep = new Sink('deep');
      deep.dispose = client.subscribe({ query: `{ ${'me { '.repeat(13)}id${' }'.repeat(13)} }` }, deep.sink);
      await deep.until((s) => s.ended, 'a refusal');
      expect((deep.failure as { extensions?: Record<string, unknown> }[])[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', limit: 'depth', max: 12 });
    } finally {
      await client.dispose();
    }
  });

  describe('introspection and suggestions', () => {
    const UNKNOWN_FIELD = '{ mee }';
    const BAD_ENUM = ['query($m: PassageSearchMode) { searchPassages(query: "x", mode: $m) { score } }', { m: 'HYBRI' }] as const;

    it('are on by default: introspection answers, errors suggest names', async () => {
      expect((await t.gqlOk(key, '{ __schema { queryType { name } } __type(name: "Source") { name } }')).__type.name).toBe('Source');
      expect((await t.gql(key, UNKNOWN_FIELD)).errors![0].message).toMatch(/Did you mean "me"\?/);
      expect((await t.gql(key, ...BAD_ENUM)).errors![0].message).toMatch(/Did you mean the enum value "HYBRID"\?/);
    });

    it('GRAPHQL_INTROSPECTION=false refuses __schema and __type (not __typename) and, unless asked otherwise, suggestions', async () => {
      const app = await appWith({ GRAPHQL_INTROSPECTION: false, GRAPHQL_SUGGESTIONS: false });
      for (const query of ['{ __schema { queryType { name } } }', '{ __type(name: "Source") { name } }']) {
        const result = await gql(app, query);
        expect(result.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
        expect(result.errors![0].message).toMatch(/introspection has been disabled/);
        expect(result.data ?? null).toBeNull();
      }
      expect((await gql(app, '{ __typename }')).data).toEqual({ __typename: 'Query' });
      const unknown = (await gql(app, UNKNOWN_FIELD)).errors![0];
      expect(unknown).toMatchObject({ message: 'Cannot query field "mee" on type "Query".', extensions: { code: 'BAD_USER_INPUT' } });
      const badEnum = (await gql(app, ...BAD_ENUM)).errors![0];
      expect(badEnum.message).toBe('Variable "$m" got invalid value "HYBRI"; Value "HYBRI" does not exist in "PassageSearchMode" enum.');
    });

    it('GRAPHQL_SUGGESTIONS=false hides suggestions with introspection on, over graphql-ws too', async () => {
      const app = await appWith({ GRAPHQL_SUGGESTIONS: false });
      expect((await gql(app, '{ __schema { queryType { name } } }')).data).toEqual({ __schema: { queryType: { name: 'Query' } } });
      const messages = (await gql(app, '{ sources(frist: 1) { totalCount } mee }')).errors!.map((e) => e.message);
      expect(messages).toEqual(['Unknown argument "frist" on field "Query.sources".', 'Cannot query field "mee" on type "Query".']);
      const listening = await app.listen(0);
      const client = wsClient(listening.url, key);
      try {
        const sink = new Sink('ws');
        sink.dispose = client.subscribe({ query: UNKNOWN_FIELD }, sink.sink);
        await sink.until((s) => s.ended, 'an error');
        expect(JSON.stringify(sink.failure)).toContain('Cannot query field \\"mee\\" on type \\"Query\\".');
        expect(JSON.stringify(sink.failure)).not.toContain('Did you mean');
      } finally {
        await client.dispose();
      }
    });
  });

  describe('CORS', () => {
    const ALLOWED = 'https://app.example.com';
    const preflight = (base: string, path: string, origin: string) =>
      fetch(`${base}${path}`, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
      });
    const post = (base: string, origin: string, headers: Record<string, string> = {}) =>
      fetch(`${base}/graphql`, {
        method: 'POST',
        headers: { origin, 'content-type': 'application/json', authorization: `Bearer ${key}`, ...headers },
        body: JSON.stringify({ query: '{ __typename }' }),
      });

    it('allows no cross-origin caller by default, and answers preflights without authentication', async () => {
      for (const path of ['/graphql', '/v1/sources/']) {
        const response = await preflight(url, path, ALLOWED);
        expect(response.status, path).toBe(204);
        expect(response.headers.get('access-control-allow-origin'), path).toBeNull();
      }
      const response = await post(url, ALLOWED);
      expect(response.status).toBe(200);
      expect(response.headers.get('access-control-allow-origin')).toBeNull();
    });

    it('CORS_ORIGINS lets the listed origins call /graphql, SSE and /v1, and no other', async () => {
      const app = await appWith({ CORS_ORIGINS: [ALLOWED, 'http://localhost:5173'] });
      const base = (await app.listen(0)).url;
      for (const path of ['/graphql', '/v1/sources/', '/v1/folders/x/files']) {
        const allowed = await preflight(base, path, ALLOWED);
        expect(allowed.status, path).toBe(204);
        expect(allowed.headers.get('access-control-allow-origin'), path).toBe(ALLOWED);
        expect(allowed.headers.get('access-control-allow-headers'), path).toBe('authorization, content-type');
        expect(allowed.headers.get('access-control-allow-methods'), path).toContain('POST');
        expect(allowed.headers.get('access-control-allow-credentials'), path).toBeNull();
        const refused = await preflight(base, path, 'https://evil.example');
        expect(refused.status, path).toBe(204);
        expect(refused.headers.get('access-control-allow-origin'), path).toBeNull();
      }
      const response = await post(base, ALLOWED);
      expect(response.headers.get('access-control-allow-origin')).toBe(ALLOWED);
      expect(response.headers.get('vary')).toMatch(/origin/i);
      expect(await response.json()).toEqual({ data: { __typename: 'Query' } });
      expect((await post(base, 'https://evil.example')).headers.get('access-control-allow-origin')).toBeNull();
      const sse = await post(base, ALLOWED, { accept: 'text/event-stream' });
      expect(sse.headers.get('content-type')).toMatch(/text\/event-stream/);
      expect(sse.headers.get('access-control-allow-origin')).toBe(ALLOWED);
      await sse.body?.cancel();
      const rest = await fetch(`${base}/v1/sources/`, { headers: { origin: 'http://localhost:5173', authorization: `Bearer ${key}` } });
      expect(rest.status).toBe(200);
      expect(rest.headers.get('access-control-allow-origin')).toBe('http://localhost:5173');
      // Not a preflight: OPTIONS without Access-Control-Request-Method goes to the routes as before.
      expect((await fetch(`${base}/graphql`, { method: 'OPTIONS' })).headers.get('access-control-allow-origin')).toBeNull();
    });

    it('CORS_ORIGINS=* allows any origin', async () => {
      const app = await appWith({ CORS_ORIGINS: ['*'] });
      const base = (await app.listen(0)).url;
      expect((await preflight(base, '/graphql', 'https://anyone.example')).headers.get('access-control-allow-origin')).toBe('*');
    });
  });

  describe('connections', () => {
    /** A raw TCP connection and what the server sent until it closed. */
    function open(base: string): Promise<{ socket: Socket; received: () => string; closed: Promise<void> }> {
      const { hostname, port } = new URL(base);
      return new Promise((resolve, reject) => {
        let data = '';
        const socket = connect(Number(port), hostname);
        const closed = new Promise<void>((done) => socket.once('close', () => done()));
        socket.on('data', (chunk) => (data += chunk.toString('latin1')));
        socket.on('error', () => {});
        socket.once('connect', () => resolve({ socket, received: () => data, closed }));
        socket.once('error', reject);
      });
    }
    const healthz = 'GET /healthz HTTP/1.1\r\nHost: quarry\r\nConnection: keep-alive\r\n\r\n';

    it('MAX_CONNECTIONS closes connections past the cap, and serves again once one closes', async () => {
      const app = await appWith({ MAX_CONNECTIONS: 2 });
      const base = (await app.listen(0)).url;
      const first = await open(base);
      const second = await open(base);
      // Both are accepted: each answers a request.
      for (const c of [first, second]) {
        c.socket.write(healthz);
        await expect.poll(c.received).toContain('{"status":"ok"}');
      }
      const third = await open(base);
      await third.closed;
      expect(third.received()).toBe('');
      first.socket.destroy();
      await first.closed;
      await expect.poll(async () => (await fetch(`${base}/healthz`).then((r) => r.status).catch(() => 0))).toBe(200);
      second.socket.destroy();
    });

    it('HEADERS_TIMEOUT_MS disconnects a client that never finishes its headers', async () => {
      const app = await appWith({ HEADERS_TIMEOUT_MS: 300, REQUEST_TIMEOUT_MS: 60_000 });
      const slow = await open((await app.listen(0)).url);
      slow.socket.write('GET /healthz HTTP/1.1\r\nHost: quarry\r\n');
      await slow.closed;
      expect(slow.received()).toMatch(/^HTTP\/1\.1 408/);
    });

    it('REQUEST_TIMEOUT_MS disconnects a client that never finishes its body', async () => {
      const app = await appWith({ HEADERS_TIMEOUT_MS: 300, REQUEST_TIMEOUT_MS: 600 });
      const slow = await open((await app.listen(0)).url);
      slow.socket.write(
        `POST /graphql HTTP/1.1\r\nHost: quarry\r\nAuthorization: Bearer ${key}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"query":`,
      );
      await slow.closed;
      expect(slow.received()).toMatch(/^HTTP\/1\.1 408/);
    });
  });
});
