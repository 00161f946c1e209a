import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * The project's root folder, found by walking up to Quarry's package.json, so files such as
 * prisma/migrations resolve the same from src/ (tsx, tests) and from the bundle `npm start` runs.
 */
function findRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const pkg = path.join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'quarry') return dir;
    if (path.dirname(dir) === dir) throw new Error(`Quarry's package.json not found above ${from}`);
  }
}

export const PROJECT_ROOT = findRoot(import.meta.dirname);
export const CACHE_DIR = path.join(PROJECT_ROOT, 'node_modules', '.cache', 'quarry');
