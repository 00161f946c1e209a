import { z } from 'zod';
import type { IdPrefix } from '../core/ids.js';
import { doc } from './registry.js';

/**
 * Request validation in FastAPI's words: a failed check becomes `{type, loc, msg, input}` like the errors
 * Letta's server lists in a 422 body, so clients written against Letta read them the same way.
 */

export type Location = 'path' | 'query' | 'body';

export interface ValidationIssue {
  type: string;
  loc: (string | number)[];
  msg: string;
  input: unknown;
  ctx?: Record<string, unknown>;
}

/**
 * A request that fails a check only its handler can make (a multipart body the router does not read): answered
 * like the router's own validation errors, a 422 listing the issues.
 */
export class RequestValidationError extends Error {
  constructor(readonly issues: ValidationIssue[]) {
    super(issues.map((issue) => `${issue.loc.join('.')}: ${issue.msg}`).join('; '));
    this.name = 'RequestValidationError';
  }
}

/** An example id per prefix, as Letta 0.13+ shows next to a malformed path id. */
export const exampleId = (prefix: string) => `${prefix}-123e4567-e89b-42d3-a456-426614174000`;

const UUID4 = '[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}';

/** A `<prefix>-<uuid4>` id, checked before any lookup (Letta 0.13+ path validation). */
export function idOf(prefix: IdPrefix, description?: string) {
  return doc(z.string().regex(new RegExp(`^${prefix}-${UUID4}$`), { message: `String should match pattern '${prefix}-{uuid4}'` }), {
    description: description ?? `A ${prefix} id (${prefix}-<uuid4>).`,
    examples: [exampleId(prefix)],
  });
}

/** Lists whose values may also come comma-separated (ids and enum values, which hold no commas). */
const COMMA_LISTS = new WeakSet<z.ZodType>();

/** Query values arrive as text: these parse them as FastAPI does. */
export const q = {
  int: (min: number, max: number) => z.coerce.number().int().min(min).max(max),
  bool: () => z.stringbool(),
  /** Repeated (`?x=a&x=b`) or bracketed (`?x[]=a&x[]=b`). */
  list: <T extends z.ZodType>(item: T) => z.array(item),
  /** Like list, and comma-separated too (`?x=a,b`), as Letta accepts ids and tool types. */
  csv: <T extends z.ZodType>(item: T) => {
    const schema = z.array(item);
    COMMA_LISTS.add(schema);
    return schema;
  },
};

function valueAt(input: unknown, path: PropertyKey[]): unknown {
  let value = input;
  for (const key of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

const TYPE_NAMES: Record<string, [string, string]> = {
  string: ['string_type', 'Input should be a valid string'],
  number: ['float_type', 'Input should be a valid number'],
  int: ['int_type', 'Input should be a valid integer'],
  boolean: ['bool_type', 'Input should be a valid boolean'],
  object: ['model_type', 'Input should be a valid dictionary or object'],
  record: ['dict_type', 'Input should be a valid dictionary'],
  array: ['list_type', 'Input should be a valid list'],
  null: ['none_required', 'Input should be None'],
};

/** zod's issues in FastAPI's shape, located in the path, query or body. */
export function toValidationIssues(error: z.ZodError, where: Location, input: unknown): ValidationIssue[] {
  return error.issues.flatMap((issue): ValidationIssue[] => {
    const path = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p));
    const loc = [where, ...path];
    const value = valueAt(input, issue.path);
    switch (issue.code) {
      case 'invalid_type': {
        if (value === undefined) return [{ type: 'missing', loc, msg: 'Field required', input: valueAt(input, issue.path.slice(0, -1)) ?? null }];
        const [type, msg] = TYPE_NAMES[issue.expected] ?? ['type_error', issue.message];
        return [{ type, loc, msg, input: value }];
      }
      case 'unrecognized_keys':
        return issue.keys.map((key) => ({ type: 'extra_forbidden', loc: [...loc, key], msg: 'Extra inputs are not permitted', input: valueAt(value, [key]) }));
      case 'invalid_value': {
        const expected = issue.values.map((v) => `'${String(v)}'`);
        const list = expected.length > 1 ? `${expected.slice(0, -1).join(', ')} or ${expected[expected.length - 1]}` : expected[0];
        return [{ type: 'enum', loc, msg: `Input should be ${list}`, input: value, ctx: { expected: list } }];
      }
      case 'invalid_format':
        if (issue.format === 'regex') {
          const pattern = String(issue.pattern ?? '').replace(/^\/|\/[a-z]*$/g, '');
          return [{ type: 'string_pattern_mismatch', loc, msg: issue.message, input: value, ctx: { pattern } }];
        }
        return [{ type: 'value_error', loc, msg: issue.message, input: value }];
      case 'too_small':
      case 'too_big': {
        const bound = issue.code === 'too_small' ? 'greater_than_equal' : 'less_than_equal';
        const limit = issue.code === 'too_small' ? issue.minimum : issue.maximum;
        if (issue.origin === 'string') {
          const type = issue.code === 'too_small' ? 'string_too_short' : 'string_too_long';
          return [{ type, loc, msg: `String should have ${issue.code === 'too_small' ? 'at least' : 'at most'} ${limit} characters`, input: value }];
        }
        if (issue.origin === 'array') {
          const type = issue.code === 'too_small' ? 'too_short' : 'too_long';
          return [{ type, loc, msg: `List should have ${issue.code === 'too_small' ? 'at least' : 'at most'} ${limit} items`, input: value }];
        }
        const words = issue.code === 'too_small' ? 'greater than or equal to' : 'less than or equal to';
        return [{ type: bound, loc, msg: `Input should be ${words} ${String(limit)}`, input: value, ctx: { [issue.code === 'too_small' ? 'ge' : 'le']: limit } }];
      }
      case 'invalid_union':
        return [{ type: 'union_error', loc, msg: issue.message, input: value }];
      default:
        return [{ type: 'value_error', loc, msg: issue.message, input: value }];
    }
  });
}

/**
 * The query string as an object for a query schema: a parameter declared as a list collects every value
 * (repeated or `name[]`, and comma-separated for `q.csv` lists); any other takes the last one. Unknown
 * parameters are left out (FastAPI ignores them).
 */
export function queryObject(search: URLSearchParams, schema: z.ZodObject<z.ZodRawShape> | undefined): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  if (!schema) return result;
  for (const [name, field] of Object.entries(schema.shape)) {
    const values = [...search.getAll(name), ...search.getAll(`${name}[]`)];
    if (!values.length) continue;
    const list = listOf(field as z.ZodType);
    if (!list) result[name] = values[values.length - 1];
    else if (COMMA_LISTS.has(list)) result[name] = values.flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
    else result[name] = values;
  }
  return result;
}

function listOf(schema: z.ZodType): z.ZodArray | null {
  let current: z.ZodType = schema;
  for (;;) {
    if (current instanceof z.ZodArray) return current;
    if (current instanceof z.ZodOptional || current instanceof z.ZodNullable || current instanceof z.ZodDefault) {
      current = current.unwrap() as z.ZodType;
      continue;
    }
    return null;
  }
}
