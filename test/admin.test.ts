import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOrganization, type NewOrganization } from '../src/domain/organizations.js';
import { createTestApp, type TestApp } from './support/app.js';
import { databaseKinds } from './support/db.js';

const code = (result: { errors?: { extensions?: Record<string, any> }[] }) => result.errors?.[0]?.extensions?.code;

const CREATE_USER = 'mutation($input: CreateUserInput!) { createUser(input: $input) { id name role organization { id } } }';
const CREATE_USER_KEY = 'mutation($input: CreateUserApiKeyInput!) { createUserApiKey(input: $input) { key apiKey { id role mintedBy { id } user { id } } } }';
const USERS = 'query($org: ID) { users(organizationId: $org, first: 50) { totalCount edges { node { id name role disabledAt } } } }';
const KEYS = 'query($org: ID, $user: ID) { apiKeys(organizationId: $org, userId: $user, first: 50) { totalCount edges { node { id role lastUsedAt user { id } } } } }';

describe.each(databaseKinds())('administration on %s', (kind) => {
  let t: TestApp;
  let server: NewOrganization; // a server admin (SERVER_ADMIN), in an organization of its own
  beforeAll(async () => {
    t = await createTestApp(kind);
    server = await createOrganization(t.db.prisma, { name: `server-${kind}`, adminRole: 'SERVER_ADMIN' });
  });
  afterAll(() => t.close());

  /** A member of `org` and that member's key, made through the API by the organization's admin. */
  async function member(org: NewOrganization, role = 'MEMBER') {
    const user = (await t.gqlOk(org.apiKey, CREATE_USER, { input: { name: `${role.toLowerCase()}-user`, role } })).createUser;
    const { key } = (await t.gqlOk(org.apiKey, CREATE_USER_KEY, { input: { userId: user.id, name: 'k' } })).createUserApiKey;
    return { userId: user.id as string, key: key as string };
  }

  it('a server admin creates and lists organizations, and users and keys in any of them', async () => {
    const created = (
      await t.gqlOk(server.apiKey, 'mutation { createOrganization(input: { name: "acme", adminName: "ann", adminEmail: "ann@acme.test" }) { key organization { id name } admin { id name email role } apiKey { id role } } }')
    ).createOrganization;
    expect(created.admin).toMatchObject({ name: 'ann', email: 'ann@acme.test', role: 'ADMIN' });
    expect(created.apiKey.role).toBe('ADMIN');
    const orgId = created.organization.id;
    // The key shown once works, in the new organization.
    expect((await t.gqlOk(created.key, '{ me { organization { id name } } }')).me.organization).toEqual({ id: orgId, name: 'acme' });

    // Every page, oldest first (the shared PostgreSQL test database holds many organizations).
    const seen: string[] = [];
    let page: any;
    do {
      page = (await t.gqlOk(server.apiKey, 'query($after: String) { organizations(first: 100, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { node { id name } } } }', { after: page?.pageInfo.endCursor ?? null })).organizations;
      seen.push(...page.edges.map((e: any) => e.node.id));
    } while (page.pageInfo.hasNextPage);
    expect(seen).toContain(orgId);
    expect(seen).toContain(server.organizationId);
    expect(page.totalCount).toBeGreaterThanOrEqual(2);

    const user = (await t.gqlOk(server.apiKey, CREATE_USER, { input: { organizationId: orgId, name: 'bob', role: 'MEMBER' } })).createUser;
    expect(user.organization.id).toBe(orgId);
    const issued = (await t.gqlOk(server.apiKey, CREATE_USER_KEY, { input: { userId: user.id, name: 'bob-key' } })).createUserApiKey;
    expect(issued.apiKey).toMatchObject({ role: 'MEMBER', mintedBy: null, user: { id: user.id } });
    expect((await t.gqlOk(issued.key, '{ me { user { id } organization { id } } }')).me).toEqual({ user: { id: user.id }, organization: { id: orgId } });

    const users = (await t.gqlOk(server.apiKey, USERS, { org: orgId })).users;
    expect(users.totalCount).toBe(2);
    const keys = (await t.gqlOk(server.apiKey, KEYS, { org: orgId, user: user.id })).apiKeys;
    expect(keys.edges.map((e: any) => e.node.id)).toEqual([issued.apiKey.id]);

    // The server admin rotates and revokes keys of another organization too.
    const rotated = (await t.gqlOk(server.apiKey, 'mutation($id: ID!) { rotateApiKey(id: $id) { key apiKey { id } } }', { id: issued.apiKey.id })).rotateApiKey;
    expect((await t.gql(issued.key, '{ me { user { id } } }')).status).toBe(401);
    await t.gqlOk(server.apiKey, 'mutation($id: ID!) { revokeApiKey(id: $id) { id revokedAt } }', { id: rotated.apiKey.id });
    expect((await t.gql(rotated.key, '{ me { user { id } } }')).status).toBe(401);
  });

  it('an organization admin administers its own organization and never reaches another', async () => {
    const mine = await t.seed();
    const other = await t.seed();
    const theirMember = await member(other);
    const theirKeyId = (await t.gqlOk(theirMember.key, '{ me { apiKey { id } } }')).me.apiKey.id;

    const { userId, key } = await member(mine);
    expect((await t.gqlOk(key, '{ me { user { id } } }')).me.user.id).toBe(userId);
    const users = (await t.gqlOk(mine.apiKey, USERS, {})).users;
    expect(users.edges.map((e: any) => e.node.id).sort()).toEqual([mine.userId, userId].sort());
    expect((await t.gqlOk(mine.apiKey, KEYS, {})).apiKeys.totalCount).toBe(2);

    // Another organization: its ids behave as missing ones; organizations are the server admin's.
    for (const [query, variables] of [
      [USERS, { org: other.organizationId }],
      [KEYS, { org: other.organizationId }],
      [CREATE_USER, { input: { organizationId: other.organizationId, name: 'intruder' } }],
      [CREATE_USER_KEY, { input: { userId: theirMember.userId, name: 'stolen' } }],
      ['mutation($id: ID!) { disableUser(id: $id) { id } }', { id: theirMember.userId }],
      ['mutation($id: ID!) { rotateApiKey(id: $id) { key } }', { id: theirKeyId }],
      ['mutation($id: ID!) { revokeApiKey(id: $id) { id } }', { id: theirKeyId }],
    ] as const) {
      const result = await t.gql(mine.apiKey, query, variables);
      expect(code(result), query).toBe('NOT_FOUND');
    }
    expect(code(await t.gql(mine.apiKey, '{ organizations(first: 5) { totalCount } }'))).toBe('FORBIDDEN');
    expect(code(await t.gql(mine.apiKey, 'mutation { createOrganization(input: { name: "x" }) { key } }'))).toBe('FORBIDDEN');
    // Their member's key still works: nothing was touched.
    expect((await t.gqlOk(theirMember.key, '{ me { user { id } } }')).me.user.id).toBe(theirMember.userId);
  });

  it('lower roles cannot mint, create or administer higher ones', async () => {
    const org = await t.seed();
    expect(code(await t.gql(org.apiKey, CREATE_USER, { input: { name: 'boss', role: 'SERVER_ADMIN' } }))).toBe('FORBIDDEN');
    const { userId, key } = await member(org);
    expect(code(await t.gql(key, 'mutation { createApiKey(input: { name: "up", role: ADMIN }) { key } }'))).toBe('FORBIDDEN');
    expect(code(await t.gql(key, USERS, {}))).toBe('FORBIDDEN');
    expect(code(await t.gql(key, CREATE_USER, { input: { name: 'x' } }))).toBe('FORBIDDEN');
    expect(code(await t.gql(key, CREATE_USER_KEY, { input: { userId: org.userId, name: 'admin-key' } }))).toBe('FORBIDDEN');
    expect(code(await t.gql(key, 'mutation($id: ID!) { rotateApiKey(id: $id) { key } }', { id: org.apiKeyId }))).toBe('FORBIDDEN');
    // A member's own keys are its to make, of its role or lower.
    const own = (await t.gqlOk(key, CREATE_USER_KEY, { input: { userId, name: 'mine', role: 'READER' } })).createUserApiKey;
    expect(own.apiKey.role).toBe('READER');
    // An admin cannot give a member an admin key.
    expect(code(await t.gql(org.apiKey, CREATE_USER_KEY, { input: { userId, name: 'too-high', role: 'ADMIN' } }))).toBe('BAD_USER_INPUT');
  });

  it('a read-only key reads but cannot run any mutation (GraphQL) or mutating route (REST)', async () => {
    const org = await t.seed();
    const reader = await member(org, 'READER');
    await t.gqlOk(org.apiKey, 'mutation { createSource(input: { name: "docs" }) { source { id } } }');
    const sources = await t.gqlOk(reader.key, '{ sources(first: 5) { edges { node { name } } } }');
    expect(sources.sources.edges).toEqual([{ node: { name: 'docs' } }]);
    for (const mutation of [
      'mutation { createSource(input: { name: "nope" }) { source { id } } }',
      'mutation { createApiKey(input: { name: "more" }) { key } }',
      `mutation { rotateApiKey(id: "${org.apiKeyId}") { key } }`,
    ]) {
      const result = await t.gql(reader.key, mutation);
      expect(code(result), mutation).toBe('FORBIDDEN');
      expect(result.errors?.[0].message).toMatch(/read-only/);
    }
    const { url } = await t.app.listen(0, '127.0.0.1');
    const rest = (method: string, path: string, body?: unknown) =>
      fetch(`${url}/v1${path}`, { method, headers: { authorization: `Bearer ${reader.key}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    expect((await rest('GET', '/sources')).status).toBe(200);
    const refused = await rest('POST', '/sources', { name: 'nope' });
    expect(refused.status).toBe(403);
    expect((await refused.json()).detail).toMatch(/read-only/);
    expect((await rest('DELETE', `/sources/source-00000000-0000-4000-8000-000000000000`)).status).toBe(403);
    expect(await t.db.prisma.source.count({ where: { organizationId: org.organizationId } })).toBe(1);
  });

  it('disabling a user stops its keys at once here and within the cache lifetime on another replica; enabling restores them', async () => {
    const org = await t.seed();
    const { userId, key } = await member(org);
    // Another replica on the same database, with a short authentication cache, has seen the key.
    const replica = await createTestApp(kind, {}, { AUTH_CACHE_TTL_MS: 300 }, { database: t.db, workers: false });
    try {
      expect((await replica.gql(key, '{ me { user { id } } }')).status).toBe(200);
      const disabled = (await t.gqlOk(org.apiKey, 'mutation($id: ID!) { disableUser(id: $id) { id disabledAt } }', { id: userId })).disableUser;
      expect(disabled.disabledAt).toBeTruthy();
      expect((await t.gql(key, '{ me { user { id } } }')).status).toBe(401);
      await new Promise((resolve) => setTimeout(resolve, 400));
      expect((await replica.gql(key, '{ me { user { id } } }')).status).toBe(401);
      expect(code(await t.gql(org.apiKey, CREATE_USER_KEY, { input: { userId, name: 'while-disabled' } }))).toBe('CONFLICT');
      expect(code(await t.gql(org.apiKey, 'mutation($id: ID!) { disableUser(id: $id) { id } }', { id: org.userId }))).toBe('BAD_USER_INPUT');
      await t.gqlOk(org.apiKey, 'mutation($id: ID!) { enableUser(id: $id) { id } }', { id: userId });
      expect((await t.gql(key, '{ me { user { id } } }')).status).toBe(200);
    } finally {
      await replica.app.stop();
      await replica.ingest.stop();
    }
  });

  it('rotating a key shows a new secret once, revokes the old one and keeps the keys it minted', async () => {
    const org = await t.seed();
    const child = (await t.gqlOk(org.apiKey, 'mutation { createApiKey(input: { name: "child" }) { key apiKey { id } } }')).createApiKey;
    const rotated = (await t.gqlOk(org.apiKey, 'mutation($id: ID!) { rotateApiKey(id: $id) { key apiKey { id name role prefix } } }', { id: org.apiKeyId })).rotateApiKey;
    expect(rotated.key).not.toBe(org.apiKey);
    expect(rotated.apiKey).toMatchObject({ name: 'initial', role: 'ADMIN', prefix: rotated.key.slice(0, 9) });
    expect((await t.gql(org.apiKey, '{ me { user { id } } }')).status).toBe(401);
    expect((await t.gqlOk(rotated.key, '{ me { user { id } } }')).me.user.id).toBe(org.userId);
    const minted = (await t.gqlOk(child.key, '{ me { apiKey { id mintedBy { id } } } }')).me.apiKey;
    expect(minted).toEqual({ id: child.apiKey.id, mintedBy: { id: rotated.apiKey.id } });
    expect(code(await t.gql(rotated.key, 'mutation($id: ID!) { rotateApiKey(id: $id) { key } }', { id: org.apiKeyId }))).toBe('CONFLICT');
  });

  it('keeps lastUsedAt, written at most once a minute', async () => {
    const uncached = await createTestApp(kind, {}, { AUTH_CACHE_TTL_MS: 0 }, { database: t.db, workers: false });
    try {
      const org = await t.seed();
      const lastUsed = async () => (await t.db.prisma.apiKey.findUniqueOrThrow({ where: { id: org.apiKeyId } })).lastUsedAt;
      expect(await lastUsed()).toBeNull();
      await uncached.gqlOk(org.apiKey, '{ me { user { id } } }');
      let first: Date | null = null;
      for (let i = 0; i < 50 && !first; i++) {
        first = await lastUsed();
        if (!first) await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(first).toBeInstanceOf(Date);
      for (let i = 0; i < 5; i++) await uncached.gqlOk(org.apiKey, '{ me { user { id } } }');
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect((await lastUsed())?.getTime()).toBe(first!.getTime());
      const listed = (await t.gqlOk(org.apiKey, KEYS, {})).apiKeys.edges[0].node;
      expect(new Date(listed.lastUsedAt).getTime()).toBe(first!.getTime());
    } finally {
      await uncached.app.stop();
      await uncached.ingest.stop();
    }
  });
});
