import { FINAL_RUN_STATUSES, finishRun, watchRun, recordRunStep, runUsage, runWhere, startRun, type RunUsage } from '../domain/runs.js';
import { orNotFound, requireId } from '../domain/ids.js';
import { builder, nodeOptions } from './builder.js';
import { OrderDirection } from './sources.js';
import type { RunChange } from '../core/events.js';
import { EVENT_TYPE, READS_BEYOND_EVENT } from '../core/live.js';
import { at, LAZY, watchScope } from './subscriptions.js';

/** Runs reported by agent runtimes, their steps and token usage. */

export const RunStatusEnum = builder.enumType('RunStatus', { values: ['CREATED', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED'] as const });
const RunFinalStatus = builder.enumType('RunFinalStatus', { values: FINAL_RUN_STATUSES, description: 'The statuses that end a run.' });

const PromptTokensDetails = builder.objectRef<NonNullable<RunUsage['promptTokensDetails']>>('PromptTokensDetails').implement({
  fields: (t) => ({
    cachedTokens: t.exposeInt('cachedTokens', { nullable: true }),
    cacheReadTokens: t.exposeInt('cacheReadTokens', { nullable: true }),
    cacheCreationTokens: t.exposeInt('cacheCreationTokens', { nullable: true }),
  }),
});

const CompletionTokensDetails = builder.objectRef<NonNullable<RunUsage['completionTokensDetails']>>('CompletionTokensDetails').implement({
  fields: (t) => ({ reasoningTokens: t.exposeInt('reasoningTokens', { nullable: true }) }),
});

const RunUsageRef = builder.objectRef<RunUsage>('RunUsage').implement({
  description: 'Token usage summed over the run’s steps (Letta’s UsageStatistics); zeros before the first step.',
  fields: (t) => ({
    stepCount: t.exposeInt('stepCount'),
    promptTokens: t.exposeInt('promptTokens'),
    completionTokens: t.exposeInt('completionTokens'),
    totalTokens: t.exposeInt('totalTokens'),
    promptTokensDetails: t.field({
      type: PromptTokensDetails,
      nullable: true,
      description: 'Null until a step reports cache figures.',
      resolve: (u) => u.promptTokensDetails,
    }),
    completionTokensDetails: t.field({
      type: CompletionTokensDetails,
      nullable: true,
      description: 'Null until a step reports reasoning tokens.',
      resolve: (u) => u.completionTokensDetails,
    }),
  }),
});

builder.prismaNode('Run', {
  ...nodeOptions,
  fields: (t) => ({
    agentId: t.exposeID('agentId'),
    agent: t.relation('agent'),
    status: t.expose('status', { type: RunStatusEnum }),
    background: t.exposeBoolean('background', { nullable: true }),
    metadata: t.field({ type: 'JSONObject', nullable: true, select: { metadata: true }, resolve: (r) => r.metadata as Record<string, unknown> | null }),
    requestConfig: t.field({ type: 'JSONObject', nullable: true, select: { requestConfig: true }, resolve: (r) => r.requestConfig as Record<string, unknown> | null }),
    conversationId: t.exposeString('conversationId', { nullable: true }),
    baseTemplateId: t.exposeID('baseTemplateId', { nullable: true, description: 'The template the agent was made from when the run started.' }),
    stopReason: t.exposeString('stopReason', { nullable: true }),
    usage: t.field({
      type: RunUsageRef,
      select: {
        stepCount: true, promptTokens: true, completionTokens: true, totalTokens: true,
        cachedTokens: true, cacheReadTokens: true, cacheCreationTokens: true, reasoningTokens: true,
      },
      resolve: (r) => runUsage(r),
    }),
    steps: t.relatedConnection('steps', { cursor: 'id', totalCount: true, description: 'In the order they were recorded.', query: { orderBy: { seq: 'asc' } } }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    completedAt: t.expose('completedAt', { type: 'DateTime', nullable: true, description: 'Set when the run reaches a final status.' }),
  }),
});

builder.prismaNode('RunStep', {
  ...nodeOptions,
  fields: (t) => ({
    run: t.relation('run'),
    seq: t.exposeInt('seq', { description: '1 for the run’s first step, then 2, 3…' }),
    model: t.exposeString('model', { nullable: true }),
    promptTokens: t.exposeInt('promptTokens'),
    completionTokens: t.exposeInt('completionTokens'),
    totalTokens: t.exposeInt('totalTokens'),
    cachedTokens: t.exposeInt('cachedTokens', { nullable: true }),
    cacheReadTokens: t.exposeInt('cacheReadTokens', { nullable: true }),
    cacheCreationTokens: t.exposeInt('cacheCreationTokens', { nullable: true }),
    reasoningTokens: t.exposeInt('reasoningTokens', { nullable: true }),
    stopReason: t.exposeString('stopReason', { nullable: true }),
    metadata: t.field({ type: 'JSONObject', nullable: true, select: { metadata: true }, resolve: (s) => s.metadata as Record<string, unknown> | null }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

builder.queryFields((t) => ({
  runs: t.prismaConnection({
    type: 'Run',
    cursor: 'id',
    description: 'Runs of your organization, newest first unless ordered otherwise.',
    args: {
      agentId: t.arg.id(),
      statuses: t.arg({ type: [RunStatusEnum], description: 'Runs in any of these statuses.' }),
      background: t.arg.boolean(),
      stopReason: t.arg.string(),
      order: t.arg({ type: OrderDirection, defaultValue: 'DESC', description: 'By creation time.' }),
    },
    resolve: (query, _root, args, ctx) => {
      const direction = args.order === 'ASC' ? 'asc' : 'desc';
      return ctx.db.run.findMany({ ...query, where: runWhere(args), orderBy: [{ createdAt: direction }, { id: direction }] });
    },
    totalCount: (_root, args, ctx) => ctx.db.run.count({ where: runWhere(args) }),
  }),
  run: t.prismaField({
    type: 'Run',
    args: { id: t.arg.id({ required: true }) },
    resolve: async (query, _root, { id }, ctx) => {
      // One query: the lookup carries the GraphQL selection.
      const key = requireId('run', id, 'id');
      return orNotFound(ctx.db.run.findUnique({ ...query, where: { id: key } }), 'Run', key);
    },
  }),
}));

// ───────────── mutations ─────────────

const StartRunInput = builder.inputType('StartRunInput', {
  fields: (t) => ({
    agentId: t.id({ required: true }),
    metadata: t.field({ type: 'JSONObject' }),
    background: t.boolean(),
    conversationId: t.string(),
    requestConfig: t.field({ type: 'JSONObject', description: 'Letta’s request_config, kept as given.' }),
  }),
});

const RecordRunStepInput = builder.inputType('RecordRunStepInput', {
  description: 'One step of a run as the runtime reports it. Token counts are non-negative; left out, they count 0.',
  fields: (t) => ({
    runId: t.id({ required: true }),
    model: t.string({ description: 'Model handle, e.g. openai/gpt-4o-mini.' }),
    promptTokens: t.int(),
    completionTokens: t.int(),
    totalTokens: t.int({ description: 'Defaults to promptTokens + completionTokens.' }),
    cachedTokens: t.int(),
    cacheReadTokens: t.int(),
    cacheCreationTokens: t.int(),
    reasoningTokens: t.int(),
    stopReason: t.string(),
    metadata: t.field({ type: 'JSONObject' }),
  }),
});

const FinishRunInput = builder.inputType('FinishRunInput', {
  fields: (t) => ({
    runId: t.id({ required: true }),
    status: t.field({ type: RunFinalStatus, required: true }),
    stopReason: t.string({ description: 'Letta’s stop reason, e.g. end_turn, error, max_steps, cancelled.' }),
  }),
});

const RunPayload = builder.objectRef<{ runId: string }>('RunPayload').implement({
  fields: (t) => ({
    run: t.prismaField({ type: 'Run', resolve: (query, p, _args, ctx) => ctx.db.run.findUniqueOrThrow({ ...query, where: { id: p.runId } }) }),
  }),
});

const RecordRunStepPayload = builder.objectRef<{ stepId: string; runId: string }>('RecordRunStepPayload').implement({
  fields: (t) => ({
    step: t.prismaField({ type: 'RunStep', resolve: (query, p, _args, ctx) => ctx.db.runStep.findUniqueOrThrow({ ...query, where: { id: p.stepId } }) }),
    run: t.prismaField({ type: 'Run', resolve: (query, p, _args, ctx) => ctx.db.run.findUniqueOrThrow({ ...query, where: { id: p.runId } }) }),
  }),
});

builder.mutationFields((t) => ({
  startRun: t.field({
    type: RunPayload,
    description: 'Starts a run of an agent: it is RUNNING at once.',
    args: { input: t.arg({ type: StartRunInput, required: true }) },
    resolve: async (_root, { input }, ctx) => ({ runId: (await startRun(ctx.db, ctx.actor, input, ctx)).id }),
  }),
  recordRunStep: t.field({
    type: RecordRunStepPayload,
    description: 'Adds a step to a CREATED or RUNNING run and adds its tokens to the run’s usage.',
    args: { input: t.arg({ type: RecordRunStepInput, required: true }) },
    resolve: async (_root, { input: { runId, ...step } }, ctx) => {
      const created = await recordRunStep(ctx.db, ctx.actor, runId, step, ctx);
      return { stepId: created.id, runId: created.runId };
    },
  }),
  finishRun: t.field({
    type: RunPayload,
    description: 'Ends a run with a final status and sets completedAt. A finished run cannot be finished again (CONFLICT).',
    args: { input: t.arg({ type: FinishRunInput, required: true }) },
    resolve: async (_root, { input }, ctx) => ({ runId: (await finishRun(ctx.db, input.runId, input, ctx)).id }),
  }),
}));

// Live run status (subscriptions.ts has the root type).
const RunEvent = builder.objectRef<RunChange>('RunEvent').implement({
  description: 'A run’s state as of `updatedAt`.',
  extensions: EVENT_TYPE,
  fields: (t) => ({
    runId: t.exposeID('id'),
    agentId: t.exposeID('agentId', { nullable: true }),
    status: t.field({ type: RunStatusEnum, resolve: (c) => c.status }),
    terminal: t.boolean({
      description: 'COMPLETED, FAILED or CANCELLED: nothing follows.',
      resolve: (c) => (FINAL_RUN_STATUSES as readonly string[]).includes(c.status),
    }),
    stepCount: t.exposeInt('stepCount'),
    totalTokens: t.exposeInt('totalTokens'),
    stopReason: t.exposeString('stopReason', { nullable: true }),
    updatedAt: t.field({ type: 'DateTime', resolve: (c) => at(c.updatedAt) }),
    run: t.prismaField({
      type: 'Run',
      nullable: true,
      extensions: READS_BEYOND_EVENT,
      description: `The whole run, with usage and steps (null once deleted). ${LAZY}`,
      resolve: (query, c, _args, ctx) => ctx.db.run.findUnique({ ...query, where: { id: c.id } }),
    }),
  }),
});

builder.subscriptionFields((t) => ({
  runUpdated: t.field({
    type: RunEvent,
    description: 'A run’s current state, then each step and its end; completes after a final status. NOT_FOUND for an unknown id.',
    args: { id: t.arg.id({ required: true }) },
    subscribe: (_root, { id }, ctx) => watchRun(watchScope(ctx), String(id)),
    resolve: (change) => change,
  }),
}));
