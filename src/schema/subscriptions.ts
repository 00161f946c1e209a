import type { Context } from '../context.js';
import type { FileChange, JobChange, RunChange } from '../core/events.js';
import { EVENT_TYPE, READS_BEYOND_EVENT } from '../core/live.js';
import { isTerminal } from '../domain/jobs.js';
import { FINAL_RUN_STATUSES } from '../domain/runs.js';
import { isFinalFileChange, watchFile, watchJob, watchJobs, watchRun, watchSourceFiles, type WatchScope } from '../domain/watch.js';
import { builder } from './builder.js';
import { FileStatusEnum } from './files.js';
import { JobStatusEnum, JobTypeEnum } from './jobs.js';
import { RunStatusEnum } from './runs.js';

/**
 * Live status over graphql-ws (`ws://…/graphql`) and SSE (`accept: text/event-stream`). Every event type
 * resolves from the event itself — no database read per subscriber — except its `job`/`file`/`run` field,
 * which loads the whole object when asked for.
 */

builder.subscriptionType({
  description:
    'Each subscription first sends the current state, then every change. Single-object subscriptions complete after a terminal state. ' +
    'Limits: SUBSCRIPTIONS_PER_CONNECTION and SUBSCRIPTIONS_PER_ORGANIZATION (RATE_LIMITED past them).',
});

const scope = (ctx: Context): WatchScope => ({
  db: ctx.db,
  organizationId: ctx.actor.organizationId,
  registry: ctx.subscriptions.registry,
  connection: ctx.subscriptions.connection,
});

const at = (iso: string) => new Date(iso);
const LAZY = 'Read from the database when selected; with many subscribers, prefer the event’s own fields.';

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

const FileStatusEvent = builder.objectRef<FileChange>('FileStatusEvent').implement({
  description: 'A file’s processing state as of `updatedAt`.',
  extensions: EVENT_TYPE,
  fields: (t) => ({
    fileId: t.exposeID('id'),
    sourceId: t.exposeID('sourceId'),
    status: t.field({ type: FileStatusEnum, resolve: (c) => c.processingStatus }),
    terminal: t.boolean({ description: 'COMPLETED, ERROR or deleted: nothing follows.', resolve: (c) => isFinalFileChange(c) }),
    deleted: t.boolean({ description: 'The file was deleted (or replaced); this is its last event.', resolve: (c) => !c.exists }),
    totalChunks: t.exposeInt('totalChunks', { nullable: true }),
    chunksEmbedded: t.exposeInt('chunksEmbedded', { nullable: true }),
    errorMessage: t.exposeString('errorMessage', { nullable: true }),
    processingNote: t.exposeString('processingNote', { nullable: true }),
    updatedAt: t.field({ type: 'DateTime', resolve: (c) => at(c.updatedAt) }),
    file: t.prismaField({
      type: 'File',
      nullable: true,
      extensions: READS_BEYOND_EVENT,
      description: `The whole file (null once deleted). ${LAZY}`,
      resolve: (query, c, _args, ctx) => ctx.db.file.findUnique({ ...query, where: { id: c.id } }),
    }),
  }),
});

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
  jobUpdated: t.field({
    type: JobEvent,
    description: 'A job’s current state, then each change; completes after a terminal status. NOT_FOUND for an unknown id.',
    args: { id: t.arg.id({ required: true }) },
    subscribe: (_root, { id }, ctx) => watchJob(scope(ctx), String(id)),
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
      watchJobs(scope(ctx), { sourceId: args.sourceId == null ? null : String(args.sourceId), jobType: args.jobType, status: args.status }),
    resolve: (change) => change,
  }),
  fileStatusChanged: t.field({
    type: FileStatusEvent,
    description: 'A file’s current processing state, then each change; completes after COMPLETED, ERROR or deletion. NOT_FOUND for an unknown id.',
    args: { fileId: t.arg.id({ required: true }) },
    subscribe: (_root, { fileId }, ctx) => watchFile(scope(ctx), String(fileId)),
    resolve: (change) => change,
  }),
  sourceFilesChanged: t.field({
    type: FileStatusEvent,
    description:
      'Every file of a source: first each file’s current state (oldest first), then each change, including new uploads and deletions. Never completes on its own. NOT_FOUND for an unknown source.',
    args: { sourceId: t.arg.id({ required: true }) },
    subscribe: (_root, { sourceId }, ctx) => watchSourceFiles(scope(ctx), String(sourceId)),
    resolve: (change) => change,
  }),
  runUpdated: t.field({
    type: RunEvent,
    description: 'A run’s current state, then each step and its end; completes after a final status. NOT_FOUND for an unknown id.',
    args: { id: t.arg.id({ required: true }) },
    subscribe: (_root, { id }, ctx) => watchRun(scope(ctx), String(id)),
    resolve: (change) => change,
  }),
}));
