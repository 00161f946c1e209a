import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite/vector';
import { migrate, readMigrations } from './migrate.js';
import { pgliteRunner } from './sql.js';

/**
 * A migrated, empty PGlite data folder packed as a tarball at install time (postinstall). Creating a new
 * PGlite folder runs initdb inside WASM (~4 s on these machines); unpacking this template takes a fraction
 * of that, which is what keeps a first `npm start` fast. The file name carries the PGlite version and the
 * migrations' checksums, so a stale template is never used (startup then falls back to initdb + migrate).
 */
const CACHE_DIR = path.resolve(import.meta.dirname, '../../../node_modules/.cache/quarry');

async function templateKey(): Promise<string> {
  // The package's exports map hides package.json; its entry point sits in dist/ next to it.
  const entry = createRequire(import.meta.url).resolve('@electric-sql/pglite');
  const pkgFile = path.join(entry.slice(0, entry.lastIndexOf(`${path.sep}dist${path.sep}`)), 'package.json');
  const pkg = JSON.parse(await readFile(pkgFile, 'utf8')) as { version: string };
  const hash = createHash('sha256').update(pkg.version);
  for (const m of await readMigrations()) hash.update(m.name).update(m.checksum);
  return hash.digest('hex').slice(0, 16);
}

export async function templatePath(): Promise<string> {
  return path.join(CACHE_DIR, `pglite-template-${await templateKey()}.tar.gz`);
}

/** Builds the template if it is not there yet; returns its path. */
export async function buildTemplate(): Promise<string> {
  const file = await templatePath();
  if (existsSync(file)) return file;
  const db = await PGlite.create({ extensions: { vector } });
  try {
    await migrate(pgliteRunner(db));
    const dump = await db.dumpDataDir('gzip');
    await mkdir(CACHE_DIR, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, Buffer.from(await dump.arrayBuffer()));
    await rename(tmp, file);
    return file;
  } finally {
    await db.close();
  }
}

/** The template's bytes if a current one exists. */
export async function loadTemplate(): Promise<Blob | undefined> {
  const file = await templatePath();
  return existsSync(file) ? new Blob([await readFile(file)]) : undefined;
}
