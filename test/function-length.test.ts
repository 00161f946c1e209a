/**
 * No function in src/ is longer than MAX_LINES lines (README, "Layout"): a longer one does several things, and is
 * cut where it does. Measured from the source text with TypeScript's parser; a function's lines include those of
 * the functions written inside it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
// The TypeScript parser (oxc's), as Vite's bundler ships it: TypeScript 7 has no JavaScript API to parse with.
import { parseAst } from 'rolldown/parseAst';
import { describe, expect, it } from 'vitest';

const SRC = path.resolve(import.meta.dirname, '../src');
const MAX_LINES = 100;

function sourceFiles(dir = SRC): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'generated' ? [] : sourceFiles(full);
    return entry.name.endsWith('.ts') ? [path.relative(SRC, full)] : [];
  });
}

interface Node {
  type: string;
  start: number;
  end: number;
  [key: string]: unknown;
}
const FUNCTIONS = new Set(['FunctionDeclaration', 'FunctionExpression', 'ArrowFunctionExpression']);
const isNode = (value: unknown): value is Node => typeof value === 'object' && value !== null && typeof (value as Node).type === 'string';

/** Every function of a file longer than `max` lines, as `file:line name (n lines)`. */
export function longFunctions(file: string, text: string, max = MAX_LINES): string[] {
  const lineStarts = [0];
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) lineStarts.push(i + 1);
  const lineOf = (offset: number) => {
    let lo = 0;
    let hi = lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (lineStarts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  };
  const found: string[] = [];
  const visit = (node: Node, name: string) => {
    if (FUNCTIONS.has(node.type) && node.body) {
      const lines = lineOf(node.end - 1) - lineOf(node.start) + 1;
      if (lines > max) found.push(`${file}:${lineOf(node.start)} ${nameOf(node) ?? name} (${lines} lines)`);
    }
    const own = nameOf(node);
    for (const value of Object.values(node)) {
      for (const child of Array.isArray(value) ? value : [value]) if (isNode(child)) visit(child, own ?? name);
    }
  };
  visit(parseAst(text, { lang: 'ts' }, file) as unknown as Node, '(anonymous)');
  return found;
}

/** The name a node gives the functions directly in it: a declaration's, a variable's, a property's or a method's. */
function nameOf(node: Node): string | undefined {
  const named = (node.id ?? node.key) as { name?: string } | undefined;
  if (named?.name && ['FunctionDeclaration', 'FunctionExpression', 'VariableDeclarator', 'Property', 'MethodDefinition', 'PropertyDefinition', 'ClassDeclaration'].includes(node.type)) {
    return named.name;
  }
  return undefined;
}

describe('function length in src/', () => {
  it(`has no function over ${MAX_LINES} lines`, () => {
    expect(sourceFiles().flatMap((file) => longFunctions(file, readFileSync(path.join(SRC, file), 'utf8')))).toEqual([]);
  });

  it('measures a long function, nested or not', () => {
    const body = Array.from({ length: MAX_LINES }, (_, i) => `  const x${i} = ${i};`).join('\n');
    const text = `function short() {\n  return 1;\n}\nexport const outer = () => {\n  function inner() {\n${body}\n  }\n};\n`;
    expect(longFunctions('x.ts', text)).toEqual(['x.ts:4 outer (104 lines)', 'x.ts:5 inner (102 lines)']);
  });
});
