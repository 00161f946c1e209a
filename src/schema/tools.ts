import type { ArgBuilder } from '@pothos/core';
import { ensureAllBaseTools, isBaseTool } from '../domain/base-tools.js';
import { countTools, createTool, deleteTool, TOOL_TYPES, toolWhere, updateTool, upsertTool, type ToolFilter } from '../domain/tools.js';
import type { Context } from '../context.js';
import type { Prisma } from '../generated/prisma/client.js';
import { orNotFound, requireId } from '../domain/ids.js';
import { builder, nodeOptions } from './builder.js';
import { OrderDirection } from './sources.js';

/** Tools agents call: the organization's custom tools and Letta's built-in tools. */

type Types = typeof builder extends PothosSchemaTypes.SchemaBuilder<infer T> ? T : never;

export const Tool = builder.prismaNode('Tool', {
  ...nodeOptions,
  fields: (t) => ({
    name: t.exposeString('name', { description: 'The function name, unique in the organization.' }),
    description: t.exposeString('description', { nullable: true }),
    toolType: t.exposeString('toolType', { description: `One of: ${TOOL_TYPES.join(', ')}.` }),
    isBaseTool: t.boolean({
      description: 'One of Letta’s built-in tools, which every organization has and which cannot be deleted.',
      select: { name: true, toolType: true },
      resolve: (tool) => isBaseTool(tool),
    }),
    sourceType: t.exposeString('sourceType', { nullable: true, description: 'python, typescript or json.' }),
    sourceCode: t.exposeString('sourceCode', { nullable: true }),
    jsonSchema: t.field({
      type: 'JSON',
      nullable: true,
      description: 'The OpenAI function schema a model sees: {name, description, parameters}.',
      select: { jsonSchema: true },
      resolve: (tool) => tool.jsonSchema,
    }),
    argsJsonSchema: t.field({
      type: 'JSON',
      nullable: true,
      description: 'A JSON schema of the arguments, when given instead of deriving them from the source.',
      select: { argsJsonSchema: true },
      resolve: (tool) => tool.argsJsonSchema,
    }),
    returnCharLimit: t.exposeInt('returnCharLimit', { description: 'Longest return value passed back to the model, in characters.' }),
    tags: t.exposeStringList('tags'),
    metadata: t.field({ type: 'JSONObject', nullable: true, select: { metadata: true }, resolve: (tool) => tool.metadata as Record<string, unknown> | null }),
    agentCount: t.relationCount('agents', { description: 'Agents this tool is attached to.' }),
    createdById: t.exposeString('createdById', { nullable: true }),
    lastUpdatedById: t.exposeString('lastUpdatedById', { nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

// ───────────── queries ─────────────

const ToolOrderField = builder.enumType('ToolOrderField', { values: ['CREATED_AT', 'UPDATED_AT', 'NAME'] as const });

const ToolOrder = builder.inputType('ToolOrder', {
  fields: (t) => ({
    field: t.field({ type: ToolOrderField, required: true }),
    direction: t.field({ type: OrderDirection, defaultValue: 'ASC' }),
  }),
});

const ORDER_COLUMN = { CREATED_AT: 'createdAt', UPDATED_AT: 'updatedAt', NAME: 'name' } as const;

/** The filters `tools` and `toolsCount` share; all given ones must hold, and empty lists do not filter. */
const filterArgs = (arg: ArgBuilder<Types>) => ({
  name: arg.string({ description: 'Exactly this name.' }),
  names: arg.stringList({ description: 'Any of these exact names.' }),
  ids: arg.idList({ description: 'Any of these ids.' }),
  search: arg.string({ description: 'Case-insensitive substring of the name.' }),
  tags: arg.stringList({ description: 'Tools having any of these tags (all of them with matchAllTags).' }),
  matchAllTags: arg.boolean({ defaultValue: false }),
  toolTypes: arg.stringList({ description: 'Only tools of these types.' }),
  excludeToolTypes: arg.stringList({ description: 'No tools of these types.' }),
});

function filterOf(args: Omit<ToolFilter, 'ids'> & { ids?: readonly (string | number)[] | null }): ToolFilter {
  return { ...args, ids: args.ids?.map(String) };
}

/**
 * Letta creates an organization's built-in tools when it first lists its tools; so does Quarry, on the first page of
 * `tools`. The connection's nodes and its totalCount may each be resolved without the other, so both ask, and the
 * request remembers the answer.
 */
const ensuredInRequest = new WeakMap<Context, Promise<unknown>>();
function ensureListedBaseTools(ctx: Context, args: { includeBaseTools?: boolean | null; after?: string | null; before?: string | null }) {
  if (args.includeBaseTools === false || args.after || args.before) return;
  let ensured = ensuredInRequest.get(ctx);
  if (!ensured) ensuredInRequest.set(ctx, (ensured = ensureAllBaseTools(ctx.db, ctx.actor)));
  return ensured;
}

builder.queryFields((t) => ({
  tools: t.prismaConnection({
    type: 'Tool',
    cursor: 'id',
    description: 'Tools of your organization, built-in tools included unless includeBaseTools is false; oldest first unless ordered otherwise.',
    args: {
      ...filterArgs(t.arg),
      includeBaseTools: t.arg.boolean({ defaultValue: true, description: 'Also Letta’s built-in tools (letta_* types).' }),
      orderBy: t.arg({ type: ToolOrder }),
    },
    resolve: async (query, _root, args, ctx) => {
      const where = toolWhere(filterOf(args));
      await ensureListedBaseTools(ctx, args);
      const column = ORDER_COLUMN[args.orderBy?.field ?? 'CREATED_AT'];
      const direction = (args.orderBy?.direction ?? 'ASC') === 'ASC' ? 'asc' : 'desc';
      const orderBy: Prisma.ToolOrderByWithRelationInput[] = [{ [column]: direction }, { id: direction }];
      return ctx.db.tool.findMany({ ...query, where, orderBy });
    },
    totalCount: async (_root, args, ctx) => {
      const where = toolWhere(filterOf(args));
      await ensureListedBaseTools(ctx, args);
      return ctx.db.tool.count({ where });
    },
  }),
  tool: t.prismaField({
    type: 'Tool',
    args: { id: t.arg.id({ required: true }) },
    resolve: async (query, _root, { id }, ctx) => {
      // One query: the lookup carries the GraphQL selection.
      const key = requireId('tool', String(id), 'id');
      return orNotFound(ctx.db.tool.findUnique({ ...query, where: { id: key } }), 'Tool', key);
    },
  }),
  toolsCount: t.int({
    description: 'Tools of your organization matching the filters; Letta’s built-in tools are counted only with includeBaseTools: true.',
    args: { ...filterArgs(t.arg), includeBaseTools: t.arg.boolean({ defaultValue: false }) },
    resolve: (_root, args, ctx) => countTools(ctx.db, ctx.actor, filterOf(args)),
  }),
}));

// ───────────── mutations ─────────────

const toolInputFields = {
  sourceType: 'python (the default), typescript or json. Only Python source is read to derive a schema.',
  jsonSchema:
    'The OpenAI function schema {name, description, parameters}, used as-is; its name (an identifier of at most 48 characters) names the tool. ' +
    'Derived from Python source when left out.',
  argsJsonSchema: 'A JSON schema of the arguments: the parameters then come from it, the name and description still from the function.',
  returnCharLimit: 'From 1 to 1,000,000 (default 50,000).',
};

const CreateToolInput = builder.inputType('CreateToolInput', {
  description:
    'A tool is named by its function: the last top-level def of the Python source (documented with a Google-style docstring), or jsonSchema.name.',
  fields: (t) => ({
    sourceCode: t.string({ required: true }),
    sourceType: t.string({ description: toolInputFields.sourceType }),
    description: t.string({ description: 'Defaults to the schema’s description (the docstring’s summary).' }),
    tags: t.stringList(),
    jsonSchema: t.field({ type: 'JSONObject', description: toolInputFields.jsonSchema }),
    argsJsonSchema: t.field({ type: 'JSONObject', description: toolInputFields.argsJsonSchema }),
    returnCharLimit: t.int({ description: toolInputFields.returnCharLimit }),
    metadata: t.field({ type: 'JSONObject' }),
  }),
});

const UpdateToolInput = builder.inputType('UpdateToolInput', {
  description:
    'Fields left out (or null) keep their value. New Python source re-derives the schema and must still define the tool’s function; ' +
    'a jsonSchema with another name renames the tool.',
  fields: (t) => ({
    sourceCode: t.string(),
    sourceType: t.string({ description: toolInputFields.sourceType }),
    description: t.string({ description: 'Follows the new schema’s description when the schema changes and this is left out.' }),
    tags: t.stringList(),
    jsonSchema: t.field({ type: 'JSONObject', description: toolInputFields.jsonSchema }),
    argsJsonSchema: t.field({ type: 'JSONObject', description: toolInputFields.argsJsonSchema }),
    returnCharLimit: t.int({ description: toolInputFields.returnCharLimit }),
    metadata: t.field({ type: 'JSONObject' }),
  }),
});

const toolPayload = (name: string) =>
  builder.objectRef<{ toolId: string }>(name).implement({
    fields: (t) => ({
      tool: t.prismaField({ type: 'Tool', resolve: (query, p, _args, ctx) => ctx.db.tool.findUniqueOrThrow({ ...query, where: { id: p.toolId } }) }),
    }),
  });

const CreateToolPayload = toolPayload('CreateToolPayload');
const UpdateToolPayload = toolPayload('UpdateToolPayload');

const UpsertToolPayload = builder.objectRef<{ toolId: string; created: boolean }>('UpsertToolPayload').implement({
  fields: (t) => ({
    created: t.exposeBoolean('created', { description: 'True when the tool was new, false when the tool with its name was updated.' }),
    tool: t.prismaField({ type: 'Tool', resolve: (query, p, _args, ctx) => ctx.db.tool.findUniqueOrThrow({ ...query, where: { id: p.toolId } }) }),
  }),
});

const DeleteToolPayload = builder.objectRef<{ id: string; name: string }>('DeleteToolPayload').implement({
  fields: (t) => ({
    deletedToolId: t.exposeID('id'),
    name: t.exposeString('name'),
  }),
});

builder.mutationFields((t) => ({
  createTool: t.field({
    type: CreateToolPayload,
    description: 'Creates a custom tool; a name already used in the organization is a CONFLICT (see upsertTool).',
    args: { input: t.arg({ type: CreateToolInput, required: true }) },
    resolve: async (_root, { input }, ctx) => ({ toolId: (await createTool(ctx.db, ctx.actor, input)).id }),
  }),
  upsertTool: t.field({
    type: UpsertToolPayload,
    description: 'Creates the tool, or updates the organization’s tool with the same name, keeping its id.',
    args: { input: t.arg({ type: CreateToolInput, required: true }) },
    resolve: async (_root, { input }, ctx) => {
      const { tool, created } = await upsertTool(ctx.db, ctx.actor, input);
      return { toolId: tool.id, created };
    },
  }),
  updateTool: t.field({
    type: UpdateToolPayload,
    args: { id: t.arg.id({ required: true }), input: t.arg({ type: UpdateToolInput, required: true }) },
    resolve: async (_root, { id, input }, ctx) => ({ toolId: (await updateTool(ctx.db, ctx.actor, String(id), input)).id }),
  }),
  deleteTool: t.field({
    type: DeleteToolPayload,
    description: 'Deletes a custom tool and detaches it from its agents. Built-in tools cannot be deleted (FORBIDDEN).',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, ctx) => deleteTool(ctx.db, String(id)),
  }),
}));
