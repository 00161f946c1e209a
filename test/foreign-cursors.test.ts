import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './support/app.js';
import { databaseKinds } from './support/db.js';
import { buildWorld, jsonClient, type World } from './support/rest.js';

/**
 * Another organization's cursor must behave exactly like a missing one, in every paginated list: it may not
 * position the caller's rows (which would tell the caller where the foreign row sorts: its creation time, its
 * name, its chunk index). Each case reads organization B's list with A's cursor and with a cursor of the same
 * shape naming no row, and expects the same answer (the cursor itself aside).
 */

const PAGE = 'totalCount edges { cursor node { id } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor }';
const PAGE_NO_COUNT = 'edges { cursor node { id } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor }';

interface Connection {
  name: string;
  /** The query, with `$after`, `$before`, `$first`, `$last` and (for a parent's children) `$parent`. */
  query: string;
  /** The parent whose children are listed, in a world. */
  parent?: (w: World) => string;
  /** The connection in the answer. */
  pick: (data: any) => any;
}

const ARGS = '$after: String, $before: String, $first: Int, $last: Int';
const PAGING = 'after: $after, before: $before, first: $first, last: $last';

const CONNECTIONS: Connection[] = [
  { name: 'sources', query: `query(${ARGS}) { sources(${PAGING}) { ${PAGE} } }`, pick: (d) => d.sources },
  { name: 'jobs', query: `query(${ARGS}) { jobs(${PAGING}) { ${PAGE} } }`, pick: (d) => d.jobs },
  { name: 'activeJobs', query: `query(${ARGS}) { activeJobs(${PAGING}) { ${PAGE} } }`, pick: (d) => d.activeJobs },
  { name: 'runs', query: `query(${ARGS}) { runs(${PAGING}) { ${PAGE} } }`, pick: (d) => d.runs },
  { name: 'agents', query: `query(${ARGS}) { agents(${PAGING}) { ${PAGE} } }`, pick: (d) => d.agents },
  { name: 'tools', query: `query(${ARGS}) { tools(${PAGING}) { ${PAGE} } }`, pick: (d) => d.tools },
  { name: 'batchRuns', query: `query(${ARGS}) { batchRuns(${PAGING}) { ${PAGE} } }`, pick: (d) => d.batchRuns },
  { name: 'passages', query: `query(${ARGS}) { passages(${PAGING}) { ${PAGE} } }`, pick: (d) => d.passages },
  {
    name: 'Source.files',
    query: `query($parent: ID!, ${ARGS}) { source(id: $parent) { files(${PAGING}) { ${PAGE_NO_COUNT} } } }`,
    parent: (w) => w.source.id,
    pick: (d) => d.source.files,
  },
  {
    name: 'Source.passages',
    query: `query($parent: ID!, ${ARGS}) { source(id: $parent) { passages(${PAGING}) { ${PAGE_NO_COUNT} } } }`,
    parent: (w) => w.source.id,
    pick: (d) => d.source.passages,
  },
  {
    name: 'File.passages',
    query: `query($parent: ID!, ${ARGS}) { file(id: $parent) { passages(${PAGING}) { ${PAGE_NO_COUNT} } } }`,
    parent: (w) => w.files[0].id,
    pick: (d) => d.file.passages,
  },
  {
    name: 'Run.steps',
    query: `query($parent: ID!, ${ARGS}) { run(id: $parent) { steps(${PAGING}) { ${PAGE} } } }`,
    parent: (w) => w.runId,
    pick: (d) => d.run.steps,
  },
  {
    name: 'BatchRun.items',
    query: `query($parent: ID!, ${ARGS}) { batchRun(id: $parent) { items(${PAGING}) { ${PAGE} } } }`,
    parent: (w) => w.batchId,
    pick: (d) => d.batchRun.items,
  },
  {
    name: 'BatchRun.messages',
    query: `query($parent: ID!, ${ARGS}) { batchRun(id: $parent) { messages(${PAGING}) { ${PAGE} } } }`,
    parent: (w) => w.batchId,
    pick: (d) => d.batchRun.messages,
  },
];

const MISSING_UUID = '00000000-0000-4000-8000-000000000000';
/** The same kind of id, naming nothing. */
const missingId = (id: string) => id.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, MISSING_UUID);

/**
 * An id naming no row that sorts next to `id` (its last hex digit one off): lists whose cursor is a plain id
 * comparison (Letta's agent files) answer it as they answer `id`, since no B row sorts between the two.
 */
const neighbourId = (id: string) => {
  const last = id.at(-1)!;
  return id.slice(0, -1) + (last === '0' ? '1' : (parseInt(last, 16) - 1).toString(16));
};

/** `cursor` with `id` (the row it names) replaced by `replacement`, in whichever encoding the connection uses. */
function swapCursor(cursor: string, id: string, replacement: string): string {
  if (cursor.includes(id)) return cursor.replace(id, replacement);
  const decoded = Buffer.from(cursor, 'base64').toString('utf8');
  if (!decoded.includes(id)) throw new Error(`cursor ${cursor} does not name ${id}`);
  return Buffer.from(decoded.replace(id, replacement), 'utf8').toString('base64');
}

describe.each(databaseKinds())('foreign cursors on %s', (kind) => {
  let t: TestApp;
  let a: World;
  let b: World;
  let base: string;
  beforeAll(async () => {
    t = await createTestApp(kind);
    // A's rows are older than B's, so A's cursors fall inside B's lists in one direction or the other.
    a = await buildWorld(t);
    b = await buildWorld(t);
    base = (await t.app.listen()).url;
  });
  afterAll(() => t.close());

  const read = async (w: World, c: Connection, variables: Record<string, unknown>) => {
    const result = await t.gql(w.key, c.query, { ...(c.parent && { parent: c.parent(w) }), ...variables });
    return result;
  };

  it.each(CONNECTIONS.map((c) => [c.name, c] as const))('%s: another organization’s cursor answers as a missing one', async (_name, c) => {
    const own = await read(b, c, { first: 50 });
    expect(own.errors).toBeUndefined();
    expect(c.pick(own.data).edges.length).toBeGreaterThan(0); // B has rows that a foreign cursor could position

    const theirs = c.pick((await read(a, c, { first: 50 })).data).edges;
    expect(theirs.length).toBeGreaterThan(0);
    for (const { cursor, node } of [theirs[0], theirs.at(-1)]) {
      const missing = swapCursor(cursor, node.id, missingId(node.id));
      for (const paging of [{ after: 'after', count: 'first' }, { after: 'before', count: 'last' }] as const) {
        const foreign = await read(b, c, { [paging.after]: cursor, [paging.count]: 50 });
        const absent = await read(b, c, { [paging.after]: missing, [paging.count]: 50 });
        const normalized = (r: unknown) => JSON.stringify(r).replaceAll(cursor, 'CURSOR').replaceAll(missing, 'CURSOR').replaceAll(node.id, 'ID').replaceAll(missingId(node.id), 'ID');
        expect(normalized(foreign), `${c.name}(${paging.after}: A's ${node.id})`).toBe(normalized(absent));
      }
    }
  });

  it('REST lists answer a foreign cursor exactly as a missing one', async () => {
    const asB = jsonClient(base, b.key);
    const lists: [string, string][] = [
      ['/v1/sources', a.source.id],
      ['/v1/folders', a.other.id],
      ['/v1/jobs', a.jobId],
      ['/v1/runs', a.runId],
      ['/v1/agents', a.agentId],
      ['/v1/tools', a.toolId],
      [`/v1/sources/${b.source.id}/files`, a.files[0].id],
      [`/v1/sources/${b.source.id}/passages`, a.passages[0].id],
      [`/v1/agents/${b.agentId}/sources`, a.source.id],
      [`/v1/agents/${b.agentId}/tools`, a.toolId],
      [`/v1/agents/${b.agentId}/files`, a.fileAgentId],
      [`/v1/messages/batches/${b.batchId}/messages`, a.messageIds[0]],
    ];
    for (const [path, foreignId] of lists) {
      const own = await asB('GET', path);
      expect(own.status, path).toBe(200);
      const missing = neighbourId(foreignId);
      for (const cursor of ['after', 'before']) {
        const foreign = await asB('GET', `${path}?${cursor}=${foreignId}`);
        const absent = await asB('GET', `${path}?${cursor}=${missing}`);
        const normalized = (r: { status: number; text: string }) => `${r.status} ${r.text.replaceAll(foreignId, 'ID').replaceAll(missing, 'ID')}`;
        expect(normalized(foreign), `${path}?${cursor}=A's id`).toBe(normalized(absent));
      }
    }
  });
});
