import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LexicalEmbedder } from '../src/embeddings/index.js';
import { createTestApp, type TestApp } from './support/app.js';
import { databaseKinds } from './support/db.js';

const embedder = new LexicalEmbedder(384);

describe.each(databaseKinds())('searchPassages on %s', (kind) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(kind);
  });
  afterAll(() => t.close());

  /** A source (default embedding: local/lexical-384) whose passages are embedded as ingestion would embed them. */
  async function sourceWith(apiKey: string, organizationId: string, name: string, texts: string[], embedding?: string) {
    const { createSource } = await t.gqlOk(apiKey, 'mutation($n: String!, $e: String) { createSource(input: { name: $n, embedding: $e }) { source { id embeddingConfig { dim } } } }', { n: name, e: embedding });
    const sourceId = createSource.source.id as string;
    const file = await t.db.prisma.file.create({ data: { organizationId, sourceId, fileName: `${name}/doc.txt`, originalFileName: 'doc.txt', processingStatus: 'COMPLETED' } });
    for (const [i, text] of texts.entries()) {
      const vector = `[${(await embedder.embed([text]))[0].join(',')}]`;
      await t.db.prisma.$executeRaw`
        INSERT INTO "Passage" ("organizationId", "sourceId", "fileId", "fileName", "chunkIndex", text, "embeddingDim", embedding, "updatedAt")
        VALUES (${organizationId}, ${sourceId}, ${file.id}, ${file.fileName}, ${i}, ${text}, 384, ${vector}::vector, now())`;
    }
    return { sourceId, fileId: file.id };
  }

  const SEARCH = `query($q: String!, $s: [ID!], $a: ID, $m: PassageSearchMode, $k: Int) {
    searchPassages(query: $q, sourceIds: $s, agentId: $a, mode: $m, topK: $k) { score vectorRank textRank passage { text source { name } } } }`;

  it('finds passages by vector, text and hybrid, embedding the query with the source’s own embedding', async () => {
    const org = await t.seed();
    const { sourceId } = await sourceWith(org.apiKey, org.organizationId, 'garden', [
      'Tomatoes need full sun and regular watering.',
      'Compost improves soil structure and feeds worms.',
      'The invoice is due at the end of the month.',
    ]);
    for (const mode of ['VECTOR', 'TEXT', 'HYBRID']) {
      const { searchPassages } = await t.gqlOk(org.apiKey, SEARCH, { q: 'watering tomatoes in the sun', s: [sourceId], m: mode, k: 2 });
      expect(searchPassages.length, mode).toBeGreaterThan(0);
      expect(searchPassages.length, mode).toBeLessThanOrEqual(2);
      expect(searchPassages[0].passage.text, mode).toMatch(/^Tomatoes/);
    }
    const hybrid = (await t.gqlOk(org.apiKey, SEARCH, { q: 'compost soil', m: 'HYBRID' })).searchPassages;
    expect(hybrid[0]).toMatchObject({ vectorRank: 1, textRank: 1, passage: { text: expect.stringMatching(/^Compost/), source: { name: 'garden' } } });
  });

  it('searches the sources attached to an agent, and refuses to mix embeddings in one vector search', async () => {
    const org = await t.seed();
    const a = await sourceWith(org.apiKey, org.organizationId, 'a', ['alpha particles in physics']);
    await sourceWith(org.apiKey, org.organizationId, 'b', ['alpha release of the software']);
    const { createAgent } = await t.gqlOk(org.apiKey, 'mutation($s: ID!) { createAgent(input: { name: "r", sourceIds: [$s] }) { agent { id } } }', { s: a.sourceId });
    const viaAgent = (await t.gqlOk(org.apiKey, SEARCH, { q: 'alpha', a: createAgent.agent.id })).searchPassages;
    expect(viaAgent.map((h: any) => h.passage.source.name)).toEqual(['a']);
    // A source with another embedding config (a different chunk size is fine; a different model/dimension is not).
    await t.db.prisma.source.create({
      data: { organizationId: org.organizationId, name: 'other', embeddingConfig: { endpointType: 'openai', model: 'text-embedding-3-small', dim: 1536, chunkSize: 300, endpoint: 'https://api.openai.com/v1', handle: 'openai/text-embedding-3-small', batchSize: 32, azureEndpoint: null, azureVersion: null, azureDeployment: null } },
    });
    const mixed = await t.gql(org.apiKey, SEARCH, { q: 'alpha', m: 'VECTOR' });
    expect(mixed.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    expect(mixed.errors?.[0].message).toMatch(/different embeddings/);
    expect((await t.gqlOk(org.apiKey, SEARCH, { q: 'alpha', m: 'TEXT' })).searchPassages).toHaveLength(2);
  });

  it("never returns another organization's passages, and validates input", async () => {
    const a = await t.seed();
    const b = await t.seed();
    const theirs = await sourceWith(b.apiKey, b.organizationId, 'secret', ['the launch codes are hidden here']);
    await sourceWith(a.apiKey, a.organizationId, 'mine', ['nothing interesting']);
    for (const mode of ['VECTOR', 'TEXT', 'HYBRID']) {
      const hits = (await t.gqlOk(a.apiKey, SEARCH, { q: 'launch codes', m: mode })).searchPassages;
      expect(hits.every((h: any) => h.passage.source.name === 'mine'), mode).toBe(true);
      expect((await t.gqlOk(a.apiKey, SEARCH, { q: 'launch codes', s: [theirs.sourceId], m: mode })).searchPassages).toEqual([]);
    }
    for (const variables of [{ q: '  ' }, { q: 'x', k: 0 }, { q: 'x', s: ['file-00000000-0000-4000-8000-000000000000'] }]) {
      expect((await t.gql(a.apiKey, SEARCH, variables)).errors?.[0].extensions?.code, JSON.stringify(variables)).toBe('BAD_USER_INPUT');
    }
  });
});
