import { readFile } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { vector } from '@electric-sql/pglite/vector';
import { inject } from 'vitest';
import { openPostgres, wrapPGlite, type Database, type OpenOptions } from '../../src/core/db/index.js';
import { createOrganization, type NewOrganization } from '../../src/domain/organizations.js';
import { workerDatabaseUrl } from './worker-database.js';

export type DatabaseKind = 'pglite' | 'postgres';

/** PGlite always; PostgreSQL too when DATABASE_URL is set (CI sets it). */
export function databaseKinds(): DatabaseKind[] {
  return inject('postgresUrl') ? ['pglite', 'postgres'] : ['pglite'];
}

/**
 * The migrated PostgreSQL test database of this worker (support/worker-database.ts): no other test file uses it while
 * this one runs, though earlier files' rows remain.
 */
export function testPostgresUrl(): string {
  const server = inject('postgresUrl');
  if (!server) throw new Error('no PostgreSQL: DATABASE_URL is not set');
  return workerDatabaseUrl(server, Number(process.env.VITEST_POOL_ID ?? 1));
}

/** PGlite: a clone of the migrated template, private to the caller. PostgreSQL: this worker's migrated test database. */
export async function openTestDatabase(kind: DatabaseKind, options: OpenOptions = {}): Promise<Database> {
  if (kind === 'postgres') return openPostgres(testPostgresUrl(), 5, options);
  const dump = await readFile(inject('pgliteTemplate'));
  const db = await PGlite.create({ loadDataDir: new Blob([dump]), extensions: { vector } });
  return wrapPGlite(db, options);
}

export interface PrivateDatabase {
  name: string;
  /** DATABASE_URL for it: the test server's, with this database's name. */
  url: string;
  /** Drops it, closing any connection still open to it. */
  drop(): Promise<void>;
}

/**
 * An empty PostgreSQL database of its own beside the test database (needs DATABASE_URL): for tests whose processes
 * sweep or migrate the whole database, so no other test file's rows are in the way (and none of theirs left behind).
 */
export async function privateDatabase(prefix = 'quarry_own'): Promise<PrivateDatabase> {
  const server = inject('postgresUrl');
  if (!server) throw new Error('privateDatabase needs DATABASE_URL');
  const name = `${prefix}_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  const admin = async (sql: string) => {
    const client = new pg.Client({ connectionString: server });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await admin(`CREATE DATABASE ${name}`);
  const url = new URL(server);
  url.pathname = `/${name}`;
  return { name, url: url.toString(), drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

/** A fresh organization (admin user + key) per test: tests never see each other's rows, even on one database. */
export function seedOrganization(db: Database, name = `test-org-${randomUUID().slice(0, 8)}`): Promise<NewOrganization> {
  return createOrganization(db.prisma, { name });
}

/** A file's LIVE passage set (created on first use), as a completed processing leaves it: for tests that write passages by hand. */
export async function liveSetOf(prisma: Pick<Database['prisma'], 'passageSet'>, organizationId: string, fileId: string): Promise<string> {
  const existing = await prisma.passageSet.findFirst({ where: { fileId, state: 'LIVE' }, select: { id: true } });
  if (existing) return existing.id;
  return (await prisma.passageSet.create({ data: { organizationId, fileId, state: 'LIVE' }, select: { id: true } })).id;
}

/** Sets a file's text as its processing would (one piece in its LIVE set). */
export async function setFileText(prisma: Database['prisma'], organizationId: string, fileId: string, text: string): Promise<void> {
  const setId = await liveSetOf(prisma, organizationId, fileId);
  await prisma.fileContent.deleteMany({ where: { setId } });
  await prisma.fileContent.create({ data: { organizationId, fileId, setId, seq: 0, text } });
}
