import type { JobStatus, Prisma } from '../generated/prisma/client.js';
import { appendBatchMessages, createBatchRun, getBatchRun, MESSAGE_ROLES, type MessageRole } from '../domain/batches.js';
import { requireId } from '../domain/ids.js';
import { jobOrder, jobWhere } from '../domain/jobs.js';
import { builder, nodeOptions } from './builder.js';
import { JobStatusEnum } from './jobs.js';
import { OrderDirection } from './sources.js';

/** Batch runs (Letta's batch jobs), their items, and the messages agent runtimes report for them. */

const MessageRoleEnum = builder.enumType('MessageRole', {
  values: Object.fromEntries(MESSAGE_ROLES.map((role) => [role.toUpperCase(), { value: role }])) as Record<Uppercase<MessageRole>, { value: MessageRole }>,
});

const jsonObject = (value: unknown) => value as Record<string, unknown> | null;
const jsonObjects = (value: unknown) => value as Record<string, unknown>[] | null;

export const BatchRun = builder.prismaNode('Job', {
  variant: 'BatchRun',
  ...nodeOptions,
  description: 'A batch of agent requests run by an agent runtime: a job of type BATCH (also readable as a Job).',
  fields: (t) => ({
    status: t.expose('status', { type: JobStatusEnum }),
    metadata: t.field({ type: 'JSONObject', nullable: true, select: { metadata: true }, resolve: (b) => jsonObject(b.metadata) }),
    stopReason: t.exposeString('stopReason', { nullable: true }),
    cancelRequestedAt: t.expose('cancelRequestedAt', { type: 'DateTime', nullable: true }),
    callbackUrl: t.exposeString('callbackUrl', { nullable: true }),
    callbackSentAt: t.expose('callbackSentAt', { type: 'DateTime', nullable: true }),
    callbackStatusCode: t.exposeInt('callbackStatusCode', { nullable: true }),
    callbackError: t.exposeString('callbackError', { nullable: true }),
    items: t.relatedConnection('batchItems', {
      cursor: 'id',
      totalCount: true,
      description: 'One per agent request, in request order.',
      query: { orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] },
    }),
    messages: t.relatedConnection('messages', {
      cursor: 'id',
      totalCount: true,
      description: 'Messages the runtime reported, in the order reported unless order is DESC.',
      args: {
        order: t.arg({ type: OrderDirection, defaultValue: 'ASC' }),
        agentId: t.arg.id({ description: 'Only this agent’s messages.' }),
      },
      query: ({ order, agentId }) => {
        const direction = order === 'DESC' ? 'desc' : 'asc';
        return {
          where: agentId == null ? {} : { agentId: requireId('agent', String(agentId), 'agentId') },
          orderBy: [{ createdAt: direction }, { id: direction }] satisfies Prisma.MessageOrderByWithRelationInput[],
        };
      },
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    completedAt: t.expose('completedAt', { type: 'DateTime', nullable: true }),
  }),
});

builder.prismaNode('BatchItem', {
  ...nodeOptions,
  description: 'One request of a batch run: the agent it targets, the request and its outcome.',
  fields: (t) => ({
    batchRun: t.relation('batchJob', { type: BatchRun }),
    agent: t.relation('agent', { nullable: true, description: 'Null once the agent is deleted.' }),
    status: t.exposeString('status'),
    request: t.field({ type: 'JSONObject', nullable: true, select: { request: true }, resolve: (i) => jsonObject(i.request) }),
    response: t.field({ type: 'JSONObject', nullable: true, select: { response: true }, resolve: (i) => jsonObject(i.response) }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

export const Message = builder.prismaNode('Message', {
  ...nodeOptions,
  description: 'A message of an agent’s conversation (Letta’s internal Message).',
  fields: (t) => ({
    role: t.field({ type: MessageRoleEnum, select: { role: true }, resolve: (m) => m.role as MessageRole }),
    content: t.field({
      type: ['JSONObject'],
      description: 'Content parts: { type: "text", text }, { type: "tool_call", … }, { type: "reasoning", … }…',
      select: { content: true },
      resolve: (m) => jsonObjects(m.content) ?? [],
    }),
    text: t.string({
      nullable: true,
      description: 'The text parts joined by blank lines; null when there are none.',
      select: { content: true },
      resolve: (m) => {
        const texts = (jsonObjects(m.content) ?? []).filter((p) => p.type === 'text').map((p) => String(p.text));
        return texts.length ? texts.join('\n\n') : null;
      },
    }),
    agent: t.relation('agent', { nullable: true }),
    batchItemId: t.exposeID('batchItemId', { nullable: true }),
    model: t.exposeString('model', { nullable: true }),
    name: t.exposeString('name', { nullable: true }),
    toolCalls: t.field({
      type: ['JSONObject'],
      nullable: true,
      description: 'OpenAI-style [{ id, type: "function", function: { name, arguments } }].',
      select: { toolCalls: true },
      resolve: (m) => jsonObjects(m.toolCalls),
    }),
    toolCallId: t.exposeString('toolCallId', { nullable: true }),
    toolReturns: t.field({
      type: ['JSONObject'],
      nullable: true,
      description: '[{ status, stdout, stderr, … }].',
      select: { toolReturns: true },
      resolve: (m) => jsonObjects(m.toolReturns),
    }),
    stepId: t.exposeString('stepId', { nullable: true }),
    otid: t.exposeString('otid', { nullable: true, description: 'The id the runtime gave the message offline.' }),
    groupId: t.exposeString('groupId', { nullable: true }),
    senderId: t.exposeString('senderId', { nullable: true }),
    isErr: t.exposeBoolean('isErr', { nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

const batchWhere = (status: readonly JobStatus[] | null | undefined) => jobWhere({ status, jobType: 'BATCH' });

builder.queryFields((t) => ({
  batchRuns: t.prismaConnection({
    type: BatchRun,
    cursor: 'id',
    description: 'Batch runs of your organization, newest first unless ordered otherwise.',
    args: {
      status: t.arg({ type: [JobStatusEnum], description: 'Runs in any of these statuses.' }),
      order: t.arg({ type: OrderDirection, defaultValue: 'DESC', description: 'By creation time.' }),
    },
    resolve: (query, _root, args, ctx) =>
      ctx.db.job.findMany({ ...query, where: batchWhere(args.status), orderBy: jobOrder(args.order === 'ASC' ? 'asc' : 'desc') }),
    totalCount: (_root, args, ctx) => ctx.db.job.count({ where: batchWhere(args.status) }),
  }),
  batchRun: t.prismaField({
    type: BatchRun,
    args: { id: t.arg.id({ required: true }) },
    resolve: async (query, _root, { id }, ctx) => {
      await getBatchRun(ctx.db, String(id));
      return ctx.db.job.findUniqueOrThrow({ ...query, where: { id: String(id) } });
    },
  }),
}));

// ───────────── mutations ─────────────

const BatchRequestInput = builder.inputType('BatchRequestInput', {
  fields: (t) => ({
    agentId: t.id({ required: true }),
    request: t.field({ type: 'JSONObject', description: 'The request as the runtime sends it (Letta’s LettaBatchRequest), kept on the item.' }),
  }),
});

const CreateBatchRunInput = builder.inputType('CreateBatchRunInput', {
  fields: (t) => ({
    requests: t.field({ type: [BatchRequestInput], required: true, description: 'One per agent.' }),
    callbackUrl: t.string({ description: 'An http(s) URL POSTed the batch job as JSON when it ends.' }),
    metadata: t.field({ type: 'JSONObject' }),
  }),
});

const MessageInput = builder.inputType('BatchMessageInput', {
  description: 'A message as a runtime reports it. Give agentId or batchItemId (or both, consistently).',
  fields: (t) => ({
    role: t.field({ type: MessageRoleEnum, required: true }),
    content: t.field({ type: ['JSONObject'], required: true, description: 'Content parts, each with a "type"; text parts need a "text".' }),
    agentId: t.id(),
    batchItemId: t.id(),
    model: t.string(),
    name: t.string(),
    toolCalls: t.field({ type: ['JSONObject'] }),
    toolCallId: t.string(),
    toolReturns: t.field({ type: ['JSONObject'] }),
    stepId: t.string(),
    otid: t.string(),
    groupId: t.string(),
    senderId: t.string(),
    isErr: t.boolean(),
  }),
});

const CreateBatchRunPayload = builder.objectRef<{ batchRunId: string }>('CreateBatchRunPayload').implement({
  fields: (t) => ({
    batchRun: t.prismaField({
      type: BatchRun,
      resolve: (query, p, _args, ctx) => ctx.db.job.findUniqueOrThrow({ ...query, where: { id: p.batchRunId } }),
    }),
  }),
});

const AppendBatchMessagesPayload = builder.objectRef<{ batchRunId: string; messageIds: string[] }>('AppendBatchMessagesPayload').implement({
  fields: (t) => ({
    batchRun: t.prismaField({
      type: BatchRun,
      resolve: (query, p, _args, ctx) => ctx.db.job.findUniqueOrThrow({ ...query, where: { id: p.batchRunId } }),
    }),
    messages: t.prismaField({
      type: ['Message'],
      description: 'The messages appended, in order.',
      resolve: (query, p, _args, ctx) =>
        ctx.db.message.findMany({ ...query, where: { id: { in: p.messageIds } }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] }),
    }),
  }),
});

builder.mutationFields((t) => ({
  createBatchRun: t.field({
    type: CreateBatchRunPayload,
    description: 'Records a batch an agent runtime has started: a RUNNING batch job with one item per agent request.',
    args: { input: t.arg({ type: CreateBatchRunInput, required: true }) },
    resolve: async (_root, { input }, ctx) => {
      const batch = await createBatchRun(ctx.db, ctx.actor, { ...input, requests: input.requests.map((r) => ({ ...r, agentId: String(r.agentId) })) });
      return { batchRunId: batch.id };
    },
  }),
  appendBatchMessages: t.field({
    type: AppendBatchMessagesPayload,
    description: 'Appends messages a runtime reports for an active batch run, in the given order.',
    args: {
      batchRunId: t.arg.id({ required: true }),
      messages: t.arg({ type: [MessageInput], required: true }),
    },
    resolve: async (_root, { batchRunId, messages }, ctx) => {
      const created = await appendBatchMessages(
        ctx.db,
        ctx.actor,
        String(batchRunId),
        messages.map((m) => ({ ...m, agentId: m.agentId == null ? null : String(m.agentId), batchItemId: m.batchItemId == null ? null : String(m.batchItemId) })),
      );
      return { batchRunId: String(batchRunId), messageIds: created.map((m) => m.id) };
    },
  }),
}));
