import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OrgReader } from '../src/domain/reads/org-reader.js';
import { Prisma } from '../src/generated/prisma/client.js';
import { createTestApp, type TestApp } from './support/app.js';
import { databaseKinds } from './support/db.js';

/**
 * No N+1: the SQL statements a nested query sends do not grow with the page size. The nested sources read (files,
 * agents, counts beneath each source) compiles into one statement (src/schema/compiled-reads.ts); what it does not
 * compile falls back to the batched loaders, and answers the same. Counted from the database's query log.
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

/** The read (`EDGES` marks the page's edges) and the same read with `@include` there: a directive the compiler leaves alone, so the loaders answer. */
const compiled = (query: string) => query.replace('EDGES', 'edges');
const uncompiled = (query: string) => query.replace('EDGES', 'edges @include(if: true)');

const VARIANTS: [string, string, Record<string, unknown>][] = [
  ['every field it compiles', `query($first: Int) { sources(first: $first) { totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    EDGES { cursor node { id name description metadata createdAt updatedAt fileCount totalSize passageCount
      files(first: 2) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id fileName storedFileName originalFileName sizeBytes
        processingStatus mediaType createdAt updatedAt } } }
      newest: files(first: 1, status: COMPLETED) { totalCount edges { node { id } } }
      agents(first: 1) { totalCount pageInfo { hasNextPage } edges { node { id name tags createdAt } } } } } } }`, { first: 7 }],
  ['by name, descending', `{ sources(first: 4, orderBy: { field: NAME, direction: DESC }) { EDGES { node { id name } } } }`, {}],
  ['filtered by name', `{ sources(first: 50, name: "S-0_") { totalCount EDGES { node { id name } } } }`, {}],
  ['the last page', `{ sources(last: 3) { pageInfo { hasPreviousPage hasNextPage } EDGES { node { id files { edges { node { id } } } } } } }`, {}],
  ['fields it does not compile', `{ sources(first: 3) { EDGES { node { id files(first: 1) { edges { node { id content passageCount: passages { totalCount } } } }
    agents { edges { node { id embeddingConfig { model } sources { totalCount } } } } } } } }`, {}],
];

describe.each(databaseKinds())('statement counts on %s', (kind) => {
  let t: TestApp;
  let statements: string[] = [];
  let key: string;
  beforeAll(async () => {
    t = await createTestApp(kind, { onQuery: (sql) => statements.push(sql) });
    // Another organization with rows of every kind: none of them may show up in the counts or the pages.
    const other = await t.seed();
    const org = await t.seed();
    key = org.apiKey;
    for (const { organizationId } of [other, org]) {
      const agents = await Promise.all([0, 1].map((i) => t.db.prisma.agent.create({ data: { organizationId, name: `agent-${i}` } })));
      for (let i = 0; i < (organizationId === org.organizationId ? 50 : 3); i++) {
        const source = await t.db.prisma.source.create({ data: { organizationId, name: `s-${String(i).padStart(2, '0')}`, embeddingConfig: {} } });
        await t.db.prisma.file.createMany({
          data: [0, 1, 2].map((j) => ({
            organizationId, sourceId: source.id, fileName: `s/${j}.txt`, originalFileName: `${j}.txt`, sizeBytes: 10, processingStatus: j ? 'COMPLETED' : 'ERROR',
          })),
        });
        // Attached one after the other (a millisecond apart: two quick attachments can share a timestamp, and then
        // their ids decide): attachment order is the agents' order, whatever their ids.
        const attached = Date.now();
        for (const [k, agent] of (i % 2 ? agents : [...agents].reverse()).entries()) {
          await t.db.prisma.sourceAgent.create({ data: { organizationId, sourceId: source.id, agentId: agent.id, createdAt: new Date(attached + k) } });
        }
      }
    }
    await t.gqlOk(key, '{ __typename }'); // the key's first use records lastUsedAt; keep it out of the counts
  });
  afterAll(() => t.close());

  async function count(query: string, variables: Record<string, unknown>) {
    statements = [];
    const data = await t.gqlOk(key, query, variables);
    return { data, sent: statements.filter((sql) => !/"ApiKey"/.test(sql)) }; // authentication: one lookup per request
  }

  it('answers the nested read with one statement, for 5 and for 50 sources', async () => {
    for (const n of [5, 50, 5, 50]) {
      // Twice each: the second run of a document goes through graphql-jit (core/graphql-jit.ts).
      const { data, sent } = await count(NESTED, { n });
      expect(sent, sent.join('\n')).toHaveLength(1);
      expect(data.sources.totalCount).toBe(50);
      expect(data.sources.edges).toHaveLength(n);
      data.sources.edges.forEach(({ node }: any, i: number) => {
        expect(node).toMatchObject({ name: `s-${String(i).padStart(2, '0')}`, fileCount: 3, totalSize: 30, files: { totalCount: 3 } });
        expect(node.files.edges).toHaveLength(3);
        expect(node.agents.totalCount).toBe(2);
        expect(node.agents.edges.map((e: any) => e.node.name)).toEqual(i % 2 ? ['agent-0', 'agent-1'] : ['agent-1', 'agent-0']);
      });
    }
  });

  it.each(VARIANTS)('answers %s as the batched loaders do', async (_name, query, variables) => {
    for (let run = 0; run < 2; run++) {
      const one = await count(compiled(query), variables);
      const loaders = await count(uncompiled(query), variables);
      expect(one.data).toEqual(loaders.data);
      expect(one.sent.length, one.sent.join('\n')).toBeLessThanOrEqual(loaders.sent.length);
    }
  });

  it('pages with cursors as the batched loaders do', async () => {
    const page = `query($after: String, $before: String, $first: Int, $last: Int) { sources(after: $after, before: $before, first: $first, last: $last) {
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor } EDGES { cursor node { id name fileCount } } } }`;
    const first = await t.gqlOk(key, compiled(page), { first: 10 });
    const cursor = first.sources.pageInfo.endCursor;
    for (const variables of [{ first: 5, after: cursor }, { last: 4, before: cursor }, { first: 5, after: first.sources.edges[2].cursor }]) {
      for (let run = 0; run < 2; run++) {
        const one = await count(compiled(page), variables);
        expect(one.sent).toHaveLength(1);
        expect(one.data).toEqual((await count(uncompiled(page), variables)).data);
      }
    }
  });

  it('refuses a compiled read that does not filter by organization, before it reaches the database', async () => {
    const reader = new OrgReader(t.db.sql, 'org-none');
    statements = [];
    await expect(reader.query(() => Prisma.sql`SELECT id FROM "Source"`)).rejects.toThrow(/organization filter/);
    expect(statements).toEqual([]);
    expect(await reader.query((org) => Prisma.sql`SELECT id FROM "Source" s WHERE ${org('s')}`)).toEqual([]);
  });

  it('sends the same number of statements for 5 and 50 sources when part of the selection is not compiled', async () => {
    const query = `query($n: Int) { sources(first: $n) { edges { node { id passageCount files(first: 2) { edges { node { id content } } } agents { edges { node { id embeddingConfig { model } } } } } } } }`;
    const five = await count(query, { n: 5 });
    const fifty = await count(query, { n: 50 });
    expect(fifty.sent.length).toBe(five.sent.length);
    // The page (one statement), then per level what did not compile, batched: the passages' counts, the files'
    // pages, their rows and content for the \`content\` field, the agents' pages and their selected fields.
    expect(fifty.sent.length, fifty.sent.join('\n')).toBeLessThanOrEqual(1 + 6);
  });
});

/** The other lists, through Prisma and the batched loaders: per list, what each level costs, whatever the page size. */
const LISTS: [string, string, number][] = [
  // The page and its count, then one statement each: the pages of sources, tools and files (3), their counts (3), and
  // the selected fields of the sources and tools on those pages (2).
  ['agents with their sources, tools and files', `query($n: Int) { agents(first: $n) { totalCount edges { node { id name
    sources { totalCount edges { node { id name } } } tools { totalCount edges { node { id name } } } files { totalCount } } } } }`, 2 + 3 + 3 + 2],
  // The page with its agent counts joined, and its count (the built-in tools were made sure of by the first listing).
  ['tools with their agent counts', `query($n: Int) { tools(first: $n) { totalCount edges { node { id name tags agentCount } } } }`, 2],
  ['jobs with their source, file and agent', `query($n: Int) { jobs(first: $n) { edges { node { id status source { id name } file { id fileName } agent { id name } } } } }`, 1 + 3],
  ['runs with their agent', `query($n: Int) { runs(first: $n) { edges { node { id status agent { id name } } } } }`, 1 + 1],
];

describe.each(databaseKinds())('statement counts of the other lists on %s', (kind) => {
  let t: TestApp;
  let statements: string[] = [];
  let key: string;
  beforeAll(async () => {
    t = await createTestApp(kind, { onQuery: (sql) => statements.push(sql) });
    const org = await t.seed();
    key = org.apiKey;
    const organizationId = org.organizationId;
    const source = await t.db.prisma.source.create({ data: { organizationId, name: 'docs', embeddingConfig: {} } });
    const file = await t.db.prisma.file.create({ data: { organizationId, sourceId: source.id, fileName: 'docs/a.txt', originalFileName: 'a.txt' } });
    for (let i = 0; i < 20; i++) {
      const agent = await t.db.prisma.agent.create({ data: { organizationId, name: `agent-${i}` } });
      const tool = await t.db.prisma.tool.create({ data: { organizationId, name: `tool_${i}`, tags: [`t${i}`] } });
      await t.db.prisma.toolAgent.create({ data: { organizationId, toolId: tool.id, agentId: agent.id } });
      await t.db.prisma.sourceAgent.create({ data: { organizationId, sourceId: source.id, agentId: agent.id } });
      await t.db.prisma.job.create({ data: { organizationId, status: 'COMPLETED', sourceId: source.id, fileId: file.id, agentId: agent.id } });
      await t.db.prisma.run.create({ data: { organizationId, agentId: agent.id, status: 'COMPLETED' } });
    }
    // The key's first use records lastUsedAt, and the first read of tools adds the built-in ones: out of the counts.
    await t.gqlOk(key, '{ tools(first: 1) { totalCount } }');
  });
  afterAll(() => t.close());

  it.each(LISTS)('reads %s in the same statements for 2 and 20 rows', async (_name, query, bound) => {
    const sent = async (n: number) => {
      statements = [];
      const data = await t.gqlOk(key, query, { n });
      expect(Object.values(data)[0]).toMatchObject({ edges: expect.any(Array) });
      expect((Object.values(data)[0] as { edges: unknown[] }).edges).toHaveLength(n);
      return statements.filter((sql) => !/"ApiKey"/.test(sql));
    };
    const two = await sent(2);
    const twenty = await sent(20);
    expect(twenty.length, twenty.join('\n')).toBe(two.length);
    expect(twenty.length, twenty.join('\n')).toBeLessThanOrEqual(bound);
  });

  it('writes the built-in tools on the first listing of a new organization only: later reads write nothing', async () => {
    const fresh = await t.seed();
    await t.gqlOk(fresh.apiKey, '{ __typename }'); // the key's first use records lastUsedAt
    const writes = async (query: string) => {
      statements = [];
      const data = await t.gqlOk(fresh.apiKey, query);
      return { data, writes: statements.filter((sql) => /^\s*(INSERT|UPDATE|DELETE)\b/i.test(sql) && !/"ApiKey"/.test(sql)) };
    };
    const LIST = '{ tools(first: 100) { totalCount edges { node { name } } } }';
    const first = await writes(LIST);
    expect(first.writes, 'the first listing adds the built-in tools').toEqual([expect.stringMatching(/INSERT INTO "public"."Tool"/)]);
    expect(first.data.tools.totalCount).toBe(9);
    for (const query of [LIST, '{ tools { totalCount } }', '{ toolsCount(includeBaseTools: true) }']) {
      const again = await writes(query);
      expect(again.writes, query).toEqual([]);
    }
    expect((await writes(LIST)).data).toEqual(first.data);
  });
});
