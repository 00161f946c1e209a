import { z } from 'zod';
import type { Context } from '../../context.js';
import { ensureAllBaseTools, ensureBaseTools } from '../../domain/base-tools.js';
import { countTools, deleteTool, getTool, TOOL_TYPES, toolWhere, updateTool, upsertTool, type ToolFilter, type ToolInput } from '../../domain/tools.js';
import type { Tool as ToolRow } from '../../generated/prisma/client.js';
import { BY_CREATION, page } from '../pages.js';
import { route, type Route } from '../route.js';
import { idOf, q } from '../validation.js';
import { describe, direction, listParams } from './common.js';
import * as commonJson from '../json/common.js';
import * as toolsJson from '../json/tools.js';

/** `/v1/tools`: custom tools from Python source (schema derived without running it) and Letta's built-in tools. */

const tags = ['tools'];
const LETTA_TYPES = TOOL_TYPES.filter((type) => type.startsWith('letta_'));

const filterParams = {
  name: describe(z.string().optional(), 'Exactly this name.'),
  names: describe(q.list(z.string()).optional(), 'Any of these exact names.'),
  tool_ids: describe(q.csv(idOf('tool')).optional(), 'Any of these ids (repeated or comma-separated).'),
  search: describe(z.string().optional(), 'Case-insensitive substring of the name.'),
  tool_types: describe(q.csv(z.enum(TOOL_TYPES)).optional(), 'Only tools of these types.'),
  exclude_tool_types: describe(q.csv(z.enum(TOOL_TYPES)).optional(), 'No tools of these types.'),
  return_only_letta_tools: describe(q.bool().default(false), 'Only Letta’s built-in tools (letta_* types).'),
};

type FilterQuery = z.output<z.ZodObject<typeof filterParams>>;

/** The domain filter for Letta's parameters, or null when they can match nothing. */
function filterOf(query: FilterQuery, includeBaseTools: boolean): ToolFilter | null {
  let toolTypes: string[] | undefined = query.tool_types;
  if (query.return_only_letta_tools) {
    if (!includeBaseTools) return null;
    toolTypes = toolTypes?.length ? toolTypes.filter((t) => (LETTA_TYPES as string[]).includes(t)) : [...LETTA_TYPES];
    if (!toolTypes.length) return null;
  }
  return {
    name: query.name,
    names: query.names,
    ids: query.tool_ids,
    search: query.search,
    toolTypes,
    excludeToolTypes: query.exclude_tool_types,
    includeBaseTools,
  };
}

function toolInput(body: z.output<typeof toolsJson.ToolCreate> | z.output<typeof toolsJson.ToolUpdate>): Omit<ToolInput, 'sourceCode'> & { sourceCode?: string | null } {
  return {
    sourceCode: body.source_code,
    sourceType: body.source_type,
    description: body.description,
    tags: body.tags,
    jsonSchema: body.json_schema,
    argsJsonSchema: body.args_json_schema,
    returnCharLimit: body.return_char_limit,
    pipRequirements: body.pip_requirements,
    npmRequirements: body.npm_requirements,
    defaultRequiresApproval: body.default_requires_approval,
    enableParallelExecution: body.enable_parallel_execution,
    metadata: 'metadata_' in body ? body.metadata_ : undefined,
  };
}

const byId = z.object({ tool_id: idOf('tool') });

async function listTools(ctx: Context, query: FilterQuery & z.output<z.ZodObject<ReturnType<typeof listParams>>>) {
  const filter = filterOf(query, true);
  if (!filter) return [];
  // Letta creates an organization's missing built-in tools when its tools are first listed.
  if (!query.after && !query.before) await ensureAllBaseTools(ctx.db, ctx.actor);
  const rows = await page<ToolRow>(ctx.db.tool, { where: toolWhere(filter), keys: BY_CREATION, type: 'Tool' }, { ...query, order: direction(query, 'desc') });
  return rows.map(toolsJson.tool);
}

export function toolRoutes(): Route[] {
  return [...toolListRoutes(), ...toolItemRoutes()];
}

/** Count, list, create, upsert, and add the built-in tools. */
function toolListRoutes(): Route[] {
  return [
    route({
      method: 'GET',
      path: '/tools/count',
      operationId: 'count_tools',
      summary: 'Count your tools',
      description:
        'Built-in (letta_*) tools are counted only with include_base_tools=true (the seed’s meaning) or exclude_letta_tools=false ' +
        '(Letta 0.12+’s parameter); by default only your own tools are counted.',
      tags,
      query: z.object({
        ...filterParams,
        include_base_tools: describe(q.bool().optional(), 'Count built-in tools too.'),
        exclude_letta_tools: describe(q.bool().optional(), 'Leave built-in tools out (false counts them).'),
      }),
      response: commonJson.Count,
      handler: async ({ ctx, query }) => {
        const includeBaseTools = query.include_base_tools ?? (query.exclude_letta_tools === undefined ? false : !query.exclude_letta_tools);
        const filter = filterOf(query, includeBaseTools);
        return filter ? countTools(ctx.db, ctx.actor, filter) : 0;
      },
    }),
    route({
      method: 'GET',
      path: '/tools',
      operationId: 'list_tools',
      summary: 'List your tools, built-in ones included',
      description: 'Default newest first. The first page (no cursor) makes sure your organization has Letta’s built-in tools, as Letta does.',
      tags,
      query: z.object({ ...listParams('tool', { limit: 50, order: 'desc' }), ...filterParams }),
      response: z.array(toolsJson.Tool),
      handler: ({ ctx, query }) => listTools(ctx, query),
    }),
    route({
      method: 'POST',
      path: '/tools',
      operationId: 'create_tool',
      summary: 'Create a tool, or update the one with the same name',
      description:
        'As Letta 0.12+ answers it: a name your organization already has updates that tool, which keeps its id (Letta ≤0.11 answered 409). ' +
        'The name and JSON schema come from `json_schema` or else from the Python source (its last function; the docstring must document ' +
        'every parameter): a failure is a 400.',
      tags,
      body: toolsJson.ToolCreate,
      response: toolsJson.Tool,
      errorStatus: { BAD_USER_INPUT: 400 },
      handler: async ({ ctx, body }) => toolsJson.tool((await upsertTool(ctx.db, ctx.actor, toolInput(body) as ToolInput)).tool),
    }),
    route({
      method: 'PUT',
      path: '/tools',
      operationId: 'upsert_tool',
      summary: 'Create a tool, or update the one with the same name',
      description: 'An existing tool keeps its id.',
      tags,
      body: toolsJson.ToolCreate,
      response: toolsJson.Tool,
      errorStatus: { BAD_USER_INPUT: 400 },
      handler: async ({ ctx, body }) => toolsJson.tool((await upsertTool(ctx.db, ctx.actor, toolInput(body) as ToolInput)).tool),
    }),
    route({
      method: 'POST',
      path: '/tools/add-base-tools',
      operationId: 'add_base_tools',
      summary: 'Make sure your organization has Letta’s built-in tools',
      tags,
      response: z.array(toolsJson.Tool),
      handler: async ({ ctx }) => (await ensureBaseTools(ctx.db, ctx.actor)).map(toolsJson.tool),
    }),
  ];
}

/** One tool: read, change, delete. */
function toolItemRoutes(): Route[] {
  return [
    route({
      method: 'GET',
      path: '/tools/{tool_id}',
      operationId: 'retrieve_tool',
      summary: 'Get a tool',
      tags,
      params: byId,
      response: toolsJson.Tool,
      handler: async ({ ctx, params }) => toolsJson.tool(await getTool(ctx.db, params.tool_id, 'tool_id')),
    }),
    route({
      method: 'PATCH',
      path: '/tools/{tool_id}',
      operationId: 'modify_tool',
      summary: 'Change a tool',
      description:
        'Fields left out or null keep their value. New Python source must keep the function’s name; a `json_schema` with another name renames ' +
        'the tool (a name in use is a 400, as Letta answers). Built-in tools keep their source and schema (403).',
      tags,
      params: byId,
      body: toolsJson.ToolUpdate,
      response: toolsJson.Tool,
      errorStatus: { BAD_USER_INPUT: 400, CONFLICT: 400 },
      handler: async ({ ctx, params, body }) => toolsJson.tool(await updateTool(ctx.db, ctx.actor, params.tool_id, toolInput(body))),
    }),
    route({
      method: 'DELETE',
      path: '/tools/{tool_id}',
      operationId: 'delete_tool',
      summary: 'Delete a tool',
      description: 'Answers 200 with `null`; agents using it lose it. Built-in tools cannot be deleted (403). An unknown id is a 404 (Letta answers 400).',
      tags,
      params: byId,
      response: commonJson.Null,
      handler: async ({ ctx, params }) => {
        await deleteTool(ctx.db, params.tool_id);
        return null;
      },
    }),
  ];
}
