import { readFile } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite/vector';
import { inject } from 'vitest';
import { openPostgres, wrapPGlite, type Database, type OpenOptions } from '../../src/core/db/index.js';
import { createOrganization, type NewOrganization } from '../../src/domain/organizations.js';

export type DatabaseKind = 'pglite' | 'postgres';

/** PGlite always; PostgreSQL too when DATABASE_URL is set (CI sets it). */
export function databaseKinds(): DatabaseKind[] {
  return inject('postgresUrl') ? ['pglite', 'postgres'] : ['pglite'];
}

/** PGlite: a clone of the migrated template, private to the caller. PostgreSQL: the shared, migrated test database. */
export async function openTestDatabase(kind: DatabaseKind, options: OpenOptions = {}): Promise<Database> {
  if (kind === 'postgres') return openPostgres(inject('postgresUrl')!, 5, options);
  const dump = await readFile(inject('pgliteTemplate'));
  const db = await PGlite.create({ loadDataDir: new Blob([dump]), extensions: { vector } });
  return wrapPGlite(db, options);
}

/** A fresh organization (admin user + key) per test: tests never see each other's rows, even on one database. */
export function seedOrganization(db: Database, name = `test-org-${randomUUID().slice(0, 8)}`): Promise<NewOrganization> {
  return createOrganization(db.prisma, { name });
}
