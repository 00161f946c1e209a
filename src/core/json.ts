/**
 * JSON from clients, parsed with a nesting cap. `JSON.parse` itself copes with any depth, but everything after it
 * that walks a value recursively (JSON.stringify in an error body or a database driver, graphql-js input coercion,
 * Prisma's serialisers) overflows the stack on a few thousand levels, so depth is refused before a value is built:
 * every JSON body (REST, GraphQL over HTTP, multipart `operations`) goes through `parseJson`, and values parsed by a
 * library (graphql-ws messages) through `exceedsDepth`. Error bodies echo client input through `excerpt` only.
 */

/** Raised by parseJson for a document nested deeper than the limit (JSON_MAX_DEPTH). */
export class JsonDepthError extends Error {
  constructor(readonly limit: number) {
    super(`JSON is nested more than ${limit} levels deep (JSON_MAX_DEPTH)`);
    this.name = 'JsonDepthError';
  }
}

const OPEN_OBJECT = 0x7b; // {
const OPEN_ARRAY = 0x5b; // [
const CLOSE_OBJECT = 0x7d; // }
const CLOSE_ARRAY = 0x5d; // ]
const QUOTE = 0x22; // "
const BACKSLASH = 0x5c; // \

/**
 * Whether the JSON text opens more than `limit` nested objects/arrays at some point: one pass over the characters,
 * skipping strings; nothing is allocated. Malformed text is left to JSON.parse to report.
 */
export function textExceedsDepth(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) {
      inString = true;
    } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      if (++depth > limit) return true;
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      depth--;
    }
  }
  return false;
}

/** JSON.parse, refusing documents nested deeper than `maxDepth` (JsonDepthError) before parsing them. */
export function parseJson(text: string, maxDepth: number): unknown {
  if (textExceedsDepth(text, maxDepth)) throw new JsonDepthError(maxDepth);
  return JSON.parse(text);
}

/** Whether an already-parsed value nests objects/arrays deeper than `limit`; iterative, stops as soon as it knows. */
export function exceedsDepth(value: unknown, limit: number): boolean {
  if (value === null || typeof value !== 'object') return false;
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length) {
    const [current, depth] = stack.pop()!;
    if (depth > limit) return true;
    for (const child of Array.isArray(current) ? current : Object.values(current as object)) {
      if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
    }
  }
  return false;
}

export interface ExcerptLimits {
  depth: number;
  items: number;
  chars: number;
}

const EXCERPT: ExcerptLimits = { depth: 4, items: 10, chars: 200 };

/**
 * A bounded copy of client input for an error body: strings cut to `chars` characters, arrays and objects to
 * `items` entries (with a note of how many were left out), containers below `depth` levels replaced by "[…]"/"{…}".
 * Whatever the input, the copy is small and shallow, so serialising it can neither overflow nor balloon.
 */
export function excerpt(value: unknown, limits: ExcerptLimits = EXCERPT, depth = 0): unknown {
  if (typeof value === 'string') return value.length > limits.chars ? `${value.slice(0, limits.chars)}…` : value;
  if (value === null || typeof value !== 'object') return typeof value === 'bigint' ? String(value) : value;
  if (Buffer.isBuffer(value)) return excerpt(value.toString('utf8', 0, limits.chars + 1), limits, depth);
  if (Array.isArray(value)) {
    if (depth >= limits.depth) return '[…]';
    const items = value.slice(0, limits.items).map((item) => excerpt(item, limits, depth + 1));
    if (value.length > limits.items) items.push(`… ${value.length - limits.items} more`);
    return items;
  }
  if (depth >= limits.depth) return '{…}';
  const entries = Object.entries(value as object);
  const copy: Record<string, unknown> = {};
  // defineProperty: a key named `__proto__` stays a key instead of setting the copy's prototype.
  const put = (key: string, item: unknown) => Object.defineProperty(copy, key, { value: item, enumerable: true, writable: true, configurable: true });
  for (const [key, item] of entries.slice(0, limits.items)) put(excerpt(key, limits) as string, excerpt(item, limits, depth + 1));
  if (entries.length > limits.items) put('…', `${entries.length - limits.items} more`);
  return copy;
}
