import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES, loadConfig } from '../src/core/config.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const envExample = readFileSync(path.join(ROOT, '.env.example'), 'utf8');
const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');

/** `NAME=value` lines of .env.example, commented out or not. */
const exampleLines = [...envExample.matchAll(/^#?\s*([A-Z][A-Z0-9_]*)=(.*)$/gm)].map((m) => ({ name: m[1], value: m[2].replace(/\s+#.*$/, '').trim() }));

/** Variable names in the first cell of the README's Configuration table rows. */
function readmeTableVariables(): Set<string> {
  const section = readme.slice(readme.indexOf('\n## Configuration'), readme.indexOf('\n## ', readme.indexOf('\n## Configuration') + 5));
  const names = new Set<string>();
  for (const row of section.split('\n').filter((l) => l.startsWith('| `'))) {
    const firstCell = row.split('|')[1];
    for (const m of firstCell.matchAll(/`([A-Z][A-Z0-9_]*)`/g)) names.add(m[1]);
  }
  return names;
}

describe('configuration documentation', () => {
  it('lists every variable config.ts reads in .env.example', () => {
    const listed = new Set(exampleLines.map((l) => l.name));
    expect(CONFIG_VARIABLES.filter((name) => !listed.has(name))).toEqual([]);
  });

  it('lists nothing in .env.example that config.ts does not read', () => {
    expect(exampleLines.map((l) => l.name).filter((name) => !CONFIG_VARIABLES.includes(name))).toEqual([]);
  });

  it("documents every variable in the README's configuration table", () => {
    const documented = readmeTableVariables();
    expect(CONFIG_VARIABLES.filter((name) => !documented.has(name))).toEqual([]);
    expect([...documented].filter((name) => !CONFIG_VARIABLES.includes(name))).toEqual([]);
  });

  it('has values in .env.example that the configuration accepts', () => {
    const env = Object.fromEntries(exampleLines.filter((l) => l.value !== '').map((l) => [l.name, l.value]));
    expect(Object.keys(env).length).toBeGreaterThan(40);
    expect(() => loadConfig(env, '/nonexistent/.env')).not.toThrow();
  });
});
