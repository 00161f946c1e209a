/**
 * Runs once before all test files:
 * - builds a migrated in-memory PGlite and dumps it, so each test file clones it instead of migrating (~0.5 s vs ~2.5 s);
 * - when DATABASE_URL is set, migrates that PostgreSQL database; when REDIS_URL is set, checks Redis answers.
 * A configured service that does not answer fails the run: it is never silently skipped.
 */
import { writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite/vector';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { migrate } from '../src/core/db/migrate.js';
import { pgClientRunner, pgliteRunner } from '../src/core/db/sql.js';

declare module 'vitest' {
  export interface ProvidedContext {
    pgliteTemplate: string;
    postgresUrl: string | null;
    redisUrl: string | null;
  }
}

export default async function setup(project: TestProject) {
  const template = await PGlite.create({ extensions: { vector } });
  await migrate(pgliteRunner(template));
  const dump = await template.dumpDataDir('none');
  const file = path.join(os.tmpdir(), `quarry-test-template-${process.pid}.tar`);
  await writeFile(file, Buffer.from(await dump.arrayBuffer()));
  await template.close();
  project.provide('pgliteTemplate', file);

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
    } finally {
      await client.end();
    }
  }
  project.provide('postgresUrl', postgresUrl);

  const redisUrl = process.env.REDIS_URL ?? null;
  if (redisUrl) await pingRedis(redisUrl);
  project.provide('redisUrl', redisUrl);
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
