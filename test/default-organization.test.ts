/**
 * The default organization an install creates on first start: its id is random per install (two installs sharing a
 * Redis never share an organization channel), and it is found again by its mark, including in an install made when
 * its id was the fixed `org-00000000-…`.
 */
import { describe, expect, it } from 'vitest';
import { hashApiKey } from '../src/core/auth.js';
import { migrate, readMigrations } from '../src/core/db/migrate.js';
import { bootstrap } from '../src/domain/organizations.js';
import { openTestDatabase } from './support/db.js';

const LEGACY_ORG_ID = 'org-00000000-0000-4000-8000-000000000000';
const LEGACY_USER_ID = 'user-00000000-0000-4000-8000-000000000000';

describe('the default organization', () => {
  it('gets a random id per install, and the same one on every later start', async () => {
    const installs = await Promise.all([openTestDatabase('pglite'), openTestDatabase('pglite')]);
    try {
      const ids: string[] = [];
      for (const db of installs) {
        expect((await bootstrap(db.prisma)).kind).toBe('created');
        const orgs = await db.prisma.organization.findMany({ where: { isDefault: true }, select: { id: true, name: true } });
        expect(orgs).toHaveLength(1);
        expect(orgs[0].name).toBe('default_org');
        expect(orgs[0].id).toMatch(/^org-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
        ids.push(orgs[0].id);
        // A later start finds it: no second default organization.
        expect((await bootstrap(db.prisma)).kind).toBe('existing');
        expect(await db.prisma.organization.count({ where: { isDefault: true } })).toBe(1);
      }
      expect(ids[0]).not.toBe(ids[1]);
      expect(ids).not.toContain(LEGACY_ORG_ID);
      // The admin user's id is random too.
      const users = await Promise.all(installs.map((db) => db.prisma.user.findFirstOrThrow({ where: { organizationId: { in: ids } } })));
      expect(users[0].id).not.toBe(users[1].id);
    } finally {
      await Promise.all(installs.map((db) => db.close()));
    }
  }, 60_000);

  it('an install made when the id was fixed keeps its default organization (QUARRY_API_KEY goes to its admin)', async () => {
    const flag = (await readMigrations()).find((m) => m.name.endsWith('_default_organization_flag'))!;
    expect(flag).toBeDefined();
    const db = await openTestDatabase('pglite');
    try {
      // The database as it was before that migration, with what the old bootstrap wrote.
      await db.withRunner((runner) =>
        runner.exec(`
          DROP INDEX "Organization_isDefault_key";
          ALTER TABLE "Organization" DROP COLUMN "isDefault";
          DELETE FROM "_prisma_migrations" WHERE migration_name = '${flag.name}';
          INSERT INTO "Organization" (id, name, "updatedAt") VALUES ('${LEGACY_ORG_ID}', 'default_org', now());
          INSERT INTO "User" (id, "organizationId", name, role, "updatedAt") VALUES ('${LEGACY_USER_ID}', '${LEGACY_ORG_ID}', 'default_user', 'ADMIN', now());
          INSERT INTO "Organization" (id, name, "updatedAt") VALUES ('org-11111111-1111-4111-8111-111111111111', 'another', now());
        `),
      );
      expect((await db.withRunner((runner) => migrate(runner))).applied).toEqual([flag.name]);
      const key = 'configured-key-0123456789abcdef';
      expect((await bootstrap(db.prisma, key)).kind).toBe('key-added');
      expect(await db.prisma.organization.findMany({ where: { isDefault: true }, select: { id: true } })).toEqual([{ id: LEGACY_ORG_ID }]);
      const stored = await db.prisma.apiKey.findUniqueOrThrow({ where: { keyHash: hashApiKey(key) } });
      expect(stored).toMatchObject({ organizationId: LEGACY_ORG_ID, userId: LEGACY_USER_ID });
      expect((await bootstrap(db.prisma, key)).kind).toBe('existing');
    } finally {
      await db.close();
    }
  }, 60_000);
});
