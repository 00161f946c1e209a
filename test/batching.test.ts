import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './support/app.js';
import { databaseKinds } from './support/db.js';

/**
 * No N+1: the SQL statements a nested query sends do not grow with the page size, and stay within
 * 1 + the number of relation levels. Counted from Prisma's query log.
 */
const NESTED = `query($n: Int) {
  sources(first: $n) {
    totalCount
    edges { node {
      id name fileCount totalSize
      files(first: 5) { totalCount edges { node { id fileName processingStatus } } }
      agents { totalCount edges { node { id name } } }
    } }
  }
}`;

describe.each(databaseKinds())('statement counts on %s', (kind) => {
  let t: TestApp;
  let statements: string[] = [];
  let key: string;
  beforeAll(async () => {
    t = await createTestApp(kind, { onQuery: (sql) => statements.push(sql) });
    const org = await t.seed();
    key = org.apiKey;
    const agents = await Promise.all([0, 1].map((i) => t.db.prisma.agent.create({ data: { organizationId: org.organizationId, name: `agent-${i}` } })));
    for (let i = 0; i < 50; i++) {
      const source = await t.db.prisma.source.create({ data: { organizationId: org.organizationId, name: `s-${String(i).padStart(2, '0')}`, embeddingConfig: {} } });
      await t.db.prisma.file.createMany({
        data: [0, 1, 2].map((j) => ({ organizationId: org.organizationId, sourceId: source.id, fileName: `s/${j}.txt`, originalFileName: `${j}.txt`, sizeBytes: 10 })),
      });
      await t.db.prisma.sourceAgent.createMany({ data: agents.map((a) => ({ organizationId: org.organizationId, sourceId: source.id, agentId: a.id })) });
    }
    await t.gqlOk(key, '{ __typename }'); // the key's first use records lastUsedAt; keep it out of the counts
  });
  afterAll(() => t.close());

  async function count(n: number) {
    statements = [];
    const data = await t.gqlOk(key, NESTED, { n });
    expect(data.sources.edges).toHaveLength(n);
    expect(data.sources.edges[0].node).toMatchObject({ fileCount: 3, totalSize: 30, files: { totalCount: 3, edges: expect.any(Array) } });
    // Both agents were attached in one statement: same attachment time, so their order is their ids'.
    const agents = data.sources.edges[0].node.agents;
    expect(agents.totalCount).toBe(2);
    expect(agents.edges.map((e: any) => e.node.name).sort()).toEqual(['agent-0', 'agent-1']);
    return statements.filter((sql) => !/"ApiKey"/.test(sql)); // authentication: one lookup per request (and key usage)
  }

  it('sends the same number of statements for 5 and 50 sources, within 1 + relation levels', async () => {
    const five = await count(5);
    const fifty = await count(50);
    expect(fifty.length).toBe(five.length);
    // After the root query: the files' pages, the agents' pages (links joined to agents, ids only), the agents'
    // selected fields (one batched load), the agents' counts, the root connection's totalCount, and one grouped
    // query for fileCount + totalSize + files.totalCount together: 6.
    expect(fifty.length, fifty.join('\n')).toBeLessThanOrEqual(1 + 6);
  });
});
