/** Run by postinstall: packs a migrated PGlite folder so the first `npm start` skips initdb (see src/core/db/pglite-template.ts). */
import { buildTemplate } from '../src/core/db/pglite-template.js';

try {
  const file = await buildTemplate();
  console.log(`PGlite template ready: ${file}`);
  process.exit(0);
} catch (error) {
  // Not fatal: without a template the first start runs initdb, which is only slower.
  console.warn(`warning: could not build the PGlite template (${(error as Error).message}); first start will be slower`);
  process.exit(0);
}
