import { z } from 'zod';
import { doc, named } from '../registry.js';
import type { RunUsage } from '../../domain/runs.js';
import type * as db from '../../generated/prisma/client.js';
import { DateTime, JsonObject, Out, bigintNumber, iso, isoAt, nullable, object } from './common.js';

/**
 * Jobs, runs, their usage and steps in Letta's JSON: the zod schemas of responses and request bodies, then the serializers of
 * Quarry's rows (rest/json/common.ts says how).
 */

export const JOB_STATUSES = ['created', 'running', 'completed', 'failed', 'pending', 'cancelled', 'expired'] as const;
export const RUN_STATUSES = ['created', 'running', 'completed', 'failed', 'cancelled'] as const;

/** The callback's outcome and the timings, as jobs and runs both carry them. */
const CALLBACK_AND_TIMING = {
  callback_url: nullable(z.string()),
  callback_sent_at: nullable(DateTime),
  callback_status_code: nullable(z.number().int()),
  callback_error: nullable(z.string()),
  ttft_ns: nullable(z.number()),
  total_duration_ns: nullable(z.number()),
};

export const Job = named(
  'Job',
  z.object({
    id: z.string(),
    status: z.enum(JOB_STATUSES),
    job_type: z.enum(['job', 'run', 'batch']),
    metadata: nullable(JsonObject),
    completed_at: nullable(DateTime),
    cancel_requested_at: doc(nullable(DateTime), {
      description: 'Quarry: when a cancel was asked of a job a worker holds; it ends `cancelled` at the worker’s next step.',
    }),
    stop_reason: nullable(z.string()),
    background: nullable(z.boolean()),
    agent_id: nullable(z.string()),
    ...CALLBACK_AND_TIMING,
    user_id: nullable(z.string()),
    created_by_id: nullable(z.string()),
    last_updated_by_id: nullable(z.string()),
    created_at: DateTime,
    updated_at: DateTime,
  }),
  'Background work. `metadata` carries the job’s source_id and file_id when it has them, as Letta’s file jobs did.',
);

export const Run = named(
  'Run',
  z.object({
    id: z.string(),
    status: z.enum(RUN_STATUSES),
    job_type: z.literal('run'),
    agent_id: z.string(),
    conversation_id: nullable(z.string()),
    base_template_id: nullable(z.string()),
    background: nullable(z.boolean()),
    metadata: nullable(JsonObject),
    request_config: nullable(JsonObject),
    stop_reason: nullable(z.string()),
    ...CALLBACK_AND_TIMING,
    created_by_id: nullable(z.string()),
    last_updated_by_id: nullable(z.string()),
    created_at: DateTime,
    updated_at: DateTime,
    completed_at: nullable(DateTime),
  }),
  'An agent run as a runtime reported it (Letta 0.12+ shape, with `job_type: "run"` for older clients).',
);

export const UsageStatistics = named(
  'UsageStatistics',
  z.object({
    completion_tokens: z.number().int(),
    prompt_tokens: z.number().int(),
    total_tokens: z.number().int(),
    prompt_tokens_details: nullable(
      z.object({ cached_tokens: nullable(z.number().int()), cache_read_tokens: nullable(z.number().int()), cache_creation_tokens: nullable(z.number().int()) }),
    ),
    completion_tokens_details: nullable(z.object({ reasoning_tokens: nullable(z.number().int()) })),
  }),
  'Tokens summed over the run’s steps; a details object is null until a step reports its figures.',
);

export const Step = named(
  'Step',
  z.object({
    id: z.string(),
    run_id: z.string(),
    agent_id: z.string(),
    model: nullable(z.string()),
    model_handle: nullable(z.string()),
    model_endpoint: z.null(),
    provider_name: nullable(z.string()),
    provider_id: z.null(),
    provider_category: z.null(),
    origin: z.null(),
    context_window_limit: z.null(),
    prompt_tokens: z.number().int(),
    completion_tokens: z.number().int(),
    total_tokens: z.number().int(),
    cached_input_tokens: nullable(z.number().int()),
    cache_write_tokens: nullable(z.number().int()),
    reasoning_tokens: nullable(z.number().int()),
    prompt_tokens_details: nullable(
      z.object({ cached_tokens: nullable(z.number().int()), cache_read_tokens: nullable(z.number().int()), cache_creation_tokens: nullable(z.number().int()) }),
    ),
    completion_tokens_details: nullable(z.object({ reasoning_tokens: nullable(z.number().int()) })),
    stop_reason: nullable(z.string()),
    status: z.null(),
    tags: z.array(z.string()),
    messages: z.array(z.unknown()),
    feedback: z.null(),
    trace_id: z.null(),
    tid: z.null(),
    request_id: z.null(),
    project_id: z.null(),
    error_type: z.null(),
    error_data: z.null(),
  }),
  'One step of a run, as its runtime reported it: the model and the tokens it used. Fields Quarry is never told (status, trace, ' +
    'feedback, provider details) are null; `model_handle` is set when the reported model is a `provider/model` handle.',
);

export function job(row: db.Job): Out<typeof Job> {
  // Letta's file jobs carried their source in metadata (its `source_id` filter reads it there).
  const links = { ...(row.sourceId ? { source_id: row.sourceId } : {}), ...(row.fileId ? { file_id: row.fileId } : {}) };
  const stored = object(row.metadata);
  return {
    id: row.id,
    status: row.status.toLowerCase() as Out<typeof Job>['status'],
    job_type: row.jobType.toLowerCase() as Out<typeof Job>['job_type'],
    metadata: stored || Object.keys(links).length ? { ...links, ...stored } : null,
    completed_at: iso(row.completedAt),
    cancel_requested_at: iso(row.cancelRequestedAt),
    stop_reason: row.stopReason,
    background: row.background,
    agent_id: row.agentId,
    ...callbackAndTiming(row),
    user_id: row.userId,
    created_by_id: row.createdById,
    last_updated_by_id: null,
    created_at: isoAt(row.createdAt),
    updated_at: isoAt(row.updatedAt),
  };
}

/** CALLBACK_AND_TIMING of a job's or a run's row. */
function callbackAndTiming(row: db.Job | db.Run) {
  return {
    callback_url: row.callbackUrl,
    callback_sent_at: iso(row.callbackSentAt),
    callback_status_code: row.callbackStatusCode,
    callback_error: row.callbackError,
    ttft_ns: bigintNumber(row.ttftNs),
    total_duration_ns: bigintNumber(row.totalDurationNs),
  };
}

export function run(row: db.Run): Out<typeof Run> {
  return {
    id: row.id,
    status: row.status.toLowerCase() as Out<typeof Run>['status'],
    job_type: 'run',
    agent_id: row.agentId,
    conversation_id: row.conversationId,
    base_template_id: row.baseTemplateId,
    background: row.background,
    metadata: object(row.metadata),
    request_config: object(row.requestConfig),
    stop_reason: row.stopReason,
    ...callbackAndTiming(row),
    created_by_id: row.createdById,
    last_updated_by_id: null,
    created_at: isoAt(row.createdAt),
    updated_at: isoAt(row.updatedAt),
    completed_at: iso(row.completedAt),
  };
}

export function usage(u: RunUsage): Out<typeof UsageStatistics> {
  return {
    completion_tokens: u.completionTokens,
    prompt_tokens: u.promptTokens,
    total_tokens: u.totalTokens,
    prompt_tokens_details: u.promptTokensDetails && {
      cached_tokens: u.promptTokensDetails.cachedTokens,
      cache_read_tokens: u.promptTokensDetails.cacheReadTokens,
      cache_creation_tokens: u.promptTokensDetails.cacheCreationTokens,
    },
    completion_tokens_details: u.completionTokensDetails && { reasoning_tokens: u.completionTokensDetails.reasoningTokens },
  };
}

export function step(row: db.RunStep & { run: { agentId: string } }): Out<typeof Step> {
  const handle = row.model?.includes('/') ? row.model : null;
  const cacheReported = row.cachedTokens != null || row.cacheReadTokens != null || row.cacheCreationTokens != null;
  return {
    id: row.id,
    run_id: row.runId,
    agent_id: row.run.agentId,
    model: row.model,
    model_handle: handle,
    model_endpoint: null,
    provider_name: handle ? handle.slice(0, handle.indexOf('/')) : null,
    provider_id: null,
    provider_category: null,
    origin: null,
    context_window_limit: null,
    prompt_tokens: row.promptTokens,
    completion_tokens: row.completionTokens,
    total_tokens: row.totalTokens,
    cached_input_tokens: row.cachedTokens ?? row.cacheReadTokens,
    cache_write_tokens: row.cacheCreationTokens,
    reasoning_tokens: row.reasoningTokens,
    prompt_tokens_details: cacheReported
      ? { cached_tokens: row.cachedTokens, cache_read_tokens: row.cacheReadTokens, cache_creation_tokens: row.cacheCreationTokens }
      : null,
    completion_tokens_details: row.reasoningTokens != null ? { reasoning_tokens: row.reasoningTokens } : null,
    stop_reason: row.stopReason,
    status: null,
    tags: [],
    messages: [],
    feedback: null,
    trace_id: null,
    tid: null,
    request_id: null,
    project_id: null,
    error_type: null,
    error_data: null,
  };
}
