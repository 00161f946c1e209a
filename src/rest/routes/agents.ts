import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Context } from '../../context.js';
import { AppError } from '../../core/errors.js';
import { closeAllFiles, closeFile, listAgentFiles, openFile } from '../../domain/agent-files.js';
import { attachSource, attachTool, createAgent, deleteAgent, detachSource, detachTool, getAgent, updateAgent, type AgentPatch } from '../../domain/agents.js';
import { ensureBaseTools } from '../../domain/base-tools.js';
import { containsInsensitive } from '../../domain/filters.js';
import { orNotFound, requireId } from '../../domain/ids.js';
import { agentMemoryVariables, createTemplateFromAgent, versionTemplate } from '../../domain/templates.js';
import { toolWhere } from '../../domain/tools.js';
import type { Prisma, Source as SourceRow, Tool as ToolRow } from '../../generated/prisma/client.js';
import { BY_CREATION, page } from '../pages.js';
import { route, type Route } from '../route.js';
import { idOf, q } from '../validation.js';
import { describe, direction, listParams } from './common.js';
import * as agentsJson from '../json/agents.js';
import * as commonJson from '../json/common.js';
import * as embeddingsJson from '../json/embeddings.js';
import * as sourcesJson from '../json/sources.js';
import * as toolsJson from '../json/tools.js';

/**
 * The agent routes Letta clients need around sources: create/get/list/delete, attaching sources (or folders) and
 * tools, the agent's files in working memory, memory variables and templates (Letta Cloud routes).
 */

const tags = ['agents'];

/** The agent with what its AgentState shows. */
export async function loadAgentState(ctx: Context, agentId: string) {
  requireId('agent', agentId, 'agent_id');
  return agentsJson.agentState(await orNotFound(ctx.db.agent.findUnique({ where: { id: agentId }, include: agentsJson.agentInclude }), 'Agent', agentId));
}

/** Tool names as Letta's CreateAgent sends them, as ids; an unknown name is a 404. */
async function toolIdsByName(ctx: Context, names: string[]): Promise<string[]> {
  if (!names.length) return [];
  // Built-in tools are created for an organization on first use; a name may be one of them.
  await ensureBaseTools(ctx.db, ctx.actor);
  const found = await ctx.db.tool.findMany({ where: toolWhere({ names }), select: { id: true, name: true } });
  const missing = names.find((name) => !found.some((tool) => tool.name === name));
  if (missing) throw new AppError('NOT_FOUND', `Tool with name=${missing} not found`, { field: 'tools' });
  return found.map((tool) => tool.id);
}

const agentOnly = z.object({ agent_id: idOf('agent') });

type AgentBody = z.output<typeof agentsJson.CreateAgent> | z.output<typeof agentsJson.UpdateAgent>;

/** The agent fields of a create or update body, the embedding resolved through the catalog as for sources. */
function agentFields(ctx: Context, body: AgentBody): AgentPatch {
  const embeddingConfig = body.embedding_config
    ? ctx.embeddings.fromConfig(embeddingsJson.embeddingInput(body.embedding_config)!, 'embedding_config')
    : body.embedding
      ? ctx.embeddings.fromHandle(body.embedding, ('embedding_chunk_size' in body ? body.embedding_chunk_size : null) ?? undefined)
      : undefined;
  return {
    description: body.description,
    system: body.system,
    model: body.model,
    llmConfig: body.llm_config,
    embeddingConfig: embeddingConfig as unknown as Record<string, unknown> | undefined,
    tags: body.tags,
    metadata: body.metadata,
    maxFilesOpen: body.max_files_open,
    perFileViewWindowCharLimit: body.per_file_view_window_char_limit,
    ...(body.name != null ? { name: body.name } : {}),
  };
}

/** `source_ids` and `folder_ids` (Letta 1.x's name) together; null when neither is given. */
function sourceIdsOf(body: AgentBody): string[] | null {
  if (body.source_ids == null && body.folder_ids == null) return null;
  return [...(body.source_ids ?? []), ...(body.folder_ids ?? [])];
}

export function agentRoutes(): Route[] {
  return [
    ...agentCrudRoutes(),
    ...attachRoutes(),
    ...agentSourceRoutes(),
    ...agentToolRoutes(),
    ...agentFileRoutes(),
    ...agentTemplateRoutes(),
  ];
}

/** Attach, detach and list an agent's sources, on the /sources (deprecated) and /folders paths. */
function attachRoutes(): Route[] {
  return (['sources', 'folders'] as const).flatMap((kind) => {
    const param = kind === 'folders' ? 'folder_id' : 'source_id';
    // The source parameter's name depends on the router, so the schema is typed by its values only.
    const params = z.object({ agent_id: idOf('agent'), [param]: idOf('source') }) as z.ZodObject<Record<string, z.ZodString>>;
    const sourceOf = (p: Record<string, string>) => p[param];
    return [
      ...(['attach', 'detach'] as const).map((action) =>
        route({
          method: 'PATCH',
          path: `/agents/{agent_id}/${kind}/${action}/{${param}}`,
          operationId: `${action}_${kind === 'folders' ? 'folder' : 'source'}_${action === 'attach' ? 'to' : 'from'}_agent`,
          summary: action === 'attach' ? `Attach a ${kind.slice(0, -1)} to the agent` : `Detach a ${kind.slice(0, -1)} from the agent`,
          description:
            action === 'attach'
              ? 'Idempotent. The agent gets the file tools (open_files, grep_files, semantic_search_files) and the source’s files in its working memory.'
              : 'Idempotent. Removes the source’s files from the agent’s working memory; detaching the last source removes the file tools.',
          tags,
          deprecated: kind === 'sources',
          params,
          response: agentsJson.AgentState,
          handler: async ({ ctx, params: p }) => {
            await (action === 'attach' ? attachSource : detachSource)(ctx.db, ctx.actor, p.agent_id, sourceOf(p));
            return loadAgentState(ctx, p.agent_id);
          },
        }),
      ),
      route({
        method: 'GET',
        path: `/agents/{agent_id}/${kind}`,
        operationId: `list_agent_${kind}`,
        summary: `The agent’s ${kind}`,
        description: 'In attachment order (default newest first); cursors are source ids.',
        tags,
        deprecated: kind === 'sources',
        params: agentOnly,
        query: z.object(listParams('source', { limit: 100, order: 'desc' })),
        response: z.array(sourcesJson.Source),
        handler: async ({ ctx, params: p, query }) => {
          await getAgent(ctx.db, ctx.actor, p.agent_id, 'agent_id');
          const links = await page<{ source: SourceRow }>(
            ctx.db.sourceAgent,
            {
              where: { agentId: p.agent_id },
              keys: [{ field: 'createdAt' }, { field: 'sourceId' }],
              cursor: (sourceId) => ({ sourceId_agentId: { sourceId, agentId: p.agent_id } }),
              type: 'attached source',
              select: { source: true },
            },
            { ...query, order: direction(query, 'desc') },
          );
          return links.map((link) => sourcesJson.source(link.source));
        },
      }),
    ];
  });
}

/** List, create, change, read and delete agents. */
function agentCrudRoutes(): Route[] {
  return [
    route({
      method: 'GET',
      path: '/agents',
      operationId: 'list_agents',
      summary: 'List your agents',
      tags,
      query: z.object({
        ...listParams('agent', { limit: 50, order: 'desc' }),
        name: describe(z.string().optional(), 'Exactly this name.'),
        query_text: describe(z.string().optional(), 'Case-insensitive substring of the name.'),
        tags: describe(q.list(z.string()).optional(), 'Agents having any of these tags (all of them with match_all_tags=true).'),
        match_all_tags: q.bool().default(false),
      }),
      response: z.array(agentsJson.AgentState),
      handler: async ({ ctx, query }) => {
        const and: Prisma.AgentWhereInput[] = [];
        if (query.name != null) and.push({ name: query.name });
        if (query.query_text) and.push({ name: containsInsensitive(query.query_text) });
        if (query.tags?.length) and.push({ tags: query.match_all_tags ? { hasEvery: query.tags } : { hasSome: query.tags } });
        const rows = await page<agentsJson.AgentRow>(
          ctx.db.agent,
          { where: { AND: and }, keys: BY_CREATION, type: 'Agent', include: agentsJson.agentInclude },
          { ...query, order: direction(query, 'desc') },
        );
        return rows.map(agentsJson.agentState);
      },
    }),
    route({
      method: 'POST',
      path: '/agents',
      operationId: 'create_agent',
      summary: 'Create an agent',
      description:
        'Quarry keeps the agent’s configuration (it does not run agents). `source_ids` attach sources as the attach route does; ' +
        '`tools` names tools (built-in or yours). A name is generated when none is given, as Letta does.',
      tags,
      body: agentsJson.CreateAgent,
      response: agentsJson.AgentState,
      handler: async ({ ctx, body }) => {
        const named = await toolIdsByName(ctx, body.tools ?? []);
        const agent = await createAgent(ctx.db, ctx.actor, {
          ...agentFields(ctx, body),
          name: body.name ?? `agent-${randomBytes(4).toString('hex')}`,
          memoryBlocks: body.memory_blocks,
          sourceIds: sourceIdsOf(body) ?? [],
          toolIds: [...(body.tool_ids ?? []), ...named],
          includeBaseTools: body.include_base_tools ?? true,
        });
        return loadAgentState(ctx, agent.id);
      },
    }),
    route({
      method: 'PATCH',
      path: '/agents/{agent_id}',
      operationId: 'modify_agent',
      summary: 'Change an agent',
      description:
        'Fields left out or null keep their value. `tool_ids` and `source_ids` (or `folder_ids`) replace the agent’s tools and sources: sources ' +
        'leaving take their files out of its working memory, sources arriving bring theirs (and the file tools) as the attach route does. ' +
        'A new `model` handle without `llm_config` brings the handle’s `llm_config`.',
      tags,
      params: agentOnly,
      body: agentsJson.UpdateAgent,
      response: agentsJson.AgentState,
      handler: async ({ ctx, params, body }) => {
        await updateAgent(ctx.db, ctx.actor, params.agent_id, { ...agentFields(ctx, body), sourceIds: sourceIdsOf(body), toolIds: body.tool_ids });
        return loadAgentState(ctx, params.agent_id);
      },
    }),
    route({
      method: 'GET',
      path: '/agents/{agent_id}',
      operationId: 'retrieve_agent',
      summary: 'Get an agent',
      tags,
      params: agentOnly,
      response: agentsJson.AgentState,
      handler: ({ ctx, params }) => loadAgentState(ctx, params.agent_id),
    }),
    route({
      method: 'DELETE',
      path: '/agents/{agent_id}',
      operationId: 'delete_agent',
      summary: 'Delete an agent',
      description: 'Its links and working memory go with it; sources, files and tools stay.',
      tags,
      params: agentOnly,
      response: commonJson.MessageResult,
      handler: async ({ ctx, params }) => {
        await deleteAgent(ctx.db, ctx.actor, params.agent_id);
        return { message: `Agent id=${params.agent_id} successfully deleted` };
      },
    }),
  ];
}

/** The seed’s forms of attach and detach. */
function agentSourceRoutes(): Route[] {
  return [
    route({
      method: 'POST',
      path: '/agents/{agent_id}/sources',
      operationId: 'attach_source_by_body',
      summary: 'Attach a source to the agent (seed form: `{"source_id": …}`)',
      description: 'Same as PATCH /v1/agents/{agent_id}/sources/attach/{source_id}.',
      tags,
      deprecated: true,
      params: agentOnly,
      body: z.strictObject({ source_id: idOf('source') }),
      response: agentsJson.AgentState,
      handler: async ({ ctx, params, body }) => {
        await attachSource(ctx.db, ctx.actor, params.agent_id, body.source_id);
        return loadAgentState(ctx, params.agent_id);
      },
    }),
    route({
      method: 'DELETE',
      path: '/agents/{agent_id}/sources/{source_id}',
      operationId: 'detach_source_by_path',
      summary: 'Detach a source from the agent (seed form)',
      description: 'Same as PATCH /v1/agents/{agent_id}/sources/detach/{source_id}.',
      tags,
      deprecated: true,
      params: z.object({ agent_id: idOf('agent'), source_id: idOf('source') }),
      response: agentsJson.AgentState,
      handler: async ({ ctx, params }) => {
        await detachSource(ctx.db, ctx.actor, params.agent_id, params.source_id);
        return loadAgentState(ctx, params.agent_id);
      },
    }),
  ];
}

/** The agent’s tools: the list, attach and detach. */
function agentToolRoutes(): Route[] {
  return [
    route({
      method: 'GET',
      path: '/agents/{agent_id}/tools',
      operationId: 'list_agent_tools',
      summary: 'The agent’s tools',
      description: 'In attachment order (default newest first); cursors are tool ids.',
      tags,
      params: agentOnly,
      query: z.object(listParams('tool', { limit: 10, order: 'desc' })),
      response: z.array(toolsJson.Tool),
      handler: async ({ ctx, params, query }) => {
        await getAgent(ctx.db, ctx.actor, params.agent_id, 'agent_id');
        const links = await page<{ tool: ToolRow }>(
          ctx.db.toolAgent,
          {
            where: { agentId: params.agent_id },
            keys: [{ field: 'createdAt' }, { field: 'toolId' }],
            cursor: (toolId) => ({ agentId_toolId: { agentId: params.agent_id, toolId } }),
            type: 'attached tool',
            select: { tool: true },
          },
          { ...query, order: direction(query, 'desc') },
        );
        return links.map((link) => toolsJson.tool(link.tool));
      },
    }),
    ...(['attach', 'detach'] as const).map((action) =>
      route({
        method: 'PATCH',
        path: `/agents/{agent_id}/tools/${action}/{tool_id}`,
        operationId: `${action}_tool`,
        summary: action === 'attach' ? 'Attach a tool to the agent' : 'Detach a tool from the agent',
        description: 'Idempotent.',
        tags,
        params: z.object({ agent_id: idOf('agent'), tool_id: idOf('tool') }),
        response: agentsJson.AgentState,
        handler: async ({ ctx, params }) => {
          await (action === 'attach' ? attachTool : detachTool)(ctx.db, ctx.actor, params.agent_id, params.tool_id);
          return loadAgentState(ctx, params.agent_id);
        },
      }),
    ),
  ];
}

/** The agent’s view of its files: the list, open and close. */
function agentFileRoutes(): Route[] {
  return [
    route({
      method: 'GET',
      path: '/agents/{agent_id}/files',
      operationId: 'list_agent_files',
      summary: 'The files in the agent’s working memory',
      description: 'In id order, as Letta pages them; `cursor` is the deprecated name of `after` (a file_agent id).',
      tags,
      params: agentOnly,
      query: z.object({
        after: idOf('file_agent').optional(),
        cursor: describe(idOf('file_agent').optional(), 'Deprecated alias of after.'),
        limit: q.int(1, 1000).default(100),
        is_open: describe(q.bool().optional(), 'Only open (true) or only closed (false) files.'),
      }),
      response: agentsJson.PaginatedAgentFiles,
      handler: async ({ ctx, params, query }) => {
        const result = await listAgentFiles(ctx.db, ctx.actor, params.agent_id, { isOpen: query.is_open, limit: query.limit, after: query.after ?? query.cursor });
        return { files: result.files.map(agentsJson.agentFile), next_cursor: result.nextCursor, has_more: result.hasMore };
      },
    }),
    route({
      method: 'PATCH',
      path: '/agents/{agent_id}/files/close-all',
      operationId: 'close_all_open_files',
      summary: 'Close every open file of the agent',
      description: 'Answers the names of the files it closed.',
      tags,
      params: agentOnly,
      response: commonJson.NameList,
      handler: ({ ctx, params }) => closeAllFiles(ctx.db, ctx.actor, params.agent_id),
    }),
    route({
      method: 'PATCH',
      path: '/agents/{agent_id}/files/{file_id}/open',
      operationId: 'open_file',
      summary: 'Open a file in the agent’s working memory',
      description: 'Answers the names of the files closed to stay within the agent’s max_files_open (empty when under it).',
      tags,
      params: z.object({ agent_id: idOf('agent'), file_id: idOf('file') }),
      response: commonJson.NameList,
      handler: async ({ ctx, params }) => (await openFile(ctx.db, ctx.actor, params.agent_id, params.file_id)).closedFileNames,
    }),
    route({
      method: 'PATCH',
      path: '/agents/{agent_id}/files/{file_id}/close',
      operationId: 'close_file',
      summary: 'Close a file in the agent’s working memory',
      tags,
      params: z.object({ agent_id: idOf('agent'), file_id: idOf('file') }),
      response: commonJson.MessageResult,
      handler: async ({ ctx, params }) => {
        await closeFile(ctx.db, ctx.actor, params.agent_id, params.file_id);
        return { message: `File id=${params.file_id} successfully closed` };
      },
    }),
  ];
}

/** Memory variables and templates made from the agent. */
function agentTemplateRoutes(): Route[] {
  return [
    route({
      method: 'GET',
      path: '/agents/{agent_id}/core-memory/variables',
      operationId: 'list_core_memory_variables',
      summary: 'The memory variables the agent was made with',
      description: 'Letta Cloud route. The values given when the agent was made from a template; `{}` for other agents.',
      tags,
      params: agentOnly,
      response: agentsJson.MemoryVariables,
      handler: async ({ ctx, params }) => {
        const agent = await getAgent(ctx.db, ctx.actor, params.agent_id, 'agent_id');
        const variables = agentMemoryVariables(agent).flatMap((v) => (v.value === null ? [] : [[v.name, v.value] as const]));
        return { variables: Object.fromEntries(variables) };
      },
    }),
    route({
      method: 'POST',
      path: '/agents/{agent_id}/template',
      operationId: 'create_template_from_agent',
      summary: 'Save the agent as a new template (version 1)',
      description: 'Letta Cloud route. The body is optional; the template is named after the agent unless `name` is given (names are unique: 409).',
      tags,
      params: agentOnly,
      body: agentsJson.TemplateRequest.optional(),
      response: agentsJson.TemplateResult,
      handler: async ({ ctx, params, body }) => {
        const { template, version } = await createTemplateFromAgent(ctx.db, ctx.actor, {
          agentId: params.agent_id,
          name: body?.name,
          description: body?.description,
          message: body?.message,
        });
        return { templateName: template.name, templateId: template.id, version: version.version };
      },
    }),
    route({
      method: 'POST',
      path: '/agents/{agent_id}/version-template',
      operationId: 'version_agent_template',
      summary: 'Save the agent’s current state as the next version of its template',
      description:
        'Letta Cloud route. An agent that is the origin of no template gets one (version 1). With return_agent_state=true (or returnAgentState) ' +
        'the answer is the agent instead.',
      tags,
      params: agentOnly,
      query: z.object({ return_agent_state: q.bool().optional(), returnAgentState: q.bool().optional() }),
      body: agentsJson.VersionTemplateRequest.optional(),
      response: z.union([agentsJson.TemplateResult, agentsJson.AgentState]),
      handler: async ({ ctx, params, query, body }) => {
        const { template, version } = await versionTemplate(ctx.db, ctx.actor, { agentId: params.agent_id, message: body?.message });
        if (query.return_agent_state ?? query.returnAgentState) return loadAgentState(ctx, params.agent_id);
        return { templateName: template.name, templateId: template.id, version: version.version };
      },
    }),
  ];
}
