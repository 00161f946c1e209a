import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite/vector';
import { CACHE_DIR } from '../paths.js';
import { migrate, readMigrations } from './migrate.js';
import { pgliteRunner } from './sql.js';

/**
 * A migrated, empty PGlite data folder made at install time (postinstall). Creating a PGlite folder runs
 * initdb inside WASM (~4 s on these machines); copying this one takes milliseconds, which is what keeps a
 * first `npm start` fast. Its name carries the PGlite version and the migrations' checksums, so a stale
 * template is never used (startup then falls back to initdb + migrate).
 */
async function templateKey(): Promise<string> {
  // The package's exports map hides package.json; its entry point sits in dist/ next to it.
  const entry = createRequire(import.meta.url).resolve('@electric-sql/pglite');
  const pkgFile = path.join(entry.slice(0, entry.lastIndexOf(`${path.sep}dist${path.sep}`)), 'package.json');
  const pkg = JSON.parse(await readFile(pkgFile, 'utf8')) as { version: string };
  const hash = createHash('sha256').update(pkg.version);
  for (const m of await readMigrations()) hash.update(m.name).update(m.checksum);
  return hash.digest('hex').slice(0, 16);
}

export async function templateDir(): Promise<string> {
  return path.join(CACHE_DIR, `pglite-template-${await templateKey()}`);
}

/** Builds the template folder if it is not there yet; returns its path. */
export async function buildTemplate(): Promise<string> {
  const dir = await templateDir();
  if (existsSync(path.join(dir, 'PG_VERSION'))) return dir;
  const tmp = `${dir}.${process.pid}.tmp`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(CACHE_DIR, { recursive: true });
  // Templates of older migrations are of no further use.
  for (const old of await readdir(CACHE_DIR)) {
    if (old.startsWith('pglite-template-') && path.join(CACHE_DIR, old) !== dir) await rm(path.join(CACHE_DIR, old), { recursive: true, force: true });
  }
  const db = await PGlite.create({ dataDir: tmp, extensions: { vector } });
  try {
    await migrate(pgliteRunner(db));
  } finally {
    await db.close();
  }
  await rename(tmp, dir).catch(async (error) => {
    // Another process built it first.
    await rm(tmp, { recursive: true, force: true });
    if (!existsSync(path.join(dir, 'PG_VERSION'))) throw error;
  });
  return dir;
}

/** Seeds a new data folder from the template; false when no current template exists. */
export async function copyTemplateTo(dataDir: string): Promise<boolean> {
  const dir = await templateDir();
  if (!existsSync(path.join(dir, 'PG_VERSION'))) return false;
  await copyTree(dir, dataDir);
  return true;
}

/** A recursive copy with every file copied concurrently (fs.cp copies one at a time: about twice as slow here). */
async function copyTree(from: string, to: string): Promise<void> {
  await mkdir(to, { recursive: true });
  const entries = await readdir(from, { withFileTypes: true });
  await Promise.all(
    entries.map((e) => (e.isDirectory() ? copyTree(path.join(from, e.name), path.join(to, e.name)) : copyFile(path.join(from, e.name), path.join(to, e.name)))),
  );
}
