/**
 * The import structure of src/ (README, "Layout"): layers only point down, and no file reaches itself through its
 * imports. Read from the source text, type-only imports included: a type pulled from above is a dependency too.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = path.resolve(import.meta.dirname, '../src');

/** Highest first; a file may import its own layer and those below it. */
const LAYERS: Array<{ name: string; holds: (file: string) => boolean }> = [
  { name: 'entry points', holds: (f) => ['app.ts', 'main.ts', 'worker.ts', 'cli.ts', 'startup.ts'].includes(f) || f.startsWith('server/') || f.startsWith('cli/') },
  { name: 'transport', holds: (f) => f.startsWith('schema/') || f.startsWith('rest/') || f === 'context.ts' },
  { name: 'ingest', holds: (f) => f.startsWith('ingest/') },
  { name: 'domain', holds: (f) => f.startsWith('domain/') },
  { name: 'documents and embeddings', holds: (f) => f.startsWith('documents/') || f.startsWith('embeddings/') },
  { name: 'core', holds: (f) => f.startsWith('core/') || f.startsWith('generated/') },
];

function layerOf(file: string): number {
  const index = LAYERS.findIndex((layer) => layer.holds(file));
  if (index < 0) throw new Error(`${file} is in no layer: add its folder to LAYERS and to the README's layout`);
  return index;
}

function sourceFiles(dir = SRC): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'generated' ? [] : sourceFiles(full);
    return entry.name.endsWith('.ts') ? [path.relative(SRC, full)] : [];
  });
}

const IMPORT = /(?:^|[^\w.])(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g;

/** Each file's relative imports, as paths under src/. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sourceFiles()) {
    const text = readFileSync(path.join(SRC, file), 'utf8');
    const targets = [...text.matchAll(IMPORT)].map((m) =>
      path.relative(SRC, path.resolve(SRC, path.dirname(file), m[1]!.replace(/\.js$/, '.ts'))),
    );
    graph.set(file, [...new Set(targets)]);
  }
  return graph;
}

function upwardImports(graph: Map<string, string[]>): string[] {
  const upward: string[] = [];
  for (const [file, targets] of graph) {
    for (const target of targets) {
      if (target.startsWith('generated/') || target.startsWith('..')) continue; // Prisma's client, package.json
      if (layerOf(target) < layerOf(file)) {
        upward.push(`${file} (${LAYERS[layerOf(file)]!.name}) → ${target} (${LAYERS[layerOf(target)]!.name})`);
      }
    }
  }
  return upward;
}

function circles(graph: Map<string, string[]>): string[] {
  const found: string[] = [];
  const state = new Map<string, 'open' | 'done'>();
  const trail: string[] = [];
  const visit = (file: string) => {
    if (state.get(file) === 'done') return;
    if (state.get(file) === 'open') {
      found.push([...trail.slice(trail.indexOf(file)), file].join(' → '));
      return;
    }
    state.set(file, 'open');
    trail.push(file);
    for (const target of graph.get(file) ?? []) visit(target);
    trail.pop();
    state.set(file, 'done');
  };
  for (const file of graph.keys()) visit(file);
  return found;
}

describe('import structure of src/', () => {
  const graph = importGraph();

  it('reads the imports', () => {
    expect(graph.size).toBeGreaterThan(100);
    expect(graph.get('domain/sources.ts')).toContain('core/errors.ts');
  });

  it('puts every file in a layer', () => {
    for (const file of graph.keys()) expect(() => layerOf(file)).not.toThrow();
  });

  it('has no import from a lower layer to a higher one', () => {
    expect(upwardImports(graph)).toEqual([]);
  });

  it('has no circles', () => {
    expect(circles(graph)).toEqual([]);
  });

  it('reports an upward import and a circle when there is one', () => {
    const bad = new Map([
      ['core/errors.ts', ['domain/sources.ts']],
      ['domain/sources.ts', ['core/errors.ts']],
    ]);
    expect(upwardImports(bad)).toEqual(['core/errors.ts (core) → domain/sources.ts (domain)']);
    expect(circles(bad)).toEqual(['core/errors.ts → domain/sources.ts → core/errors.ts']);
  });
});
