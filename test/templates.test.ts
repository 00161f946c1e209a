import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NewOrganization } from '../src/domain/organizations.js';
import { createTestApp, type TestApp } from './support/app.js';
import { databaseKinds } from './support/db.js';

const TEMPLATE = 'id name description latestVersion agent { id } versions { totalCount edges { node { version message memoryVariables snapshot } } }';
const MADE = 'agent { id name system model tags memoryBlocks { label value limit } tools { edges { node { name } } } sources { edges { node { name } } } memoryVariables { name value } } templateVersion { version } skippedToolIds skippedSourceIds';

describe.each(databaseKinds())('templates on %s', (kind) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(kind);
  });
  afterAll(() => t.close());

  const errorOf = (result: { errors?: { extensions?: Record<string, any> }[] }) => result.errors?.[0]?.extensions;

  /** An agent with {{variables}} in its system prompt and blocks, one custom tool and one source. */
  async function templatedAgent(org: NewOrganization, name = 'support-bot') {
    const tool = await t.db.prisma.tool.create({ data: { organizationId: org.organizationId, name: `lookup_${name.replace(/\W/g, '_')}`, sourceCode: 'def f(): pass' } });
    const { createSource } = await t.gqlOk(org.apiKey, 'mutation($n: String!) { createSource(input: { name: $n }) { source { id } } }', { n: `kb-${name}` });
    const { createAgent } = await t.gqlOk(org.apiKey, 'mutation($input: CreateAgentInput!) { createAgent(input: $input) { agent { id } } }', {
      input: {
        name,
        system: 'You help {{ user_name }} at {{company}}.',
        model: 'openai/gpt-4o-mini',
        tags: ['support'],
        memoryBlocks: [
          { label: 'persona', value: 'I am {{agent_name}}, helper of {{user_name}}.', limit: 100 },
          { label: 'human', value: 'Name: {{user_name}}. Not variables: {{ 1x }} {{a-b}} {single}' },
        ],
        toolIds: [tool.id],
        sourceIds: [createSource.source.id],
      },
    });
    return { agentId: createAgent.agent.id as string, toolId: tool.id, sourceId: createSource.source.id as string };
  }

  const capture = (key: string, input: Record<string, unknown>) =>
    t.gql(key, `mutation($input: CreateTemplateFromAgentInput!) { createTemplateFromAgent(input: $input) { template { ${TEMPLATE} } version { version } } }`, { input });
  const version = (key: string, input: Record<string, unknown>) =>
    t.gql(key, `mutation($input: VersionTemplateInput!) { versionTemplate(input: $input) { template { id name latestVersion } version { version message memoryVariables snapshot } createdTemplate } }`, { input });
  const instantiate = (key: string, input: Record<string, unknown>) =>
    t.gql(key, `mutation($input: CreateAgentFromTemplateInput!) { createAgentFromTemplate(input: $input) { ${MADE} } }`, { input });

  it('captures an agent as version 1 of a template, with its variables, tools and sources', async () => {
    const org = await t.seed();
    const { agentId, toolId, sourceId } = await templatedAgent(org);
    const result = await capture(org.apiKey, { agentId, name: 'support', description: 'first line', message: 'initial' });
    expect(result.errors).toBeUndefined();
    const { template } = result.data.createTemplateFromAgent;
    expect(template.id).toMatch(/^template-[0-9a-f-]{36}$/);
    expect(template).toMatchObject({ name: 'support', description: 'first line', latestVersion: 1, agent: { id: agentId }, versions: { totalCount: 1 } });
    const v1 = template.versions.edges[0].node;
    expect(v1).toMatchObject({ version: 1, message: 'initial', memoryVariables: ['user_name', 'company', 'agent_name'] });
    expect(v1.snapshot).toMatchObject({
      system: 'You help {{ user_name }} at {{company}}.',
      model: 'openai/gpt-4o-mini',
      tags: ['support'],
      memoryBlocks: [{ label: 'persona', limit: 100 }, { label: 'human' }],
      sourceIds: [sourceId],
    });
    // Attaching a source gives the agent Letta's file tools too; the snapshot keeps them all.
    expect(v1.snapshot.toolIds).toContain(toolId);
    expect(v1.snapshot.toolIds).toHaveLength(4);

    const listed = await t.gqlOk(org.apiKey, `query($a: ID!) { templates { totalCount edges { node { name } } } byName: templates(name: "SUPP") { totalCount } byAgent: templates(agentId: $a) { totalCount } template(id: "${template.id}") { name } }`, { a: agentId });
    expect(listed).toEqual({ templates: { totalCount: 1, edges: [{ node: { name: 'support' } }] }, byName: { totalCount: 1 }, byAgent: { totalCount: 1 }, template: { name: 'support' } });

    const duplicate = await capture(org.apiKey, { agentId, name: ' support ' });
    expect(errorOf(duplicate)).toMatchObject({ code: 'CONFLICT', field: 'name' });
    expect(errorOf(await capture(org.apiKey, { agentId, name: '' }))).toMatchObject({ code: 'BAD_USER_INPUT', field: 'name' });
    expect(errorOf(await capture(org.apiKey, { agentId: 'agent-nope' }))).toMatchObject({ code: 'BAD_USER_INPUT', field: 'agentId' });
    expect((await t.gqlOk(org.apiKey, '{ templates { totalCount } }')).templates.totalCount).toBe(1);
  });

  it('saves new versions by template or by agent, creating the template when the agent has none', async () => {
    const org = await t.seed();
    const { agentId } = await templatedAgent(org, 'versioned');
    const first = await version(org.apiKey, { agentId, message: 'v1' });
    expect(first.errors).toBeUndefined();
    expect(first.data.versionTemplate).toMatchObject({ template: { name: 'versioned', latestVersion: 1 }, version: { version: 1, message: 'v1' }, createdTemplate: true });
    const templateId = first.data.versionTemplate.template.id;

    await t.gqlOk(org.apiKey, 'mutation($id: ID!) { updateAgent(id: $id, input: { system: "Serve {{customer}}." }) { agent { id } } }', { id: agentId });
    const second = (await version(org.apiKey, { templateId, message: 'new prompt' })).data.versionTemplate;
    expect(second).toMatchObject({ template: { id: templateId, latestVersion: 2 }, version: { version: 2, memoryVariables: ['customer', 'agent_name', 'user_name'] }, createdTemplate: false });
    expect(second.version.snapshot.system).toBe('Serve {{customer}}.');
    const third = (await version(org.apiKey, { agentId })).data.versionTemplate;
    expect(third).toMatchObject({ template: { id: templateId, latestVersion: 3 }, version: { version: 3, message: null } });

    // Concurrent versioning numbers versions one after another.
    const many = await Promise.all(Array.from({ length: 5 }, () => version(org.apiKey, { templateId })));
    for (const result of many) expect(result.errors).toBeUndefined();
    expect(many.map((r) => r.data.versionTemplate.version.version).sort()).toEqual([4, 5, 6, 7, 8]);
    const { template } = await t.gqlOk(org.apiKey, 'query($id: ID!) { template(id: $id) { latestVersion versions(first: 2) { totalCount edges { node { version } } } } }', { id: templateId });
    expect(template).toEqual({ latestVersion: 8, versions: { totalCount: 8, edges: [{ node: { version: 8 } }, { node: { version: 7 } }] } });

    expect(errorOf(await version(org.apiKey, {}))).toMatchObject({ code: 'BAD_USER_INPUT' });
    expect(errorOf(await version(org.apiKey, { agentId, templateId }))).toMatchObject({ code: 'BAD_USER_INPUT', field: 'agentId' });
    expect(errorOf(await version(org.apiKey, { templateId: 'template-1' }))).toMatchObject({ code: 'BAD_USER_INPUT', field: 'templateId' });
    expect(errorOf(await version(org.apiKey, { templateId: 'template-00000000-0000-4000-8000-000000000000' }))).toMatchObject({ code: 'NOT_FOUND' });

    // Once its agent is gone, a template can no longer be versioned, and says why.
    await t.gqlOk(org.apiKey, 'mutation($id: ID!) { deleteAgent(id: $id) { deletedAgentId } }', { id: agentId });
    const orphan = await version(org.apiKey, { templateId });
    expect(errorOf(orphan)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'templateId' });
  });

  it('makes agents from a version with its variables filled in, and reports what the agent uses', async () => {
    const org = await t.seed();
    const { agentId, toolId } = await templatedAgent(org, 'maker');
    const { template } = (await capture(org.apiKey, { agentId, name: 'maker-template' })).data.createTemplateFromAgent;
    const variables = { user_name: 'Ada', company: 'Analytical Engines', agent_name: 'Babbage', unused: 'ignored' };

    const made = await instantiate(org.apiKey, { templateId: template.id, memoryVariables: variables, name: 'ada-bot' });
    expect(made.errors).toBeUndefined();
    const { agent } = made.data.createAgentFromTemplate;
    expect(made.data.createAgentFromTemplate).toMatchObject({ templateVersion: { version: 1 }, skippedToolIds: [], skippedSourceIds: [] });
    expect(agent).toMatchObject({
      name: 'ada-bot',
      system: 'You help Ada at Analytical Engines.',
      model: 'openai/gpt-4o-mini',
      tags: ['support'],
      memoryBlocks: [
        { label: 'persona', value: 'I am Babbage, helper of Ada.', limit: 100 },
        { label: 'human', value: 'Name: Ada. Not variables: {{ 1x }} {{a-b}} {single}' },
      ],
      sources: { edges: [{ node: { name: 'kb-maker' } }] },
      memoryVariables: [
        { name: 'agent_name', value: 'Babbage' },
        { name: 'company', value: 'Analytical Engines' },
        { name: 'user_name', value: 'Ada' },
      ],
    });
    expect(agent.tools.edges).toHaveLength(4);

    // The original agent is not made from a template: its variables are its placeholders, without values.
    const original = await t.gqlOk(org.apiKey, 'query($id: ID!) { agent(id: $id) { memoryVariables { name value } } }', { id: agentId });
    expect(original.agent.memoryVariables).toEqual([
      { name: 'agent_name', value: null },
      { name: 'company', value: null },
      { name: 'user_name', value: null },
    ]);

    const missing = await instantiate(org.apiKey, { templateId: template.id, memoryVariables: { user_name: 'Ada' } });
    expect(errorOf(missing)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'memoryVariables', missing: ['company', 'agent_name'] });
    expect(missing.errors![0].message).toBe('Missing memory variables: company, agent_name');
    const inherited = await instantiate(org.apiKey, { templateId: template.id, memoryVariables: { user_name: 'x', agent_name: 'y', constructor: 'z' } });
    expect(errorOf(inherited)).toMatchObject({ code: 'BAD_USER_INPUT', missing: ['company'] });
    const notString = await instantiate(org.apiKey, { templateId: template.id, memoryVariables: { ...variables, company: 42 } });
    expect(errorOf(notString)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'memoryVariables.company' });
    const tooLong = await instantiate(org.apiKey, { templateId: template.id, memoryVariables: { ...variables, agent_name: 'x'.repeat(200) } });
    expect(errorOf(tooLong)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'memoryBlocks.0.value' });
    expect(errorOf(await instantiate(org.apiKey, { templateId: template.id, version: 2, memoryVariables: variables }))).toMatchObject({ code: 'NOT_FOUND', field: 'version' });
    expect(errorOf(await instantiate(org.apiKey, { templateId: template.id, version: 0, memoryVariables: variables }))).toMatchObject({ code: 'BAD_USER_INPUT', field: 'version' });
    expect(errorOf(await instantiate(org.apiKey, { templateId: 'agent-00000000-0000-4000-8000-000000000000', memoryVariables: variables }))).toMatchObject({ code: 'BAD_USER_INPUT', field: 'templateId' });

    // A later version without variables; version 1 still works, and the deleted tool is skipped and reported.
    await t.gqlOk(org.apiKey, 'mutation($id: ID!) { updateAgent(id: $id, input: { system: "plain", memoryBlocks: [{ label: "persona", value: "fixed" }] }) { agent { id } } }', { id: agentId });
    await version(org.apiKey, { templateId: template.id });
    await t.db.prisma.tool.delete({ where: { id: toolId } });
    const latest = (await instantiate(org.apiKey, { templateId: template.id })).data.createAgentFromTemplate;
    expect(latest).toMatchObject({ templateVersion: { version: 2 }, agent: { name: 'maker-template', system: 'plain', memoryVariables: [] }, skippedToolIds: [toolId] });
    const old = (await instantiate(org.apiKey, { templateId: template.id, version: 1, memoryVariables: variables })).data.createAgentFromTemplate;
    expect(old).toMatchObject({ templateVersion: { version: 1 }, agent: { system: 'You help Ada at Analytical Engines.' }, skippedToolIds: [toolId] });

    const { template: after } = await t.gqlOk(org.apiKey, 'query($id: ID!) { template(id: $id) { agents { totalCount edges { node { name } } } } }', { id: template.id });
    expect(after.agents).toEqual({ totalCount: 3, edges: [{ node: { name: 'ada-bot' } }, { node: { name: 'maker-template' } }, { node: { name: 'maker-template' } }] });
    // Failed attempts made no agents: the original and the three made from the template.
    expect((await t.gqlOk(org.apiKey, '{ agents { totalCount } }')).agents.totalCount).toBe(4);

    // Runs of a template-made agent remember the template.
    const { startRun } = await t.gqlOk(org.apiKey, 'mutation($a: ID!) { startRun(input: { agentId: $a }) { run { baseTemplateId } } }', { a: agent.id });
    expect(startRun.run.baseTemplateId).toBe(template.id);
  });

  it('keeps another organization’s templates invisible: their ids behave like missing ones', async () => {
    const owner = await t.seed();
    const other = await t.seed();
    const { agentId } = await templatedAgent(owner, 'private');
    const { template } = (await capture(owner.apiKey, { agentId })).data.createTemplateFromAgent;

    expect(await t.gqlOk(other.apiKey, `{ templates { totalCount } byAgent: templates(agentId: "${agentId}") { totalCount } }`)).toEqual({
      templates: { totalCount: 0 },
      byAgent: { totalCount: 0 },
    });
    const read = await t.gql(other.apiKey, 'query($id: ID!) { template(id: $id) { id } }', { id: template.id });
    expect(errorOf(read)).toMatchObject({ code: 'NOT_FOUND' });
    expect(read.errors![0].message).toBe(`Template ${template.id} not found`);
    expect((await t.gqlOk(other.apiKey, 'query($id: ID!) { node(id: $id) { id } }', { id: template.id })).node).toBeNull();
    expect(errorOf(await instantiate(other.apiKey, { templateId: template.id, memoryVariables: { user_name: 'a', company: 'b', agent_name: 'c' } }))).toMatchObject({ code: 'NOT_FOUND' });
    expect(errorOf(await version(other.apiKey, { templateId: template.id }))).toMatchObject({ code: 'NOT_FOUND' });
    expect(errorOf(await version(other.apiKey, { agentId }))).toMatchObject({ code: 'NOT_FOUND' });
    expect(errorOf(await capture(other.apiKey, { agentId, name: 'stolen' }))).toMatchObject({ code: 'NOT_FOUND' });
    // Names are unique per organization only.
    const { agentId: theirs } = await templatedAgent(other, 'theirs');
    expect((await capture(other.apiKey, { agentId: theirs, name: 'private' })).errors).toBeUndefined();

    const { template: mine } = await t.gqlOk(owner.apiKey, 'query($id: ID!) { template(id: $id) { latestVersion agents { totalCount } } }', { id: template.id });
    expect(mine).toEqual({ latestVersion: 1, agents: { totalCount: 0 } });
  });
});
