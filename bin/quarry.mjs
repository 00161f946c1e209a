#!/usr/bin/env node
// `npx quarry …` / `npm run quarry -- …`: the operator's command line (src/cli.ts), run from the same prebuilt bundle
// as `npm start` (scripts/start.mjs builds it when a source file is newer).
process.argv.splice(2, 0, 'cli');
await import('../scripts/start.mjs');
