import { agentMemoryVariables, createAgentFromTemplate, createTemplateFromAgent, templateWhere, versionTemplate } from '../domain/templates.js';
import { Agent } from './agents.js';
import { orNotFound, requireId } from '../domain/ids.js';
import { builder, nodeOptions } from './builder.js';

/** Agent templates, their versions, agents made from them, and the memory variables those agents were given. */

builder.prismaNode('AgentTemplate', {
  ...nodeOptions,
  fields: (t) => ({
    name: t.exposeString('name'),
    description: t.exposeString('description', { nullable: true }),
    latestVersion: t.exposeInt('latestVersion'),
    agent: t.relation('agent', { nullable: true, description: 'The agent the template was captured from; null once it is deleted.' }),
    versions: t.relatedConnection('versions', { cursor: 'id', totalCount: true, description: 'Newest first.', query: { orderBy: { version: 'desc' } } }),
    agents: t.relatedConnection('agents', {
      cursor: 'id',
      totalCount: true,
      description: 'Agents made from this template, oldest first.',
      query: { orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] },
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

builder.prismaNode('AgentTemplateVersion', {
  ...nodeOptions,
  fields: (t) => ({
    template: t.relation('template'),
    version: t.exposeInt('version', { description: '1, 2, 3… per template.' }),
    message: t.exposeString('message', { nullable: true }),
    memoryVariables: t.exposeStringList('memoryVariables', { description: 'The {{variables}} its memory blocks and system prompt use, in order of first use.' }),
    snapshot: t.field({
      type: 'JSONObject',
      description: 'The captured configuration: description, system, model, llmConfig, embeddingConfig, memoryBlocks, toolIds, sourceIds, tags, maxFilesOpen, perFileViewWindowCharLimit.',
      select: { snapshot: true },
      resolve: (v) => v.snapshot as Record<string, unknown>,
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

const MemoryVariable = builder.objectRef<{ name: string; value: string | null }>('MemoryVariable').implement({
  fields: (t) => ({
    name: t.exposeString('name'),
    value: t.exposeString('value', { nullable: true, description: 'Null for a placeholder of an agent not made from a template.' }),
  }),
});

builder.prismaObjectField(Agent, 'memoryVariables', (t) =>
  t.field({
    type: [MemoryVariable],
    description:
      'For an agent made from a template, the values it was made with; otherwise the {{placeholders}} in its memory blocks and system prompt, with null values. Sorted by name.',
    select: { memoryVariables: true, memoryBlocks: true, system: true },
    resolve: (agent) => agentMemoryVariables(agent),
  }),
);

builder.queryFields((t) => ({
  templates: t.prismaConnection({
    type: 'AgentTemplate',
    cursor: 'id',
    description: 'Templates of your organization, oldest first.',
    args: {
      name: t.arg.string({ description: 'Case-insensitive substring of the name.' }),
      agentId: t.arg.id({ description: 'Templates captured from this agent.' }),
    },
    resolve: (query, _root, args, ctx) => ctx.db.agentTemplate.findMany({ ...query, where: templateWhere(args), orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] }),
    totalCount: (_root, args, ctx) => ctx.db.agentTemplate.count({ where: templateWhere(args) }),
  }),
  template: t.prismaField({
    type: 'AgentTemplate',
    args: { id: t.arg.id({ required: true }) },
    resolve: async (query, _root, { id }, ctx) => {
      // One query: the lookup carries the GraphQL selection.
      const key = requireId('template', id, 'id');
      return orNotFound(ctx.db.agentTemplate.findUnique({ ...query, where: { id: key } }), 'Template', key);
    },
  }),
}));

// ───────────── mutations ─────────────

const CreateTemplateFromAgentInput = builder.inputType('CreateTemplateFromAgentInput', {
  fields: (t) => ({
    agentId: t.id({ required: true }),
    name: t.string({ description: 'Unique in your organization; defaults to the agent’s name.' }),
    description: t.string(),
    message: t.string({ description: 'A note on version 1.' }),
  }),
});

const VersionTemplateInput = builder.inputType('VersionTemplateInput', {
  description: 'Exactly one of agentId and templateId.',
  fields: (t) => ({
    agentId: t.id({ description: 'The agent whose template gets the new version; an agent without one gets a template first.' }),
    templateId: t.id({ description: 'The template to version from the agent it was captured from.' }),
    message: t.string(),
  }),
});

const CreateAgentFromTemplateInput = builder.inputType('CreateAgentFromTemplateInput', {
  fields: (t) => ({
    templateId: t.id({ required: true }),
    version: t.int({ description: 'Defaults to the latest version.' }),
    memoryVariables: t.field({
      type: 'JSONObject',
      description: 'A string value for every variable the version uses, e.g. {"user_name": "Ada"}; variables it does not use are ignored.',
    }),
    name: t.string({ description: 'Defaults to the template’s name.' }),
  }),
});

const templateFields = (t: PothosSchemaTypes.ObjectFieldBuilder<typeof builder extends PothosSchemaTypes.SchemaBuilder<infer T> ? T : never, { templateId: string; versionId: string }>) => ({
  template: t.prismaField({
    type: 'AgentTemplate',
    resolve: (query, p, _args, ctx) => ctx.db.agentTemplate.findUniqueOrThrow({ ...query, where: { id: p.templateId } }),
  }),
  version: t.prismaField({
    type: 'AgentTemplateVersion',
    resolve: (query, p, _args, ctx) => ctx.db.agentTemplateVersion.findUniqueOrThrow({ ...query, where: { id: p.versionId } }),
  }),
});

const CreateTemplatePayload = builder.objectRef<{ templateId: string; versionId: string }>('CreateTemplatePayload').implement({
  fields: (t) => templateFields(t),
});

const VersionTemplatePayload = builder.objectRef<{ templateId: string; versionId: string; createdTemplate: boolean }>('VersionTemplatePayload').implement({
  fields: (t) => ({
    ...templateFields(t),
    createdTemplate: t.exposeBoolean('createdTemplate', { description: 'True when the agent had no template and this call created it.' }),
  }),
});

const CreateAgentFromTemplatePayload = builder
  .objectRef<{ agentId: string; versionId: string; skippedToolIds: string[]; skippedSourceIds: string[] }>('CreateAgentFromTemplatePayload')
  .implement({
    fields: (t) => ({
      agent: t.prismaField({ type: 'Agent', resolve: (query, p, _args, ctx) => ctx.db.agent.findUniqueOrThrow({ ...query, where: { id: p.agentId } }) }),
      templateVersion: t.prismaField({
        type: 'AgentTemplateVersion',
        resolve: (query, p, _args, ctx) => ctx.db.agentTemplateVersion.findUniqueOrThrow({ ...query, where: { id: p.versionId } }),
      }),
      skippedToolIds: t.exposeIDList('skippedToolIds', { description: 'Tools of the template deleted since it was versioned, not attached.' }),
      skippedSourceIds: t.exposeIDList('skippedSourceIds', { description: 'Sources of the template deleted since it was versioned, not attached.' }),
    }),
  });

builder.mutationFields((t) => ({
  createTemplateFromAgent: t.field({
    type: CreateTemplatePayload,
    description: 'Captures the agent’s configuration (system prompt, memory blocks with their {{variables}}, tools, sources, model, embedding) as version 1 of a new template.',
    args: { input: t.arg({ type: CreateTemplateFromAgentInput, required: true }) },
    resolve: async (_root, { input }, ctx) => {
      const { template, version } = await createTemplateFromAgent(ctx.db, ctx.actor, input);
      return { templateId: template.id, versionId: version.id };
    },
  }),
  versionTemplate: t.field({
    type: VersionTemplatePayload,
    description: 'Saves the agent’s current configuration as the template’s next version.',
    args: { input: t.arg({ type: VersionTemplateInput, required: true }) },
    resolve: async (_root, { input }, ctx) => {
      const { template, version, createdTemplate } = await versionTemplate(ctx.db, ctx.actor, input);
      return { templateId: template.id, versionId: version.id, createdTemplate };
    },
  }),
  createAgentFromTemplate: t.field({
    type: CreateAgentFromTemplatePayload,
    description: 'Makes an agent from a template version, filling its {{variables}}; a missing variable is BAD_USER_INPUT naming it.',
    args: { input: t.arg({ type: CreateAgentFromTemplateInput, required: true }) },
    resolve: async (_root, { input }, ctx) => {
      const made = await createAgentFromTemplate(ctx.db, ctx.actor, input);
      return { agentId: made.agent.id, versionId: made.version.id, skippedToolIds: made.skippedToolIds, skippedSourceIds: made.skippedSourceIds };
    },
  }),
}));
