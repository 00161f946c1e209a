import { createComplexityRule } from '@pothos/plugin-complexity';
import {
  getNamedType,
  getNullableType,
  GraphQLError,
  isLeafType,
  isListType,
  Kind,
  parse,
  validate,
  type DocumentNode,
  type ExecutionArgs,
  type FragmentDefinitionNode,
  type GraphQLSchema,
  type ParseOptions,
  type SelectionSetNode,
  type Source,
  type ValidationRule,
  type ValueNode,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { LRUCache } from 'lru-cache';

/**
 * What one GraphQL operation may cost, bounded before anything runs and checked cheaply, cheapest first:
 *
 * 1. parsing stops after GRAPHQL_MAX_TOKENS tokens (graphql-js's own `maxTokens`), so a megabyte of document is
 *    refused after reading a few kilobytes of it, and a parser that runs out of stack is a request error;
 * 2. the parsed document's depth and breadth (every field selection counts, aliases and `__typename` included,
 *    fragments as often as they are spread) are measured once per document, before validation, whose own rules
 *    (overlapping fields) grow quadratically with the number of fields;
 * 3. before execution, with the request's variables: list arguments (`nodes(ids:)`, `sourceIds`, `tags`…) and page
 *    sizes (`first`, `last`, `topK`, `limit`) are at most GRAPHQL_MAX_LIST_SIZE, and the operation's complexity,
 *    as @pothos/plugin-complexity counts it from the fields' own costs, is at most GRAPHQL_MAX_COMPLEXITY.
 *
 * Every refusal is one request error, BAD_USER_INPUT, and no resolver has run.
 */
export interface QueryLimits {
  maxTokens: number;
  maxDepth: number;
  maxBreadth: number;
  maxComplexity: number;
  maxListSize: number;
}

/** Int arguments that say how many items a field returns. */
const PAGE_SIZE_ARGUMENTS = new Set(['first', 'last', 'topK', 'limit']);

export function useQueryLimits(limits: QueryLimits): Plugin {
  const costs = costCache(limits);
  const beforeRunning = ({ args, setResultAndStopExecution }: { args: ExecutionArgs; setResultAndStopExecution: (result: { errors: GraphQLError[] }) => void }) => {
    const error = costs(args);
    if (error) setResultAndStopExecution({ errors: [error] });
  };
  return {
    // Runs before yoga's parser cache stores the outcome: each distinct document is parsed and measured once.
    onParse: ({ setParseFn }) => setParseFn((source, options) => parseWithinLimits(source, options, limits)),
    onExecute: beforeRunning,
    onSubscribe: beforeRunning,
  };
}

/**
 * Yoga keeps each distinct document text (and its parsed form, or the parse error) for an hour, 1,024 of them by
 * default whatever their size: a client could make it hold gigabytes of padding (comments are not tokens) or of
 * refused documents. These caches count what they hold by text length, so the texts they keep stay within
 * `maxChars` in all.
 */
export function parserCaches(maxChars = 2 * 1024 * 1024) {
  const cache = <T extends {}>() =>
    new LRUCache<string, T>({ max: 1024, ttl: 3_600_000, maxSize: maxChars, sizeCalculation: (_value, key) => Math.max(1, key.length) });
  return { documentCache: cache<DocumentNode>(), errorCache: cache<object>() };
}

export function parseWithinLimits(source: string | Source, options: ParseOptions | undefined, limits: QueryLimits): DocumentNode {
  let document: DocumentNode;
  try {
    document = parse(source, { ...options, maxTokens: limits.maxTokens });
  } catch (error) {
    if (error instanceof GraphQLError) throw requestError(error.message, {}, error);
    // graphql-js parses recursively: thousands of nested selection sets exhaust the stack.
    if (error instanceof RangeError) throw requestError(`Query depth exceeds the limit of ${limits.maxDepth}`, { limit: 'depth', max: limits.maxDepth });
    throw error;
  }
  checkShape(document, limits);
  return document;
}

class TooDeep extends Error {
  constructor(readonly max: number) {
    super('too deep');
  }
}

/**
 * Introspection (`__schema`, `__type`) reads the schema, not the database, and GraphiQL's standard query is deeper
 * (15) and broader (about 230 fields) than an API read: it is measured against bounds of its own, sized for that
 * query, so that GRAPHQL_MAX_DEPTH and GRAPHQL_MAX_BREADTH need not grow for it. Both still bind: a schema's types
 * refer to each other, and unbounded introspection would grow exponentially.
 */
const INTROSPECTION_LIMITS = { depth: 16, breadth: 300 };
const INTROSPECTION_FIELDS = new Set(['__schema', '__type']);

interface Shape {
  depth: number;
  breadth: number;
  /** Fields selected under introspection fields. */
  introspection: number;
}

/** Depth and breadth of every operation, following fragments; recursion never goes deeper than the limits. */
function checkShape(document: DocumentNode, limits: QueryLimits) {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  const measured = new Map<string, Shape>();
  const measuring = new Set<string>();
  const deepest = Math.max(limits.maxDepth, INTROSPECTION_LIMITS.depth);

  /** A selection set whose fields are `level + 1` levels down, measured against `maxDepth`. */
  const measure = (set: SelectionSetNode, level: number, maxDepth: number): Shape => {
    const shape: Shape = { depth: 0, breadth: 0, introspection: 0 };
    const add = (inner: Shape, fieldLevels: number) => {
      shape.depth = Math.max(shape.depth, fieldLevels + inner.depth);
      shape.breadth += inner.breadth;
      shape.introspection += inner.introspection;
    };
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) {
        if (level + 1 > maxDepth) throw new TooDeep(maxDepth);
        const below = selection.selectionSet;
        if (below && INTROSPECTION_FIELDS.has(selection.name.value)) {
          const inner = measure(below, 1, INTROSPECTION_LIMITS.depth);
          add({ depth: 0, breadth: 0, introspection: 1 + inner.breadth + inner.introspection }, 1);
        } else {
          add(below ? measure(below, level + 1, maxDepth) : { depth: 0, breadth: 0, introspection: 0 }, 1);
          shape.breadth += 1;
        }
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        add(measure(selection.selectionSet, level, maxDepth), 0);
      } else {
        const name = selection.name.value;
        let inner = measured.get(name);
        // Unknown and cyclic fragments are validation's to report.
        if (!inner && fragments.has(name) && !measuring.has(name)) {
          measuring.add(name);
          inner = measure(fragments.get(name)!.selectionSet, 0, deepest);
          measuring.delete(name);
          measured.set(name, inner);
        }
        if (!inner) continue;
        if (level + inner.depth > maxDepth) throw new TooDeep(maxDepth);
        add(inner, 0);
      }
    }
    return shape;
  };

  for (const definition of document.definitions) {
    if (definition.kind !== Kind.OPERATION_DEFINITION) continue;
    let shape: Shape;
    try {
      shape = measure(definition.selectionSet, 0, limits.maxDepth);
    } catch (error) {
      if (error instanceof TooDeep || error instanceof RangeError) {
        const max = error instanceof TooDeep ? error.max : limits.maxDepth;
        throw requestError(`Query depth exceeds the limit of ${max}`, { limit: 'depth', max });
      }
      throw error;
    }
    if (shape.breadth > limits.maxBreadth) {
      throw requestError(`Query breadth ${shape.breadth} exceeds the limit of ${limits.maxBreadth}`, { limit: 'breadth', value: shape.breadth, max: limits.maxBreadth });
    }
    if (shape.introspection > INTROSPECTION_LIMITS.breadth) {
      const max = INTROSPECTION_LIMITS.breadth;
      throw requestError(`Introspection breadth ${shape.introspection} exceeds the limit of ${max}`, { limit: 'breadth', value: shape.introspection, max });
    }
  }
}

/**
 * The cost check of an operation depends only on the document, the operation and the variables (the fields'
 * complexity callbacks read arguments, never the caller), so its outcome is kept per parsed document (which yoga's
 * parser cache holds) and variables: a client repeating a read pays two validation passes once, not per request.
 */
function costCache(limits: QueryLimits) {
  const byDocument = new WeakMap<DocumentNode, Map<string, GraphQLError | undefined>>();
  return (args: ExecutionArgs): GraphQLError | undefined => {
    let outcomes = byDocument.get(args.document);
    if (!outcomes) byDocument.set(args.document, (outcomes = new Map()));
    const key = `${args.operationName ?? ''}\u0000${JSON.stringify(args.variableValues ?? {})}`;
    if (outcomes.has(key)) return outcomes.get(key);
    const error = operationCostError(args, limits);
    // Bounded: a document read with ever-new variables keeps only its latest outcomes.
    if (outcomes.size >= 64 || key.length > 4096) outcomes.clear();
    if (key.length <= 4096) outcomes.set(key, error);
    return error;
  };
}

/** List sizes first (so an oversized list is never coerced for the complexity callbacks), then complexity. */
function operationCostError(args: ExecutionArgs, limits: QueryLimits): GraphQLError | undefined {
  const variables = (args.variableValues ?? {}) as Record<string, unknown>;
  let tooLong: GraphQLError | undefined;
  validate(args.schema, args.document, [listArgumentsRule(limits.maxListSize, variables, (error) => (tooLong ??= error))]);
  if (tooLong) return tooLong;

  let complexity = 0;
  const rule = createComplexityRule({
    context: args.contextValue as object,
    variableValues: variables,
    operationName: args.operationName ?? undefined,
    // Only the figure is wanted here: depth and breadth were measured at parse time, and variables that do not
    // coerce (reported by the rule too) are left to execution, which answers them in its own words.
    validate: () => {},
    onResult: (state) => (complexity = Math.max(complexity, state.complexity)),
  });
  try {
    validate(args.schema, args.document, [rule]);
  } catch (error) {
    // A complexity callback read an argument the client got wrong (an id that is not Quarry's…).
    if (error instanceof GraphQLError && error.extensions?.code) return error;
    throw error;
  }
  if (complexity > limits.maxComplexity) {
    return requestError(`Query complexity ${complexity} exceeds the limit of ${limits.maxComplexity}`, { limit: 'complexity', value: complexity, max: limits.maxComplexity });
  }
  return undefined;
}

/** Refuses list arguments of ids, names, enums… longer than `max`, and page sizes above it. */
function listArgumentsRule(max: number, variables: Record<string, unknown>, report: (error: GraphQLError) => void): ValidationRule {
  return (context) => {
    const defaults = new Map<string, ValueNode>();
    for (const definition of context.getDocument().definitions) {
      if (definition.kind !== Kind.OPERATION_DEFINITION) continue;
      for (const variable of definition.variableDefinitions ?? []) if (variable.defaultValue) defaults.set(variable.variable.name.value, variable.defaultValue);
    }
    /** The client's value for an argument, as sent: a literal, or the variable's value or default. */
    const sent = (node: ValueNode): unknown => {
      if (node.kind !== Kind.VARIABLE) return node;
      const name = node.name.value;
      if (name in variables) return variables[name];
      const fallback = defaults.get(name);
      return fallback ? sent(fallback) : undefined;
    };
    return {
      Argument(node) {
        const argument = context.getArgument();
        const field = context.getFieldDef();
        if (!argument || !field || context.getDirective()) return;
        const type = getNullableType(argument.type);
        const value = sent(node.value);
        const where = `${field.name}(${argument.name}:)`;
        if (isListType(type) && isLeafType(getNamedType(type))) {
          const length = Array.isArray(value) ? value.length : (value as ValueNode | undefined)?.kind === Kind.LIST ? (value as { values: readonly unknown[] }).values.length : 0;
          if (length > max) report(requestError(`${where} has ${length} items; at most ${max} are allowed`, { limit: 'listSize', argument: argument.name, value: length, max }));
        } else if (PAGE_SIZE_ARGUMENTS.has(argument.name) && getNamedType(type).name === 'Int') {
          const size = typeof value === 'number' ? value : (value as ValueNode | undefined)?.kind === Kind.INT ? Number((value as { value: string }).value) : undefined;
          if (size !== undefined && size > max) report(requestError(`${where} is ${size}; at most ${max} are allowed`, { limit: 'listSize', argument: argument.name, value: size, max }));
        }
      },
    };
  };
}

function requestError(message: string, details: Record<string, unknown>, from?: GraphQLError): GraphQLError {
  return new GraphQLError(message, {
    source: from?.source,
    positions: from?.positions,
    extensions: { code: 'BAD_USER_INPUT', ...details, http: { status: 400 } },
  });
}
