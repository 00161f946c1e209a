import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NewOrganization } from '../src/domain/organizations.js';
import { createTestApp, type TestApp } from './support/app.js';
import { databaseKinds, setFileText } from './support/db.js';

describe.each(databaseKinds())('agents over GraphQL on %s', (kind) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(kind);
  });
  afterAll(() => t.close());

  async function sourceWithFiles(org: NewOrganization, name: string, files: Record<string, string>) {
    const { createSource } = await t.gqlOk(org.apiKey, 'mutation($n: String!) { createSource(input: { name: $n }) { source { id } } }', { n: name });
    const ids: string[] = [];
    for (const [fileName, text] of Object.entries(files)) {
      const file = await t.db.prisma.file.create({
        data: { organizationId: org.organizationId, sourceId: createSource.source.id, fileName: `${name}/${fileName}`, originalFileName: fileName, mediaType: 'text/plain', processingStatus: 'COMPLETED' },
      });
      await setFileText(t.db.prisma, org.organizationId, file.id, text);
      ids.push(file.id);
    }
    return { sourceId: createSource.source.id as string, fileIds: ids };
  }

  const AGENT = 'id name system model memoryBlocks { label value limit } tags sources { totalCount edges { node { name } } } tools { edges { node { name toolType } } } files { totalCount edges { node { fileName isOpen } } } maxFilesOpen';

  /** The nodes of a connection. */
  const nodes = (connection: { edges: { node: any }[] }) => connection.edges.map((e) => e.node);
  /** An agent with its relations' connections read as lists of nodes. */
  const flat = (agent: any) => ({
    ...agent,
    ...Object.fromEntries(['sources', 'tools', 'files'].filter((k) => agent[k]).map((k) => [k, nodes(agent[k])])),
  });

  it('creates an agent with memory blocks and sources, visible from both sides', async () => {
    const org = await t.seed();
    const { sourceId } = await sourceWithFiles(org, 'kb', { 'a.txt': 'alpha\nbeta', 'b.txt': 'gamma' });
    const { createAgent } = await t.gqlOk(
      org.apiKey,
      `mutation($input: CreateAgentInput!) { createAgent(input: $input) { agent { ${AGENT} } } }`,
      { input: { name: 'helper', system: 'be brief', model: 'openai/gpt-4o-mini', tags: ['x'], memoryBlocks: [{ label: 'persona', value: 'I help' }], sourceIds: [sourceId] } },
    );
    expect(createAgent.agent.sources.totalCount).toBe(1);
    expect(createAgent.agent.files.totalCount).toBe(2);
    createAgent.agent = flat(createAgent.agent);
    expect(createAgent.agent).toMatchObject({
      name: 'helper',
      system: 'be brief',
      memoryBlocks: [{ label: 'persona', value: 'I help', limit: 5000 }],
      tags: ['x'],
      sources: [{ name: 'kb' }],
      maxFilesOpen: 10, // Letta's default for the 128k context window the model handle brings
    });
    expect(createAgent.agent.tools.map((tool: any) => tool.name).sort()).toEqual(['grep_files', 'open_files', 'semantic_search_files']);
    expect(createAgent.agent.files.map((f: any) => f.fileName).sort()).toEqual(['kb/a.txt', 'kb/b.txt']);
    const fromSource = await t.gqlOk(org.apiKey, 'query($id: ID!) { source(id: $id) { agents { totalCount edges { node { id name } } } } }', { id: sourceId });
    expect(fromSource.source.agents).toEqual({ totalCount: 1, edges: [{ node: { id: createAgent.agent.id, name: 'helper' } }] });
    const list = await t.gqlOk(org.apiKey, '{ agents(name: "HELP", tags: ["x"]) { totalCount edges { node { name } } } }');
    expect(list.agents).toEqual({ totalCount: 1, edges: [{ node: { name: 'helper' } }] });
  });

  it('attaches and detaches sources idempotently; the file tools leave with the last source (Letta test 39)', async () => {
    const org = await t.seed();
    const one = await sourceWithFiles(org, 'one', { 'x.md': '# x' });
    const two = await sourceWithFiles(org, 'two', {});
    const { createAgent } = await t.gqlOk(org.apiKey, 'mutation { createAgent(input: { name: "a" }) { agent { id tools { totalCount edges { node { name } } } } } }');
    const agentId = createAgent.agent.id;
    expect(createAgent.agent.tools).toEqual({ totalCount: 0, edges: [] });
    const RELATIONS = 'sources { edges { node { name } } } tools { edges { node { name } } } files { edges { node { fileName } } }';
    const attach = (sourceId: string) => t.gqlOk(org.apiKey, `mutation($a: ID!, $s: ID!) { attachSource(agentId: $a, sourceId: $s) { agent { ${RELATIONS} } } }`, { a: agentId, s: sourceId }).then((r) => flat(r.attachSource.agent));
    const detach = (sourceId: string) => t.gqlOk(org.apiKey, `mutation($a: ID!, $s: ID!) { detachSource(agentId: $a, sourceId: $s) { agent { ${RELATIONS} } } }`, { a: agentId, s: sourceId }).then((r) => flat(r.detachSource.agent));
    await attach(one.sourceId);
    const twice = await attach(one.sourceId);
    expect(twice.sources).toEqual([{ name: 'one' }]);
    expect(twice.tools).toHaveLength(3);
    expect(twice.files).toEqual([{ fileName: 'one/x.md' }]);
    expect((await attach(two.sourceId)).tools).toHaveLength(3);
    expect(await detach(one.sourceId)).toMatchObject({ sources: [{ name: 'two' }], files: [] });
    const last = await detach(two.sourceId);
    expect(last).toEqual({ sources: [], tools: [], files: [] });
    expect((await detach(two.sourceId)).sources).toEqual([]);
  });

  it('opens and closes files within maxFilesOpen, least recently used closed first', async () => {
    const org = await t.seed();
    const { sourceId, fileIds } = await sourceWithFiles(org, 'lib', { '1.txt': 'one', '2.txt': 'two', '3.txt': 'three' });
    const { createAgent } = await t.gqlOk(org.apiKey, 'mutation($s: ID!) { createAgent(input: { name: "r", maxFilesOpen: 2, sourceIds: [$s] }) { agent { id files(isOpen: true) { totalCount edges { node { fileName } } } } } }', { s: sourceId });
    const agentId = createAgent.agent.id;
    expect(createAgent.agent.files.edges).toHaveLength(2);
    expect(createAgent.agent.files.totalCount).toBe(2);
    const closedBefore = nodes((await t.gqlOk(org.apiKey, 'query($id: ID!) { agent(id: $id) { files(isOpen: false) { edges { node { fileName } } } } }', { id: agentId })).agent.files).map((f: any) => f.fileName);
    expect(closedBefore).toHaveLength(1);
    const closedId = fileIds[['lib/1.txt', 'lib/2.txt', 'lib/3.txt'].indexOf(closedBefore[0])];
    const opened = await t.gqlOk(org.apiKey, 'mutation($a: ID!, $f: ID!) { openFile(agentId: $a, fileId: $f) { agentFile { fileName isOpen visibleContent } closedFileNames } }', { a: agentId, f: closedId });
    expect(opened.openFile.agentFile).toMatchObject({ fileName: closedBefore[0], isOpen: true });
    expect(opened.openFile.agentFile.visibleContent).toContain('1: ');
    expect(opened.openFile.closedFileNames).toHaveLength(1);
    const closed = await t.gqlOk(org.apiKey, 'mutation($a: ID!, $f: ID!) { closeFile(agentId: $a, fileId: $f) { agentFile { isOpen visibleContent } } }', { a: agentId, f: closedId });
    expect(closed.closeFile.agentFile).toEqual({ isOpen: false, visibleContent: null });
  });

  it('validates input and never touches another organization’s agents', async () => {
    const a = await t.seed();
    const b = await t.seed();
    const empty = await t.gql(a.apiKey, 'mutation { createAgent(input: { name: "" }) { agent { id } } }');
    expect(empty.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    const badEmbedding = await t.gql(a.apiKey, 'mutation { createAgent(input: { name: "e", embedding: "nope/x" }) { agent { id } } }');
    expect(badEmbedding.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'embedding' });
    const malformed = await t.gql(a.apiKey, 'mutation { attachSource(agentId: "agent-1", sourceId: "source-1") { agent { id } } }');
    expect(malformed.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    const theirs = (await t.gqlOk(b.apiKey, 'mutation { createAgent(input: { name: "secret" }) { agent { id } } }')).createAgent.agent.id;
    const missing = 'agent-00000000-0000-4000-8000-000000000000';
    const attempt = async (id: string) =>
      (await Promise.all([
        t.gql(a.apiKey, 'query($id: ID!) { agent(id: $id) { id } }', { id }),
        t.gql(a.apiKey, 'mutation($id: ID!) { updateAgent(id: $id, input: { name: "x" }) { agent { id } } }', { id }),
        t.gql(a.apiKey, 'mutation($id: ID!) { deleteAgent(id: $id) { deletedAgentId } }', { id }),
      ])).map((r) => r.errors?.map((e) => [e.extensions?.code, e.message.replace(id, 'ID')]));
    expect(await attempt(theirs)).toEqual(await attempt(missing));
    expect((await attempt(missing))[0]).toEqual([['NOT_FOUND', 'Agent ID not found']]);
    expect((await t.gqlOk(a.apiKey, '{ agents { totalCount } }')).agents.totalCount).toBe(0);
    expect((await t.gqlOk(b.apiKey, 'query($id: ID!) { agent(id: $id) { name } }', { id: theirs })).agent.name).toBe('secret');
  });

  it('updates an agent and deletes it without touching its sources', async () => {
    const org = await t.seed();
    const { sourceId } = await sourceWithFiles(org, 'keep', { 'k.txt': 'k' });
    const id = (await t.gqlOk(org.apiKey, 'mutation($s: ID!) { createAgent(input: { name: "old", sourceIds: [$s] }) { agent { id } } }', { s: sourceId })).createAgent.agent.id;
    const updated = await t.gqlOk(org.apiKey, 'mutation($id: ID!) { updateAgent(id: $id, input: { name: "new", memoryBlocks: [{ label: "human", value: "Ada" }] }) { agent { name memoryBlocks { label value } } } }', { id });
    expect(updated.updateAgent.agent).toEqual({ name: 'new', memoryBlocks: [{ label: 'human', value: 'Ada' }] });
    expect((await t.gqlOk(org.apiKey, 'mutation($id: ID!) { deleteAgent(id: $id) { deletedAgentId name } }', { id })).deleteAgent).toEqual({ deletedAgentId: id, name: 'new' });
    expect((await t.gqlOk(org.apiKey, 'query($id: ID!) { source(id: $id) { fileCount agents { totalCount edges { node { id } } } } }', { id: sourceId })).source).toEqual({ fileCount: 1, agents: { totalCount: 0, edges: [] } });
  });
});
