/**
 * `npm run quarry -- <command>` / `npx quarry <command>`: operator tasks that need no key and no running server, on
 * the embedded database in DATA_DIR (the server must be stopped: one process per folder) or on DATABASE_URL.
 */
import { runCli } from './cli/commands.js';

void runCli(process.argv.slice(2)).then((code) => process.exit(code));
