/**
 * Hardening of authentication: key roles and minting, transitive revocation, authentication before any body
 * is read or document parsed, throttling of failed attempts, and revocation reaching open connections.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './support/app.js';
import { databaseKinds } from './support/db.js';

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
