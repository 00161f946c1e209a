/**
 * Replicas started at the same moment on a fresh PostgreSQL database with QUARRY_API_KEY set: every one migrates
 * (the migration runner holds an advisory lock) and bootstraps (organization, admin and key in one transaction; the
 * key added idempotently), and all of them start. Each test makes a database of its own.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { hashApiKey } from '../src/core/auth.js';
import { openPostgres } from '../src/core/db/index.js';
import { migrate, readMigrations } from '../src/core/db/migrate.js';
import { bootstrap } from '../src/domain/organizations.js';
import { privateDatabase, type PrivateDatabase } from './support/db.js';
import { startQuarry } from './support/process.js';

const baseUrl = inject('postgresUrl');

/** A new, empty database beside the test database; dropped after the tests. */
async function freshDatabase(created: PrivateDatabase[]): Promise<string> {
  const own = await privateDatabase('quarry_race');
  created.push(own);
  return own.url;
}

describe.skipIf(!baseUrl)('concurrent bootstrap on a fresh PostgreSQL database', { timeout: 120_000 }, () => {
  const created: PrivateDatabase[] = [];
  afterAll(async () => {
    for (const own of created) await own.drop();
  });

  it('four replicas migrating and bootstrapping at once all succeed, with one default organization and one key row', async () => {
    const url = await freshDatabase(created);
    const key = `qk_race_${randomUUID()}`;
    const replicas = await Promise.all(Array.from({ length: 4 }, () => openPostgres(url, 2)));
    try {
      const results = await Promise.all(
        replicas.map(async (db) => {
          const migrated = await db.withRunner((runner) => migrate(runner));
          return { migrated, boot: await bootstrap(db.prisma, key) };
        }),
      );
      // Every migration applied exactly once, by one of them.
      const applied = results.flatMap((r) => r.migrated.applied);
      expect(applied.sort()).toEqual((await readMigrations()).map((m) => m.name).sort());
      expect(results.filter((r) => r.boot.kind === 'created')).toHaveLength(1);
      expect(results.filter((r) => r.boot.kind !== 'created').every((r) => r.boot.kind === 'existing')).toBe(true);
      const prisma = replicas[0].prisma;
      expect(await prisma.organization.count()).toBe(1);
      const keys = await prisma.apiKey.findMany({ select: { keyHash: true, role: true } });
      expect(keys).toEqual([{ keyHash: hashApiKey(key), role: 'SERVER_ADMIN' }]);
    } finally {
      await Promise.all(replicas.map((db) => db.close()));
    }
  });

  it('QUARRY_API_KEY added to an existing install by replicas at once: one key row', async () => {
    const url = await freshDatabase(created);
    const replicas = await Promise.all(Array.from({ length: 4 }, () => openPostgres(url, 2)));
    try {
      await replicas[0].withRunner((runner) => migrate(runner));
      expect((await bootstrap(replicas[0].prisma)).kind).toBe('created');
      const key = `qk_race_${randomUUID()}`;
      const kinds = await Promise.all(replicas.map((db) => bootstrap(db.prisma, key).then((r) => r.kind)));
      expect(kinds.filter((k) => k === 'key-added')).toHaveLength(1);
      expect(await replicas[0].prisma.apiKey.count({ where: { keyHash: hashApiKey(key) } })).toBe(1);
    } finally {
      await Promise.all(replicas.map((db) => db.close()));
    }
  });

  it('two server processes started together on a fresh database both serve, with the one key', async () => {
    const url = await freshDatabase(created);
    const key = `qk_race_${randomUUID()}`;
    const env = { DATABASE_URL: url, QUARRY_API_KEY: key, MIGRATE_ON_START: 'true' };
    const started = await Promise.allSettled([startQuarry(env), startQuarry(env)]);
    try {
      for (const s of started) expect(s.status, s.status === 'rejected' ? String(s.reason) : '').toBe('fulfilled');
      for (const s of started) {
        if (s.status !== 'fulfilled') continue;
        const response = await fetch(`${s.value.url}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
          body: JSON.stringify({ query: '{ me { apiKey { role } } }' }),
        });
        expect(await response.json()).toEqual({ data: { me: { apiKey: { role: 'SERVER_ADMIN' } } } });
      }
    } finally {
      await Promise.all(started.map((s) => (s.status === 'fulfilled' ? s.value.stop() : null)));
    }
    const db = await openPostgres(url, 1);
    try {
      expect(await db.prisma.apiKey.count()).toBe(1);
    } finally {
      await db.close();
    }
  });
});
