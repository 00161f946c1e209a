#!/usr/bin/env node
// `npx quarry …`: the operator's command line (src/cli.ts), run through tsx like the project's other scripts.
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { register } from 'tsx/esm/api';

register();
await import(pathToFileURL(path.join(import.meta.dirname, '..', 'src', 'cli.ts')).href);
