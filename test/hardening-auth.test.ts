/**
 * Hardening of authentication: key roles and minting, transitive revocation, authentication before any body
 * is read or document parsed, throttling of failed attempts, and revocation reaching open connections.
 */
import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import WebSocket from 'ws';
import { buildApp, type App } from '../src/app.js';
import { generateApiKey } from '../src/core/auth.js';
import { openRedis } from '../src/core/redis.js';
import { clientAddress, proxyList } from '../src/core/auth-gate.js';
import { loadConfig } from '../src/core/config.js';
import { createLogger } from '../src/core/logger.js';
import { createJob } from '../src/domain/jobs.js';
import { createTestApp, testConfig, type TestApp } from './support/app.js';
import { databaseKinds } from './support/db.js';
import { rawSocket, sseClient, subscribe, wsClient } from './support/subscriptions.js';

const MINT = 'mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { key apiKey { id role mintedBy { id } } } }';
const REVOKE = 'mutation($id: ID!) { revokeApiKey(id: $id) { id active } }';
const ME = '{ me { apiKey { id role } } }';

describe.each(databaseKinds())('key roles and minting on %s', (kind) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(kind);
  });
  afterAll(() => t.close());

  const mint = async (key: string, input: Record<string, unknown>) => (await t.gqlOk(key, MINT, { input })).createApiKey as { key: string; apiKey: { id: string; role: string; mintedBy: { id: string } | null } };

  it('a key mints keys of its own role or lower, never higher', async () => {
    const org = await t.seed();
    const adminKeyId = (await t.gqlOk(org.apiKey, ME)).me.apiKey.id;
    expect((await t.gqlOk(org.apiKey, ME)).me.apiKey.role).toBe('ADMIN');

    const admin2 = await mint(org.apiKey, { name: 'admin too' });
    expect(admin2.apiKey).toEqual({ id: expect.any(String), role: 'ADMIN', mintedBy: { id: adminKeyId } });
    const member = await mint(org.apiKey, { name: 'ci', role: 'MEMBER' });
    expect(member.apiKey.role).toBe('MEMBER');

    // The member key (of an admin user) acts as a member: it cannot mint an admin key, nor list the organization's keys.
    const escalate = await t.gql(member.key, MINT, { input: { name: 'escalate', role: 'ADMIN' } });
    expect(escalate.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    expect(escalate.data).toBeNull();
    expect(await t.db.prisma.apiKey.count({ where: { organizationId: org.organizationId, name: 'escalate' } })).toBe(0);
    // By default a key mints keys of its own role.
    const memberChild = await mint(member.key, { name: 'child' });
    expect(memberChild.apiKey).toMatchObject({ role: 'MEMBER', mintedBy: { id: member.apiKey.id } });
    // A member key cannot revoke its user's admin keys.
    const revokeAdmin = await t.gql(member.key, REVOKE, { id: adminKeyId });
    expect(revokeAdmin.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    expect((await t.gql(org.apiKey, '{ __typename }')).status).toBe(200);
  });

  it("a member user's keys stay members' keys, whatever role they ask for", async () => {
    const org = await t.seed();
    const user = await t.db.prisma.user.create({ data: { organizationId: org.organizationId, name: 'member', role: 'MEMBER' } });
    // An admin key on a member user (made by hand) still acts as a member.
    const { generateApiKey, hashApiKey, displayPrefix } = await import('../src/core/auth.js');
    const key = generateApiKey();
    await t.db.prisma.apiKey.create({ data: { organizationId: org.organizationId, userId: user.id, name: 'x', role: 'ADMIN', prefix: displayPrefix(key), keyHash: hashApiKey(key) } });
    const denied = await t.gql(key, MINT, { input: { name: 'up', role: 'ADMIN' } });
    expect(denied.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    expect((await mint(key, { name: 'ok' })).apiKey.role).toBe('MEMBER');
  });

  it('revoking a key revokes the keys minted from it, transitively, and nothing else', async () => {
    const org = await t.seed();
    const leaked = await mint(org.apiKey, { name: 'leaked', role: 'MEMBER' });
    const child = await mint(leaked.key, { name: 'child' });
    const grandchild = await mint(child.key, { name: 'grandchild' });
    const sibling = await mint(org.apiKey, { name: 'sibling' });
    for (const k of [leaked, child, grandchild]) expect((await t.gql(k.key, '{ __typename }')).status).toBe(200);

    const revoked = await t.gqlOk(org.apiKey, REVOKE, { id: leaked.apiKey.id });
    expect(revoked.revokeApiKey).toEqual({ id: leaked.apiKey.id, active: false });
    for (const k of [leaked, child, grandchild]) expect((await t.gql(k.key, '{ __typename }')).status).toBe(401);
    expect((await t.gql(sibling.key, '{ __typename }')).status).toBe(200);
    expect((await t.gql(org.apiKey, '{ __typename }')).status).toBe(200);
    const rows = await t.db.prisma.apiKey.findMany({ where: { id: { in: [child.apiKey.id, grandchild.apiKey.id, sibling.apiKey.id] } }, select: { id: true, revokedAt: true } });
    expect(Object.fromEntries(rows.map((r) => [r.id, r.revokedAt !== null]))).toEqual({ [child.apiKey.id]: true, [grandchild.apiKey.id]: true, [sibling.apiKey.id]: false });
  });

  it('a key cannot mint once revoked, even from a stale cache', async () => {
    const org = await t.seed();
    const parent = await mint(org.apiKey, { name: 'parent', role: 'MEMBER' });
    expect((await t.gql(parent.key, '{ __typename }')).status).toBe(200); // now cached as valid
    // Revoked behind this server's back (another replica): its cache still accepts the key for a while.
    await t.db.prisma.apiKey.update({ where: { id: parent.apiKey.id }, data: { revokedAt: new Date() } });
    const late = await t.gql(parent.key, MINT, { input: { name: 'late' } });
    expect(late.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    const row = await t.db.prisma.apiKey.findFirstOrThrow({ where: { organizationId: org.organizationId, name: 'late' } });
    expect(row.revokedAt).not.toBeNull();
  });
});

/** One HTTP request from a chosen local address (127.0.0.0/8 is all loopback): a client of its own for the throttle. */
function httpFrom(
  localAddress: string,
  base: string,
  options: { method?: string; path: string; headers?: Record<string, string>; body?: string },
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: any }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      new URL(options.path, base),
      {
        method: options.method ?? 'POST',
        agent: false,
        localAddress,
        headers: { 'content-type': 'application/json', ...(options.body !== undefined ? { 'content-length': String(Buffer.byteLength(options.body)) } : {}), ...options.headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown;
          try {
            body = text ? JSON.parse(text) : undefined;
          } catch {
            body = text;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
        });
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

const gqlFrom = (localAddress: string, base: string, key: string | null, query = '{ __typename }') =>
  httpFrom(localAddress, base, { path: '/graphql', headers: key ? { authorization: `Bearer ${key}` } : {}, body: JSON.stringify({ query }) });

/** A graphql-ws connection_init with `key` from `localAddress`: the ack, or the close code and reason. */
function wsInit(localAddress: string, base: string, key: string): Promise<{ acked: boolean; code?: number; reason?: string }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(base.replace(/^http/, 'ws') + '/graphql', ['graphql-transport-ws'], { localAddress });
    socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${key}` } })));
    socket.on('message', (data) => {
      if (JSON.parse(String(data)).type === 'connection_ack') {
        socket.close(1000);
        resolve({ acked: true });
      }
    });
    socket.on('close', (code, reason) => resolve({ acked: false, code, reason: String(reason) }));
    socket.on('error', reject);
  });
}

/**
 * Sends a request's head and the first bytes of a body that never comes; resolves with what the server answered
 * once it closed the connection. Fails if the server waits for the body instead (the test's own timeout).
 */
function slowBody(base: string, head: string[], firstBytes: string): Promise<string> {
  const { port } = new URL(base);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1');
    let received = '';
    socket.on('connect', () => socket.write(`${head.join('\r\n')}\r\n\r\n${firstBytes}`));
    socket.on('data', (chunk) => (received += chunk.toString('utf8')));
    // The server ends the connection behind its answer: the rest of the body is never waited for.
    socket.on('close', () => resolve(received));
    socket.on('error', (error) => (received ? resolve(received) : reject(error)));
  });
}

describe.each(databaseKinds())('authentication before any work on %s', (kind) => {
  let t: TestApp;
  let url: string;
  beforeAll(async () => {
    t = await createTestApp(kind);
    url = (await t.app.listen(0)).url;
  });
  afterAll(() => t.close());

  it('answers a keyless GraphQL request with a slow body 401 at once, without reading the body, and closes', async () => {
    const answer = await slowBody(
      url,
      ['POST /graphql HTTP/1.1', 'Host: quarry', 'Content-Type: application/json', 'Content-Length: 100000'],
      '{"query":"{ __typename',
    );
    expect(answer).toMatch(/^HTTP\/1\.1 401 /);
    expect(answer.toLowerCase()).toContain('connection: close');
    expect(answer).toContain('"UNAUTHENTICATED"');
  });

  it('answers a wrong key with a slow body 401 too, on GraphQL, multipart uploads and REST', async () => {
    const wrong = generateApiKey();
    const graphql = await slowBody(
      url,
      ['POST /graphql HTTP/1.1', 'Host: quarry', 'Content-Type: application/json', `Authorization: Bearer ${wrong}`, 'Content-Length: 100000'],
      '{"query":"{ __typename',
    );
    expect(graphql).toMatch(/^HTTP\/1\.1 401 /);
    // A multipart upload is streamed to disk before yoga sees it: the key is checked before that.
    const multipart = await slowBody(
      url,
      ['POST /graphql HTTP/1.1', 'Host: quarry', 'Content-Type: multipart/form-data; boundary=xyz', 'Content-Length: 100000000'],
      '--xyz\r\nContent-Disposition: form-data; name="operations"\r\n\r\n{"query":"mutation',
    );
    expect(multipart).toMatch(/^HTTP\/1\.1 401 /);
    expect(multipart).toContain('"UNAUTHENTICATED"');
    const rest = await slowBody(
      url,
      ['POST /v1/sources/ HTTP/1.1', 'Host: quarry', 'Content-Type: application/json', `Authorization: Bearer ${wrong}`, 'Content-Length: 100000'],
      '{"name":"a',
    );
    expect(rest).toMatch(/^HTTP\/1\.1 401 /);
    expect(rest.toLowerCase()).toContain('connection: close');
    expect(rest).toContain('"detail"');
  });

  it('never validates or parses a document for a caller without a valid key: no suggestions, no syntax errors', async () => {
    for (const key of [null, generateApiKey()]) {
      for (const query of ['{ sourcs { id } }', '{ sources(frist: 1) { edges { node { nam } } } }', '{ sources {', 'subscription { jobUpdatd(id: "x") { id } }']) {
        const result = await t.gql(key, query);
        expect(result.status).toBe(401);
        expect(result.errors).toEqual([{ message: expect.stringContaining('API key'), extensions: { code: 'UNAUTHENTICATED' } }]);
        expect(JSON.stringify(result)).not.toMatch(/Did you mean|sources|Syntax Error/);
      }
    }
    // The same over GET and over SSE.
    const get = await httpFrom('127.0.0.1', url, { method: 'GET', path: '/graphql?query=%7B%20sourcs%20%7D', headers: { accept: 'application/json' } });
    expect(get.status).toBe(401);
    expect(JSON.stringify(get.body)).not.toContain('Did you mean');
    const sse = await httpFrom('127.0.0.1', url, { path: '/graphql', headers: { accept: 'text/event-stream' }, body: JSON.stringify({ query: 'subscription { jobUpdatd(id: "x") { id } }' }) });
    expect(sse.status).toBe(401);
    expect(JSON.stringify(sse.body)).not.toContain('Did you mean');
  });

  it('keeps GraphiQL, health, readiness and the API description public', async () => {
    const graphiql = await httpFrom('127.0.0.1', url, { method: 'GET', path: '/graphql', headers: { accept: 'text/html' } });
    expect(graphiql.status).toBe(200);
    expect(String(graphiql.body)).toContain('<html');
    for (const path of ['/healthz', '/readyz', '/openapi.json']) expect((await httpFrom('127.0.0.1', url, { method: 'GET', path })).status).toBe(200);
  });
});

it('a key that cannot be checked (database gone) is INTERNAL, with nothing of the cause', async () => {
  const t = await createTestApp('pglite', {}, {}, { workers: false });
  const url = (await t.app.listen(0)).url;
  const ws = rawSocket(url);
  await ws.opened;
  await t.db.close();
  try {
    const result = await t.gql(generateApiKey(), '{ __typename }');
    expect(result.status).toBe(500);
    expect(result.errors).toEqual([{ message: 'Unexpected error.', extensions: { code: 'INTERNAL' } }]);
    ws.send({ type: 'connection_init', payload: { authorization: `Bearer ${generateApiKey()}` } });
    expect(await ws.closed).toEqual({ code: 4500, reason: 'Internal server error' });
  } finally {
    await t.app.stop();
    await t.ingest.stop();
  }
});

const redisUrl = inject('redisUrl');

/** Throttling, with small limits: 5 failures per address, 3 per key prefix. */
const throttled = { AUTH_FAILURES_PER_ADDRESS: 5, AUTH_FAILURES_PER_KEY_PREFIX: 3, AUTH_FAILURE_WINDOW_S: 60 };

describe.each(databaseKinds())('throttling of failed authentication on %s', (kind) => {
  let t: TestApp;
  let url: string;
  beforeAll(async () => {
    t = await createTestApp(kind, {}, throttled);
    url = (await t.app.listen(0)).url;
  });
  afterAll(() => t.close());

  it('per client address: past the limit every protocol answers 429 with Retry-After, other addresses are untouched', async () => {
    const org = await t.seed();
    const attacker = '127.0.0.2';
    for (let i = 0; i < 5; i++) expect((await gqlFrom(attacker, url, generateApiKey())).status).toBe(401);

    const graphql = await gqlFrom(attacker, url, generateApiKey());
    expect(graphql.status).toBe(429);
    expect(Number(graphql.headers['retry-after'])).toBeGreaterThan(0);
    expect(graphql.body.errors[0]).toMatchObject({ extensions: { code: 'RATE_LIMITED', retryAfter: Number(graphql.headers['retry-after']) } });
    expect(graphql.body.data).toBeUndefined();
    // No key lookup at all while throttled: even a valid key (not yet seen) waits.
    expect((await gqlFrom(attacker, url, org.apiKey)).status).toBe(429);

    const rest = await httpFrom(attacker, url, { method: 'GET', path: '/v1/sources/', headers: { authorization: `Bearer ${generateApiKey()}` } });
    expect(rest.status).toBe(429);
    expect(Number(rest.headers['retry-after'])).toBeGreaterThan(0);
    expect(rest.body).toEqual({ detail: expect.stringContaining('Too many failed authentication attempts') });

    const ws = await wsInit(attacker, url, generateApiKey());
    expect(ws).toMatchObject({ acked: false, code: 4429 });
    expect(ws.reason).toMatch(/retry after \d+ s/);

    // Another client is not affected, and the valid key works from there (and, known valid, from anywhere).
    expect((await gqlFrom('127.0.0.3', url, generateApiKey())).status).toBe(401);
    expect((await gqlFrom('127.0.0.3', url, org.apiKey)).status).toBe(200);
    expect(await wsInit('127.0.0.3', url, org.apiKey)).toEqual({ acked: true });
  });

  it('per key prefix: failures with one prefix from many addresses are throttled, other prefixes are not', async () => {
    const prefix = `qk_${randomUUID().slice(0, 6)}`;
    const sameStart = () => prefix + generateApiKey().slice(prefix.length);
    for (let i = 0; i < 3; i++) expect((await gqlFrom(`127.0.1.${i + 1}`, url, sameStart())).status).toBe(401);
    const refused = await httpFrom('127.0.1.9', url, { method: 'GET', path: '/v1/sources/', headers: { authorization: `Bearer ${sameStart()}` } });
    expect(refused.status).toBe(429);
    expect(refused.headers['retry-after']).toBeDefined();
    expect((await gqlFrom('127.0.1.9', url, sameStart())).body.errors[0].extensions.code).toBe('RATE_LIMITED');
    expect((await wsInit('127.0.1.10', url, sameStart())).code).toBe(4429);
    expect((await gqlFrom('127.0.1.9', url, generateApiKey())).status).toBe(401);
  });
});

describe.skipIf(!redisUrl)('throttling shared through Redis', () => {
  it('failures counted by one replica throttle the client on another, under the deployment prefix', async () => {
    const log = createLogger('silent');
    const prefix = `quarry-test-${randomUUID().slice(0, 8)}`;
    const a = await createTestApp('pglite', {}, { ...throttled, REDIS_URL: redisUrl!, REDIS_PREFIX: prefix });
    // A second replica on the same database and Redis.
    const config = { ...testConfig, ...throttled, REDIS_URL: redisUrl!, REDIS_PREFIX: prefix };
    const redisB = openRedis(config, log)!;
    const b: App = buildApp({ config, db: a.db, log, ingest: a.ingest, callbacks: a.callbacks, events: a.events, redis: redisB });
    const probe = new Redis(redisUrl!);
    try {
      const urlA = (await a.app.listen(0)).url;
      const urlB = (await b.listen(0)).url;
      const client = '127.0.2.1';
      for (let i = 0; i < 3; i++) expect((await gqlFrom(client, urlA, generateApiKey())).status).toBe(401);
      for (let i = 0; i < 2; i++) expect((await gqlFrom(client, urlB, generateApiKey())).status).toBe(401);
      expect((await gqlFrom(client, urlB, generateApiKey())).status).toBe(429);
      expect((await gqlFrom(client, urlA, generateApiKey())).status).toBe(429);
      expect(await probe.get(`${prefix}:auth-failures:address:${client}`)).toBe('5');
    } finally {
      probe.disconnect();
      await b.stop();
      await redisB.close();
      await a.close();
    }
  });
});

const JOB_UPDATED = 'subscription($id: ID!) { jobUpdated(id: $id) { jobId status } }';

describe.each(databaseKinds())('revocation reaches open connections on %s', (kind) => {
  let t: TestApp;
  let url: string;
  beforeAll(async () => {
    // Other replicas learn of a revoke within AUTH_CACHE_TTL_MS: short here.
    t = await createTestApp(kind, {}, { AUTH_CACHE_TTL_MS: 300 });
    url = (await t.app.listen(0)).url;
  });
  afterAll(() => t.close());

  async function setup() {
    const tenant = await t.tenant();
    const mint = async (key: string, name: string) =>
      (await t.gqlOk(key, 'mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { key apiKey { id } } }', { input: { name } })).createApiKey as { key: string; apiKey: { id: string } };
    const parent = await mint(tenant.apiKey, 'parent');
    const child = await mint(parent.key, 'child');
    const job = await createJob(tenant.db, tenant.actor, { status: 'RUNNING' }, t);
    return { tenant, parent, child, job };
  }

  it('revoking a key (or the key that minted it) closes its WebSockets with 4403 and ends their subscriptions', async () => {
    const { tenant, parent, child, job } = await setup();
    const parentClient = wsClient(url, parent.key);
    const childClient = wsClient(url, child.key);
    const adminClient = wsClient(url, tenant.apiKey);
    try {
      const parentSub = subscribe(parentClient, JOB_UPDATED, { id: job.id }, 'parent');
      const childSub = subscribe(childClient, JOB_UPDATED, { id: job.id }, 'child');
      const adminSub = subscribe(adminClient, JOB_UPDATED, { id: job.id }, 'admin');
      await Promise.all([parentSub.count(1), childSub.count(1), adminSub.count(1)]);

      await t.gqlOk(tenant.apiKey, REVOKE, { id: parent.apiKey.id });
      await Promise.all([parentSub.end(), childSub.end()]);
      for (const sub of [parentSub, childSub]) expect(sub.failure).toMatchObject({ code: 4403 });
      // Other keys' connections go on.
      expect(adminSub.ended).toBe(false);
      await tenant.db.job.update({ where: { id: job.id }, data: { status: 'COMPLETED', completedAt: new Date() } });
      const { jobChange } = await import('../src/core/events.js');
      t.events.publish('job', tenant.organizationId, jobChange(await tenant.db.job.findUniqueOrThrow({ where: { id: job.id } })));
      await adminSub.until((s) => s.data.some((d) => d.jobUpdated.status === 'COMPLETED'), 'COMPLETED');
      expect(parentSub.results).toHaveLength(1);
    } finally {
      await Promise.all([parentClient.dispose(), childClient.dispose(), adminClient.dispose()]);
    }
  });

  it('a revoke made elsewhere (another replica) reaches an open WebSocket and an SSE stream within AUTH_CACHE_TTL_MS', async () => {
    const { tenant, parent, job } = await setup();
    // A raw graphql-ws connection: acknowledged, one subscription running.
    const socket = rawSocket(url);
    await socket.opened;
    socket.send({ type: 'connection_init', payload: { authorization: `Bearer ${parent.key}` } });
    await socket.message((m) => m.type === 'connection_ack');
    socket.send({ id: '1', type: 'subscribe', payload: { query: JOB_UPDATED, variables: { id: job.id } } });
    await socket.message((m) => m.id === '1' && m.type === 'next');
    const sse = sseClient(url, parent.key);
    const sseSub = subscribe(sse, JOB_UPDATED, { id: job.id }, 'sse');
    await sseSub.count(1);

    // Revoked straight in the database, as another replica would: this server's cache still trusts the key.
    const { revokeApiKey } = await import('../src/domain/api-keys.js');
    await revokeApiKey(tenant.db, tenant.actor, parent.apiKey.id);

    const closed = await socket.closed;
    expect(closed.code).toBe(4403);
    await sseSub.end();
    expect(sseSub.results.at(-1)?.errors?.[0]).toMatchObject({ extensions: { code: 'UNAUTHENTICATED' }, message: expect.stringContaining('revoked') });
    expect(sseSub.completed).toBe(true);
    // The key is refused from now on, and a new connection with it is refused at connection_init.
    expect((await t.gql(parent.key, '{ __typename }')).status).toBe(401);
    const again = rawSocket(url);
    await again.opened;
    again.send({ type: 'connection_init', payload: { authorization: `Bearer ${parent.key}` } });
    expect((await again.closed).code).toBe(4403);
    sse.dispose();
  });

  it('an open WebSocket whose key was revoked accepts no new operation', async () => {
    const { tenant, parent } = await setup();
    const socket = rawSocket(url);
    await socket.opened;
    socket.send({ type: 'connection_init', payload: { authorization: `Bearer ${parent.key}` } });
    await socket.message((m) => m.type === 'connection_ack');
    socket.send({ id: 'q1', type: 'subscribe', payload: { query: '{ __typename }' } });
    await socket.message((m) => m.id === 'q1' && m.type === 'next');
    await t.gqlOk(tenant.apiKey, REVOKE, { id: parent.apiKey.id });
    socket.send({ id: 'q2', type: 'subscribe', payload: { query: '{ me { apiKey { id } } }' } });
    expect((await socket.closed).code).toBe(4403);
    expect(socket.messages.filter((m) => m.id === 'q2' && m.type === 'next')).toEqual([]);
  });
});

describe('the client address the throttle counts by', () => {
  const req = (remoteAddress: string, forwarded?: string) => ({ socket: { remoteAddress }, headers: forwarded ? { 'x-forwarded-for': forwarded } : {} }) as never;

  it('is the peer, IPv4-mapped IPv6 as IPv4, IPv6 by its /64', () => {
    expect(clientAddress(req('203.0.113.7'))).toBe('203.0.113.7');
    expect(clientAddress(req('::ffff:203.0.113.7'))).toBe('203.0.113.7');
    expect(clientAddress(req('2001:db8:0:12:abcd::1'))).toBe('2001:db8:0:12::/64');
    expect(clientAddress(req('2001:db8::1'))).toBe('2001:db8:0:0::/64');
    expect(clientAddress(undefined)).toBe('in-process');
  });

  it('believes X-Forwarded-For only from TRUSTED_PROXIES, and only up to the first address it does not trust', () => {
    const proxies = proxyList(['10.0.0.0/8', '::1']);
    // Not from a trusted proxy: the header is ignored.
    expect(clientAddress(req('198.51.100.1', '203.0.113.9'), proxies)).toBe('198.51.100.1');
    expect(clientAddress(req('10.0.0.5', '203.0.113.9'))).toBe('10.0.0.5');
    // From one: the last hop it does not trust; what the client wrote further left is not believed.
    expect(clientAddress(req('10.0.0.5', '1.1.1.1, 203.0.113.9'), proxies)).toBe('203.0.113.9');
    expect(clientAddress(req('::1', '1.1.1.1, 203.0.113.9, 10.2.3.4'), proxies)).toBe('203.0.113.9');
    expect(clientAddress(req('10.0.0.5', 'garbage'), proxies)).toBe('10.0.0.5');
  });

  it('TRUSTED_PROXIES takes addresses and CIDR ranges, and nothing else', () => {
    expect(loadConfig({ TRUSTED_PROXIES: '10.0.0.0/8, 192.168.1.1,::1, fd00::/8' }, '/nonexistent').TRUSTED_PROXIES).toEqual(['10.0.0.0/8', '192.168.1.1', '::1', 'fd00::/8']);
    expect(loadConfig({}, '/nonexistent').TRUSTED_PROXIES).toEqual([]);
    for (const bad of ['example.com', '10.0.0.0/33', '10.0.0.1/8/2']) expect(() => loadConfig({ TRUSTED_PROXIES: bad }, '/nonexistent')).toThrow(/TRUSTED_PROXIES/);
  });
});
