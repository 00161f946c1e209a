import SchemaBuilder from '@pothos/core';
import ComplexityPlugin from '@pothos/plugin-complexity';
import DataloaderPlugin from '@pothos/plugin-dataloader';
import PrismaPlugin from '@pothos/plugin-prisma';
import RelayPlugin, { resolveNodes } from '@pothos/plugin-relay';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import ZodPlugin from '@pothos/plugin-zod';
import { GraphQLError, GraphQLObjectType, type GraphQLResolveInfo, type GraphQLSchema } from 'graphql';
import type { Context } from '../context.js';
import { atLeast } from '../core/auth.js';
import { typeForId } from '../core/ids.js';
import { GRAPHQL_LIST_SIZE_CEILING } from '../core/config.js';
import type PrismaTypes from '../generated/pothos-types.js';
import { getDatamodel } from '../generated/pothos-types.js';

/** Set before the schema is built: tests make an unused Prisma selection fail loudly. */
export const schemaOptions = { onUnusedQuery: (process.env.NODE_ENV === 'test' || process.env.VITEST ? 'error' : 'warn') as 'error' | 'warn' };

export const builder = new SchemaBuilder<{
  Context: Context;
  PrismaTypes: PrismaTypes;
  AuthScopes: { admin: boolean; serverAdmin: boolean; writer: boolean };
  DefaultFieldNullability: false;
  Scalars: {
    DateTime: { Input: Date; Output: Date };
    JSON: { Input: unknown; Output: unknown };
    JSONObject: { Input: Record<string, unknown>; Output: Record<string, unknown> };
    Upload: { Input: Promise<import('graphql-upload-ts').FileUpload>; Output: never };
  };
}>({
  plugins: [ScopeAuthPlugin, PrismaPlugin, RelayPlugin, ComplexityPlugin, DataloaderPlugin, ZodPlugin],
  defaultFieldNullability: false,
  scopeAuth: {
    authScopes: (ctx) => ({
      admin: atLeast(ctx.actor.role, 'ADMIN'),
      serverAdmin: ctx.actor.role === 'SERVER_ADMIN',
      writer: atLeast(ctx.actor.role, 'MEMBER'),
    }),
    unauthorizedError: (_parent, ctx, info, result) =>
      new GraphQLError(
        info.parentType.name === 'Mutation' && !atLeast(ctx.actor.role, 'MEMBER')
          ? `This API key is read-only (role ${ctx.actor.role}): it cannot run mutations`
          : result.message || 'Not allowed',
        { extensions: { code: 'FORBIDDEN' } },
      ),
  },
  prisma: {
    client: (ctx) => ctx.db,
    dmmf: getDatamodel(),
    exposeDescriptions: false,
    filterConnectionTotalCount: true,
    onUnusedQuery: schemaOptions.onUnusedQuery,
    // Page sizes above GRAPHQL_MAX_LIST_SIZE are refused before execution; this only bounds what gets past that.
    maxConnectionSize: GRAPHQL_LIST_SIZE_CEILING,
    defaultConnectionSize: 20,
  },
  relay: {
    clientMutationId: 'omit',
    cursorType: 'String',
    // Quarry ids (`source-<uuid4>`) are already globally unique and typed by their prefix: they are the node ids.
    encodeGlobalID: (_typename, id) => String(id),
    decodeGlobalID: (globalID) => {
      const model = typeForId(globalID);
      if (!model) throw new GraphQLError(`"${globalID}" is not a Quarry id`, { extensions: { code: 'BAD_USER_INPUT' } });
      return { typename: GRAPHQL_NAME_OF_MODEL[model] ?? model, id: globalID };
    },
    // A well-formed id of a kind that is no node (`file_content-…`) names nothing `node` can return: null, as a
    // missing id is, and for that entry alone in `nodes`.
    nodeQueryOptions: {
      resolve: (_root, { id }, _ctx, info, resolveNode) => (isNodeType(info.schema, id.typename) ? resolveNode(id) : null),
    },
    nodesQueryOptions: {
      resolve: (_root, { ids }, ctx, info) => loadNodes(ctx, info, ids.map((id) => (isNodeType(info.schema, id.typename) ? id : null))),
      // Each id is a lookup: the selection costs once per id (the list's length is capped before this is counted).
      complexity: (args: { ids: readonly unknown[] }) => ({ field: 1, multiplier: args.ids.length }),
    },
  },
  // Field costs only: the limits are checked before execution, with the request's variables (core/query-limits.ts).
  complexity: {
    defaultComplexity: 1,
    defaultListMultiplier: 10,
  },
  zod: {
    validationError: (error) =>
      new GraphQLError(error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '), {
        extensions: { code: 'BAD_USER_INPUT', fields: error.issues.map((i) => i.path.join('.')) },
      }),
  },
});

const ISO_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

builder.scalarType('DateTime', {
  description: 'ISO-8601 timestamp in UTC, e.g. 2026-01-02T03:04:05.678Z',
  // Compiled reads (domain/reads) return timestamps already printed this way: they pass as they are, unparsed.
  serialize: (value) => (value instanceof Date ? value.toISOString() : ISO_UTC.test(value as string) ? value : new Date(value as string).toISOString()),
  parseValue: (value) => {
    const date = new Date(value as string);
    if (typeof value !== 'string' || Number.isNaN(date.getTime())) {
      throw new GraphQLError('DateTime must be an ISO-8601 string', { extensions: { code: 'BAD_USER_INPUT' } });
    }
    return date;
  },
});

builder.scalarType('JSON', {
  description: 'Any JSON value',
  serialize: (value) => value,
  parseValue: (value) => value,
});

builder.scalarType('JSONObject', {
  description: 'A JSON object (not an array or scalar)',
  serialize: (value) => value,
  parseValue: (value) => {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new GraphQLError('Expected a JSON object', { extensions: { code: 'BAD_USER_INPUT' } });
    }
    return value as Record<string, unknown>;
  },
});

/** Prisma models whose GraphQL node type is named otherwise (ids carry the model's prefix). */
const GRAPHQL_NAME_OF_MODEL: Record<string, string> = { FileAgent: 'AgentFile' };

/** relay's own loader (the plugin's `nodes` resolver would load every id it was given). */
function loadNodes(ctx: Context, info: GraphQLResolveInfo, ids: ({ typename: string; id: string } | null)[]): Promise<unknown[]> {
  return resolveNodes(builder as never, ctx, info, ids);
}

function isNodeType(schema: GraphQLSchema, typename: string): boolean {
  const type = schema.getType(typename);
  return type instanceof GraphQLObjectType && type.getInterfaces().some((i) => i.name === 'Node');
}

builder.queryType({});
// Every mutation needs a key that may write: a read-only (READER) key is refused here, for every field at once.
builder.mutationType({ authScopes: { writer: true } });


/**
 * The options every Quarry node shares: its id is the row's `id` (already global, see `relay` above), `node(id:)`
 * of a missing or foreign id is null, and select mode — a query reads only the columns the operation asks for.
 */
export const nodeOptions = { id: { field: 'id' as const }, nullable: true as const, select: { id: true as const } };
