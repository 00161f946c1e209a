import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendBatchMessages, listBatchMessages } from '../src/domain/batches.js';
import { createJob } from '../src/domain/jobs.js';
import { createTestApp, type Tenant, type TestApp } from './support/app.js';
import { databaseKinds } from './support/db.js';

const MISSING_JOB = 'job-00000000-0000-4000-8000-000000000000';

describe.each(databaseKinds())('batch runs and messages on %s', (kind) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(kind);
  });
  afterAll(async () => {
    await t.close();
  });

  interface Org extends Tenant {
    agent(name: string): Promise<string>;
  }

  async function org(): Promise<Org> {
    const tenant = await t.tenant();
    const agent = async (name: string) =>
      (await t.gqlOk(tenant.apiKey, 'mutation($n: String!) { createAgent(input: { name: $n }) { agent { id } } }', { n: name })).createAgent.agent.id as string;
    return { ...tenant, agent };
  }

  const CREATE = `mutation($input: CreateBatchRunInput!) {
    createBatchRun(input: $input) {
      batchRun { id status metadata callbackUrl completedAt items { totalCount edges { node { id status request agent { id name } batchRun { id } } } } }
    }
  }`;
  const createBatch = (o: Org, input: Record<string, unknown>) => t.gql(o.apiKey, CREATE, { input });
  const createBatchOk = async (o: Org, input: Record<string, unknown>) => {
    const result = await createBatch(o, input);
    expect(result.errors).toBeUndefined();
    return result.data.createBatchRun.batchRun;
  };
  const APPEND = `mutation($id: ID!, $messages: [BatchMessageInput!]!) {
    appendBatchMessages(batchRunId: $id, messages: $messages) {
      batchRun { id messages { totalCount } }
      messages { id role content text agent { id } batchItemId model name toolCalls toolCallId toolReturns stepId otid groupId senderId isErr createdAt updatedAt }
    }
  }`;
  // GraphQL enum values are the domain's roles in capitals.
  const append = (o: Org, id: string, messages: Record<string, unknown>[]) =>
    t.gql(o.apiKey, APPEND, { id, messages: messages.map((m) => ({ ...m, role: String(m.role).toUpperCase() })) });
  const text = (role: string, agentId: string, words: string) => ({ role, agentId, content: [{ type: 'text', text: words }] });

  it('records a batch run with one item per agent, readable as a BatchRun and as a Job', async () => {
    const o = await org();
    const a = await o.agent('a');
    const b = await o.agent('b');
    const batch = await createBatchOk(o, {
      requests: [{ agentId: a, request: { messages: [{ role: 'user', content: 'hi a' }] } }, { agentId: b }],
      callbackUrl: 'https://example.com/batch-done',
      metadata: { team: 'x' },
    });
    expect(batch).toMatchObject({ status: 'RUNNING', metadata: { job_type: 'batch_messages', team: 'x' }, callbackUrl: 'https://example.com/batch-done', completedAt: null });
    expect(batch.id).toMatch(/^job-[0-9a-f-]{36}$/);
    expect(batch.items.totalCount).toBe(2);
    expect(batch.items.edges.map((e: any) => e.node)).toEqual([
      { id: expect.stringMatching(/^batch_item-[0-9a-f-]{36}$/), status: 'created', request: { messages: [{ role: 'user', content: 'hi a' }] }, agent: { id: a, name: 'a' }, batchRun: { id: batch.id } },
      { id: expect.stringMatching(/^batch_item-/), status: 'created', request: null, agent: { id: b, name: 'b' }, batchRun: { id: batch.id } },
    ]);
    const itemId = batch.items.edges[0].node.id;
    const read = await t.gqlOk(
      o.apiKey,
      `query($id: ID!, $item: ID!) {
        batchRun(id: $id) { id status }
        job(id: $id) { jobType status }
        node(id: $id) { ... on Job { jobType } }
        item: node(id: $item) { ... on BatchItem { agent { name } } }
        batchRuns { totalCount edges { node { id } } }
        jobs(jobType: BATCH) { totalCount }
      }`,
      { id: batch.id, item: itemId },
    );
    expect(read).toEqual({
      batchRun: { id: batch.id, status: 'RUNNING' },
      job: { jobType: 'BATCH', status: 'RUNNING' },
      node: { jobType: 'BATCH' },
      item: { agent: { name: 'a' } },
      batchRuns: { totalCount: 1, edges: [{ node: { id: batch.id } }] },
      jobs: { totalCount: 1 },
    });
  });

  it('lists batch runs newest first, filtered by status', async () => {
    const o = await org();
    const a = await o.agent('a');
    const first = (await createBatchOk(o, { requests: [{ agentId: a }] })).id;
    const second = (await createBatchOk(o, { requests: [{ agentId: a }] })).id;
    await createJob(o.db, o.actor, {}, t); // a plain job is not a batch run
    await t.gqlOk(o.apiKey, 'mutation($id: ID!) { cancelJob(id: $id) { job { id } } }', { id: first });
    const lists = await t.gqlOk(
      o.apiKey,
      `{
        all: batchRuns { totalCount edges { node { id status } } }
        oldest: batchRuns(order: ASC, first: 1) { edges { node { id } } pageInfo { hasNextPage } }
        running: batchRuns(status: [RUNNING]) { edges { node { id } } }
      }`,
    );
    expect(lists.all).toEqual({ totalCount: 2, edges: [{ node: { id: second, status: 'RUNNING' } }, { node: { id: first, status: 'CANCELLED' } }] });
    expect(lists.oldest).toEqual({ edges: [{ node: { id: first } }], pageInfo: { hasNextPage: true } });
    expect(lists.running.edges).toEqual([{ node: { id: second } }]);
  });

  it('appends messages in the order reported and reads them chronologically, paginated, reversed or per agent', async () => {
    const o = await org();
    const a = await o.agent('a');
    const b = await o.agent('b');
    const batch = await createBatchOk(o, { requests: [{ agentId: a }, { agentId: b }] });
    const itemB = batch.items.edges[1].node.id;

    const toolCall = { id: 'call_1', type: 'function', function: { name: 'send_message', arguments: '{"message":"hi"}' } };
    const first = await append(o, batch.id, [
      text('user', a, 'm1'),
      { role: 'ASSISTANT', agentId: a, content: [{ type: 'reasoning', reasoning: 'think' }, { type: 'text', text: 'm2' }, { type: 'text', text: 'more' }], model: 'openai/gpt-4o-mini', toolCalls: [toolCall], stepId: 'step-1', otid: 'o-1', groupId: 'g', senderId: 's', name: 'helper' },
      { role: 'TOOL', batchItemId: itemB, content: [{ type: 'tool_return', tool_return: 'ok' }], toolCallId: 'call_1', toolReturns: [{ status: 'success', stdout: ['ok'], stderr: [] }], isErr: false },
    ]);
    expect(first.errors).toBeUndefined();
    const appended = first.data.appendBatchMessages;
    expect(appended.batchRun.messages.totalCount).toBe(3);
    expect(appended.messages[0]).toMatchObject({ role: 'USER', content: [{ type: 'text', text: 'm1' }], text: 'm1', agent: { id: a }, batchItemId: batch.items.edges[0].node.id, model: null, toolCalls: null });
    expect(appended.messages[0].id).toMatch(/^message-[0-9a-f-]{36}$/);
    expect(appended.messages[1]).toMatchObject({ role: 'ASSISTANT', text: 'm2\n\nmore', model: 'openai/gpt-4o-mini', toolCalls: [toolCall], stepId: 'step-1', otid: 'o-1', groupId: 'g', senderId: 's', name: 'helper' });
    expect(appended.messages[2]).toMatchObject({ role: 'TOOL', text: null, agent: { id: b }, batchItemId: itemB, toolCallId: 'call_1', toolReturns: [{ status: 'success', stdout: ['ok'], stderr: [] }], isErr: false });
    // A second call in the same millisecond still lands after the first.
    await append(o, batch.id, [text('assistant', b, 'm4'), text('user', a, 'm5')]);

    const texts = (conn: any) => conn.edges.map((e: any) => e.node.text ?? e.node.role);
    const read = await t.gqlOk(
      o.apiKey,
      `query($id: ID!, $a: ID!) {
        batchRun(id: $id) {
          all: messages { totalCount edges { node { text role createdAt } } }
          desc: messages(order: DESC, first: 2) { edges { node { text role } } }
          page: messages(first: 2) { edges { node { text role } } pageInfo { hasNextPage endCursor } }
          onlyA: messages(agentId: $a) { totalCount edges { node { text role } } }
        }
      }`,
      { id: batch.id, a },
    );
    expect(texts(read.batchRun.all)).toEqual(['m1', 'm2\n\nmore', 'TOOL', 'm4', 'm5']);
    expect(read.batchRun.all.totalCount).toBe(5);
    const times = read.batchRun.all.edges.map((e: any) => e.node.createdAt);
    expect([...times].sort()).toEqual(times);
    expect(new Set(times).size).toBe(5);
    expect(texts(read.batchRun.desc)).toEqual(['m5', 'm4']);
    expect(texts(read.batchRun.page)).toEqual(['m1', 'm2\n\nmore']);
    expect(texts(read.batchRun.onlyA)).toEqual(['m1', 'm2\n\nmore', 'm5']);
    const next = await t.gqlOk(o.apiKey, 'query($id: ID!, $after: String) { batchRun(id: $id) { messages(first: 2, after: $after) { edges { node { text role } } pageInfo { hasNextPage } } } }', {
      id: batch.id,
      after: read.batchRun.page.pageInfo.endCursor,
    });
    expect(texts(next.batchRun.messages)).toEqual(['TOOL', 'm4']);
    expect(next.batchRun.messages.pageInfo.hasNextPage).toBe(true);
  });

  it('lists messages with Letta’s id cursors: relative to the order, with limit and agent filter', async () => {
    const o = await org();
    const a = await o.agent('a');
    const b = await o.agent('b');
    const batch = await createBatchOk(o, { requests: [{ agentId: a }, { agentId: b }] });
    const ids = (await appendBatchMessages(o.db, o.actor, batch.id, ['1', '2', '3', '4', '5'].map((n) => text('user', Number(n) % 2 ? a : b, n)))).map((m) => m.id);
    const list = async (options: Parameters<typeof listBatchMessages>[2]) => (await listBatchMessages(o.db, batch.id, options)).map((m) => ids.indexOf(m.id) + 1);
    expect(await list({})).toEqual([1, 2, 3, 4, 5]);
    expect(await list({ order: 'desc', limit: 2 })).toEqual([5, 4]);
    expect(await list({ after: ids[1] })).toEqual([3, 4, 5]);
    expect(await list({ before: ids[3] })).toEqual([1, 2, 3]);
    expect(await list({ after: ids[0], before: ids[4] })).toEqual([2, 3, 4]);
    expect(await list({ order: 'desc', after: ids[3] })).toEqual([3, 2, 1]); // SDK iteration: after = last id of the previous page
    expect(await list({ order: 'desc', before: ids[1] })).toEqual([5, 4, 3]);
    expect(await list({ agentId: a })).toEqual([1, 3, 5]);
    // A string content is one text part.
    expect((await listBatchMessages(o.db, batch.id, { limit: 1 }))[0].content).toEqual([{ type: 'text', text: '1' }]);
    await expect(list({ after: 'message-00000000-0000-4000-8000-000000000000' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(list({ after: 'msg-1' })).rejects.toMatchObject({ code: 'BAD_USER_INPUT', details: { field: 'after' } });
    await expect(list({ limit: 0 })).rejects.toMatchObject({ code: 'BAD_USER_INPUT', details: { field: 'limit' } });
  });

  it('validates messages: role, content parts, and an agent or item of this batch; nothing is appended on error', async () => {
    const o = await org();
    const a = await o.agent('a');
    const outsider = await o.agent('outsider');
    const batch = await createBatchOk(o, { requests: [{ agentId: a }] });
    const otherBatch = await createBatchOk(o, { requests: [{ agentId: outsider }] });
    const otherItem = otherBatch.items.edges[0].node.id;
    const cases: [Record<string, unknown>[], string, RegExp][] = [
      [[text('user', a, 'ok'), { role: 'USER', agentId: a, content: [{ text: 'no type' }] }], 'messages.1.content.0', /must be an object with a "type"/],
      [[{ role: 'USER', agentId: a, content: [{ type: 'text' }] }], 'messages.0.content.0.text', /a text part needs a string "text"/],
      [[{ role: 'USER', content: [] }], 'messages.0', /needs an agentId or a batchItemId/],
      [[text('user', outsider, 'x')], 'messages.0.agentId', /is not an agent of batch/],
      [[{ role: 'USER', batchItemId: otherItem, content: [] }], 'messages.0.batchItemId', /is not an item of batch/],
      [[{ role: 'USER', batchItemId: batch.items.edges[0].node.id, agentId: outsider, content: [] }], 'messages.0.agentId', /is not agent/],
      [[{ role: 'USER', agentId: 'agent-1', content: [] }], 'messages.0.agentId', /not a valid agent id/],
      [[{ role: 'USER', batchItemId: 'item-1', content: [] }], 'messages.0.batchItemId', /not a valid batch_item id/],
    ];
    for (const [messages, field, message] of cases) {
      const result = await append(o, batch.id, messages);
      expect(result.errors?.[0], field).toMatchObject({ message: expect.stringMatching(message), extensions: { code: 'BAD_USER_INPUT', field } });
    }
    await expect(appendBatchMessages(o.db, o.actor, batch.id, [{ role: 'robot', agentId: a, content: [] }])).rejects.toMatchObject({
      code: 'BAD_USER_INPUT',
      details: { field: 'messages.0.role' },
    });
    await expect(appendBatchMessages(o.db, o.actor, batch.id, [{ role: 'tool', agentId: a, content: [], toolReturns: 'ok' }])).rejects.toMatchObject({
      details: { field: 'messages.0.toolReturns' },
    });
    const unknownRole = await append(o, batch.id, [{ role: 'ROBOT', agentId: a, content: [] }]);
    expect(unknownRole.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    expect((await t.gqlOk(o.apiKey, 'query($id: ID!) { batchRun(id: $id) { messages { totalCount } } }', { id: batch.id })).batchRun.messages.totalCount).toBe(0);
  });

  it('validates new batch runs and creates nothing on error', async () => {
    const o = await org();
    const a = await o.agent('a');
    const cases: [Record<string, unknown>, string, string, RegExp][] = [
      [{ requests: [] }, 'BAD_USER_INPUT', 'requests', /at least one request/],
      [{ requests: [{ agentId: a }, { agentId: a }] }, 'BAD_USER_INPUT', 'requests.1.agentId', /appears twice/],
      [{ requests: [{ agentId: 'a' }] }, 'BAD_USER_INPUT', 'requests.0.agentId', /not a valid agent id/],
      [{ requests: [{ agentId: a }], callbackUrl: 'ftp://example.com/x' }, 'BAD_USER_INPUT', 'callbackUrl', /http or https/],
      [{ requests: [{ agentId: a }], callbackUrl: 'not a url' }, 'BAD_USER_INPUT', 'callbackUrl', /absolute http\(s\) URL/],
    ];
    for (const [input, code, field, message] of cases) {
      const result = await createBatch(o, input);
      expect(result.errors?.[0], field).toMatchObject({ message: expect.stringMatching(message), extensions: { code, field } });
    }
    const missing = await createBatch(o, { requests: [{ agentId: a }, { agentId: 'agent-00000000-0000-4000-8000-000000000000' }] });
    expect(missing.errors?.[0]).toMatchObject({ message: 'Agent agent-00000000-0000-4000-8000-000000000000 not found', extensions: { code: 'NOT_FOUND' } });
    const counts = await t.gqlOk(o.apiKey, '{ batchRuns { totalCount } jobs { totalCount } }');
    expect(counts).toEqual({ batchRuns: { totalCount: 0 }, jobs: { totalCount: 0 } });
    expect(await o.db.batchItem.count()).toBe(0);
  });

  it('takes no messages once the run ended; cancelling and deleting work as for any job', async () => {
    const o = await org();
    const a = await o.agent('a');
    const batch = await createBatchOk(o, { requests: [{ agentId: a }] });
    await append(o, batch.id, [text('user', a, 'before')]);
    const cancelled = await t.gqlOk(o.apiKey, 'mutation($id: ID!) { cancelJob(id: $id) { job { status completedAt } } }', { id: batch.id });
    expect(cancelled.cancelJob.job.status).toBe('CANCELLED');
    const late = await append(o, batch.id, [text('user', a, 'after')]);
    expect(late.errors?.[0]).toMatchObject({ message: `BatchRun ${batch.id} already ended cancelled; it takes no more messages`, extensions: { code: 'CONFLICT' } });
    const deleted = await t.gqlOk(o.apiKey, 'mutation($id: ID!) { deleteJob(id: $id) { job { status jobType } } }', { id: batch.id });
    expect(deleted.deleteJob.job).toEqual({ status: 'CANCELLED', jobType: 'BATCH' });
    // Items and messages went with it.
    expect(await o.db.batchItem.count()).toBe(0);
    expect(await o.db.message.count()).toBe(0);
  });

  it('keeps organizations apart: another organization’s batch run behaves exactly like a missing one', async () => {
    const mine = await org();
    const theirs = await org();
    const theirAgent = await theirs.agent('theirs');
    const theirBatch = await createBatchOk(theirs, { requests: [{ agentId: theirAgent }] });
    await append(theirs, theirBatch.id, [text('user', theirAgent, 'secret')]);
    const plainJob = (await createJob(mine.db, mine.actor, {}, t)).id;
    for (const id of [theirBatch.id, MISSING_JOB, plainJob]) {
      const read = await t.gql(mine.apiKey, 'query($id: ID!) { batchRun(id: $id) { id messages { totalCount } } }', { id });
      expect(read.errors?.[0]).toMatchObject({ message: `BatchRun ${id} not found`, extensions: { code: 'NOT_FOUND' } });
      const write = await append(mine, id, [text('user', theirAgent, 'x')]);
      expect(write.errors?.[0]).toMatchObject({ message: `BatchRun ${id} not found`, extensions: { code: 'NOT_FOUND' } });
    }
    const messageId = (await listBatchMessages(theirs.db, theirBatch.id))[0].id;
    for (const id of [theirBatch.id, theirBatch.items.edges[0].node.id, messageId]) {
      expect((await t.gqlOk(mine.apiKey, 'query($id: ID!) { node(id: $id) { id } }', { id })).node).toBeNull();
    }
    expect((await t.gqlOk(mine.apiKey, '{ batchRuns { totalCount } }')).batchRuns.totalCount).toBe(0);
    const foreignAgent = await createBatch(mine, { requests: [{ agentId: theirAgent }] });
    expect(foreignAgent.errors?.[0]).toMatchObject({ message: `Agent ${theirAgent} not found`, extensions: { code: 'NOT_FOUND' } });
    // Their run is untouched.
    const theirView = await t.gqlOk(theirs.apiKey, 'query($id: ID!) { batchRun(id: $id) { status messages { edges { node { text } } } } }', { id: theirBatch.id });
    expect(theirView.batchRun).toEqual({ status: 'RUNNING', messages: { edges: [{ node: { text: 'secret' } }] } });
  });

  it('rejects malformed ids with BAD_USER_INPUT naming the argument', async () => {
    const o = await org();
    const a = await o.agent('a');
    const batch = await createBatchOk(o, { requests: [{ agentId: a }] });
    const cases: [string, Record<string, unknown>, string][] = [
      ['{ batchRun(id: "job-123") { id } }', {}, 'id'],
      ['{ batchRun(id: "batch-1") { id } }', {}, 'id'],
      ['query($id: ID!) { batchRun(id: $id) { messages(agentId: "bob") { totalCount } } }', { id: batch.id }, 'agentId'],
      ['mutation { appendBatchMessages(batchRunId: "job-x", messages: []) { messages { id } } }', {}, 'batchRunId'],
    ];
    for (const [query, variables, field] of cases) {
      const result = await t.gql(o.apiKey, query, variables);
      expect(result.errors?.[0].extensions, query).toMatchObject({ code: 'BAD_USER_INPUT', field });
    }
  });
});
