/**
 * Run by postinstall: builds the migrated PGlite template (src/core/db/pglite-template.ts) and, when Quarry
 * will run embedded, seeds the data folder from it, so the first `npm start` opens a ready database.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../src/core/config.js';
import { pgliteDataPath } from '../src/core/db/index.js';
import { buildTemplate, copyTemplateTo } from '../src/core/db/pglite-template.js';

try {
  const file = await buildTemplate();
  console.log(`PGlite template ready: ${file}`);
  const config = loadConfig();
  const dataDir = pgliteDataPath(config);
  if (config.databaseKind === 'pglite' && !existsSync(path.join(dataDir, 'PG_VERSION')) && !existsSync(`${dataDir}.lock`)) {
    await copyTemplateTo(dataDir);
    console.log(`Embedded database prepared in ${dataDir}`);
  }
  process.exit(0);
} catch (error) {
  // Not fatal: without a template the first start runs initdb, which is only slower.
  console.warn(`warning: could not prepare the embedded database (${(error as Error).message}); the first start will be slower`);
  process.exit(0);
}
