/**
 * No function in src/ is longer than MAX_LINES lines (README, "Layout"): a longer one does several things, and is
 * cut where it does. Measured from the source text with TypeScript's parser; a function's lines include those of
 * the functions written inside it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const SRC = path.resolve(import.meta.dirname, '../src');
const MAX_LINES = 100;

/**
 * Files whose long functions are being rewritten elsewhere (the ingest pipeline): remove a file from here when its
 * functions are cut; the test fails on a file listed here that no longer needs it.
 */
const EXEMPT = new Set<string>([]);

function sourceFiles(dir = SRC): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'generated' ? [] : sourceFiles(full);
    return entry.name.endsWith('.ts') ? [path.relative(SRC, full)] : [];
  });
}

/** Every function of a file longer than `max` lines, as `file:line name (n lines)`. */
export function longFunctions(file: string, text: string, max = MAX_LINES): string[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const start = source.getLineAndCharacterOfPosition(node.getStart(source)).line;
      const end = source.getLineAndCharacterOfPosition(node.getEnd()).line;
      const lines = end - start + 1;
      if (lines > max) found.push(`${file}:${start + 1} ${nameOf(node)} (${lines} lines)`);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

function nameOf(node: ts.SignatureDeclaration): string {
  if (node.name) return node.name.getText();
  const parent = node.parent;
  if (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent) || ts.isPropertyDeclaration(parent)) return parent.name.getText();
  return '(anonymous)';
}

describe('function length in src/', () => {
  const byFile = new Map(sourceFiles().map((file) => [file, longFunctions(file, readFileSync(path.join(SRC, file), 'utf8'))]));

  it(`has no function over ${MAX_LINES} lines outside the exempt files`, () => {
    const offenders = [...byFile].filter(([file]) => !EXEMPT.has(file)).flatMap(([, found]) => found);
    expect(offenders).toEqual([]);
  });

  it('exempts only files that still need it', () => {
    expect([...EXEMPT].filter((file) => !byFile.get(file)?.length)).toEqual([]);
  });

  it('measures a long function, nested or not', () => {
    const body = Array.from({ length: MAX_LINES }, (_, i) => `  const x${i} = ${i};`).join('\n');
    const text = `function short() {\n  return 1;\n}\nexport const outer = () => {\n  function inner() {\n${body}\n  }\n};\n`;
    expect(longFunctions('x.ts', text)).toEqual(['x.ts:4 outer (106 lines)', 'x.ts:5 inner (102 lines)']);
  });
});
