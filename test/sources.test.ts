import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './support/app.js';
import { databaseKinds, liveSetOf, setFileText } from './support/db.js';

const SOURCE_FIELDS = 'id name description instructions metadata embeddingConfig { endpointType model dim chunkSize handle } createdAt updatedAt';

describe.each(databaseKinds())('sources on %s', (kind) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(kind);
  });
  afterAll(() => t.close());

  const create = (key: string, input: Record<string, unknown>) =>
    t.gql(key, `mutation($input: CreateSourceInput!) { createSource(input: $input) { source { ${SOURCE_FIELDS} } } }`, { input });
  const createOk = async (key: string, input: Record<string, unknown>) => {
    const result = await create(key, input);
    expect(result.errors).toBeUndefined();
    return result.data.createSource.source;
  };

  it('creates a source with the default embedding and reads it back by id and by name', async () => {
    const { apiKey } = await t.seed();
    const source = await createOk(apiKey, { name: 'kb', description: 'docs', metadata: { team: 'a' }, instructions: 'use it' });
    expect(source).toMatchObject({
      name: 'kb',
      description: 'docs',
      instructions: 'use it',
      metadata: { team: 'a' },
      embeddingConfig: { endpointType: 'local', model: 'lexical-384', dim: 384, chunkSize: 300, handle: 'local/lexical-384' },
    });
    expect(source.id).toMatch(/^source-[0-9a-f-]{36}$/);
    expect(source.createdAt).toMatch(/Z$/);
    const byId = await t.gqlOk(apiKey, `query($id: ID!) { source(id: $id) { id name } node(id: $id) { ... on Source { name } } }`, { id: source.id });
    expect(byId).toEqual({ source: { id: source.id, name: 'kb' }, node: { name: 'kb' } });
    expect((await t.gqlOk(apiKey, '{ sourceByName(name: "kb") { id } sourcesCount }'))).toEqual({ sourceByName: { id: source.id }, sourcesCount: 1 });
  });

  it('takes an embedding handle with a chunk size, or a full config', async () => {
    const { apiKey } = await t.seed();
    const a = await createOk(apiKey, { name: 'a', embedding: 'local/lexical-384', embeddingChunkSize: 512 });
    expect(a.embeddingConfig).toMatchObject({ handle: 'local/lexical-384', chunkSize: 512 });
    const b = await createOk(apiKey, { name: 'b', embedding: 'openai/text-embedding-3-small', embeddingConfig: { endpointType: 'local', model: 'lexical-384', dim: 384, chunkSize: 128 } });
    expect(b.embeddingConfig).toMatchObject({ endpointType: 'local', chunkSize: 128 });
  });

  it('refuses unknown or unconfigured embeddings instead of substituting one', async () => {
    const { apiKey } = await t.seed();
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ embedding: 'nope/model' }, 'embedding', /Unknown embedding provider "nope"/],
      [{ embedding: 'local/semantic-9000' }, 'embedding', /Embedding model local\/semantic-9000 not found/],
      [{ embedding: 'openai/text-embedding-3-small' }, 'embedding', /not configured on this server: set OPENAI_API_KEY/],
      [{ embedding: 'no-slash' }, 'embedding', /provider\/model/],
      [{ embedding: 'local/lexical-384', embeddingChunkSize: 10 }, 'embeddingChunkSize', /from 64 to 8192/],
      [{ embeddingConfig: { endpointType: 'local', model: 'lexical-384', dim: 999 } }, 'embeddingConfig.dim', /384 dimensions/],
      [{ embeddingConfig: { endpointType: 'pinecone', model: 'x', dim: 8 } }, 'embeddingConfig.endpointType', /not one Quarry can run/],
    ];
    for (const [input, field, message] of cases) {
      const result = await create(apiKey, { name: 'x', ...input });
      expect(result.errors?.[0].extensions, JSON.stringify(input)).toMatchObject({ code: 'BAD_USER_INPUT', field });
      expect(result.errors?.[0].message).toMatch(message);
    }
    expect((await t.gqlOk(apiKey, '{ sourcesCount }')).sourcesCount).toBe(0);
  });

  it('rejects a duplicate name with CONFLICT, on create and on rename, and changes nothing', async () => {
    const { apiKey } = await t.seed();
    const a = await createOk(apiKey, { name: 'same' });
    const b = await createOk(apiKey, { name: 'other' });
    const dup = await create(apiKey, { name: 'same' });
    expect(dup.errors?.[0].extensions).toMatchObject({ code: 'CONFLICT', field: 'name' });
    const rename = await t.gql(apiKey, 'mutation($id: ID!) { updateSource(id: $id, input: { name: "same", description: "x" }) { source { id } } }', { id: b.id });
    expect(rename.errors?.[0].extensions).toMatchObject({ code: 'CONFLICT', field: 'name' });
    const after = await t.gqlOk(apiKey, 'query($id: ID!) { source(id: $id) { name description } sourcesCount }', { id: b.id });
    expect(after).toEqual({ source: { name: 'other', description: null }, sourcesCount: 2 });
    // Another organization may use the same name.
    expect((await create((await t.seed()).apiKey, { name: 'same' })).errors).toBeUndefined();
    void a;
  });

  it('updates only the given fields, and an identical update writes nothing', async () => {
    const { apiKey } = await t.seed();
    const s = await createOk(apiKey, { name: 'u', description: 'd1', metadata: { k: 1 } });
    const same = await t.gqlOk(apiKey, `mutation($id: ID!) { updateSource(id: $id, input: { name: "u", description: "d1" }) { source { ${SOURCE_FIELDS} } } }`, { id: s.id });
    expect(same.updateSource.source).toEqual(s);
    const changed = await t.gqlOk(apiKey, `mutation($id: ID!) { updateSource(id: $id, input: { name: "u2", metadata: { k: 2 }, description: null }) { source { name description metadata updatedAt } } }`, { id: s.id });
    expect(changed.updateSource.source).toMatchObject({ name: 'u2', description: 'd1', metadata: { k: 2 } });
    expect(changed.updateSource.source.updatedAt > s.updatedAt).toBe(true);
  });

  it('lists with Relay pagination, name and metadata filters, ordering and totalCount', async () => {
    const { apiKey } = await t.seed();
    for (const [i, name] of ['Alpha', 'beta', 'alphabet', 'gamma', 'delta'].entries()) {
      await createOk(apiKey, { name, metadata: { n: i, kind: i % 2 ? 'odd' : 'even' } });
    }
    const page1 = await t.gqlOk(apiKey, '{ sources(first: 2) { totalCount edges { cursor node { name } } pageInfo { hasNextPage endCursor } } }');
    expect(page1.sources.totalCount).toBe(5);
    expect(page1.sources.edges.map((e: any) => e.node.name)).toEqual(['Alpha', 'beta']);
    expect(page1.sources.pageInfo.hasNextPage).toBe(true);
    const page2 = await t.gqlOk(apiKey, 'query($after: String) { sources(first: 2, after: $after) { edges { node { name } } } }', { after: page1.sources.pageInfo.endCursor });
    expect(page2.sources.edges.map((e: any) => e.node.name)).toEqual(['alphabet', 'gamma']);
    const back = await t.gqlOk(apiKey, 'query($before: String) { sources(last: 1, before: $before) { edges { node { name } } } }', { before: page2.sources.edges.length && page1.sources.pageInfo.endCursor });
    expect(back.sources.edges.map((e: any) => e.node.name)).toEqual(['Alpha']);
    const filtered = await t.gqlOk(apiKey, '{ sources(name: "ALPHA") { totalCount edges { node { name } } } }');
    expect(filtered.sources.edges.map((e: any) => e.node.name)).toEqual(['Alpha', 'alphabet']);
    const byMeta = await t.gqlOk(apiKey, '{ sources(metadata: { kind: "odd" }) { totalCount edges { node { name } } } }');
    expect(byMeta.sources).toEqual({ totalCount: 2, edges: [{ node: { name: 'beta' } }, { node: { name: 'gamma' } }] });
    // `_` and `%` are literal characters, not LIKE wildcards.
    expect((await t.gqlOk(apiKey, '{ sources(name: "_") { totalCount } }')).sources.totalCount).toBe(0);
    const ordered = await t.gqlOk(apiKey, '{ sources(orderBy: { field: NAME, direction: DESC }, first: 3) { edges { node { name } } } }');
    expect(ordered.sources.edges.map((e: any) => e.node.name)).toEqual(['gamma', 'delta', 'beta']);
  });

  it('rejects bad input with BAD_USER_INPUT: negative page sizes, unknown enum values, malformed ids, non-object metadata', async () => {
    const { apiKey } = await t.seed();
    const bad = [
      ['{ sources(first: -1) { totalCount } }', undefined],
      ['{ sources(orderBy: { field: SIZE }) { totalCount } }', undefined],
      ['query($o: SourceOrder) { sources(orderBy: $o) { totalCount } }', { o: { field: 'SIZE' } }],
      ['{ source(id: "source-123") { id } }', undefined],
      ['{ source(id: "file-00000000-0000-4000-8000-000000000000") { id } }', undefined],
      ['mutation($m: JSONObject) { createSource(input: { name: "m", metadata: $m }) { source { id } } }', { m: [1, 2] }],
      ['mutation { createSource(input: { name: "   " }) { source { id } } }', undefined],
    ] as const;
    for (const [query, variables] of bad) {
      const result = await t.gql(apiKey, query, variables as Record<string, unknown> | undefined);
      expect(result.errors?.[0].extensions?.code, query).toBe('BAD_USER_INPUT');
    }
    expect((await t.gqlOk(apiKey, '{ sourcesCount }')).sourcesCount).toBe(0);
  });

  it("treats another organization's sources exactly like missing ones", async () => {
    const a = await t.seed();
    const b = await t.seed();
    const theirs = await createOk(b.apiKey, { name: 'secret' });
    const missing = 'source-00000000-0000-4000-8000-000000000000';
    const outcomes = [];
    for (const id of [theirs.id, missing]) {
      const read = await t.gql(a.apiKey, 'query($id: ID!) { source(id: $id) { id } node(id: $id) { id } }', { id });
      const update = await t.gql(a.apiKey, 'mutation($id: ID!) { updateSource(id: $id, input: { description: "x" }) { source { id } } }', { id });
      const del = await t.gql(a.apiKey, 'mutation($id: ID!) { deleteSource(id: $id) { deletedSourceId } }', { id });
      outcomes.push([read, update, del].map((r) => r.errors?.map((e) => [e.extensions?.code, e.message.replace(id, 'ID')])));
    }
    expect(outcomes[0]).toEqual(outcomes[1]);
    expect(outcomes[0][0]).toEqual([['NOT_FOUND', 'Source ID not found']]);
    expect((await t.gql(a.apiKey, '{ sourceByName(name: "secret") { id } }')).errors?.[0].extensions?.code).toBe('NOT_FOUND');
    const list = await t.gqlOk(a.apiKey, '{ sources { totalCount } sourcesCount sourcesMetadata { totalSources } }');
    expect(list).toEqual({ sources: { totalCount: 0 }, sourcesCount: 0, sourcesMetadata: { totalSources: 0 } });
    expect((await t.gqlOk(b.apiKey, 'query($id: ID!) { source(id: $id) { description } }', { id: theirs.id })).source.description).toBeNull();
  });

  it('bulk upserts by name in one go: existing ids and unspecified fields kept, new ones created', async () => {
    const { apiKey } = await t.seed();
    const keep = await createOk(apiKey, { name: 'keep', description: 'old', instructions: 'inst', metadata: { v: 1 }, embeddingChunkSize: 128, embedding: 'local/lexical-384' });
    const touched = await createOk(apiKey, { name: 'touch', description: 'old' });
    const result = await t.gqlOk(
      apiKey,
      `mutation($sources: [CreateSourceInput!]!) { bulkUpsertSources(sources: $sources) { created source { id name description instructions metadata embeddingConfig { chunkSize } } } }`,
      { sources: [{ name: 'keep', description: 'new' }, { name: 'touch', metadata: { v: 2 } }, { name: 'fresh', description: 'f' }, { name: 'fresh2' }] },
    );
    expect(result.bulkUpsertSources).toEqual([
      { created: false, source: { id: keep.id, name: 'keep', description: 'new', instructions: 'inst', metadata: { v: 1 }, embeddingConfig: { chunkSize: 128 } } },
      { created: false, source: { id: touched.id, name: 'touch', description: 'old', instructions: null, metadata: { v: 2 }, embeddingConfig: { chunkSize: 300 } } },
      { created: true, source: expect.objectContaining({ name: 'fresh', description: 'f' }) },
      { created: true, source: expect.objectContaining({ name: 'fresh2', description: null }) },
    ]);
    expect((await t.gqlOk(apiKey, '{ sourcesCount }')).sourcesCount).toBe(4);
    expect((await t.gqlOk(apiKey, 'mutation { bulkUpsertSources(sources: []) { created } }')).bulkUpsertSources).toEqual([]);
  });

  it('bulk upsert is all or nothing', async () => {
    const { apiKey } = await t.seed();
    const dupInInput = await t.gql(apiKey, 'mutation { bulkUpsertSources(sources: [{ name: "a" }, { name: "a" }]) { created } }');
    expect(dupInInput.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'sources.1.name' });
    const badEmbedding = await t.gql(apiKey, 'mutation { bulkUpsertSources(sources: [{ name: "ok" }, { name: "b", embedding: "x/y" }]) { created } }');
    expect(badEmbedding.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    expect((await t.gqlOk(apiKey, '{ sourcesCount }')).sourcesCount).toBe(0);
  });

  it('deletes a source with its files and passages, keeping attached agents', async () => {
    const org = await t.seed();
    const s = await createOk(org.apiKey, { name: 'doomed' });
    const file = await t.db.prisma.file.create({ data: { organizationId: org.organizationId, sourceId: s.id, fileName: 'doomed/a.txt', originalFileName: 'a.txt', sizeBytes: 5 } });
    await setFileText(t.db.prisma, org.organizationId, file.id, 'hello');
    await t.db.prisma.passage.create({ data: { organizationId: org.organizationId, sourceId: s.id, fileId: file.id, setId: await liveSetOf(t.db.prisma, org.organizationId, file.id), text: 'hello', chunkIndex: 0 } });
    const agent = await t.db.prisma.agent.create({ data: { organizationId: org.organizationId, name: 'bot' } });
    await t.db.prisma.sourceAgent.create({ data: { organizationId: org.organizationId, sourceId: s.id, agentId: agent.id } });
    const deleted = await t.gqlOk(org.apiKey, 'mutation($id: ID!) { deleteSource(id: $id) { deletedSourceId name } }', { id: s.id });
    expect(deleted.deleteSource).toEqual({ deletedSourceId: s.id, name: 'doomed' });
    const counts = await Promise.all([
      t.db.prisma.file.count({ where: { sourceId: s.id } }),
      t.db.prisma.fileContent.count({ where: { fileId: file.id } }),
      t.db.prisma.passage.count({ where: { sourceId: s.id } }),
      t.db.prisma.sourceAgent.count({ where: { sourceId: s.id } }),
      t.db.prisma.agent.count({ where: { id: agent.id } }),
    ]);
    expect(counts).toEqual([0, 0, 0, 0, 1]);
    expect((await t.gql(org.apiKey, 'mutation($id: ID!) { deleteSource(id: $id) { name } }', { id: s.id })).errors?.[0].extensions?.code).toBe('NOT_FOUND');
  });

  it('reports sourcesMetadata totals, with per-source detail on request', async () => {
    const org = await t.seed();
    const a = await createOk(org.apiKey, { name: 'b-source' });
    const b = await createOk(org.apiKey, { name: 'a-source' });
    for (const [source, name, size] of [[a, 'z.txt', 10], [a, 'y.txt', 20], [b, 'x.txt', 5]] as const) {
      await t.db.prisma.file.create({ data: { organizationId: org.organizationId, sourceId: source.id, fileName: `${source.name}/${name}`, originalFileName: name, sizeBytes: size } });
    }
    const plain = await t.gqlOk(org.apiKey, '{ sourcesMetadata { totalSources totalFiles totalSize sources { sourceId } } }');
    expect(plain.sourcesMetadata).toEqual({ totalSources: 2, totalFiles: 3, totalSize: 35, sources: [] });
    const detailed = await t.gqlOk(org.apiKey, '{ sourcesMetadata(detailed: true) { sources { sourceName fileCount totalSize files { fileName fileSize } } } }');
    expect(detailed.sourcesMetadata.sources).toEqual([
      { sourceName: 'a-source', fileCount: 1, totalSize: 5, files: [{ fileName: 'a-source/x.txt', fileSize: 5 }] },
      { sourceName: 'b-source', fileCount: 2, totalSize: 30, files: [{ fileName: 'b-source/y.txt', fileSize: 20 }, { fileName: 'b-source/z.txt', fileSize: 10 }] },
    ]);
    const sizes = await t.gqlOk(org.apiKey, '{ sources { edges { node { name totalSize fileCount } } } }');
    expect(sizes.sources.edges.map((e: any) => e.node)).toEqual([
      { name: 'b-source', totalSize: 30, fileCount: 2 },
      { name: 'a-source', totalSize: 5, fileCount: 1 },
    ]);
    // Each alone, and after a child page: the compiled read returns only what is asked, in its own order.
    const sizeOnly = await t.gqlOk(org.apiKey, '{ sources { edges { node { totalSize name } } } }');
    expect(sizeOnly.sources.edges.map((e: any) => e.node)).toEqual([{ totalSize: 30, name: 'b-source' }, { totalSize: 5, name: 'a-source' }]);
    const countAfterFiles = await t.gqlOk(org.apiKey, '{ sources { edges { node { files(first: 1) { totalCount } fileCount } } } }');
    expect(countAfterFiles.sources.edges.map((e: any) => e.node)).toEqual([
      { files: { totalCount: 2 }, fileCount: 2 },
      { files: { totalCount: 1 }, fileCount: 1 },
    ]);
  });
});
