import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { displayPrefix, generateApiKey, hashApiKey } from '../src/core/auth.js';
import { scopedPrisma } from '../src/core/tenancy.js';
import { createTestApp, type TestApp } from './support/app.js';
import { databaseKinds } from './support/db.js';

describe.each(databaseKinds())('authentication and tenancy on %s', (kind) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(kind);
  });
  afterAll(() => t.close());

  it('rejects a missing or unknown key with 401 UNAUTHENTICATED', async () => {
    for (const key of [null, 'qk_not-a-real-key', '']) {
      const result = await t.gql(key, '{ __typename }');
      expect(result.status).toBe(401);
      expect(result.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
      expect(result.data).toBeUndefined();
    }
  });

  it('accepts the key as Authorization: Bearer and as X-API-Key', async () => {
    const org = await t.seed();
    const bearer = await t.gqlOk(org.apiKey, '{ me { user { id } organization { id } } }');
    expect(bearer.me).toEqual({ user: { id: org.userId }, organization: { id: org.organizationId } });
    const response = await t.app.yoga.fetch('http://quarry/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': org.apiKey },
      body: JSON.stringify({ query: '{ me { user { id } } }' }),
    });
    expect(await response.json()).toEqual({ data: { me: { user: { id: org.userId } } } });
  });

  it('stores only a hash of each key', async () => {
    const org = await t.seed();
    const rows = await t.db.prisma.apiKey.findMany({ where: { organizationId: org.organizationId } });
    expect(rows).toHaveLength(1);
    expect(rows[0].keyHash).toBe(hashApiKey(org.apiKey));
    expect(JSON.stringify(rows)).not.toContain(org.apiKey);
    expect(rows[0].prefix).toBe(displayPrefix(org.apiKey));
  });

  it('creates a key that works, and revoking it stops it at once', async () => {
    const org = await t.seed();
    const created = await t.gqlOk(org.apiKey, 'mutation { createApiKey(input: { name: "ci" }) { key apiKey { id name active prefix } } }');
    const { key, apiKey } = created.createApiKey;
    expect(apiKey).toMatchObject({ name: 'ci', active: true, prefix: key.slice(0, 9) });
    expect((await t.gqlOk(key, '{ me { apiKey { id } } }')).me.apiKey.id).toBe(apiKey.id);

    const revoked = await t.gqlOk(org.apiKey, 'mutation($id: ID!) { revokeApiKey(id: $id) { id active revokedAt } }', { id: apiKey.id });
    expect(revoked.revokeApiKey).toMatchObject({ id: apiKey.id, active: false });
    expect((await t.gql(key, '{ __typename }')).status).toBe(401);
    // Revoking again is a no-op.
    const again = await t.gqlOk(org.apiKey, 'mutation($id: ID!) { revokeApiKey(id: $id) { revokedAt } }', { id: apiKey.id });
    expect(again.revokeApiKey.revokedAt).toBe(revoked.revokeApiKey.revokedAt);
  });

  it('rejects an expired key and an expiry in the past', async () => {
    const org = await t.seed();
    const past = await t.gql(org.apiKey, 'mutation { createApiKey(input: { name: "old", expiresAt: "2001-01-01T00:00:00Z" }) { key } }');
    expect(past.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'expiresAt' });
    const key = generateApiKey();
    await t.db.prisma.apiKey.create({
      data: { organizationId: org.organizationId, userId: org.userId, name: 'expired', prefix: displayPrefix(key), keyHash: hashApiKey(key), expiresAt: new Date(Date.now() - 1000) },
    });
    expect((await t.gql(key, '{ __typename }')).status).toBe(401);
  });

  it('validates input: an empty key name is BAD_USER_INPUT and creates nothing', async () => {
    const org = await t.seed();
    const result = await t.gql(org.apiKey, 'mutation { createApiKey(input: { name: "" }) { key } }');
    expect(result.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    expect(await t.db.prisma.apiKey.count({ where: { organizationId: org.organizationId } })).toBe(1);
  });

  it('lets a member revoke only their own keys', async () => {
    const org = await t.seed();
    const member = await t.db.prisma.user.create({ data: { organizationId: org.organizationId, name: 'member', role: 'MEMBER' } });
    const memberKey = generateApiKey();
    await t.db.prisma.apiKey.create({
      data: { organizationId: org.organizationId, userId: member.id, name: 'm', prefix: displayPrefix(memberKey), keyHash: hashApiKey(memberKey) },
    });
    const adminKeyId = (await t.gqlOk(org.apiKey, '{ me { apiKey { id } } }')).me.apiKey.id;
    const denied = await t.gql(memberKey, 'mutation($id: ID!) { revokeApiKey(id: $id) { id } }', { id: adminKeyId });
    expect(denied.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    expect((await t.gqlOk(memberKey, '{ me { apiKeys { id } } }')).me.apiKeys).toHaveLength(1);
    expect((await t.gqlOk(org.apiKey, '{ me { apiKeys { id } } }')).me.apiKeys).toHaveLength(2);
  });

  it("treats another organization's ids exactly like missing ones", async () => {
    const a = await t.seed();
    const b = await t.seed();
    const bKeyId = (await t.gqlOk(b.apiKey, '{ me { apiKey { id } } }')).me.apiKey.id;
    const missing = 'apikey-00000000-0000-4000-8000-000000000000';
    for (const id of [bKeyId, missing]) {
      expect(await t.gqlOk(a.apiKey, 'query($id: ID!) { node(id: $id) { id } }', { id })).toEqual({ node: null });
      const revoke = await t.gql(a.apiKey, 'mutation($id: ID!) { revokeApiKey(id: $id) { id } }', { id });
      expect(revoke.errors?.[0]).toMatchObject({ message: `ApiKey ${id} not found`, extensions: { code: 'NOT_FOUND' } });
    }
    const nodes = await t.gqlOk(a.apiKey, 'query($ids: [ID!]!) { nodes(ids: $ids) { id } }', { ids: [b.userId, b.organizationId, a.userId] });
    expect(nodes.nodes).toEqual([null, null, { id: a.userId }]);
    // B's key still works: A's failed revoke changed nothing.
    expect((await t.gql(b.apiKey, '{ __typename }')).status).toBe(200);
  });

  it('rejects malformed ids with BAD_USER_INPUT', async () => {
    const org = await t.seed();
    const result = await t.gql(org.apiKey, '{ node(id: "not-an-id") { id } }');
    expect(result.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('scopes every Prisma operation to the organization in one place', async () => {
    const a = await t.seed();
    const b = await t.seed();
    const db = scopedPrisma(t.db.prisma, a.organizationId);
    expect(await db.user.findUnique({ where: { id: b.userId } })).toBeNull();
    expect(await db.user.findMany()).toHaveLength(1);
    expect(await db.organization.findMany()).toEqual([expect.objectContaining({ id: a.organizationId })]);
    expect(await db.organization.findUnique({ where: { id: b.organizationId } })).toBeNull();
    expect(await db.user.findMany({ where: { organizationId: b.organizationId } })).toEqual([]);
    expect((await db.user.updateMany({ where: { id: b.userId }, data: { name: 'x' } })).count).toBe(0);
    expect((await db.user.deleteMany({})).count).toBe(1);
    await expect(db.user.update({ where: { id: b.userId }, data: { name: 'x' } })).rejects.toMatchObject({ code: 'P2025' });
    // Creates are forced into the scope's organization, whatever the caller passes.
    const created = await db.user.create({ data: { organizationId: b.organizationId, name: 'sneaky' } });
    expect(created.organizationId).toBe(a.organizationId);
    expect(await t.db.prisma.user.count({ where: { organizationId: b.organizationId } })).toBe(1);
  });
});
