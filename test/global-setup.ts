/**
 * Runs once before all test files:
 * - makes sure the migrated PGlite template exists (the one `npm start` uses), so each test clones it instead of
 *   running initdb and migrations;
 * - when DATABASE_URL is set, migrates that PostgreSQL database and one database per test worker beside it (files run
 *   in parallel: each worker's files get a database no other file uses at the same time, see support/db.ts);
 * - when REDIS_URL is set, checks Redis answers.
 * A configured service that does not answer fails the run: it is never silently skipped.
 */
import { cp, rm, writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite/vector';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { migrate } from '../src/core/db/migrate.js';
import { buildTemplate } from '../src/core/db/pglite-template.js';
import { pgClientRunner } from '../src/core/db/sql.js';
import { workerDatabaseUrl } from './support/worker-database.js';

declare module 'vitest' {
  export interface ProvidedContext {
    pgliteTemplate: string;
    postgresUrl: string | null;
    redisUrl: string | null;
  }
}

export default async function setup(project: TestProject) {
  // Each test file loads this dump into an in-memory PGlite instead of running initdb and migrations.
  const dump = path.join(os.tmpdir(), `quarry-test-template-${process.pid}.tar`);
  const scratch = `${dump}.d`;
  await cp(await buildTemplate(), scratch, { recursive: true });
  const template = await PGlite.create({ dataDir: scratch, extensions: { vector } });
  await writeFile(dump, Buffer.from(await (await template.dumpDataDir('none')).arrayBuffer()));
  await template.close();
  await rm(scratch, { recursive: true, force: true });
  project.provide('pgliteTemplate', dump);

  const postgresUrl = process.env.DATABASE_URL ?? null;
  if (postgresUrl) {
    const client = new pg.Client({ connectionString: postgresUrl });
    try {
      await client.connect();
    } catch (error) {
      throw new Error(`DATABASE_URL is set but PostgreSQL does not answer (${(error as Error).message})`);
    }
    try {
      await migrate(pgClientRunner(client));
      for (let worker = 1; worker <= project.config.maxWorkers; worker++) await migrateWorkerDatabase(client, postgresUrl, worker);
    } finally {
      await client.end();
    }
  }
  project.provide('postgresUrl', postgresUrl);

  const redisUrl = process.env.REDIS_URL ?? null;
  if (redisUrl) await pingRedis(redisUrl);
  project.provide('redisUrl', redisUrl);
}

/** Creates (once; it is kept between runs, as the main test database is) and migrates a worker's database. */
async function migrateWorkerDatabase(admin: pg.Client, postgresUrl: string, worker: number) {
  const url = workerDatabaseUrl(postgresUrl, worker);
  const name = new URL(url).pathname.slice(1);
  const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
  if (!exists.rowCount) await admin.query(`CREATE DATABASE "${name}"`);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await migrate(pgClientRunner(client));
  } finally {
    await client.end();
  }
}

function pingRedis(url: string): Promise<void> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: hostname, port: Number(port || 6379) }, () => socket.write('PING\r\n'));
    socket.setTimeout(3000, () => socket.destroy(new Error('timeout')));
    socket.once('data', (data) => {
      socket.end();
      if (data.toString().startsWith('+PONG')) resolve();
      else reject(new Error(`REDIS_URL is set but Redis answered ${JSON.stringify(data.toString())}`));
    });
    socket.once('error', (error) => reject(new Error(`REDIS_URL is set but Redis does not answer (${error.message})`)));
  });
}
