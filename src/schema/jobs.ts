import { queryFromInfo } from '@pothos/plugin-prisma';
import { ACTIVE_JOB_STATUSES, cancelJob, deleteJob, isTerminal, jobOrder, jobWhere, watchJob, watchJobs, type JobFilter } from '../domain/jobs.js';
import { orNotFound, requireId } from '../domain/ids.js';
import { builder, nodeOptions } from './builder.js';
import { OrderDirection } from './sources.js';
import type { JobChange } from '../core/events.js';
import { EVENT_TYPE, READS_BEYOND_EVENT } from '../core/live.js';
import { at, LAZY, watchScope } from './subscriptions.js';

/** Jobs: background work with a life cycle, cancellation and completion callbacks. */

export const JobStatusEnum = builder.enumType('JobStatus', {
  description: `Active: ${ACTIVE_JOB_STATUSES.join(', ')}. Terminal, and final: COMPLETED, FAILED, CANCELLED, EXPIRED.`,
  values: ['CREATED', 'PENDING', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED', 'EXPIRED'] as const,
});

export const JobTypeEnum = builder.enumType('JobType', { values: ['JOB', 'RUN', 'BATCH'] as const });

export const Job = builder.prismaNode('Job', {
  ...nodeOptions,
  fields: (t) => ({
    status: t.expose('status', { type: JobStatusEnum }),
    jobType: t.expose('jobType', { type: JobTypeEnum }),
    task: t.exposeString('task', { nullable: true, description: 'What the job does, e.g. file_processing.' }),
    metadata: t.field({ type: 'JSONObject', nullable: true, select: { metadata: true }, resolve: (j) => j.metadata as Record<string, unknown> | null }),
    progress: t.field({
      type: 'JSONObject',
      nullable: true,
      description: '{ step, done, total } as the worker last reported it.',
      select: { progress: true },
      resolve: (j) => j.progress as Record<string, unknown> | null,
    }),
    stopReason: t.exposeString('stopReason', { nullable: true }),
    background: t.exposeBoolean('background', { nullable: true }),
    source: t.relation('source', { nullable: true, description: 'The source the job works on, if any.' }),
    file: t.relation('file', { nullable: true, description: 'The file the job processes, if any.' }),
    agent: t.relation('agent', { nullable: true }),
    cancelRequestedAt: t.expose('cancelRequestedAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When a cancel was asked for a job a worker held; the worker ends it CANCELLED at its next step.',
    }),
    callbackUrl: t.exposeString('callbackUrl', { nullable: true, description: 'POSTed the job as JSON when it ends.' }),
    callbackSentAt: t.expose('callbackSentAt', { type: 'DateTime', nullable: true, description: 'When the last delivery attempt started.' }),
    callbackStatusCode: t.exposeInt('callbackStatusCode', { nullable: true, description: 'The receiver’s 2xx status once delivered; null otherwise.' }),
    callbackError: t.exposeString('callbackError', { nullable: true, description: 'Null once delivered; otherwise whether it was refused (an address this server does not call) or failed.' }),
    ttftNs: t.float({ nullable: true, description: 'Time to first token, in nanoseconds.', select: { ttftNs: true }, resolve: (j) => (j.ttftNs === null ? null : Number(j.ttftNs)) }),
    totalDurationNs: t.float({ nullable: true, select: { totalDurationNs: true }, resolve: (j) => (j.totalDurationNs === null ? null : Number(j.totalDurationNs)) }),
    createdById: t.exposeString('createdById', { nullable: true }),
    requestId: t.exposeString('requestId', { nullable: true, description: 'The id of the request that created the job (its X-Request-Id header, or the one the server made): find its log lines by it.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    completedAt: t.expose('completedAt', { type: 'DateTime', nullable: true, description: 'Set when the job reaches a terminal status.' }),
  }),
});

const filterOf = (args: { status?: JobFilter['status']; jobType?: JobFilter['jobType']; sourceId?: string | number | null }, active = false): JobFilter => ({
  status: args.status,
  jobType: args.jobType,
  sourceId: args.sourceId == null ? null : String(args.sourceId),
  active,
});

const direction = (order: 'ASC' | 'DESC' | null | undefined) => (order === 'ASC' ? 'asc' : 'desc');

builder.queryFields((t) => ({
  jobs: t.prismaConnection({
    type: 'Job',
    cursor: 'id',
    description: 'Jobs of your organization, of every type unless filtered, newest first unless ordered otherwise.',
    args: {
      status: t.arg({ type: [JobStatusEnum], description: 'Jobs in any of these statuses.' }),
      jobType: t.arg({ type: JobTypeEnum }),
      sourceId: t.arg.id({ description: 'Jobs working on this source.' }),
      order: t.arg({ type: OrderDirection, defaultValue: 'DESC', description: 'By creation time.' }),
    },
    resolve: (query, _root, args, ctx) => ctx.db.job.findMany({ ...query, where: jobWhere(filterOf(args)), orderBy: jobOrder(direction(args.order)) }),
    totalCount: (_root, args, ctx) => ctx.db.job.count({ where: jobWhere(filterOf(args)) }),
  }),
  activeJobs: t.prismaConnection({
    type: 'Job',
    cursor: 'id',
    description: 'Jobs not yet ended (CREATED, PENDING, RUNNING), oldest first unless ordered otherwise (as Letta’s /v1/jobs/active).',
    args: {
      jobType: t.arg({ type: JobTypeEnum }),
      sourceId: t.arg.id({ description: 'Jobs working on this source.' }),
      order: t.arg({ type: OrderDirection, defaultValue: 'ASC', description: 'By creation time.' }),
    },
    resolve: (query, _root, args, ctx) =>
      ctx.db.job.findMany({ ...query, where: jobWhere(filterOf(args, true)), orderBy: jobOrder(direction(args.order)) }),
    totalCount: (_root, args, ctx) => ctx.db.job.count({ where: jobWhere(filterOf(args, true)) }),
  }),
  job: t.prismaField({
    type: 'Job',
    args: { id: t.arg.id({ required: true }) },
    resolve: async (query, _root, { id }, ctx) => {
      // One query: the lookup carries the GraphQL selection.
      const key = requireId('job', String(id), 'id');
      return orNotFound(ctx.db.job.findUnique({ ...query, where: { id: key } }), 'Job', key);
    },
  }),
}));

// ───────────── mutations ─────────────

const CancelJobPayload = builder.objectRef<{ jobId: string }>('CancelJobPayload').implement({
  fields: (t) => ({
    job: t.prismaField({
      type: 'Job',
      resolve: (query, p, _args, ctx) => ctx.db.job.findUniqueOrThrow({ ...query, where: { id: p.jobId } }),
    }),
  }),
});

type DeletedJob = Awaited<ReturnType<typeof deleteJob>>;

const DeleteJobPayload = builder.objectRef<{ id: string; job: DeletedJob }>('DeleteJobPayload').implement({
  fields: (t) => ({
    deletedJobId: t.exposeID('id'),
    job: t.field({ type: Job, description: 'The job’s last state, as it was deleted.', resolve: (p) => p.job }),
  }),
});

builder.mutationFields((t) => ({
  cancelJob: t.field({
    type: CancelJobPayload,
    description:
      'Cancels a job: one no worker holds ends CANCELLED at once; one a worker holds gets cancelRequestedAt and ends CANCELLED at the worker’s next step. A finished job is left as is.',
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, { id }, ctx) => ({ jobId: (await cancelJob(ctx.db, String(id), ctx)).id }),
  }),
  deleteJob: t.field({
    type: DeleteJobPayload,
    description: 'Deletes a job, cancelling it first if it is active, and returns its last state.',
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, { id }, ctx, info) => {
      // The row is gone once the payload resolves, so the selection under `job` is read by the delete itself.
      const { select } = queryFromInfo({ context: ctx, info, path: ['job'], select: { id: true } });
      const job = await deleteJob(ctx.db, String(id), select, ctx);
      return { id: job.id, job };
    },
  }),
}));

// Live job status (subscriptions.ts has the root type).
const JobEvent = builder.objectRef<JobChange>('JobEvent').implement({
  description: 'A job’s state as of `updatedAt`.',
  extensions: EVENT_TYPE,
  fields: (t) => ({
    jobId: t.exposeID('id'),
    status: t.field({ type: JobStatusEnum, resolve: (c) => c.status }),
    terminal: t.boolean({ description: 'COMPLETED, FAILED, CANCELLED or EXPIRED: nothing follows.', resolve: (c) => isTerminal(c.status) }),
    jobType: t.field({ type: JobTypeEnum, resolve: (c) => c.jobType }),
    sourceId: t.exposeID('sourceId', { nullable: true }),
    fileId: t.exposeID('fileId', { nullable: true }),
    agentId: t.exposeID('agentId', { nullable: true }),
    progress: t.field({
      type: 'JSONObject',
      nullable: true,
      description: '{ step, done, total } as the worker last reported it.',
      resolve: (c) => (c.progress ?? null) as Record<string, unknown> | null,
    }),
    stopReason: t.exposeString('stopReason', { nullable: true }),
    updatedAt: t.field({ type: 'DateTime', resolve: (c) => at(c.updatedAt) }),
    job: t.prismaField({
      type: 'Job',
      nullable: true,
      extensions: READS_BEYOND_EVENT,
      description: `The whole job (null once deleted). ${LAZY}`,
      resolve: (query, c, _args, ctx) => ctx.db.job.findUnique({ ...query, where: { id: c.id } }),
    }),
  }),
});

builder.subscriptionFields((t) => ({
  jobUpdated: t.field({
    type: JobEvent,
    description: 'A job’s current state, then each change; completes after a terminal status. NOT_FOUND for an unknown id.',
    args: { id: t.arg.id({ required: true }) },
    subscribe: (_root, { id }, ctx) => watchJob(watchScope(ctx), String(id)),
    resolve: (change) => change,
  }),
  jobsUpdated: t.field({
    type: JobEvent,
    description:
      'Changes of your organization’s jobs that match every filter given: first the matching jobs still active, then each change into a matching state. Never completes on its own.',
    args: {
      sourceId: t.arg.id({ description: 'Jobs working on this source (NOT_FOUND if it does not exist).' }),
      jobType: t.arg({ type: JobTypeEnum }),
      status: t.arg({ type: [JobStatusEnum], description: 'Changes into any of these statuses.' }),
    },
    subscribe: (_root, args, ctx) =>
      watchJobs(watchScope(ctx), { sourceId: args.sourceId == null ? null : String(args.sourceId), jobType: args.jobType, status: args.status }),
    resolve: (change) => change,
  }),
}));
