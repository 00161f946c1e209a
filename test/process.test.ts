import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { privateDatabase } from './support/db.js';
import { startQuarry, startWorker } from './support/process.js';

async function query(url: string, key: string, q: string, variables?: object) {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ query: q, variables }),
  });
  return { status: response.status, body: await response.json() };
}

// Each test starts real Quarry processes (one to three): on a loaded 2-core machine one start alone can take 20 s.
describe('npm start on the embedded database', { timeout: 120_000 }, () => {
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'quarry-data-'));
  });
  afterAll(() => rm(dataDir, { recursive: true, force: true }));

  it('creates the default organization, prints its key once, keeps data across restarts, and shuts down cleanly', async () => {
    const first = await startQuarry({ DATA_DIR: dataDir });
    const key = /API key \(shown once, store it now\): (qk_\S+)/.exec(first.stderr())?.[1];
    expect(key).toBeDefined();
    expect((await query(first.url, key!, '{ __typename }')).body).toEqual({ data: { __typename: 'Query' } });
    const created = await query(first.url, key!, 'mutation { createApiKey(input: { name: "kept" }) { key } }');
    const secondKey = created.body.data.createApiKey.key as string;

    // A second process on the same folder is refused with a clear message instead of corrupting it.
    const intruder = await startQuarry({ DATA_DIR: dataDir }).catch((e) => e);
    expect(intruder.code).toBe(1);
    expect(intruder.stdout + intruder.stderr).toMatch(/is in use by another Quarry process/);

    expect(await first.stop('SIGTERM')).toBe(0);
    expect(first.stdout()).toMatch(/"msg":"shutdown complete"/);

    const second = await startQuarry({ DATA_DIR: dataDir });
    try {
      expect(second.stderr()).not.toMatch(/shown once/);
      for (const k of [key!, secondKey]) {
        expect((await query(second.url, k, '{ me { user { name } } }')).body).toEqual({ data: { me: { user: { name: 'default_user' } } } });
      }
    } finally {
      expect(await second.stop('SIGINT')).toBe(0);
    }
  });

  it('uses QUARRY_API_KEY as the server admin key when it is set', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'quarry-data-'));
    const key = 'my-own-key-of-at-least-16-chars';
    const quarry = await startQuarry({ DATA_DIR: dir, QUARRY_API_KEY: key });
    try {
      expect(quarry.stderr()).not.toMatch(/shown once/);
      expect((await query(quarry.url, key, '{ me { user { role } } }')).body).toEqual({ data: { me: { user: { role: 'SERVER_ADMIN' } } } });
      expect((await query(quarry.url, 'qk_other', '{ __typename }')).status).toBe(401);
    } finally {
      await quarry.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses invalid configuration with a message naming the variable', async () => {
    const failure = await startQuarry({ DATA_DIR: dataDir, PORT: 'eighty', DATABASE_URL: 'mysql://x' }).catch((e) => e);
    expect(failure.code).toBe(1);
    expect(failure.stderr).toMatch(/Invalid configuration/);
    expect(failure.stderr).toMatch(/PORT/);
    expect(failure.stderr).toMatch(/DATABASE_URL: must be a postgresql:\/\/ connection string/);
  });
});

describe.skipIf(!inject('postgresUrl'))('npm start on PostgreSQL', () => {
  it('serves from DATABASE_URL with QUARRY_API_KEY and reports the database in /readyz', async () => {
    const key = `ci-${randomBytes(12).toString('hex')}`;
    const quarry = await startQuarry({ DATABASE_URL: inject('postgresUrl')!, QUARRY_API_KEY: key, DATA_DIR: '/nonexistent' });
    try {
      expect((await query(quarry.url, key, '{ me { organization { name } } }')).body).toEqual({ data: { me: { organization: { name: 'default_org' } } } });
      expect(await (await fetch(`${quarry.url}/readyz`)).json()).toEqual({ status: 'ok', database: 'postgres' });
    } finally {
      expect(await quarry.stop()).toBe(0);
    }
  });

  it.skipIf(!inject('redisUrl'))('npm run worker refuses a database behind its migrations, and applies them itself with MIGRATE_ON_START', async () => {
    const own = await privateDatabase('quarry_worker');
    try {
      const env = { DATABASE_URL: own.url, REDIS_URL: inject('redisUrl')!, REDIS_PREFIX: own.name };
      const refused = await startWorker(env).then(
        (w) => w.stop().then(() => null),
        (error: { code: number; stdout: string }) => error,
      );
      expect(refused).toMatchObject({ code: 1, stdout: expect.stringMatching(/unapplied migrations.*MIGRATE_ON_START/) });
      const worker = await startWorker({ ...env, MIGRATE_ON_START: 'true' });
      expect(worker.stdout()).toMatch(/"msg":"migrations applied"/);
      expect(await worker.stop()).toBe(0);
    } finally {
      await own.drop();
    }
  });
});
