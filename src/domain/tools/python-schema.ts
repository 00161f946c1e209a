/**
 * Derives an OpenAI function JSON schema from a Python tool's source code without running it, the way Letta does for
 * custom tools (reference §10.4): the last top-level `def` is the tool, its Google-style docstring gives the
 * descriptions and its annotations the parameter types. The source is parsed with tree-sitter's Python grammar
 * (WebAssembly build), so nothing here executes or imports user code.
 */
import { createRequire } from 'node:module';
import { Language, Parser, type Node } from 'web-tree-sitter';

export class ToolSchemaError extends Error {
  constructor(readonly reason: string) {
    super(`Failed to derive json schema: ${reason}`);
    this.name = 'ToolSchemaError';
  }
}

export type JsonSchema = Record<string, unknown>;

export interface ToolJsonSchema {
  name: string;
  description: string;
  parameters: { type: 'object'; properties: Record<string, JsonSchema>; required: string[] };
}

/** Parameters Letta injects itself rather than asking the model for. */
const SKIPPED_PARAMETERS = new Set(['self', 'agent_state']);

/** Letta's wording when a docstring has no text before its sections. */
const NO_DESCRIPTION = 'No description available';

let parserPromise: Promise<Parser> | undefined;

/** One parser for the process: loading the runtime and the grammar costs tens of milliseconds. */
function pythonParser(): Promise<Parser> {
  parserPromise ??= (async () => {
    await Parser.init();
    const wasm = createRequire(import.meta.url).resolve('tree-sitter-python/tree-sitter-python.wasm');
    const parser = new Parser();
    parser.setLanguage(await Language.load(wasm));
    return parser;
  })().catch((error: unknown) => {
    parserPromise = undefined; // let a later call retry instead of caching the failure
    throw error;
  });
  return parserPromise;
}

/** Parses `source` and hands the module node to `use`; the tree lives in WebAssembly memory, so it is freed after. */
async function withModule<T>(source: string, use: (module: Node) => T): Promise<T> {
  const tree = (await pythonParser()).parse(source);
  if (!tree) throw new Error('tree-sitter returned no tree');
  try {
    return use(tree.rootNode);
  } finally {
    tree.delete();
  }
}

/** Names of the module's top-level functions (plain, async and decorated), in source order. Syntax is not checked. */
export async function pythonFunctionNames(sourceCode: string): Promise<string[]> {
  return withModule(sourceCode, (module) => topLevelFunctions(module).map(functionName));
}

export async function deriveToolSchema(
  sourceCode: string,
): Promise<{ name: string; description: string; jsonSchema: ToolJsonSchema }> {
  const jsonSchema = await withModule(sourceCode, (module) => {
    const syntaxError = findSyntaxError(module);
    if (syntaxError) throw new ToolSchemaError(syntaxError);
    const tool = topLevelFunctions(module).at(-1);
    if (!tool) throw new ToolSchemaError('no top-level function definition found in the source code');
    return functionSchema(tool);
  });
  return { name: jsonSchema.name, description: jsonSchema.description, jsonSchema };
}

function topLevelFunctions(module: Node): Node[] {
  const functions: Node[] = [];
  for (const statement of module.namedChildren) {
    const definition =
      statement.type === 'decorated_definition' ? statement.childForFieldName('definition') : statement;
    if (definition?.type === 'function_definition') functions.push(definition);
  }
  return functions;
}

function functionName(fn: Node): string {
  return fn.childForFieldName('name')!.text;
}

/** Describes the first syntax error, or returns null. */
function findSyntaxError(module: Node): string | null {
  const position = (node: Node) => `line ${node.startPosition.row + 1}, column ${node.startPosition.column + 1}`;
  const broken = firstBrokenNode(module);
  if (broken?.isMissing) return `syntax error: missing "${broken.type}" at ${position(broken)}`;
  if (broken) return `syntax error: invalid syntax at ${position(broken)}`;
  // The grammar still accepts Python 2's print and exec statements, which Python 3 rejects.
  const python2 = module.descendantsOfType(['print_statement', 'exec_statement'])[0];
  if (python2) return `syntax error: Python 2 ${python2.type.replace('_', ' ')} at ${position(python2)}`;
  return null;
}

/** The first ERROR or MISSING node in source order; only subtrees flagged `hasError` can hold one. */
function firstBrokenNode(node: Node): Node | null {
  if (node.isError || node.isMissing) return node;
  if (!node.hasError) return null;
  for (const child of node.children) {
    const broken = firstBrokenNode(child);
    if (broken) return broken;
  }
  return null;
}

function functionSchema(fn: Node): ToolJsonSchema {
  const name = functionName(fn);
  const docstring = functionDocstring(fn);
  if (docstring === null || docstring.trim() === '') throw new ToolSchemaError(`Function ${name} missing docstring`);
  const doc = parseGoogleDocstring(docstring);

  const properties: Record<string, JsonSchema> = {};
  const required: string[] = [];
  for (const param of functionParameters(fn)) {
    if (SKIPPED_PARAMETERS.has(param.name)) continue;
    const where = `Parameter '${param.name}' in function '${name}'`;
    if (!param.annotation) throw new ToolSchemaError(`${where} lacks a type annotation`);
    const description = doc.args.get(param.name);
    if (!description) throw new ToolSchemaError(`${where} lacks a description in the docstring's Args section`);

    const annotation = param.annotation;
    const { schema, optional } = mapAnnotation(annotation, (detail) => {
      return new ToolSchemaError(`${where} has an unsupported type annotation '${annotation.text}': ${detail}`);
    });
    const property: JsonSchema = { ...schema, description };
    const fallback = param.default ? literalValue(param.default) : undefined;
    if (fallback) property.default = fallback.value;
    properties[param.name] = property;
    if (!param.default && !optional) required.push(param.name);
  }
  return { name, description: doc.description, parameters: { type: 'object', properties, required } };
}

// ---------------------------------------------------------------------------------------------------------------
// Parameters and literals

interface PythonParameter {
  name: string;
  annotation: Node | null;
  default: Node | null;
}

/** The named parameters; `*args`, `**kwargs` and the bare `*` and `/` separators are left out. */
function functionParameters(fn: Node): PythonParameter[] {
  const params: PythonParameter[] = [];
  for (const node of fn.childForFieldName('parameters')!.namedChildren) {
    switch (node.type) {
      case 'identifier':
        params.push({ name: node.text, annotation: null, default: null });
        break;
      case 'typed_parameter': {
        // `*args: int` is a typed_parameter too, wrapping a splat pattern instead of an identifier.
        const target = node.namedChildren[0];
        if (target.type === 'identifier') {
          params.push({ name: target.text, annotation: node.childForFieldName('type'), default: null });
        }
        break;
      }
      case 'default_parameter':
      case 'typed_default_parameter':
        params.push({
          name: node.childForFieldName('name')!.text,
          annotation: node.childForFieldName('type'),
          default: node.childForFieldName('value'),
        });
        break;
    }
  }
  return params;
}

/** The value of a simple literal (string, number, True/False/None, or a list of those); undefined for anything else. */
function literalValue(node: Node): { value: unknown } | undefined {
  switch (node.type) {
    case 'string':
    case 'concatenated_string': {
      const value = stringValue(node);
      return value === null ? undefined : { value };
    }
    case 'integer':
    case 'float': {
      const value = Number(node.text.replaceAll('_', '')); // also reads 0x/0o/0b; complex (1j) gives NaN
      return Number.isFinite(value) ? { value } : undefined;
    }
    case 'unary_operator': {
      const operator = node.childForFieldName('operator')!.text;
      const operand = literalValue(node.childForFieldName('argument')!);
      if (typeof operand?.value !== 'number' || (operator !== '-' && operator !== '+')) return undefined;
      return { value: operator === '-' ? -operand.value : operand.value };
    }
    case 'true':
      return { value: true };
    case 'false':
      return { value: false };
    case 'none':
      return { value: null };
    case 'list': {
      const items = node.namedChildren.map(literalValue);
      return items.every((item) => item !== undefined) ? { value: items.map((item) => item!.value) } : undefined;
    }
    default:
      return undefined;
  }
}

/**
 * The value of a str literal, implicit concatenations included, or null for bytes, f-strings and t-strings.
 * Escapes are decoded from the grammar's escape_sequence nodes; raw strings have none.
 */
function stringValue(node: Node): string | null {
  if (node.type === 'concatenated_string') {
    const parts = node.namedChildren.map(stringValue);
    return parts.includes(null) ? null : parts.join('');
  }
  const prefix = node.children[0].text.replace(/['"]+$/, '').toLowerCase();
  if (/[fbt]/.test(prefix)) return null;
  let value = '';
  for (const content of node.namedChildren.filter((child) => child.type === 'string_content')) {
    // Indices count UTF-16 code units, like JavaScript strings, so they can slice the content's text.
    const text = content.text;
    let cursor = 0;
    for (const escape of content.namedChildren.filter((child) => child.type === 'escape_sequence')) {
      value += text.slice(cursor, escape.startIndex - content.startIndex) + decodeEscape(escape.text);
      cursor = escape.endIndex - content.startIndex;
    }
    value += text.slice(cursor);
  }
  return value;
}

const SIMPLE_ESCAPES: Record<string, string> = {
  '\\': '\\', "'": "'", '"': '"', a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v',
  '\n': '', '\r\n': '', // a backslash at the end of a line continues the literal
};

function decodeEscape(escape: string): string {
  const body = escape.slice(1);
  if (body in SIMPLE_ESCAPES) return SIMPLE_ESCAPES[body];
  if (/^[0-7]{1,3}$/.test(body)) return String.fromCodePoint(parseInt(body, 8));
  if (/^(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8})$/.test(body)) {
    return String.fromCodePoint(parseInt(body.slice(1), 16));
  }
  return escape; // \N{NAME} needs Unicode's name table; the escape is kept as written
}

// ---------------------------------------------------------------------------------------------------------------
// Type annotations

/** `typing.X` and `typing_extensions.X` are read as `X`. */
const TYPING_MODULES = new Set(['typing', 'typing_extensions']);

const PRIMITIVES: Record<string, string> = { str: 'string', int: 'integer', float: 'number', bool: 'boolean' };

type Unsupported = (detail: string) => Error;

/**
 * Maps an annotation to a JSON schema. `Optional[T]`, `Union[T, None]` and `T | None` map to T and make the parameter
 * optional; other unions are rejected, as Letta does.
 */
function mapAnnotation(annotation: Node, unsupported: Unsupported): { schema: JsonSchema; optional: boolean } {
  const node = unwrapType(annotation);
  const union = splitUnion(node);
  if (!union) return { schema: mapType(node, unsupported), optional: false };
  if (!union.withNone || union.members.length !== 1) {
    throw unsupported('unions are only supported as Optional[T] or T | None');
  }
  return { schema: mapAnnotation(union.members[0], unsupported).schema, optional: true };
}

function mapType(node: Node, unsupported: Unsupported): JsonSchema {
  const name = typeName(node);
  if (name !== null) {
    if (name in PRIMITIVES) return { type: PRIMITIVES[name] };
    if (name === 'list' || name === 'List') return { type: 'array', items: { type: 'string' } }; // Letta's default
    if (name === 'dict' || name === 'Dict') return { type: 'object' };
    throw unsupported(`'${node.text}' has no corresponding JSON schema type`);
  }
  const generic = genericParts(node);
  switch (generic?.base) {
    case 'list':
    case 'List':
      if (generic.args.length !== 1) throw unsupported(`${generic.base}[...] takes exactly one item type`);
      return { type: 'array', items: mapAnnotation(generic.args[0], unsupported).schema };
    case 'dict':
    case 'Dict':
      return { type: 'object' };
    case 'tuple':
    case 'Tuple': {
      if (generic.args.some((arg) => unwrapType(arg).type === 'ellipsis')) {
        throw unsupported('variable-length tuples (tuple[T, ...]) are not supported');
      }
      const prefixItems = generic.args.map((arg) => mapAnnotation(arg, unsupported).schema);
      return { type: 'array', prefixItems, minItems: prefixItems.length, maxItems: prefixItems.length };
    }
    case 'Literal':
      return literalEnum(generic.args, unsupported);
  }
  throw unsupported(`'${node.text}' has no corresponding JSON schema type`);
}

function literalEnum(args: Node[], unsupported: Unsupported): JsonSchema {
  const values = args.map((arg) => literalValue(unwrapType(arg))?.value);
  if (values.length > 0 && values.every((value) => typeof value === 'string')) return { type: 'string', enum: values };
  if (values.length > 0 && values.every(Number.isInteger)) return { type: 'integer', enum: values };
  throw unsupported('Literal values must be all strings or all integers');
}

/** Annotations come wrapped in `type` nodes, at the top and around each generic argument. */
function unwrapType(node: Node): Node {
  let current = node;
  while (current.type === 'type' && current.firstNamedChild) current = current.firstNamedChild;
  return current;
}

/** The name of a plain type (`int`, `typing.List`), or null when the node is not one. */
function typeName(node: Node): string | null {
  if (node.type === 'identifier') return node.text;
  if (node.type === 'attribute') {
    const object = node.childForFieldName('object')!;
    if (object.type === 'identifier' && TYPING_MODULES.has(object.text)) {
      return node.childForFieldName('attribute')!.text;
    }
  }
  return null;
}

/**
 * `Base[args]`. The grammar yields a generic_type when the base is a bare name and a subscript expression when it is
 * an attribute (`typing.List[int]`); both are read the same way.
 */
function genericParts(node: Node): { base: string | null; args: Node[] } | null {
  if (node.type === 'generic_type') {
    const parameters = node.namedChildren.find((child) => child.type === 'type_parameter');
    return {
      base: typeName(node.namedChildren[0]),
      args: parameters?.namedChildren.filter((child) => child.type !== 'comment') ?? [],
    };
  }
  if (node.type === 'subscript') {
    return { base: typeName(node.childForFieldName('value')!), args: node.childrenForFieldName('subscript') };
  }
  return null;
}

/**
 * The members of `A | B`, `Union[A, B]` or `Optional[A]` other than None, and whether None was among them; null when
 * the node is not a union.
 */
function splitUnion(node: Node): { members: Node[]; withNone: boolean } | null {
  let operands: Node[];
  if (node.type === 'binary_operator' && node.childForFieldName('operator')!.text === '|') {
    operands = [node.childForFieldName('left')!, node.childForFieldName('right')!];
  } else {
    const generic = genericParts(node);
    if (generic?.base === 'Optional') return { members: generic.args, withNone: true };
    if (generic?.base !== 'Union') return null;
    operands = generic.args;
  }
  const union = { members: [] as Node[], withNone: false };
  for (const operand of operands.map(unwrapType)) {
    const nested = splitUnion(operand); // `int | None | str`, `Optional[int] | str`
    if (nested) {
      union.members.push(...nested.members);
      union.withNone ||= nested.withNone;
    } else if (operand.type === 'none') {
      union.withNone = true;
    } else {
      union.members.push(operand);
    }
  }
  return union;
}

// ---------------------------------------------------------------------------------------------------------------
// Docstrings

/** The function's docstring: a str literal as the first statement of its body (comments aside), or null. */
function functionDocstring(fn: Node): string | null {
  const first = fn.childForFieldName('body')!.namedChildren.find((child) => child.type !== 'comment');
  if (first?.type !== 'expression_statement' || first.namedChildCount !== 1) return null;
  const expression = first.namedChildren[0];
  if (expression.type !== 'string' && expression.type !== 'concatenated_string') return null;
  return stringValue(expression);
}

const ARG_SECTIONS = new Set(['Args', 'Arguments', 'Parameters', 'Params']);
/** The section titles docstring_parser (which Letta uses) recognises in Google-style docstrings. */
const SECTION_TITLES = new Set([
  ...ARG_SECTIONS, 'Returns', 'Yields', 'Raises', 'Exceptions', 'Except', 'Attributes', 'Example', 'Examples',
]);

/** The title when the (dedented) line opens a section, like `Args:`. */
function sectionTitle(line: string): string | undefined {
  const title = /^(\w+):\s*$/.exec(line)?.[1];
  return title && SECTION_TITLES.has(title) ? title : undefined;
}

/**
 * Splits a Google-style docstring into its description (summary paragraph, then the long description after a blank
 * line, both ending at the first section) and the parameter descriptions of its Args section.
 */
function parseGoogleDocstring(docstring: string): { description: string; args: Map<string, string> } {
  const lines = cleandoc(docstring);
  const firstSection = lines.findIndex((line) => sectionTitle(line) !== undefined);
  const descriptionLines = firstSection === -1 ? lines : lines.slice(0, firstSection);

  const blank = descriptionLines.findIndex((line) => line.trim() === '');
  const summary = (blank === -1 ? descriptionLines : descriptionLines.slice(0, blank)).join('\n').trim();
  const long = blank === -1 ? '' : descriptionLines.slice(blank).join('\n').trim();
  const description = [summary, long].filter(Boolean).join('\n\n') || NO_DESCRIPTION;

  const sections: { title: string; lines: string[] }[] = [];
  for (const line of lines.slice(descriptionLines.length)) {
    const title = sectionTitle(line);
    if (title) sections.push({ title, lines: [] });
    else sections.at(-1)!.lines.push(line); // the slice starts at a title
  }
  const args = new Map<string, string>();
  for (const { title, lines: body } of sections) {
    if (ARG_SECTIONS.has(title)) for (const [name, text] of parseArgsSection(body)) args.set(name, text);
  }
  return { description, args };
}

/**
 * Entries start at the section's base indentation as `name (type): text` or `name: text`; lines indented further
 * continue the entry above and are joined with newlines, dedented, as docstring_parser does.
 */
function parseArgsSection(section: string[]): Map<string, string> {
  const body = dedent(section);
  const entries = new Map<string, string>();
  let current: { name: string; first: string; rest: string[] } | null = null;
  const flush = () => {
    if (current) entries.set(current.name, [current.first, ...trimBlankLines(dedent(current.rest))].join('\n').trim());
  };
  for (const line of body) {
    if (line.trim() !== '' && indentation(line) === 0) {
      flush();
      const colon = line.indexOf(':');
      current = colon === -1 ? null : {
        name: line.slice(0, colon).replace(/\(.*\)/, '').trim().replace(/^\*+/, ''),
        first: line.slice(colon + 1).trim(),
        rest: [],
      };
    } else {
      current?.rest.push(line);
    }
  }
  flush();
  return entries;
}

/** Python's inspect.cleandoc: tabs expanded, the first line stripped, the rest dedented, blank edges dropped. */
function cleandoc(docstring: string): string[] {
  const lines = docstring.split(/\r?\n/).map(expandTabs);
  return trimBlankLines([lines[0].trimStart(), ...dedent(lines.slice(1))]);
}

function dedent(lines: string[]): string[] {
  const margins = lines.filter((line) => line.trim() !== '').map(indentation);
  const margin = margins.length > 0 ? Math.min(...margins) : 0;
  return lines.map((line) => (line.trim() === '' ? '' : line.slice(margin)));
}

function trimBlankLines(lines: string[]): string[] {
  const first = lines.findIndex((line) => line.trim() !== '');
  if (first === -1) return [];
  const last = lines.findLastIndex((line) => line.trim() !== '');
  return lines.slice(first, last + 1);
}

function indentation(line: string): number {
  return line.length - line.trimStart().length;
}

function expandTabs(line: string): string {
  let expanded = '';
  for (const char of line) expanded += char === '\t' ? ' '.repeat(8 - (expanded.length % 8)) : char;
  return expanded;
}
