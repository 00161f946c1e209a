import {
  getNamedType,
  getOperationAST,
  getVariableValues,
  GraphQLError,
  isAbstractType,
  isObjectType,
  type DocumentNode,
  type ExecutionResult,
  type GraphQLField,
  type GraphQLFieldResolver,
  type GraphQLNamedType,
  type GraphQLObjectType,
  type GraphQLResolveInfo,
  type GraphQLSchema,
} from 'graphql';
import { compileQuery, isCompiledQuery, type CompiledQuery } from 'graphql-jit';
import type { Plugin } from 'graphql-yoga';
import { COMPILED_ROW } from './db/reader.js';

/**
 * Queries run through graphql-jit: each document is compiled once into a function (kept with the parsed
 * document, which yoga's parser cache holds) instead of being interpreted field by field on every request.
 * For a list-heavy read (hundreds of fields) the interpreter's per-field work is most of the CPU a request
 * costs once the database is batched; compiled, it is a small fraction. Resolvers, the context and `info`
 * are the same, so Pothos plugins and tenancy behave the same; test/graphql-jit.test.ts checks that both
 * executors answer alike.
 *
 * Only queries: mutations are rarely hot and subscriptions have their own per-event machinery, so they keep
 * graphql-js's reference executor. And only a document seen before: compiling costs several executions' worth
 * (about 5 ms for a nested page), which a one-off query would never earn back. Variables that do not coerce
 * go to graphql-js too, whose errors (message, locations, HTTP 400) are the API's.
 */
export function useQueryJit(schema: GraphQLSchema): Plugin {
  internJitPaths(schema);
  // Per document and operation name: null once seen, then the compiled query (false if it does not compile).
  const compiled = new WeakMap<DocumentNode, Map<string, CompiledQuery | null | false>>();
  return {
    onExecute({ args, setExecuteFn }) {
      const { document, operationName, variableValues } = args;
      const operation = getOperationAST(document, operationName ?? undefined);
      if (operation?.operation !== 'query' || args.schema !== schema) return;
      let byName = compiled.get(document);
      if (!byName) compiled.set(document, (byName = new Map()));
      const name = operationName ?? '';
      let query = byName.get(name);
      if (query === undefined) return void byName.set(name, null);
      if (query === null) {
        const result = compileQuery(schema, document, operationName ?? undefined, { resolverInfoEnricher: () => ({ [JIT]: true }) });
        query = isCompiledQuery(result) ? result : false;
        byName.set(name, query);
      }
      if (!query) return;
      if (operation.variableDefinitions?.length && 'errors' in getVariableValues(schema, operation.variableDefinitions, variableValues ?? {})) return;
      const run = query;
      setExecuteFn((execution) => {
        const result = run.query(execution.rootValue, execution.contextValue, execution.variableValues ?? {});
        return isPromise(result) ? result.then((r) => locateErrors(r, document)) : locateErrors(result, document);
      });
    },
  };
}

const isPromise = <T>(value: T | Promise<T>): value is Promise<T> => typeof (value as Promise<T>)?.then === 'function';

/**
 * graphql-jit's errors carry line/column locations but no AST nodes or source positions, which is what
 * graphql-js errors are rebuilt from (yoga's error masking and serialisation, toGraphQLError): re-made here as
 * graphql-js errors located in the document's source, so they serialise with the same `locations`.
 */
function locateErrors(result: ExecutionResult, document: DocumentNode): ExecutionResult {
  const source = document.loc?.source;
  if (!result.errors?.length || !source) return result;
  let lineStarts: number[] | undefined;
  const errors = result.errors.map((error) => {
    if (error.nodes || error.positions || !error.locations?.length) return error;
    lineStarts ??= [0, ...[...source.body.matchAll(/\r\n|[\n\r]/g)].map((m) => m.index! + m[0].length)];
    const positions = error.locations.map(({ line, column }) => lineStarts![line - 1] + column - 1);
    return new GraphQLError(error.message, { source, positions, path: error.path, originalError: error.originalError, extensions: error.extensions });
  });
  return { ...result, errors };
}

const JIT = '__quarryJit';

type Path = GraphQLResolveInfo['path'];
interface PathNode {
  path: Path;
  children: Map<string | number, PathNode>;
}

const wrapped = new WeakSet<GraphQLSchema>();
const pathTries = new WeakMap<object, Map<string | number, PathNode>>();

/**
 * graphql-js creates one path link per field execution and shares it as `prev` with everything beneath, and
 * plugin-prisma's selection mapper keys what a planned query loaded on those links' identity. graphql-jit
 * builds a fresh path chain for every resolver call, so the mapper would find nothing and fall back to one
 * query per field. Under graphql-jit the resolvers that record or look up those mappings therefore see their
 * path interned per request: one link object per response path, shared as graphql-js shares it. The others
 * (most fields of a large read) are left alone; reference executions skip this too (one property read).
 */
function internJitPaths(schema: GraphQLSchema) {
  if (wrapped.has(schema)) return;
  wrapped.add(schema);
  const roots = new Set([schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()]);
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith('__')) continue;
    for (const field of Object.values(type.getFields())) {
      const resolve = field.resolve;
      if (!resolve || !(roots.has(type) || usesSelectionMappings(schema, field))) continue;
      // An exposed column (no auth scopes of its own or its type's) of a compiled row is read off the row.
      const exposed = field.extensions?.pothosExposedField;
      const direct = typeof exposed === 'string' && !authScoped(type, field) ? exposed : undefined;
      field.resolve = ((parent, args, context, info) => {
        if (direct !== undefined && (parent as { [COMPILED_ROW]?: true } | null)?.[COMPILED_ROW]) return (parent as Record<string, unknown>)[direct];
        if ((info as unknown as Record<string, unknown>)[JIT]) (info as { path: Path }).path = intern(context as object, info.path);
        return resolve(parent, args, context, info);
      }) as GraphQLFieldResolver<unknown, unknown>;
    }
  }
}

function authScoped(type: GraphQLObjectType, field: GraphQLField<unknown, unknown>): boolean {
  const options = (x: { extensions?: Record<string, unknown> | null }) => x.extensions?.pothosOptions as { authScopes?: unknown; grantScopes?: unknown } | undefined;
  return !!(options(field)?.authScopes || options(field)?.grantScopes || options(type)?.authScopes || options(type)?.grantScopes);
}

/**
 * Fields plugin-prisma wraps (a `select` to look up) and fields that may plan a Prisma query and record its
 * mappings: those returning a model type, a Relay node interface, or a connection of either.
 */
function usesSelectionMappings(schema: GraphQLSchema, field: GraphQLField<unknown, unknown>): boolean {
  if (field.extensions?.pothosPrismaSelect) return true;
  const named = getNamedType(field.type);
  return isModelType(schema, named) || (isObjectType(named) && isModelType(schema, connectionNode(named)));
}

function isModelType(schema: GraphQLSchema, type: GraphQLNamedType | undefined): boolean {
  if (!type) return false;
  if (type.extensions?.pothosPrismaModel) return true;
  return isAbstractType(type) && schema.getPossibleTypes(type).some((t) => !!t.extensions?.pothosPrismaModel);
}

function connectionNode(type: GraphQLObjectType): GraphQLNamedType | undefined {
  const edges = type.getFields().edges;
  const edge = edges && getNamedType(edges.type);
  const node = edge && isObjectType(edge) ? edge.getFields().node : undefined;
  return node && getNamedType(node.type);
}

function intern(context: object, path: Path): Path {
  let roots = pathTries.get(context);
  if (!roots) {
    roots = new Map();
    pathTries.set(context, roots);
  }
  return nodeFor(roots, path).path;
}

function nodeFor(roots: Map<string | number, PathNode>, path: Path): PathNode {
  const parent = path.prev ? nodeFor(roots, path.prev) : undefined;
  const siblings = parent ? parent.children : roots;
  let node = siblings.get(path.key);
  if (!node) {
    node = { path: { key: path.key, prev: parent?.path, typename: path.typename }, children: new Map() };
    siblings.set(path.key, node);
  }
  return node;
}
