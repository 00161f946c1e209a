/**
 * Development tooling: Prisma's schema engine compiled to WebAssembly, driven through a PGlite adapter, so
 * migrations can be authored and checked for drift on machines without Prisma's native engine binary.
 * Not used at run time (deploys go through ./migrate.ts).
 */
import { createRequire } from 'node:module';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite/vector';
import { bindMigrationAwareSqlAdapterFactory, type SqlDriverAdapter, type SqlMigrationAwareDriverAdapterFactory } from '@prisma/driver-adapter-utils';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import * as bg from '@prisma/schema-engine-wasm/schema_engine_bg';
import { PROJECT_ROOT } from '../paths.js';
import { MIGRATIONS_DIR, readMigrations } from './migrate.js';

export const SCHEMA_PATH = path.join(PROJECT_ROOT, 'prisma', 'schema.prisma');

let wasmReady: Promise<void> | undefined;
function loadWasm(): Promise<void> {
  wasmReady ??= (async () => {
    // The .wasm file is not in the package's exports map, so resolve it next to the JS glue.
    const require = createRequire(import.meta.url);
    const wasmPath = path.join(path.dirname(require.resolve('@prisma/schema-engine-wasm/schema_engine_bg')), 'schema_engine_bg.wasm');
    const module = await WebAssembly.compile(await readFile(wasmPath));
    const instance = await WebAssembly.instantiate(module, { './schema_engine_bg.js': bg as unknown as WebAssembly.ModuleImports });
    bg.__wbg_set_wasm(instance.exports);
    (instance.exports as { __wbindgen_start: () => void }).__wbindgen_start();
  })();
  return wasmReady;
}

/**
 * pglite-prisma-adapter 0.7.2 does not await `exec` in executeScript (a failing script would look applied),
 * and its shadow database lacks pgvector. This factory fixes both.
 */
class PGliteEngineFactory implements SqlMigrationAwareDriverAdapterFactory {
  readonly provider = 'postgres' as const;
  readonly adapterName = 'quarry-pglite-engine';
  private readonly shadows: PGlite[] = [];
  constructor(private readonly main: PGlite) {}

  connect(): Promise<SqlDriverAdapter> {
    return adapterFor(this.main);
  }
  async connectToShadowDb(): Promise<SqlDriverAdapter> {
    const shadow = await PGlite.create({ extensions: { vector } });
    this.shadows.push(shadow);
    return adapterFor(shadow);
  }
  async close() {
    await Promise.all(this.shadows.map((s) => s.close()));
  }
}

async function adapterFor(db: PGlite): Promise<SqlDriverAdapter> {
  const adapter = await new PrismaPGlite(db).connect();
  adapter.executeScript = async (script: string) => {
    await db.exec(script);
  };
  return adapter;
}

const filters = { externalTables: [], externalEnums: [] };

async function migrationsList() {
  const migrations = await readMigrations();
  const lock = await readFile(path.join(MIGRATIONS_DIR, 'migration_lock.toml'), 'utf8').catch(() => null);
  return {
    baseDir: MIGRATIONS_DIR,
    lockfile: { path: 'migration_lock.toml', content: lock },
    shadowDbInitScript: '',
    migrationDirectories: migrations.map((m) => ({
      path: m.name,
      migrationFile: { path: 'migration.sql', content: { tag: 'ok' as const, value: m.sql } },
    })),
  };
}

/**
 * The SQL that takes a database built from `from` to the current schema.prisma.
 * `from: 'migrations'` replays prisma/migrations on a throwaway PGlite; an empty result means no drift.
 */
export async function diffToSchema(from: 'empty' | 'migrations', schemaText?: string): Promise<string> {
  await loadWasm();
  const schema = schemaText ?? (await readFile(SCHEMA_PATH, 'utf8'));
  const main = await PGlite.create({ extensions: { vector } });
  const factory = new PGliteEngineFactory(main);
  const logs: string[] = [];
  try {
    const engine = await bg.SchemaEngine.new(
      { datamodels: [[SCHEMA_PATH, schema]] },
      (line: string) => logs.push(line),
      bindMigrationAwareSqlAdapterFactory(factory),
    );
    const fromTarget = from === 'empty' ? { tag: 'empty' as const } : { tag: 'migrations' as const, ...(await migrationsList()) };
    const result = await engine.diff({
      from: fromTarget,
      to: { tag: 'schemaDatamodel', files: [{ path: SCHEMA_PATH, content: schema }] },
      script: true,
      exitCode: null,
      filters,
    });
    engine.free();
    return normalize(result.stdout ?? '');
  } finally {
    await factory.close();
    await main.close();
  }
}

/** The engine prints a comment-only script when nothing changes. */
function normalize(sql: string): string {
  const meaningful = sql
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.trim().startsWith('--'))
    .join('\n');
  return meaningful.trim() === '' ? '' : sql.trim() + '\n';
}
