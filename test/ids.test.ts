import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { ID_PREFIXES, idPrefix, newId, typeForId } from '../src/core/ids.js';
import { SCHEMA_PATH } from '../src/core/db/schema-engine.js';

/** `model X { id String @id @default(dbgenerated("('prefix-'::text || gen_random_uuid())"))` → { prefix: X } */
async function prefixesInSchema(): Promise<Record<string, string>> {
  const schema = await readFile(SCHEMA_PATH, 'utf8');
  const found: Record<string, string> = {};
  for (const [, model, body] of schema.matchAll(/^model (\w+) \{\n([\s\S]*?)^\}/gm)) {
    const id = /^\s+id\s+String\s+@id @default\(dbgenerated\("\('([a-z_]+)-'::text \|\| gen_random_uuid\(\)\)"\)\)/m.exec(body!);
    if (id) found[id[1]!] = model!;
  }
  return found;
}

describe('id prefixes', () => {
  it('core/ids.ts names exactly the prefixes the database generates, each for its own model', async () => {
    const inSchema = await prefixesInSchema();
    expect(Object.keys(inSchema).length).toBeGreaterThan(10);
    expect({ ...ID_PREFIXES }).toEqual(inSchema);
  });

  it('an id made in code is read back as its own kind; malformed or unknown prefixes are not ids', () => {
    for (const prefix of Object.keys(ID_PREFIXES) as (keyof typeof ID_PREFIXES)[]) {
      const id = newId(prefix);
      expect(idPrefix(id)).toBe(prefix);
      expect(typeForId(id)).toBe(ID_PREFIXES[prefix]);
    }
    expect(typeForId('widget-6f1c2b0e-8d1a-4c39-9b1e-0a2f3c4d5e6f')).toBeNull();
    expect(typeForId('source-not-a-uuid')).toBeNull();
  });
});
