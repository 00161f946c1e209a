/**
 * The operator's command line against the embedded database in a DATA_DIR of its own and against PostgreSQL. One
 * command of each describe, the usage error and the folder-in-use error run as a real process (`node bin/quarry.mjs`,
 * what `npx quarry` runs); the others run the same commands in this process (runCli, what that process runs): a
 * process start costs seconds on a busy machine, and proves nothing more about a command's work.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runCli } from '../src/cli/commands.js';
import { authenticate } from '../src/core/auth.js';
import { openPGliteDir, openPostgres, type Database } from '../src/core/db/index.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const run = promisify(execFile);

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI as a process; resolves with its exit code, stdout and stderr (a failing command does not throw). */
async function quarry(env: Record<string, string>, ...args: string[]): Promise<CliResult> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['bin/quarry.mjs', ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, LOG_LEVEL: 'silent', ...env },
      timeout: 150_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** Runs a command in this process, with `env` as its whole environment. */
async function inProcess(env: Record<string, string>, ...args: string[]): Promise<CliResult> {
  const out = { stdout: '', stderr: '' };
  const sink = (name: keyof typeof out) => new Writable({ write: (chunk, _encoding, done) => ((out[name] += String(chunk)), done()) });
  const code = await runCli(args, { stdout: sink('stdout'), stderr: sink('stderr') }, { LOG_LEVEL: 'silent', ...env });
  return { code, ...out };
}

async function json(env: Record<string, string>, ...args: string[]) {
  return parsed(await inProcess(env, ...args, '--json'));
}

function parsed(result: CliResult) {
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout);
}

describe('the CLI on the embedded database', { timeout: 600_000 }, () => {
  let dir: string;
  let env: Record<string, string>;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'quarry-cli-'));
    env = { DATA_DIR: path.join(dir, 'data') };
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('creates an organization with its first admin key, lists it, resets the key, exports, imports, backs up and restores', async () => {
    const created = parsed(await quarry(env, 'org', 'create', 'acme', '--admin-name', 'ann', '--server-admin', '--json'));
    expect(created.key).toMatch(/^qk_/);
    const listed = await json(env, 'org', 'list');
    expect(listed.map((o: { id: string }) => o.id)).toEqual([created.organizationId]);
    const reset = await json(env, 'key', 'reset', created.apiKeyId);
    expect(reset.replaces).toBe(created.apiKeyId);

    const file = path.join(dir, 'acme.jsonl');
    expect((await inProcess(env, 'export', '--org', created.organizationId, '--out', file)).code).toBe(0);
    const lines = (await readFile(file, 'utf8')).trim().split('\n');
    expect(JSON.parse(lines[0])).toMatchObject({ organizationId: created.organizationId });
    const copy = await json(env, 'import', file, '--new-ids', '--name', 'acme-copy');
    expect(copy.organizationId).not.toBe(created.organizationId);

    const backup = path.join(dir, 'backup.tar.gz');
    expect((await json(env, 'backup', '--out', backup)).bytes).toBe((await stat(backup)).size);
    const restoredEnv = { DATA_DIR: path.join(dir, 'restored') };
    await json(restoredEnv, 'restore', backup);
    // The restored folder has both organizations; the reset key works there (as a server admin), the first one does not.
    const db = await openPGliteDir(path.join(restoredEnv.DATA_DIR, 'pglite'), { thread: 'main' });
    try {
      expect((await db.prisma.organization.findMany({ select: { name: true }, orderBy: { name: 'asc' } })).map((o) => o.name)).toEqual(['acme', 'acme-copy']);
      expect(await authenticate(db.prisma, reset.key)).toMatchObject({ organizationId: created.organizationId, role: 'SERVER_ADMIN' });
      expect(await authenticate(db.prisma, created.key)).toBeNull();
    } finally {
      await db.close();
    }
  });

  it('answers a wrong command with its usage and exit code 2, and a folder in use with a clear error', async () => {
    const wrong = await quarry(env, 'org', 'explode');
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/Unknown command: org explode[\s\S]*Usage: quarry/);
    const db = await openPGliteDir(path.join(env.DATA_DIR, 'pglite'), { thread: 'main' });
    try {
      const busy = await quarry(env, 'org', 'list');
      expect(busy.code).toBe(1);
      expect(busy.stderr).toMatch(/in use by another Quarry process/);
    } finally {
      await db.close();
    }
  });
});

const postgresUrl = inject('postgresUrl');

describe.skipIf(!postgresUrl)('the CLI on PostgreSQL', { timeout: 600_000 }, () => {
  let db: Database;
  let dir: string;
  beforeAll(async () => {
    db = await openPostgres(postgresUrl!, 2);
    dir = await mkdtemp(path.join(os.tmpdir(), 'quarry-cli-pg-'));
  });
  afterAll(async () => {
    await db.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('creates an organization and a key for a new user, exports it and imports a copy', async () => {
    const env = { DATABASE_URL: postgresUrl! };
    const created = parsed(await quarry(env, 'org', 'create', 'pg-cli-org', '--json'));
    expect(await authenticate(db.prisma, created.key)).toMatchObject({ organizationId: created.organizationId, role: 'ADMIN' });
    const user = await db.prisma.user.create({ data: { organizationId: created.organizationId, name: 'reader', role: 'READER' } });
    const issued = await json(env, 'key', 'create', '--user', user.id, '--name', 'dashboard');
    expect(issued.role).toBe('READER');
    expect(await authenticate(db.prisma, issued.key)).toMatchObject({ userId: user.id, role: 'READER' });

    const file = path.join(dir, 'org.jsonl');
    expect((await inProcess(env, 'export', '--org', created.organizationId, '--out', file)).code).toBe(0);
    const again = await inProcess(env, 'import', file);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already exist/);
    const copy = await json(env, 'import', file, '--new-ids');
    expect(await db.prisma.user.count({ where: { organizationId: copy.organizationId } })).toBe(2);
    expect(await db.prisma.apiKey.count({ where: { organizationId: copy.organizationId } })).toBe(0);
  });
});
