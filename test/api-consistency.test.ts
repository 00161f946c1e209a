import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './support/app.js';
import { databaseKinds } from './support/db.js';
import { jsonClient } from './support/rest.js';
import { uploadOne } from './support/upload.js';
import { until } from './support/wait.js';

/**
 * One shape for every list and one set of rules for every way in: counts on nested connections, the agent
 * relations paged like any connection, sources updated with what creates them, and one file per stored name.
 */
describe.each(databaseKinds())('a consistent API on %s', (kind) => {
  let t: TestApp;
  let url: string;
  beforeAll(async () => {
    t = await createTestApp(kind);
    ({ url } = await t.app.listen());
  });
  afterAll(() => t.close());

  const newSource = async (key: string, name: string, extra = '') =>
    (await t.gqlOk(key, `mutation { createSource(input: { name: "${name}" ${extra} }) { source { id } } }`)).createSource.source.id as string;

  async function uploaded(key: string, sourceId: string, name: string, content: string, duplicateHandling?: 'SUFFIX' | 'REPLACE') {
    const result = await uploadOne(url, key, sourceId, { name, content, type: 'text/plain' }, duplicateHandling ? { duplicateHandling } : {});
    expect(result.errors).toBeUndefined();
    return result.data.uploadFile as { outcome: string; name: string; file: { id: string; fileName: string } };
  }

  const FILES = `query($id: ID!) { source(id: $id) { files(first: 50) { totalCount edges { node { id fileName storedFileName processingStatus } } } } }`;
  const settled = (key: string, sourceId: string) =>
    until(
      async () => (await t.gqlOk(key, FILES, { id: sourceId })).source.files,
      (files: any) => files.edges.every((e: any) => ['COMPLETED', 'ERROR'].includes(e.node.processingStatus)),
    );

  it('counts files and passages on nested connections, filtered as the page is', async () => {
    const org = await t.seed();
    const sourceId = await newSource(org.apiKey, 'counted');
    const text = (word: string) => Array.from({ length: 400 }, (_, i) => `${word} ${i}.`).join(' ');
    const a = await uploaded(org.apiKey, sourceId, 'a.txt', text('granite'));
    await uploaded(org.apiKey, sourceId, 'b.txt', text('basalt'));
    await settled(org.apiKey, sourceId);
    const { source } = await t.gqlOk(
      org.apiKey,
      `query($id: ID!, $f: ID!) {
        source(id: $id) {
          fileCount passageCount
          files(first: 1) { totalCount edges { node { id } } }
          done: files(status: COMPLETED, first: 1) { totalCount }
          failed: files(status: ERROR) { totalCount edges { node { id } } }
          passages(first: 2) { totalCount edges { node { id } } }
        }
        file(id: $f) { chunksEmbedded passages(first: 1) { totalCount pageInfo { hasNextPage } } }
      }`,
      { id: sourceId, f: a.file.id },
    ).then((d) => ({ ...d, source: { ...d.source, file: d.file } }));
    expect(source.files).toMatchObject({ totalCount: 2 });
    expect(source.files.edges).toHaveLength(1);
    expect(source.done.totalCount).toBe(2);
    expect(source.failed).toEqual({ totalCount: 0, edges: [] });
    expect(source.passages.totalCount).toBe(source.passageCount);
    expect(source.passageCount).toBeGreaterThan(2);
    expect(source.file.passages).toEqual({ totalCount: source.file.chunksEmbedded, pageInfo: { hasNextPage: true } });
  });

  it('pages an agent’s sources, tools and files and a source’s agents, with counts, inside the organization', async () => {
    const org = await t.seed();
    const other = await t.seed();
    const sourceIds = [await newSource(org.apiKey, 's0'), await newSource(org.apiKey, 's1'), await newSource(org.apiKey, 's2')];
    for (const [i, id] of sourceIds.entries()) await uploaded(org.apiKey, id, `f${i}.txt`, `file ${i}`);
    // Processed first: a file that completes refreshes the agents' views of it, which reorders `files`.
    for (const id of sourceIds) await settled(org.apiKey, id);
    const agentOf = async (name: string) =>
      (await t.gqlOk(org.apiKey, 'mutation($n: String!, $s: [ID!]) { createAgent(input: { name: $n, sourceIds: $s }) { agent { id } } }', { n: name, s: sourceIds })).createAgent.agent.id;
    const agentId = await agentOf('reader');
    await agentOf('second');

    const PAGE = `totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor } edges { cursor node { id } }`;
    const ARGS = 'first: $first, after: $after, last: $last, before: $before';
    const page = async (variables: { first?: number; after?: string; last?: number; before?: string }) =>
      (await t.gqlOk(org.apiKey, `query($id: ID!, $first: Int, $after: String, $last: Int, $before: String) {
        agent(id: $id) { sources(${ARGS}) { ${PAGE} } tools(${ARGS}) { ${PAGE} } files(${ARGS}) { ${PAGE} } } }`, { id: agentId, ...variables })).agent;
    const all = await page({ first: 50 });
    expect(all.sources.edges.map((e: any) => e.node.id).sort()).toEqual([...sourceIds].sort()); // attached together: ties by id
    expect([all.sources.totalCount, all.tools.totalCount, all.files.totalCount]).toEqual([3, 3, 3]);
    for (const relation of ['sources', 'tools', 'files'] as const) {
      const ids = all[relation].edges.map((e: any) => e.node.id);
      const first = (await page({ first: 2 }))[relation];
      expect(first).toMatchObject({ totalCount: 3, pageInfo: { hasNextPage: true } });
      expect(first.edges.map((e: any) => e.node.id)).toEqual(ids.slice(0, 2));
      const rest = (await page({ first: 2, after: first.pageInfo.endCursor }))[relation];
      expect(rest.edges.map((e: any) => e.node.id)).toEqual(ids.slice(2));
      expect(rest.pageInfo.hasNextPage).toBe(false);
      const last = (await page({ last: 1, before: rest.edges[0].cursor }))[relation];
      expect(last.edges.map((e: any) => e.node.id)).toEqual([ids[1]]);
    }
    const open = await t.gqlOk(org.apiKey, 'query($id: ID!) { agent(id: $id) { files(isOpen: false) { totalCount } } }', { id: agentId });
    expect(open.agent.files.totalCount).toBe(0);

    const agents = await t.gqlOk(org.apiKey, 'query($id: ID!) { source(id: $id) { agents(first: 1) { totalCount pageInfo { hasNextPage } edges { node { name } } } } }', { id: sourceIds[0] });
    expect(agents.source.agents).toEqual({ totalCount: 2, pageInfo: { hasNextPage: true }, edges: [{ node: { name: 'reader' } }] });

    // Another organization's source as a cursor positions nothing, as a missing id does.
    const theirs = await newSource(other.apiKey, 'theirs');
    const foreign = (await page({ first: 5, after: theirs })).sources;
    expect(foreign).toMatchObject({ totalCount: 3, edges: [] });
  });

  it('updateAgent takes the whole sets of sources and tools, as REST PATCH does', async () => {
    const org = await t.seed();
    const [s0, s1] = [await newSource(org.apiKey, 'first'), await newSource(org.apiKey, 'second')];
    await uploaded(org.apiKey, s1, 'only.txt', 'only');
    const RELATIONS = 'sources { edges { node { id } } } tools(first: 50) { totalCount edges { node { id name } } } files { edges { node { fileName } } }';
    const created = (await t.gqlOk(org.apiKey, `mutation($s: [ID!]) { createAgent(input: { name: "mover", sourceIds: $s }) { agent { id ${RELATIONS} } } }`, { s: [s0] })).createAgent.agent;
    const update = (input: Record<string, unknown>) => t.gql(org.apiKey, `mutation($id: ID!, $input: UpdateAgentInput!) { updateAgent(id: $id, input: $input) { agent { ${RELATIONS} } } }`, { id: created.id, input });
    const moved = (await update({ sourceIds: [s1] })).data.updateAgent.agent;
    expect(moved.sources.edges).toEqual([{ node: { id: s1 } }]);
    expect(moved.files.edges).toEqual([{ node: { fileName: 'second/only.txt' } }]);
    const keep = moved.tools.edges.slice(1).map((e: any) => e.node.id);
    const fewer = (await update({ toolIds: keep })).data.updateAgent.agent;
    expect(fewer.tools.totalCount).toBe(moved.tools.totalCount - 1);
    const unknown = await update({ toolIds: ['tool-00000000-0000-4000-8000-000000000000'] });
    expect(unknown.errors?.[0].extensions?.code).toBe('NOT_FOUND');
  });

  it('updates a source with a handle or a chunk size as create takes them, re-embedding its files, and bulk upserts alike', async () => {
    const org = await t.seed();
    const rest = jsonClient(url, org.apiKey);
    const narrow = 'embeddingConfig: { endpointType: "local", model: "lexical-128", dim: 128 }';
    const sourceId = await newSource(org.apiKey, 'moving', narrow);
    const bulkId = await newSource(org.apiKey, 'bulk-moving', narrow);
    const text = Array.from({ length: 300 }, (_, i) => `schist ${i}.`).join(' ');
    const [a, b] = [await uploaded(org.apiKey, sourceId, 'a.txt', text), await uploaded(org.apiKey, bulkId, 'b.txt', text)];
    await settled(org.apiKey, sourceId);
    await settled(org.apiKey, bulkId);
    const livePassages = (fileId: string) =>
      t.gqlOk(org.apiKey, 'query($id: ID!) { file(id: $id) { processingStatus passages(first: 100) { totalCount edges { node { embeddingConfig { dim chunkSize } } } } } }', { id: fileId }).then((d) => d.file);
    const reembedded = (fileId: string, dim: number, chunkSize: number) =>
      until(
        () => livePassages(fileId),
        (f: any) => f.processingStatus === 'COMPLETED' && f.passages.totalCount > 0 && f.passages.edges.every((e: any) => e.node.embeddingConfig.dim === dim && e.node.embeddingConfig.chunkSize === chunkSize),
      );
    const jobCount = async (id: string) => (await t.gqlOk(org.apiKey, 'query($s: ID!) { jobs(sourceId: $s) { totalCount } }', { s: id })).jobs.totalCount;

    await reembedded(a.file.id, 128, 300);
    // A handle, as createSource takes it: the current chunk size stays.
    const byHandle = await t.gqlOk(org.apiKey, 'mutation($id: ID!) { updateSource(id: $id, input: { embedding: "local/lexical-384" }) { source { embeddingConfig { handle dim chunkSize } } } }', { id: sourceId });
    expect(byHandle.updateSource.source.embeddingConfig).toEqual({ handle: 'local/lexical-384', dim: 384, chunkSize: 300 });
    await reembedded(a.file.id, 384, 300);
    // A chunk size alone.
    await t.gqlOk(org.apiKey, 'mutation($id: ID!) { updateSource(id: $id, input: { embeddingChunkSize: 64 }) { source { id } } }', { id: sourceId });
    await reembedded(a.file.id, 384, 64);
    expect(await jobCount(sourceId)).toBe(3);
    // REST modify takes the same fields.
    const modified = await rest('PATCH', `/v1/sources/${sourceId}`, { embedding: 'local/lexical-384', embedding_chunk_size: 128 });
    expect(modified.status).toBe(200);
    expect(modified.body.embedding_config).toMatchObject({ embedding_dim: 384, embedding_chunk_size: 128 });
    await reembedded(a.file.id, 384, 128);
    const refused = await t.gql(org.apiKey, 'mutation($id: ID!) { updateSource(id: $id, input: { embedding: "nope/x" }) { source { id } } }', { id: sourceId });
    expect(refused.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'embedding' });

    // bulkUpsertSources performs the change updateSource performs (it used to refuse it), and creates alongside.
    const bulk = await t.gqlOk(
      org.apiKey,
      'mutation($s: [CreateSourceInput!]!) { bulkUpsertSources(sources: $s) { created source { name embeddingConfig { dim chunkSize } } } }',
      { s: [{ name: 'bulk-moving', embedding: 'local/lexical-384' }, { name: 'bulk-new', embeddingChunkSize: 100 }] },
    );
    expect(bulk.bulkUpsertSources).toEqual([
      { created: false, source: { name: 'bulk-moving', embeddingConfig: { dim: 384, chunkSize: 300 } } },
      { created: true, source: { name: 'bulk-new', embeddingConfig: { dim: 384, chunkSize: 100 } } },
    ]);
    await reembedded(b.file.id, 384, 300);
    expect(await jobCount(bulkId)).toBe(2);
    // The same again changes nothing and starts no job.
    await t.gqlOk(org.apiKey, 'mutation($s: [CreateSourceInput!]!) { bulkUpsertSources(sources: $s) { created } }', { s: [{ name: 'bulk-moving', embedding: 'local/lexical-384' }] });
    expect(await jobCount(bulkId)).toBe(2);
    const restBulk = await rest('POST', '/v1/sources/bulk', { sources: [{ name: 'bulk-moving', embedding_chunk_size: 64 }] });
    expect(restBulk.status).toBe(200);
    await reembedded(b.file.id, 384, 64);
  });

  it('keeps one file per stored name: a suffixed copy, then REPLACE, replaces the file listed under the name', async () => {
    const org = await t.seed();
    const sourceId = await newSource(org.apiKey, 'dups');
    const first = await uploaded(org.apiKey, sourceId, 'z1.txt', 'first');
    const second = await uploaded(org.apiKey, sourceId, 'z1.txt', 'second');
    expect([first.file.fileName, second.file.fileName]).toEqual(['z1.txt', 'z1_(1).txt']);
    const replaced = await uploaded(org.apiKey, sourceId, 'z1.txt', 'third', 'REPLACE');
    expect(replaced).toMatchObject({ outcome: 'REPLACED', file: { fileName: 'z1.txt', } });
    const files = await settled(org.apiKey, sourceId);
    const stored = files.edges.map((e: any) => e.node.storedFileName).sort();
    expect(stored).toEqual(['dups/z1.txt', 'dups/z1_(1).txt']);
    expect(files.edges.map((e: any) => e.node.id).sort()).toEqual([replaced.file.id, second.file.id].sort());

    // A name some file already holds is never given twice: a file uploaded as `z1_(2).txt`, then z1.txt again.
    const literal = await uploaded(org.apiKey, sourceId, 'z1_(2).txt', 'literal');
    expect(literal.file.fileName).toBe('z1_(2).txt');
    const next = await uploaded(org.apiKey, sourceId, 'z1.txt', 'fourth');
    expect(next.file.fileName).toBe('z1_(3).txt');
    // And the same name uploaded again is a copy of the file listed under it.
    const copy = await uploaded(org.apiKey, sourceId, 'z1_(2).txt', 'copy');
    expect(copy.file.fileName).toBe('z1_(2)_(1).txt');
    const names = (await settled(org.apiKey, sourceId)).edges.map((e: any) => e.node.storedFileName);
    expect(new Set(names).size).toBe(names.length);
  });
});
