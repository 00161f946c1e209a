import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CACHE_DIR } from './paths.js';

const built = new Map<string, Promise<URL>>();

/**
 * The module a worker thread runs. In the bundle `npm start` runs, it was built beside the caller's module
 * (scripts/start.mjs lists it): `builtName` there. Run from src/ (tsx, vitest), it is TypeScript, which a worker
 * thread cannot load on Node 20 (the parent's TypeScript loader does not reach it), so it is bundled once with
 * esbuild, as start.mjs does, into the cache folder: inside node_modules, so its imports of packages resolve.
 * `source` is the TypeScript entry's URL, `callerUrl` the caller's import.meta.url.
 */
export function threadModule(source: URL, builtName: string, callerUrl: string): Promise<URL> {
  if (!callerUrl.endsWith('.ts')) return Promise.resolve(new URL(`./${builtName}.mjs`, callerUrl));
  const key = source.href;
  let module = built.get(key);
  if (!module) {
    module = bundle(source, builtName);
    built.set(key, module);
  }
  return module;
}

async function bundle(source: URL, builtName: string): Promise<URL> {
  const { build } = await import('esbuild');
  const result = await build({
    entryPoints: [fileURLToPath(source)],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    write: false,
    logLevel: 'warning',
  });
  const code = result.outputFiles[0].contents;
  const file = path.join(CACHE_DIR, `${builtName}-${createHash('sha256').update(code).digest('hex').slice(0, 16)}.mjs`);
  if (!existsSync(file)) {
    await mkdir(CACHE_DIR, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, code);
    await rename(tmp, file);
  }
  return pathToFileURL(file);
}
