/**
 * Hostile input, over real sockets (REST, GraphQL over HTTP, multipart, graphql-ws), on PGlite and on PostgreSQL
 * when DATABASE_URL is set: nothing a client sends may take the process down, echo unbounded input, store a name
 * that does not read as what it is, reach a route through a dot segment, fail a `node` lookup for the wrong
 * reason, or leave a temporary file behind.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MultipartError, readGraphQLMultipart } from '../src/core/graphql-multipart.js';
import { excerpt, exceedsDepth, parseJson, textExceedsDepth } from '../src/core/json.js';
import { escapedErrorHandler, requestScope } from '../src/core/request-scope.js';
import { attachSource, createAgent } from '../src/domain/agents.js';
import { EmbeddingCatalog } from '../src/embeddings/config.js';
import { nameProblem } from '../src/domain/names.js';
import { createSource } from '../src/domain/sources.js';
import { createTestApp, testConfig, type TestApp } from './support/app.js';
import { databaseKinds } from './support/db.js';
import { jsonClient, multipartBody, processedFile, rawRequest, type HttpResult } from './support/rest.js';
import { rawSocket } from './support/subscriptions.js';
import { until } from './support/wait.js';

const uuid = () => randomUUID();
/** JSON text nesting arrays `depth` levels deep (built as text: the client must not recurse either). */
const nestedArrays = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
const nestedObjects = (depth: number) => '{"a":'.repeat(depth - 1) + '{}' + '}'.repeat(depth - 1);

/** Names every name-taking operation must refuse. */
const BAD_NAMES: Record<string, string> = {
  nul: 'a\u0000b',
  bell: 'a\u0007b',
  del: 'a\u007fb',
  c1: 'a\u0085b',
  'right-to-left override': 'invoice\u202Efdp.exe',
  'bidi isolate': 'a\u2066b\u2069',
  'lone high surrogate': 'a\uD800b',
  'lone low surrogate': '\uDC00',
  'zero-width only': '\u200B\u200D\uFEFF',
  blank: '   ',
  'hangul filler only': '\u3164',
};

describe('the shared name rule', () => {
  it('refuses each kind of bad name and accepts real ones', () => {
    for (const [what, name] of Object.entries(BAD_NAMES)) expect(nameProblem(name), what).not.toBeNull();
    for (const good of ['notes', 'Ünïcødé 名前', 'שלום', 'a b', 'emoji 🎉', 'rtl مرحبا with a mark\u200F']) expect(nameProblem(good), good).toBeNull();
  });
});

describe('core/json', () => {
  it('measures depth without recursing, ignoring brackets inside strings', () => {
    expect(textExceedsDepth(nestedArrays(64), 64)).toBe(false);
    expect(textExceedsDepth(nestedArrays(65), 64)).toBe(true);
    expect(textExceedsDepth(`{"a":"${'['.repeat(500)}\\"${'{'.repeat(500)}"}`, 2)).toBe(false);
    expect(() => parseJson(nestedArrays(100_000), 64)).toThrow(/nested more than 64 levels/);
    expect(exceedsDepth(JSON.parse(nestedObjects(65)), 64)).toBe(true);
    expect(exceedsDepth(JSON.parse(nestedObjects(64)), 64)).toBe(false);
  });

  it('excerpts are small and shallow whatever the input', () => {
    const huge = { list: Array.from({ length: 100_000 }, (_, i) => i), text: 'x'.repeat(1_000_000), deep: JSON.parse(nestedArrays(50)) };
    const text = JSON.stringify(excerpt(huge));
    expect(text.length).toBeLessThan(2000);
    // A key named __proto__ stays a key.
    expect(Object.getPrototypeOf(excerpt(JSON.parse('{"__proto__":{"polluted":1}}')))).toBe(Object.prototype);
  });
});

describe('errors that escape a request', () => {
  it('are logged and the process goes on inside a request scope; outside any request the process exits', () => {
    const logged: string[] = [];
    const log = { error: (_o: unknown, msg: string) => logged.push(`error: ${msg}`), fatal: (_o: unknown, msg: string) => logged.push(`fatal: ${msg}`) };
    const exits: number[] = [];
    const handler = escapedErrorHandler(log as never, 'uncaughtException', (code) => exits.push(code));
    requestScope.run({ kind: 'http', method: 'POST', url: '/v1/sources' }, () => handler(new Error('in a request')));
    expect(exits).toEqual([]);
    expect(logged).toEqual([expect.stringMatching(/^error: .*request/)]);
    handler(new Error('outside'));
    expect(exits).toEqual([1]);
  });
});

describe('GraphQL multipart reader: temporary files', () => {
  let dir: string;
  let server: Server;
  let base: string;
  let behaviour: 'read' | 'ignore' = 'read';

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'quarry-multipart-test-'));
    server = createServer(async (req, res) => {
      try {
        const operations = (await readGraphQLMultipart(req, res, { maxFileBytes: 1 << 20, maxFiles: 5, maxFieldBytes: 1 << 20, maxJsonDepth: 64, tmpdir: () => dir })) as {
          variables: { file: { promise: Promise<{ createReadStream(): NodeJS.ReadableStream }> } };
        };
        let size = 0;
        if (behaviour === 'read') {
          const upload = await operations.variables.file.promise;
          for await (const chunk of upload.createReadStream()) size += (chunk as Buffer).length;
        }
        res.end(JSON.stringify({ size }));
      } catch (error) {
        res.statusCode = error instanceof MultipartError ? error.status : 500;
        res.setHeader('connection', 'close');
        res.end(JSON.stringify({ error: (error as Error).message }));
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address() as { port: number };
    base = `http://127.0.0.1:${address.port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  const operations = { name: 'operations', content: JSON.stringify({ query: 'mutation($file: Upload!) { x(file: $file) }', variables: { file: null } }) };
  const map = { name: 'map', content: JSON.stringify({ 0: ['variables.file'] }) };
  const file = (content: string) => ({ name: '0', filename: 'a.txt', type: 'text/plain', content });
  const send = (parts: Parameters<typeof multipartBody>[0]) => {
    const { body, contentType } = multipartBody(parts);
    return rawRequest(base, { method: 'POST', path: '/', headers: { 'content-type': contentType }, body });
  };
  const empty = () => until(() => readdir(dir), (files) => files.length === 0, 5000);

  it('refuses the same file field twice with a 400 and removes both temporary files', async () => {
    const result = await send([operations, map, file('first '.repeat(1000)), file('second '.repeat(1000))]);
    expect(result.status, result.text).toBe(400);
    expect(result.body.error).toMatch(/‘0’ appears more than once/);
    expect(await empty()).toEqual([]);
  });

  it('refuses `operations` or `map` twice', async () => {
    expect((await send([operations, operations, map, file('x')])).status).toBe(400);
    expect((await send([operations, map, map, file('x')])).status).toBe(400);
    expect(await empty()).toEqual([]);
  });

  it('removes the temporary file once the response has ended, whether the file was read or not', async () => {
    for (const mode of ['read', 'ignore'] as const) {
      behaviour = mode;
      const result = await send([operations, map, file('hello '.repeat(5000))]);
      expect(result.status, result.text).toBe(200);
      expect(result.body.size).toBe(mode === 'read' ? 30_000 : 0);
      expect(await empty()).toEqual([]);
    }
    behaviour = 'read';
  });

  it('removes the temporary file when the client goes away mid-body', async () => {
    const { body, contentType } = multipartBody([operations, map, file('partial '.repeat(20_000))]);
    await new Promise<void>((resolve) => {
      const req = httpRequest(`${base}/`, { method: 'POST', agent: false, headers: { 'content-type': contentType, 'content-length': String(body.length) } });
      req.on('error', () => resolve());
      req.write(body.subarray(0, body.length / 2), () => setTimeout(() => (req.destroy(), resolve()), 50));
    });
    expect(await empty()).toEqual([]);
  });
});

for (const kind of databaseKinds()) {
  describe(`hostile input on ${kind}`, () => {
    let t: TestApp;
    let base: string;
    let key: string;
    let api: ReturnType<typeof jsonClient>;

    beforeAll(async () => {
      t = await createTestApp(kind);
      base = (await t.app.listen(0)).url;
      key = (await t.seed()).apiKey;
      api = jsonClient(base, key);
    });
    afterAll(() => t.close());

    const gqlHttp = async (body: string, headers: Record<string, string> = {}): Promise<HttpResult> =>
      rawRequest(base, { method: 'POST', path: '/graphql', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, ...headers }, body });
    /** A GET of exactly this path (URL parsing on the client's side would resolve the dot segments first). */
    const literalGet = (literalPath: string) =>
      new Promise<HttpResult>((resolve, reject) => {
        const { hostname, port } = new URL(base);
        const req = httpRequest({ host: hostname, port, path: literalPath, method: 'GET', agent: false, headers: { authorization: `Bearer ${key}` } }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body: text ? JSON.parse(text) : undefined });
          });
        });
        req.on('error', reject);
        req.end();
      });
    const alive = async () => expect((await rawRequest(base, { method: 'GET', path: '/healthz' })).status).toBe(200);
    const codes = (result: { errors?: { extensions?: Record<string, unknown> }[] }) => result.errors?.map((e) => e.extensions?.code);

    describe('JSON nesting is capped at parse time (JSON_MAX_DEPTH)', () => {
      it('REST: 5,000 levels of metadata are a 422, and the server lives on', async () => {
        const body = `{"name":"d-${uuid()}","metadata":${nestedArrays(5000)}}`;
        const result = await rawRequest(base, { method: 'POST', path: '/v1/sources', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body });
        expect(result.status, result.text.slice(0, 300)).toBe(422);
        expect(result.body.detail[0]).toMatchObject({ type: 'json_invalid', loc: ['body', 0] });
        expect(result.body.detail[0].ctx.error).toMatch(/nested more than 64 levels deep \(JSON_MAX_DEPTH\)/);
        expect(result.text.length).toBeLessThan(2000);
        await alive();
      });

      it('REST: nesting within the limit is stored', async () => {
        const name = `ok-${uuid()}`;
        const result = await rawRequest(base, {
          method: 'POST',
          path: '/v1/sources',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
          body: `{"name":"${name}","metadata":${nestedObjects(60)}}`,
        });
        expect(result.status, result.text).toBe(200);
        expect(exceedsDepth(result.body.metadata, 58)).toBe(true);
      });

      it('REST: a 422 echoes a bounded excerpt of the input, not the input', async () => {
        const result = await api('POST', '/v1/sources', { name: Array.from({ length: 100_000 }, () => 0) });
        expect(result.status).toBe(422);
        expect(result.body.detail[0]).toMatchObject({ type: 'string_type', loc: ['body', 'name'] });
        expect(result.text.length).toBeLessThan(2000);
      });

      it('GraphQL over HTTP: deep variables are a 400 BAD_USER_INPUT (POST and GET), not INTERNAL', async () => {
        const query = 'mutation($input: CreateSourceInput!) { createSource(input: $input) { source { id } } }';
        const post = await gqlHttp(`{"query":${JSON.stringify(query)},"variables":{"input":{"name":"deep-${uuid()}","metadata":{"m":${nestedArrays(5000)}}}}}`);
        expect(post.status, post.text.slice(0, 300)).toBe(400);
        expect(codes(post.body)).toEqual(['BAD_USER_INPUT']);
        expect(post.body.errors[0].message).toMatch(/JSON_MAX_DEPTH/);
        const search = new URLSearchParams({ query: '{ __typename }', variables: `{"v":${nestedArrays(100)}}` });
        const get = await rawRequest(base, { method: 'GET', path: `/graphql?${search}`, headers: { authorization: `Bearer ${key}`, accept: 'application/json' } });
        expect(get.status, get.text).toBe(400);
        expect(codes(get.body)).toEqual(['BAD_USER_INPUT']);
        // Within the limit, GET still works.
        const fine = new URLSearchParams({ query: '{ __typename }', variables: `{"v":${nestedArrays(10)}}` });
        expect((await rawRequest(base, { method: 'GET', path: `/graphql?${fine}`, headers: { authorization: `Bearer ${key}`, accept: 'application/json' } })).body).toEqual({ data: { __typename: 'Query' } });
        await alive();
      });

      it('graphql-ws: deep variables fail that operation with BAD_USER_INPUT; the socket keeps serving', async () => {
        const ws = rawSocket(base);
        try {
          await ws.opened;
          ws.send({ type: 'connection_init', payload: { authorization: `Bearer ${key}` } });
          await ws.message((m) => m.type === 'connection_ack');
          ws.send(`{"id":"deep","type":"subscribe","payload":{"query":"{ __typename }","variables":{"v":${nestedArrays(5000)}}}}`);
          const error = await ws.message((m) => m.id === 'deep');
          expect(error.type).toBe('error');
          expect(error.payload[0].extensions.code).toBe('BAD_USER_INPUT');
          ws.send({ id: 'fine', type: 'subscribe', payload: { query: '{ __typename }' } });
          expect((await ws.message((m) => m.id === 'fine' && m.type === 'next')).payload).toEqual({ data: { __typename: 'Query' } });
        } finally {
          ws.socket.close();
        }
      });

      it('multipart: deep `operations` are a 400', async () => {
        const source = await t.gqlOk(key, `mutation { createSource(input: { name: "mp-${uuid()}" }) { source { id } } }`);
        const { body, contentType } = multipartBody([
          { name: 'operations', content: `{"query":"mutation($input: UploadFileInput!) { uploadFile(input: $input) { outcome } }","variables":{"input":{"sourceId":"${source.createSource.source.id}","file":null}},"extensions":{"x":${nestedArrays(5000)}}}` },
          { name: 'map', content: '{"0":["variables.input.file"]}' },
          { name: '0', filename: 'a.txt', type: 'text/plain', content: 'hello' },
        ]);
        const result = await rawRequest(base, { method: 'POST', path: '/graphql', headers: { 'content-type': contentType, authorization: `Bearer ${key}` }, body });
        expect(result.status, result.text.slice(0, 300)).toBe(400);
        expect(codes(result.body)).toEqual(['BAD_USER_INPUT']);
        await alive();
      });
    });

    describe('names: one rule for every named thing', () => {
      const refused = (result: { errors?: { extensions?: Record<string, unknown> }[] }, what: string) => expect(codes(result), what).toEqual(['BAD_USER_INPUT']);

      it('GraphQL: sources, agents, API keys and templates refuse each bad name', async () => {
        const agent = (await t.gqlOk(key, `mutation { createAgent(input: { name: "template-base" }) { agent { id } } }`)).createAgent.agent.id;
        const source = (await t.gqlOk(key, `mutation { createSource(input: { name: "renamable-${uuid()}" }) { source { id } } }`)).createSource.source.id;
        for (const [what, name] of Object.entries(BAD_NAMES)) {
          refused(await t.gql(key, 'mutation($name: String!) { createSource(input: { name: $name }) { source { id } } }', { name }), `createSource ${what}`);
          refused(await t.gql(key, 'mutation($id: ID!, $name: String!) { updateSource(id: $id, input: { name: $name }) { source { id } } }', { id: source, name }), `updateSource ${what}`);
          refused(await t.gql(key, 'mutation($name: String!) { createAgent(input: { name: $name }) { agent { id } } }', { name }), `createAgent ${what}`);
          refused(await t.gql(key, 'mutation($id: ID!, $name: String!) { updateAgent(id: $id, input: { name: $name }) { agent { id } } }', { id: agent, name }), `updateAgent ${what}`);
          refused(await t.gql(key, 'mutation($name: String!) { createApiKey(input: { name: $name }) { key } }', { name }), `createApiKey ${what}`);
          refused(await t.gql(key, 'mutation($agentId: ID!, $name: String!) { createTemplateFromAgent(input: { agentId: $agentId, name: $name }) { template { id } } }', { agentId: agent, name }), `createTemplateFromAgent ${what}`);
        }
        const sources = await t.gqlOk(key, '{ sources(first: 100) { edges { node { name } } } }');
        for (const { node } of sources.sources.edges) expect(nameProblem(node.name), node.name).toBeNull();
      });

      it('REST: a bad name is a 4xx with a detail, never a 500 (NUL included)', async () => {
        for (const [what, name] of Object.entries(BAD_NAMES)) {
          for (const path of ['/v1/sources', '/v1/folders', '/v1/agents']) {
            const result = await api('POST', path, { name });
            expect([400, 422], `${path} ${what}: ${result.status} ${result.text}`).toContain(result.status);
            expect(typeof result.body.detail, `${path} ${what}`).toBe('string');
          }
        }
        // A name that no source can have is simply not found, NUL included.
        const lookup = await api('GET', `/v1/sources/name/${encodeURIComponent('a\u0000b')}`);
        expect(lookup.status, lookup.text).toBe(404);
      });

      it('NUL in any other text (descriptions, metadata, filters) is the client’s mistake, never a 500 / INTERNAL', async () => {
        for (const body of [{ description: 'a\u0000b' }, { metadata: { k: 'a\u0000b' } }, { instructions: '\u0000' }]) {
          const result = await api('POST', '/v1/sources', { name: `nul-${uuid()}`, ...body });
          expect(result.status, `${JSON.stringify(body)}: ${result.text}`).toBe(400);
          expect(result.body.detail).toMatch(/NUL/);
        }
        const agent = await api('POST', '/v1/agents', { name: 'nul-agent', system: 'a\u0000b' });
        expect(agent.status, agent.text).toBe(422);
        const filter = await t.gql(key, 'query($n: String) { sources(name: $n) { totalCount } }', { n: 'a\u0000' });
        refused(filter, 'sources(name:)');
        refused(await t.gql(key, 'mutation { createSource(input: { name: "nul-literal", description: "a\\u0000b" }) { source { id } } }'), 'literal');
      });

      it('uploads: a custom file name follows the same rule', async () => {
        const source = (await t.gqlOk(key, `mutation { createSource(input: { name: "files-${uuid()}" }) { source { id } } }`)).createSource.source.id;
        for (const [what, name] of Object.entries({ 'zero-width only': '\u200B', 'right-to-left override': 'a\u202Etxt.exe', 'zero-width folder': 'docs/\u200B/a.txt' })) {
          const { body, contentType } = multipartBody([
            { name: 'operations', content: JSON.stringify({ query: 'mutation($input: UploadFileInput!) { uploadFile(input: $input) { outcome } }', variables: { input: { sourceId: source, file: null, name } } }) },
            { name: 'map', content: '{"0":["variables.input.file"]}' },
            { name: '0', filename: 'a.txt', type: 'text/plain', content: 'hello' },
          ]);
          const result = await rawRequest(base, { method: 'POST', path: '/graphql', headers: { 'content-type': contentType, authorization: `Bearer ${key}` }, body });
          refused(result.body, what);
        }
      });
    });

    describe('REST routing', () => {
      it('JSON routes refuse a body that is not sent as JSON (FastAPI: 422) and read one sent without a type', async () => {
        const name = `typed-${uuid()}`;
        const plain = await rawRequest(base, { method: 'POST', path: '/v1/sources', headers: { 'content-type': 'text/plain', authorization: `Bearer ${key}` }, body: JSON.stringify({ name }) });
        expect(plain.status, plain.text).toBe(422);
        expect(plain.body.detail[0]).toMatchObject({ type: 'model_attributes_type', loc: ['body'] });
        const form = await rawRequest(base, { method: 'POST', path: '/v1/sources', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Bearer ${key}` }, body: `name=${name}` });
        expect(form.status).toBe(422);
        expect((await api('GET', `/v1/sources/name/${name}`)).status).toBe(404);
        const untyped = await rawRequest(base, { method: 'POST', path: '/v1/sources', headers: { authorization: `Bearer ${key}` }, body: JSON.stringify({ name }) });
        expect(untyped.status, untyped.text).toBe(200);
        const suffixed = await rawRequest(base, { method: 'PATCH', path: `/v1/sources/${untyped.body.id}`, headers: { 'content-type': 'application/merge-patch+json', authorization: `Bearer ${key}` }, body: '{"description":"json by another name"}' });
        expect(suffixed.status, suffixed.text).toBe(200);
      });

      it('`.` and `..` path segments are 404, however they are written', async () => {
        const source = (await api('POST', '/v1/sources', { name: `dots-${uuid()}` })).body.id as string;
        expect((await api('GET', `/v1/sources/${source}`)).status).toBe(200);
        for (const p of [`/v1/sources/${source}/files/..`, `/v1/sources/${source}/files/%2e%2E`, `/v1/sources/${source}/files/.%2e`, `/v1/sources/./${source}`, `/v1/sources/${source}/files/../..`, `/v1/x/../sources`]) {
          const result = await literalGet(p);
          expect(result.status, `${p}: ${result.text}`).toBe(404);
          expect(result.body).toEqual({ detail: 'Not Found' });
        }
      });
    });

    describe('node(id:) of ids that are no node', () => {
      it('answers null for missing file_content, file_agent (and any id) alone, and resolves an existing file_agent', async () => {
        const tenant = await t.tenant();
        const source = await createSource(tenant.db, tenant.actor, { name: 'kb' }, { embeddings: new EmbeddingCatalog(testConfig) });
        await processedFile(tenant, source, 'notes.txt', 'Some text.');
        const agent = await createAgent(tenant.db, tenant.actor, { name: 'reader' });
        await attachSource(tenant.db, tenant.actor, agent.id, source.id);
        const fileAgent = await tenant.db.fileAgent.findFirstOrThrow({ where: { agentId: agent.id } });
        const missing = [`file_content-${uuid()}`, `file_agent-${uuid()}`, `message-${uuid()}`, `step-${uuid()}`, `apikey-${uuid()}`];
        for (const id of missing) {
          const one = await t.gql(tenant.apiKey, 'query($id: ID!) { node(id: $id) { id } }', { id });
          expect(one.errors, id).toBeUndefined();
          expect(one.data.node, id).toBeNull();
        }
        const many = await t.gql(tenant.apiKey, 'query($ids: [ID!]!) { nodes(ids: $ids) { id __typename } }', { ids: [...missing, source.id, fileAgent.id] });
        expect(many.errors).toBeUndefined();
        expect(many.data.nodes).toEqual([...missing.map(() => null), { id: source.id, __typename: 'Source' }, { id: fileAgent.id, __typename: 'AgentFile' }]);
        // Another organization's file_agent is as missing as a made-up one.
        const stranger = await t.seed();
        expect((await t.gql(stranger.apiKey, 'query($id: ID!) { node(id: $id) { id } }', { id: fileAgent.id })).data.node).toBeNull();
      });
    });

    describe('multipart: a part twice', () => {
      it('GraphQL: the same file field twice is a 400 and stores nothing', async () => {
        const source = (await t.gqlOk(key, `mutation { createSource(input: { name: "twice-${uuid()}" }) { source { id } } }`)).createSource.source.id;
        const { body, contentType } = multipartBody([
          { name: 'operations', content: JSON.stringify({ query: 'mutation($input: UploadFileInput!) { uploadFile(input: $input) { outcome } }', variables: { input: { sourceId: source, file: null } } }) },
          { name: 'map', content: '{"0":["variables.input.file"]}' },
          { name: '0', filename: 'a.txt', type: 'text/plain', content: 'first' },
          { name: '0', filename: 'b.txt', type: 'text/plain', content: 'second' },
        ]);
        const result = await rawRequest(base, { method: 'POST', path: '/graphql', headers: { 'content-type': contentType, authorization: `Bearer ${key}` }, body });
        expect(result.status, result.text).toBe(400);
        expect(codes(result.body)).toEqual(['BAD_USER_INPUT']);
        expect(await t.db.prisma.file.count({ where: { sourceId: source } })).toBe(0);
      });

      it('REST: two `file` parts are a 422 and store nothing', async () => {
        const source = (await api('POST', '/v1/sources', { name: `rest-twice-${uuid()}` })).body.id as string;
        const { body, contentType } = multipartBody([
          { name: 'file', filename: 'a.txt', type: 'text/plain', content: 'first' },
          { name: 'file', filename: 'b.txt', type: 'text/plain', content: 'second' },
        ]);
        const result = await rawRequest(base, { method: 'POST', path: `/v1/sources/${source}/upload`, headers: { 'content-type': contentType, authorization: `Bearer ${key}` }, body });
        expect(result.status, result.text).toBe(422);
        expect(result.body.detail[0]).toMatchObject({ loc: ['body', 'file'] });
        expect(await t.db.prisma.file.count({ where: { sourceId: source } })).toBe(0);
        // One file part still works.
        const one = multipartBody([{ name: 'file', filename: 'a.txt', type: 'text/plain', content: 'first' }]);
        const ok = await rawRequest(base, { method: 'POST', path: `/v1/sources/${source}/upload`, headers: { 'content-type': one.contentType, authorization: `Bearer ${key}` }, body: one.body });
        expect(ok.status, ok.text).toBe(200);
      });
    });
  });
}
