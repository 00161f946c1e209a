/** npm run schema:print — writes schema.graphql, the committed contract (a test fails when it is stale). */
import { writeFile } from 'node:fs/promises';
import { printSchema, lexicographicSortSchema } from 'graphql';
import { schema } from '../src/schema/index.js';

export const SDL_PATH = new URL('../schema.graphql', import.meta.url);
await writeFile(SDL_PATH, printSchema(lexicographicSortSchema(schema)) + '\n');
console.log('schema.graphql written');
