import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from './support/app.js';
import { databaseKinds } from './support/db.js';

const RUN = `id agentId agent { id name } status background metadata stopReason createdAt completedAt
  usage { stepCount promptTokens completionTokens totalTokens promptTokensDetails { cachedTokens cacheReadTokens cacheCreationTokens } completionTokensDetails { reasoningTokens } }`;
const MISSING_RUN = 'run-00000000-0000-4000-8000-000000000000';

describe.each(databaseKinds())('runs on %s', (kind) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(kind);
  });
  afterAll(() => t.close());

  const createAgent = async (key: string, name = 'runner') =>
    (await t.gqlOk(key, 'mutation($n: String!) { createAgent(input: { name: $n }) { agent { id } } }', { n: name })).createAgent.agent.id as string;
  const start = (key: string, input: Record<string, unknown>) =>
    t.gql(key, `mutation($input: StartRunInput!) { startRun(input: $input) { run { ${RUN} } } }`, { input });
  const startOk = async (key: string, input: Record<string, unknown>) => (await t.gqlOk(key, `mutation($input: StartRunInput!) { startRun(input: $input) { run { ${RUN} } } }`, { input })).startRun.run;
  const step = (key: string, input: Record<string, unknown>) =>
    t.gql(key, `mutation($input: RecordRunStepInput!) { recordRunStep(input: $input) { step { id seq model promptTokens completionTokens totalTokens cachedTokens reasoningTokens stopReason } run { ${RUN} } } }`, { input });
  const finish = (key: string, input: Record<string, unknown>) =>
    t.gql(key, `mutation($input: FinishRunInput!) { finishRun(input: $input) { run { ${RUN} } } }`, { input });
  const errorOf = (result: { errors?: { extensions?: Record<string, any> }[] }) => result.errors?.[0]?.extensions;

  it('starts a run RUNNING, sums step usage, finishes it, and then keeps it final', async () => {
    const { apiKey } = await t.seed();
    const agentId = await createAgent(apiKey);
    const run = await startOk(apiKey, { agentId, metadata: { trigger: 'cron' }, background: true });
    expect(run).toMatchObject({
      agentId,
      agent: { id: agentId, name: 'runner' },
      status: 'RUNNING',
      background: true,
      metadata: { trigger: 'cron' },
      completedAt: null,
      usage: { stepCount: 0, promptTokens: 0, completionTokens: 0, totalTokens: 0, promptTokensDetails: null, completionTokensDetails: null },
    });
    expect(run.id).toMatch(/^run-[0-9a-f-]{36}$/);

    const first = await step(apiKey, { runId: run.id, model: 'openai/gpt-4o-mini', promptTokens: 100, completionTokens: 20 });
    expect(first.errors).toBeUndefined();
    expect(first.data.recordRunStep.step).toMatchObject({ seq: 1, model: 'openai/gpt-4o-mini', totalTokens: 120, cachedTokens: null, reasoningTokens: null });
    // No step reported cache or reasoning figures yet: the details stay null, as Letta's usage does.
    expect(first.data.recordRunStep.run.usage).toMatchObject({ stepCount: 1, totalTokens: 120, promptTokensDetails: null, completionTokensDetails: null });

    await step(apiKey, { runId: run.id, promptTokens: 50, completionTokens: 5, totalTokens: 60, cachedTokens: 40, reasoningTokens: 3 });
    const third = await step(apiKey, { runId: run.id, promptTokens: 10, completionTokens: 1, cachedTokens: 2, stopReason: 'end_turn' });
    expect(third.data.recordRunStep.run.usage).toEqual({
      stepCount: 3,
      promptTokens: 160,
      completionTokens: 26,
      totalTokens: 191,
      promptTokensDetails: { cachedTokens: 42, cacheReadTokens: null, cacheCreationTokens: null },
      completionTokensDetails: { reasoningTokens: 3 },
    });

    const steps = await t.gqlOk(apiKey, 'query($id: ID!) { run(id: $id) { steps { totalCount edges { node { seq totalTokens stopReason run { id } } } } } }', { id: run.id });
    expect(steps.run.steps.totalCount).toBe(3);
    expect(steps.run.steps.edges.map((e: any) => [e.node.seq, e.node.totalTokens, e.node.stopReason])).toEqual([[1, 120, null], [2, 60, null], [3, 11, 'end_turn']]);

    const finished = await finish(apiKey, { runId: run.id, status: 'COMPLETED', stopReason: 'end_turn' });
    expect(finished.errors).toBeUndefined();
    const done = finished.data.finishRun.run;
    expect(done).toMatchObject({ status: 'COMPLETED', stopReason: 'end_turn' });
    expect(new Date(done.completedAt).getTime()).toBeGreaterThanOrEqual(new Date(done.createdAt).getTime());

    const late = await step(apiKey, { runId: run.id, promptTokens: 1 });
    expect(errorOf(late)).toMatchObject({ code: 'CONFLICT', field: 'runId' });
    const again = await finish(apiKey, { runId: run.id, status: 'FAILED' });
    expect(errorOf(again)).toMatchObject({ code: 'CONFLICT' });
    expect(again.errors![0].message).toContain('already COMPLETED');
    const after = await t.gqlOk(apiKey, `query($id: ID!) { run(id: $id) { ${RUN} } node(id: $id) { ... on Run { status } } }`, { id: run.id });
    expect(after.run).toEqual(done);
    expect(after.node).toEqual({ status: 'COMPLETED' });
  });

  it('keeps usage exact under concurrent steps, each with its own seq', async () => {
    const { apiKey } = await t.seed();
    const { id: runId } = await startOk(apiKey, { agentId: await createAgent(apiKey) });
    const n = 20;
    const results = await Promise.all(
      Array.from({ length: n }, (_, i) => step(apiKey, { runId, promptTokens: i + 1, completionTokens: 2, reasoningTokens: i % 2 ? 1 : null })),
    );
    for (const result of results) expect(result.errors).toBeUndefined();
    expect(results.map((r) => r.data.recordRunStep.step.seq).sort((a: number, b: number) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    const { run } = await t.gqlOk(apiKey, `query($id: ID!) { run(id: $id) { ${RUN} steps(first: 100) { totalCount } } }`, { id: runId });
    const prompt = (n * (n + 1)) / 2;
    expect(run.usage).toEqual({
      stepCount: n,
      promptTokens: prompt,
      completionTokens: 2 * n,
      totalTokens: prompt + 2 * n,
      promptTokensDetails: null,
      completionTokensDetails: { reasoningTokens: n / 2 },
    });
    expect(run.steps.totalCount).toBe(n);

    const finishes = await Promise.all([finish(apiKey, { runId, status: 'COMPLETED' }), finish(apiKey, { runId, status: 'CANCELLED' })]);
    expect(finishes.map((r) => errorOf(r)?.code ?? 'OK').sort()).toEqual(['CONFLICT', 'OK']);
  });

  it('rejects bad input with the field named, and changes nothing', async () => {
    const { apiKey } = await t.seed();
    const agentId = await createAgent(apiKey);
    const { id: runId } = await startOk(apiKey, { agentId });

    expect(errorOf(await step(apiKey, { runId, promptTokens: -1 }))).toMatchObject({ code: 'BAD_USER_INPUT', field: 'promptTokens' });
    expect(errorOf(await step(apiKey, { runId, completionTokens: 5, reasoningTokens: -2 }))).toMatchObject({ code: 'BAD_USER_INPUT', field: 'reasoningTokens' });
    expect(errorOf(await step(apiKey, { runId, model: '  ' }))).toMatchObject({ code: 'BAD_USER_INPUT', field: 'model' });
    expect(errorOf(await step(apiKey, { runId: 'run-1', promptTokens: 1 }))).toMatchObject({ code: 'BAD_USER_INPUT', field: 'runId' });
    expect(errorOf(await step(apiKey, { runId: MISSING_RUN, promptTokens: 1 }))).toMatchObject({ code: 'NOT_FOUND' });
    // Totals past PostgreSQL's int range are the caller's mistake, not an internal error.
    await step(apiKey, { runId, promptTokens: 2 ** 31 - 10 });
    expect(errorOf(await step(apiKey, { runId, promptTokens: 100 }))).toMatchObject({ code: 'BAD_USER_INPUT', field: 'runId' });
    const { run } = await t.gqlOk(apiKey, `query($id: ID!) { run(id: $id) { ${RUN} } }`, { id: runId });
    expect(run.usage).toMatchObject({ stepCount: 1, promptTokens: 2 ** 31 - 10, totalTokens: 2 ** 31 - 10 });

    expect(errorOf(await start(apiKey, { agentId: 'agent-x' }))).toMatchObject({ code: 'BAD_USER_INPUT', field: 'agentId' });
    expect(errorOf(await start(apiKey, { agentId: 'agent-00000000-0000-4000-8000-000000000000' }))).toMatchObject({ code: 'NOT_FOUND' });
    expect(errorOf(await finish(apiKey, { runId, status: 'RUNNING' }))).toMatchObject({ code: 'BAD_USER_INPUT' });
    expect(errorOf(await finish(apiKey, { runId: 'nope', status: 'FAILED' }))).toMatchObject({ code: 'BAD_USER_INPUT', field: 'runId' });
    expect(errorOf(await t.gql(apiKey, '{ run(id: "run-zzz") { id } }'))).toMatchObject({ code: 'BAD_USER_INPUT', field: 'id' });
    expect(errorOf(await t.gql(apiKey, '{ runs(agentId: "agent-1") { totalCount } }'))).toMatchObject({ code: 'BAD_USER_INPUT', field: 'agentId' });
    expect((await t.gqlOk(apiKey, '{ runs { totalCount } }')).runs.totalCount).toBe(1);
  });

  it('lists runs newest first, filtered by agent, status and background, in pages', async () => {
    const { apiKey } = await t.seed();
    const a = await createAgent(apiKey, 'a');
    const b = await createAgent(apiKey, 'b');
    const ids: string[] = [];
    for (const [agentId, background] of [[a, true], [a, false], [b, null], [a, null]] as const) {
      ids.push((await startOk(apiKey, { agentId, background })).id);
    }
    await finish(apiKey, { runId: ids[0], status: 'FAILED', stopReason: 'error' });
    await finish(apiKey, { runId: ids[2], status: 'CANCELLED' });

    const list = async (args: string) => {
      const { runs } = await t.gqlOk(apiKey, `{ runs${args} { totalCount edges { node { id } } pageInfo { hasNextPage endCursor } } }`);
      return { ...runs, ids: runs.edges.map((e: any) => e.node.id) };
    };
    expect((await list('')).ids).toEqual([...ids].reverse());
    expect((await list('(order: ASC)')).ids).toEqual(ids);
    expect(await list(`(agentId: "${a}")`)).toMatchObject({ totalCount: 3, ids: [ids[3], ids[1], ids[0]] });
    expect((await list('(statuses: [FAILED, CANCELLED])')).ids).toEqual([ids[2], ids[0]]);
    expect((await list('(statuses: [RUNNING], background: false)')).ids).toEqual([ids[1]]);
    expect((await list('(stopReason: "error")')).ids).toEqual([ids[0]]);

    const page1 = await list('(first: 3)');
    expect(page1).toMatchObject({ totalCount: 4, ids: [ids[3], ids[2], ids[1]], pageInfo: { hasNextPage: true } });
    const page2 = await list(`(first: 3, after: "${page1.pageInfo.endCursor}")`);
    expect(page2).toMatchObject({ ids: [ids[0]], pageInfo: { hasNextPage: false } });
  });

  it('keeps another organization’s runs invisible: their ids behave like missing ones', async () => {
    const owner = await t.seed();
    const other = await t.seed();
    const agentId = await createAgent(owner.apiKey);
    const { id: runId } = await startOk(owner.apiKey, { agentId });
    await step(owner.apiKey, { runId, promptTokens: 7 });

    expect(await t.gqlOk(other.apiKey, `{ runs { totalCount } byAgent: runs(agentId: "${agentId}") { totalCount } }`)).toEqual({
      runs: { totalCount: 0 },
      byAgent: { totalCount: 0 },
    });
    const read = await t.gql(other.apiKey, 'query($id: ID!) { run(id: $id) { id } }', { id: runId });
    expect(errorOf(read)).toMatchObject({ code: 'NOT_FOUND' });
    expect(read.errors![0].message).toBe(`Run ${runId} not found`);
    expect((await t.gqlOk(other.apiKey, 'query($id: ID!) { node(id: $id) { id } }', { id: runId })).node).toBeNull();
    expect(errorOf(await step(other.apiKey, { runId, promptTokens: 1 }))).toMatchObject({ code: 'NOT_FOUND' });
    expect(errorOf(await finish(other.apiKey, { runId, status: 'CANCELLED' }))).toMatchObject({ code: 'NOT_FOUND' });
    expect(errorOf(await start(other.apiKey, { agentId }))).toMatchObject({ code: 'NOT_FOUND' });

    const { run } = await t.gqlOk(owner.apiKey, `query($id: ID!) { run(id: $id) { ${RUN} } }`, { id: runId });
    expect(run).toMatchObject({ status: 'RUNNING', usage: { stepCount: 1, promptTokens: 7 } });
  });
});
