// `npm start` (and `npm run worker`): runs Quarry from a bundle of src/ built with esbuild, rebuilt only when a
// source file is newer. Loading one prebuilt module is about twice as fast as compiling TypeScript on the fly,
// which keeps start-up short. `--build` only builds (postinstall). `cli` runs the operator's command line
// (bin/quarry.mjs), with the arguments after it.
import { readdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(import.meta.dirname, '..');
const entries = { main: 'src/main.ts', worker: 'src/worker.ts', cli: 'src/cli.ts' };
// Built beside them, not run from here: the modules of worker threads (src/core/thread-module.ts finds them).
const threadEntries = { 'pglite-thread-entry': 'src/core/db/pglite-thread-entry.ts', 'chunk-thread-entry': 'src/ingest/chunk-thread-entry.ts' };
const outdir = path.join(root, 'node_modules', '.cache', 'quarry', 'dist');

function newestSource(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSource(full) : statSync(full).mtimeMs);
  }
  return newest;
}

function builtAt(file) {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}

const [command] = process.argv.slice(2);
const name = command === '--build' ? 'main' : (command ?? 'main');
if (!(name in entries)) throw new Error(`unknown entry ${name}`);
const out = path.join(outdir, `${name}.mjs`);
const sourcesChanged = Math.max(newestSource(path.join(root, 'src')), builtAt(path.join(root, 'package.json'))) > builtAt(out);
if (sourcesChanged) {
  rmSync(outdir, { recursive: true, force: true }); // chunk names are content hashes: drop the old ones
  await build({
    entryPoints: Object.fromEntries(Object.entries({ ...entries, ...threadEntries }).map(([k, v]) => [k, path.join(root, v)])),
    outdir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    splitting: true, // main.ts loads the GraphQL stack with a dynamic import, in parallel with the database
    sourcemap: 'linked',
    logLevel: 'warning',
  });
}
if (command !== '--build') {
  if (name === 'cli') process.argv.splice(2, 1); // the command line reads its own arguments from argv[2] on
  await import(pathToFileURL(out).href);
}
