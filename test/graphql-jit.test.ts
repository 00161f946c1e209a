import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './support/app.js';
import { databaseKinds } from './support/db.js';

/**
 * A query document runs on graphql-js the first time and compiled by graphql-jit from the second time on
 * (core/graphql-jit.ts). Both must answer alike, errors included, and send the same statements: plugin-prisma's
 * planned selections must still be found under the compiled executor (no fallback queries).
 */
describe.each(databaseKinds())('compiled queries on %s', (kind) => {
  let t: TestApp;
  let statements: string[] = [];
  let key: string;
  let ids: { sourceId: string; fileId: string; agentId: string; otherSourceId: string };

  beforeAll(async () => {
    // No background workers: their polling would land in the statement log.
    t = await createTestApp(kind, { onQuery: (sql) => statements.push(sql) }, {}, { workers: false });
    const org = await t.seed();
    key = org.apiKey;
    const { createSource } = await t.gqlOk(key, 'mutation { createSource(input: { name: "docs", metadata: { team: "a" } }) { source { id } } }');
    const sourceId = createSource.source.id as string;
    const files = await t.db.prisma.file.createManyAndReturn({
      data: [0, 1, 2].map((j) => ({ organizationId: org.organizationId, sourceId, fileName: `docs/${j}.txt`, originalFileName: `${j}.txt`, sizeBytes: 10 + j, processingStatus: 'COMPLETED' as const })),
      select: { id: true },
    });
    const { createAgent } = await t.gqlOk(key, 'mutation { createAgent(input: { name: "helper", tags: ["x"] }) { agent { id } } }');
    await t.gqlOk(key, 'mutation($a: ID!, $s: ID!) { attachSource(agentId: $a, sourceId: $s) { agent { id } } }', { a: createAgent.agent.id, s: sourceId });
    const other = await t.seed();
    const { createSource: foreign } = await t.gqlOk(other.apiKey, 'mutation { createSource(input: { name: "theirs" }) { source { id } } }');
    ids = { sourceId, fileId: files[0].id, agentId: createAgent.agent.id, otherSourceId: foreign.source.id };
  });
  afterAll(() => t.close());

  const QUERIES: [string, string][] = [
    ['nested page', `{ sources(first: 3) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id name metadata fileCount totalSize
        files(first: 2) { totalCount pageInfo { hasNextPage } edges { node { id fileName sizeBytes source { name } } } }
        agents(first: 3) { totalCount edges { node { name tags sources(first: 3) { totalCount } files(first: 3) { totalCount edges { node { fileName isOpen } } } } } } } } } }`],
    ['node and nodes', `query($s: ID!, $f: ID!, $a: ID!, $x: ID!) { node(id: $s) { __typename id ... on Source { name } }
        nodes(ids: [$f, $a, $x]) { __typename id ... on File { fileName source { id } } ... on Agent { name } } }`],
    ['single objects', `query($s: ID!, $f: ID!, $a: ID!) { source(id: $s) { name agents { edges { node { name } } } } file(id: $f) { fileName content passages { totalCount edges { node { id } } } }
        agent(id: $a) { name sources(first: 1) { totalCount edges { node { name fileCount } } } tools(last: 2) { edges { node { name } } } files(isOpen: false) { edges { node { fileName } } } } }`],
    ['not found', `query($x: ID!) { source(id: $x) { id } }`],
    ['bad variables', `query($n: Int) { sources(first: $n) { edges { node { id } } } }`],
  ];
  const VARIABLES: Record<string, () => Record<string, unknown>> = {
    'node and nodes': () => ({ s: ids.sourceId, f: ids.fileId, a: ids.agentId, x: ids.otherSourceId }),
    'single objects': () => ({ s: ids.sourceId, f: ids.fileId, a: ids.agentId }),
    'not found': () => ({ x: ids.otherSourceId }),
    'bad variables': () => ({ n: 'many' }),
  };

  it.each(QUERIES)('%s: interpreted and compiled answer alike', async (name, query) => {
    const variables = VARIABLES[name]?.();
    const run = async () => {
      statements = [];
      const result = await t.gql(key, query, variables);
      return { result, statements: statements.filter((sql) => !/"ApiKey"/.test(sql)) };
    };
    const first = await run();
    const second = await run();
    const third = await run();
    expect(second.result).toEqual(first.result);
    expect(third.result).toEqual(first.result);
    // The same statements; on PostgreSQL concurrent ones are logged in whatever order their connections take.
    expect(second.statements.sort()).toEqual(first.statements.sort());
    if (name === 'nested page') expect(first.result.errors).toBeUndefined();
  });
});
