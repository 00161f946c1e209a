/**
 * The operator's commands (`npx quarry <command>`, src/cli.ts): tasks that need no key and no running server, on the
 * embedded database in DATA_DIR (the server must be stopped: one process per folder) or on DATABASE_URL.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import type { UserRole } from '../generated/prisma/client.js';
import { loadConfig, type Config } from '../core/config.js';
import { backupDataDir, openDatabase, pgliteDataPath, restoreDataDir, type Database } from '../core/db/index.js';
import { migrateOrCheck, PendingMigrationsError } from '../core/db/migrate.js';
import { ROLE_RANK, type Actor } from '../core/auth.js';
import { AppError } from '../core/errors.js';
import { scopedPrisma } from '../core/tenancy.js';
import { rotateApiKey } from '../domain/api-keys.js';
import { issueApiKey } from '../domain/administration.js';
import { createOrganization } from '../domain/organizations.js';
import { exportOrganization, importOrganization } from '../domain/org-transfer.js';

const USAGE = `Usage: quarry <command> [options]

  org create <name> [--admin-name N] [--admin-email E] [--server-admin]
                                        a new organization, its first admin user and that user's key (shown once)
  org list                              every organization
  key create --user <user-id> [--name N] [--role R]
                                        a new key for a user (shown once)
  key reset <apikey-id>                 rotate a key: a new secret (shown once), the old one revoked
  export --org <org-id> [--out FILE]    the organization's data as JSON lines (stdout without --out)
  import <FILE> [--new-ids] [--name N]  import an export in one transaction (--new-ids: as a copy with new ids)
  backup --out FILE.tar.gz              copy the embedded database's folder (server stopped)
  restore FILE.tar.gz                   restore a backup into DATA_DIR, which must hold no database yet

Options: --json (machine-readable output), -h/--help.
Database: DATABASE_URL (PostgreSQL) or the embedded one in DATA_DIR (as the server).`;

const OPTIONS = {
  'admin-name': { type: 'string' },
  'admin-email': { type: 'string' },
  'server-admin': { type: 'boolean' },
  user: { type: 'string' },
  name: { type: 'string' },
  role: { type: 'string' },
  org: { type: 'string' },
  out: { type: 'string' },
  'new-ids': { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'] & { io: CliIO };

/** Where a command writes: the process's stdout and stderr, or a test's. */
export interface CliIO {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

class UsageError extends Error {}

/** Prints a result: JSON with --json, otherwise `key: value` lines. */
function print(values: Values, result: Record<string, unknown> | Record<string, unknown>[]) {
  if (values.json) return void values.io.stdout.write(`${JSON.stringify(result)}\n`);
  for (const item of Array.isArray(result) ? result : [result]) {
    values.io.stdout.write(`${Object.entries(item).map(([k, v]) => `${k}: ${v instanceof Date ? v.toISOString() : v}`).join('\n')}\n\n`);
  }
}

/** The database, migrated where this process owns it (the embedded one, or MIGRATE_ON_START), else checked. */
async function openMigrated(config: Config): Promise<Database> {
  const db = await openDatabase(config, { thread: 'main' });
  try {
    await db.withRunner((runner) => migrateOrCheck(runner, config.migrateOnStart)).catch((error: unknown) => {
      throw error instanceof PendingMigrationsError ? new UsageError(error.message) : error;
    });
    return db;
  } catch (error) {
    await db.close();
    throw error;
  }
}

/** The operator acts with every right, as the server admin of the organization concerned. */
const operator = (organizationId: string): Actor => ({ organizationId, userId: '', role: 'SERVER_ADMIN', apiKeyId: '' });

async function orgCreate(db: Database, name: string | undefined, values: Values) {
  if (!name) throw new UsageError('org create needs a name');
  const created = await createOrganization(db.prisma, {
    name,
    adminName: values['admin-name'],
    adminEmail: values['admin-email'],
    adminRole: values['server-admin'] ? 'SERVER_ADMIN' : 'ADMIN',
  });
  print(values, { organizationId: created.organizationId, userId: created.userId, apiKeyId: created.apiKeyId, key: created.apiKey });
}

async function orgList(db: Database, values: Values) {
  const orgs = await db.prisma.organization.findMany({ orderBy: [{ createdAt: 'asc' }, { id: 'asc' }], select: { id: true, name: true, isDefault: true, createdAt: true, _count: { select: { users: true } } } });
  print(values, orgs.map(({ _count, ...o }) => ({ ...o, users: _count.users })));
}

async function keyCreate(db: Database, values: Values) {
  if (!values.user) throw new UsageError('key create needs --user <user-id>');
  if (values.role && !(values.role in ROLE_RANK)) throw new UsageError(`--role must be one of ${Object.keys(ROLE_RANK).join(', ')}`);
  const user = await db.prisma.user.findUnique({ where: { id: values.user }, select: { organizationId: true } });
  if (!user) throw new UsageError(`No user ${values.user}`);
  const tenants = { for: (id: string) => scopedPrisma(db.prisma, id), root: db.prisma };
  const access = { actor: operator(user.organizationId), db: tenants.for(user.organizationId), tenants };
  const { apiKey, key } = await issueApiKey(access, { userId: values.user, name: values.name ?? 'cli', role: values.role as UserRole | undefined });
  print(values, { apiKeyId: apiKey.id, role: apiKey.role, key });
}

async function keyReset(db: Database, id: string | undefined, values: Values) {
  if (!id) throw new UsageError('key reset needs an API key id');
  const found = await db.prisma.apiKey.findUnique({ where: { id }, select: { organizationId: true } });
  if (!found) throw new UsageError(`No API key ${id}`);
  const { apiKey, key } = await rotateApiKey(scopedPrisma(db.prisma, found.organizationId), operator(found.organizationId), id);
  print(values, { apiKeyId: apiKey.id, replaces: id, key });
}

async function exportCommand(db: Database, values: Values) {
  if (!values.org) throw new UsageError('export needs --org <org-id>');
  const out = values.out ? createWriteStream(values.out) : values.io.stdout;
  const write = async (line: string) => {
    if (!out.write(`${line}\n`)) await once(out, 'drain');
  };
  const result = await db.withRunner((runner) => exportOrganization(runner, values.org!, write));
  if (out !== values.io.stdout) await new Promise<void>((resolve, reject) => (out as NodeJS.WritableStream).end(() => resolve()).on?.('error', reject));
  values.io.stderr.write(`exported ${result.rows} rows of ${values.org}\n`);
}

async function importCommand(db: Database, file: string | undefined, values: Values) {
  if (!file) throw new UsageError('import needs a file');
  // Opened when the import starts reading: a readline made earlier emits lines before anyone iterates, and they are lost.
  async function* lines() {
    yield* createInterface({ input: createReadStream(file!), crlfDelay: Infinity });
  }
  const result = await db.withRunner((runner) => importOrganization(runner, lines(), { newIds: values['new-ids'], name: values.name }));
  print(values, { organizationId: result.organizationId, rows: result.rows });
}

async function run(argv: string[], io: CliIO, env: NodeJS.ProcessEnv): Promise<void> {
  const parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  const values: Values = { ...parsed.values, io };
  const [command, sub, arg] = parsed.positionals;
  if (values.help || !command) return void io.stdout.write(`${USAGE}\n`);
  const config = loadConfig(env);
  if (command === 'backup' || command === 'restore') {
    if (config.databaseKind !== 'pglite') throw new UsageError(`${command} is for the embedded database; back PostgreSQL up with pg_dump`);
    if (command === 'backup') {
      if (!values.out) throw new UsageError('backup needs --out FILE.tar.gz');
      const { bytes } = await backupDataDir(pgliteDataPath(config), values.out);
      return print(values, { backup: values.out, bytes });
    }
    if (!sub) throw new UsageError('restore needs a backup file');
    await restoreDataDir(sub, pgliteDataPath(config));
    return print(values, { restored: pgliteDataPath(config) });
  }
  const commands: Record<string, (db: Database) => Promise<void>> = {
    'org create': (db) => orgCreate(db, arg, values),
    'org list': (db) => orgList(db, values),
    'key create': (db) => keyCreate(db, values),
    'key reset': (db) => keyReset(db, arg, values),
    export: (db) => exportCommand(db, values),
    import: (db) => importCommand(db, sub, values),
  };
  const handler = commands[`${command} ${sub}`] ?? (command === 'export' || command === 'import' ? commands[command] : undefined);
  if (!handler) throw new UsageError(`Unknown command: ${parsed.positionals.join(' ')}`);
  const db = await openMigrated(config);
  try {
    await handler(db);
  } finally {
    await db.close();
  }
}

/**
 * Runs one command line (the arguments after `quarry`) and resolves with its exit code: 0, 1 for a failure, 2 for a
 * wrong command line (with the usage). Messages go to `io.stderr`; the process is the caller's to end.
 */
export async function runCli(argv: string[], io: CliIO = process, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  try {
    await run(argv, io, env);
    return 0;
  } catch (error) {
    const known = error instanceof UsageError || error instanceof AppError || (error as { name?: string }).name === 'DataDirInUseError' || (error as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION';
    io.stderr.write(`quarry: ${error instanceof Error ? error.message : String(error)}\n${error instanceof UsageError ? `\n${USAGE}\n` : ''}`);
    if (!known) io.stderr.write(`${(error as Error).stack ?? ''}\n`);
    return error instanceof UsageError ? 2 : 1;
  }
}
