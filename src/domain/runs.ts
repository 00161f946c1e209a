import type { Actor } from '../core/auth.js';
import { badInput, conflict, notFound } from '../core/errors.js';
import { runChange, type EventBus, type RunChange } from '../core/events.js';
import type { Prisma, PrismaClient, Run, RunStatus, RunStep } from '../generated/prisma/client.js';
import { getAgent } from './agents.js';
import { orNotFound, requireId } from './ids.js';
import { openLiveStream } from '../core/live.js';
import { eventTime, keyed, type WatchScope } from './watch.js';

/**
 * Runs: the units of work agent runtimes report to Quarry, step by step, with the tokens each step used. A run's
 * usage is the sum over its steps; the totals are stored on the run and kept equal to that sum by incrementing
 * them in the transaction that adds each step. `db` is tenant-scoped throughout.
 *
 * Lifecycle: startRun creates the run RUNNING at once (the caller is the runtime already doing the work, so a
 * separate CREATED → RUNNING report would only add a round trip); CREATED exists for Letta's shape. finishRun
 * moves it to COMPLETED, FAILED or CANCELLED, and a terminal run is final: it takes no more steps and cannot be
 * finished again.
 */

export const ACTIVE_RUN_STATUSES: RunStatus[] = ['CREATED', 'RUNNING'];
export const FINAL_RUN_STATUSES = ['COMPLETED', 'FAILED', 'CANCELLED'] as const;
export type FinalRunStatus = (typeof FINAL_RUN_STATUSES)[number];

const INT_MAX = 2 ** 31 - 1;
const TEXT_MAX = 255;

export interface StartRunInput {
  agentId: string;
  metadata?: Record<string, unknown> | null;
  background?: boolean | null;
  conversationId?: string | null;
  /** Letta's request_config ({use_assistant_message, assistant_message_tool_name, …}). */
  requestConfig?: Record<string, unknown> | null;
}

export interface RunStepInput {
  model?: string | null;
  promptTokens?: number | null;
  completionTokens?: number | null;
  /** Defaults to promptTokens + completionTokens. */
  totalTokens?: number | null;
  cachedTokens?: number | null;
  cacheReadTokens?: number | null;
  cacheCreationTokens?: number | null;
  reasoningTokens?: number | null;
  stopReason?: string | null;
  metadata?: Record<string, unknown> | null;
}

export interface FinishRunInput {
  status: string;
  stopReason?: string | null;
}

export interface RunFilter {
  agentId?: string | null;
  statuses?: RunStatus[] | null;
  background?: boolean | null;
  stopReason?: string | null;
}

// ───────────────────────────── validation ─────────────────────────────

function checkObject(value: Record<string, unknown> | null | undefined, field: string): Prisma.InputJsonObject | undefined {
  if (value == null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) throw badInput(`${field} must be a JSON object`, field);
  return value as Prisma.InputJsonObject;
}

function checkText(value: string | null | undefined, field: string): string | null {
  if (value == null) return null;
  const trimmed = value.trim();
  if (!trimmed || trimmed.length > TEXT_MAX) throw badInput(`${field} must be 1 to ${TEXT_MAX} characters`, field);
  return trimmed;
}

function checkTokens(value: number | null | undefined, field: string): number | null {
  if (value == null) return null;
  if (!Number.isInteger(value) || value < 0 || value > INT_MAX) throw badInput(`${field} must be an integer from 0 to ${INT_MAX}`, field);
  return value;
}

// ───────────────────────────── runs ─────────────────────────────

export async function getRun(db: PrismaClient, id: string, field = 'id'): Promise<Run> {
  requireId('run', id, field);
  return orNotFound(db.run.findUnique({ where: { id } }), 'Run', id);
}

/** Prisma filter for `runs(…)`. An agent id of another organization simply matches nothing. */
export function runWhere(filter: RunFilter): Prisma.RunWhereInput {
  const where: Prisma.RunWhereInput = {};
  if (filter.agentId != null) where.agentId = requireId('agent', filter.agentId, 'agentId');
  if (filter.statuses?.length) where.status = { in: filter.statuses };
  if (filter.background != null) where.background = filter.background;
  if (filter.stopReason != null) where.stopReason = filter.stopReason;
  return where;
}

/** Starts a run of an agent of the caller's organization; the run remembers the template the agent was made from. */
export async function startRun(db: PrismaClient, actor: Actor, input: StartRunInput, { events }: { events: EventBus }): Promise<Run> {
  const metadata = checkObject(input.metadata, 'metadata');
  const requestConfig = checkObject(input.requestConfig, 'requestConfig');
  const conversationId = checkText(input.conversationId, 'conversationId');
  const agent = await getAgent(db, actor, input.agentId, 'agentId');
  const run = await db.run.create({
    data: {
      organizationId: actor.organizationId,
      agentId: agent.id,
      status: 'RUNNING',
      background: input.background ?? null,
      metadata,
      requestConfig,
      conversationId,
      baseTemplateId: agent.templateId,
      createdById: actor.userId,
    },
  });
  events.publish('run', run.organizationId, runChange(run));
  return run;
}

/**
 * Records one step of an active run. One UPDATE increments the run's totals and step count and locks the run
 * row, so concurrent steps of a run queue behind each other: each gets the next `seq` (the new step count) and
 * no increment is lost, on PostgreSQL's READ COMMITTED as on PGlite. Detail counters stay null until a step
 * reports them. The update also refuses totals past PostgreSQL's int range, so a huge report is bad input
 * rather than an internal error.
 */
export async function recordRunStep(db: PrismaClient, actor: Actor, runId: string, input: RunStepInput, { events }: { events: EventBus }): Promise<RunStep> {
  requireId('run', runId, 'runId');
  const promptTokens = checkTokens(input.promptTokens, 'promptTokens') ?? 0;
  const completionTokens = checkTokens(input.completionTokens, 'completionTokens') ?? 0;
  const totalTokens = checkTokens(input.totalTokens ?? promptTokens + completionTokens, 'totalTokens')!;
  const cachedTokens = checkTokens(input.cachedTokens, 'cachedTokens');
  const cacheReadTokens = checkTokens(input.cacheReadTokens, 'cacheReadTokens');
  const cacheCreationTokens = checkTokens(input.cacheCreationTokens, 'cacheCreationTokens');
  const reasoningTokens = checkTokens(input.reasoningTokens, 'reasoningTokens');
  const step = {
    model: checkText(input.model, 'model'),
    stopReason: checkText(input.stopReason, 'stopReason'),
    metadata: checkObject(input.metadata, 'metadata'),
    promptTokens,
    completionTokens,
    totalTokens,
    cachedTokens,
    cacheReadTokens,
    cacheCreationTokens,
    reasoningTokens,
  };

  // Raw SQL, so it filters by organization itself. COALESCE(total + n, total, n): a step without a figure leaves
  // the total as it is, and the first step with one starts it.
  const created = await db.$transaction(async (tx) => {
    const [run] = await tx.$queryRaw<Pick<Run, 'agentId' | 'status' | 'stepCount' | 'totalTokens' | 'stopReason' | 'updatedAt'>[]>`
      UPDATE "Run" SET
        "stepCount" = "stepCount" + 1,
        "promptTokens" = "promptTokens" + ${promptTokens}::int,
        "completionTokens" = "completionTokens" + ${completionTokens}::int,
        "totalTokens" = "totalTokens" + ${totalTokens}::int,
        "cachedTokens" = COALESCE("cachedTokens" + ${cachedTokens}::int, "cachedTokens", ${cachedTokens}::int),
        "cacheReadTokens" = COALESCE("cacheReadTokens" + ${cacheReadTokens}::int, "cacheReadTokens", ${cacheReadTokens}::int),
        "cacheCreationTokens" = COALESCE("cacheCreationTokens" + ${cacheCreationTokens}::int, "cacheCreationTokens", ${cacheCreationTokens}::int),
        "reasoningTokens" = COALESCE("reasoningTokens" + ${reasoningTokens}::int, "reasoningTokens", ${reasoningTokens}::int),
        "updatedAt" = now()
      WHERE id = ${runId} AND "organizationId" = ${actor.organizationId} AND status IN ('CREATED', 'RUNNING')
        AND GREATEST(
          "promptTokens"::bigint + ${promptTokens}, "completionTokens"::bigint + ${completionTokens},
          "totalTokens"::bigint + ${totalTokens}, COALESCE("cachedTokens", 0)::bigint + ${cachedTokens ?? 0},
          COALESCE("cacheReadTokens", 0)::bigint + ${cacheReadTokens ?? 0},
          COALESCE("cacheCreationTokens", 0)::bigint + ${cacheCreationTokens ?? 0},
          COALESCE("reasoningTokens", 0)::bigint + ${reasoningTokens ?? 0}
        ) <= ${INT_MAX}
      RETURNING "agentId", status::text AS status, "stepCount", "totalTokens", "stopReason", "updatedAt"`;
    if (!run) return null;
    const created = await tx.runStep.create({ data: { ...step, organizationId: actor.organizationId, runId, seq: run.stepCount } });
    return { created, run };
  });
  if (created) {
    // After the commit, so a subscriber that reads the run on this event sees the step.
    events.publish('run', actor.organizationId, runChange({ ...created.run, id: runId, organizationId: actor.organizationId }));
    return created.created;
  }

  // Nothing was written; say why, outside the transaction (PGlite runs one transaction at a time).
  const run = await getRun(db, runId, 'runId');
  if (!ACTIVE_RUN_STATUSES.includes(run.status)) throw conflict(`Run ${runId} is ${run.status}: a finished run takes no more steps`, 'runId');
  throw badInput(`This step would take run ${runId}'s token totals past ${INT_MAX}`, 'runId');
}

// ───────────────────────────── steps ─────────────────────────────

export interface StepFilter {
  runId?: string | null;
  agentId?: string | null;
  /** Exactly this model, as the runtime reported it. */
  model?: string | null;
  /** Steps recorded at or after this time. */
  startDate?: Date | null;
  /** Steps recorded before this time. */
  endDate?: Date | null;
}

export async function getStep(db: PrismaClient, id: string, field = 'id'): Promise<RunStep & { run: { agentId: string } }> {
  requireId('step', id, field);
  return orNotFound(db.runStep.findUnique({ where: { id }, include: { run: { select: { agentId: true } } } }), 'Step', id);
}

/** Prisma filter for steps. Ids of another organization simply match nothing. */
export function stepWhere(filter: StepFilter): Prisma.RunStepWhereInput {
  const where: Prisma.RunStepWhereInput = {};
  if (filter.runId != null) where.runId = requireId('run', filter.runId, 'runId');
  if (filter.agentId != null) where.run = { agentId: requireId('agent', filter.agentId, 'agentId') };
  if (filter.model != null) where.model = filter.model;
  if (filter.startDate != null || filter.endDate != null) {
    where.createdAt = { ...(filter.startDate ? { gte: filter.startDate } : {}), ...(filter.endDate ? { lt: filter.endDate } : {}) };
  }
  return where;
}

/** Ends an active run with a final status; completedAt is set once, and a finished run stays as it is. */
export async function finishRun(db: PrismaClient, runId: string, input: FinishRunInput, { events }: { events: EventBus }): Promise<Run> {
  requireId('run', runId, 'runId');
  const status = input.status as FinalRunStatus;
  if (!FINAL_RUN_STATUSES.includes(status)) throw badInput(`status must be one of ${FINAL_RUN_STATUSES.join(', ')}`, 'status');
  const stopReason = checkText(input.stopReason, 'stopReason');
  // The status condition makes finishing atomic: of two concurrent finishRun calls exactly one matches.
  const { count } = await db.run.updateMany({
    where: { id: runId, status: { in: ACTIVE_RUN_STATUSES } },
    data: { status, completedAt: new Date(), stopReason: stopReason ?? undefined },
  });
  const run = await getRun(db, runId, 'runId');
  if (count === 0) throw conflict(`Run ${runId} is already ${run.status}`, 'runId');
  events.publish('run', run.organizationId, runChange(run));
  return run;
}

export interface RunUsage {
  stepCount: number;
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  /** Null when no step reported cache figures (Letta's wire shape), else their sums. */
  promptTokensDetails: { cachedTokens: number | null; cacheReadTokens: number | null; cacheCreationTokens: number | null } | null;
  /** Null when no step reported reasoning tokens, else their sum. */
  completionTokensDetails: { reasoningTokens: number | null } | null;
}

export type UsageColumns = Pick<
  Run,
  'stepCount' | 'promptTokens' | 'completionTokens' | 'totalTokens' | 'cachedTokens' | 'cacheReadTokens' | 'cacheCreationTokens' | 'reasoningTokens'
>;

/** A run's usage from its stored totals (the sums over its steps). */
export function runUsage(run: UsageColumns): RunUsage {
  const { cachedTokens, cacheReadTokens, cacheCreationTokens, reasoningTokens } = run;
  const cacheReported = cachedTokens != null || cacheReadTokens != null || cacheCreationTokens != null;
  return {
    stepCount: run.stepCount,
    promptTokens: run.promptTokens,
    completionTokens: run.completionTokens,
    totalTokens: run.totalTokens,
    promptTokensDetails: cacheReported ? { cachedTokens, cacheReadTokens, cacheCreationTokens } : null,
    completionTokensDetails: reasoningTokens != null ? { reasoningTokens } : null,
  };
}

// Watching runs (domain/watch.ts).

const isFinalRun = (c: RunChange) => (FINAL_RUN_STATUSES as readonly string[]).includes(c.status);
/** A run only moves forward (steps accrue, a final status is final), so that orders it whatever the clocks say. */
const runKey = (c: RunChange) => [isFinalRun(c) ? 1 : 0, c.stepCount, eventTime(c.updatedAt)];
export const compareRunChanges = keyed(runKey);

export async function watchRun(scope: WatchScope, id: string): Promise<AsyncIterableIterator<RunChange>> {
  requireId('run', id, 'id');
  return openLiveStream({
    ...scope,
    topic: 'run',
    match: (c) => c.id === id,
    load: async () => {
      const run = await scope.db.run.findUnique({ where: { id } });
      return run ? [runChange(run)] : [];
    },
    onEmpty: () => {
      throw notFound('Run', id);
    },
    compare: compareRunChanges,
    isFinal: isFinalRun,
  });
}
