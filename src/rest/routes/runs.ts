import { z } from 'zod';
import { getRun, getStep, runUsage, runWhere, stepWhere, ACTIVE_RUN_STATUSES } from '../../domain/runs.js';
import type { Prisma, Run as RunRow, RunStatus } from '../../generated/prisma/client.js';
import { BY_CREATION, page } from '../pages.js';
import { route, type Route } from '../route.js';
import { idOf, q } from '../validation.js';
import { describe, direction, listParams } from './common.js';
import * as jobsJson from '../json/jobs.js';

/** `/v1/runs` with their usage and steps, and `/v1/steps`. */

const runStatus = (status: (typeof jobsJson.RUN_STATUSES)[number]) => status.toUpperCase() as RunStatus;
const stepInclude = { run: { select: { agentId: true } } } as const;
type StepRow = Prisma.RunStepGetPayload<{ include: typeof stepInclude }>;

/** Letta's ISO datetimes, with an offset or without one (then UTC). */
const isoDate = (description: string) => describe(z.iso.datetime({ offset: true, local: true }).optional(), description);

export function runRoutes(): Route[] {
  const tags = ['runs'];
  const byId = z.object({ run_id: idOf('run') });
  const agentFilter = {
    agent_id: describe(idOf('agent').optional(), 'Runs of this agent.'),
    agent_ids: describe(q.csv(idOf('agent')).optional(), 'Runs of any of these agents (deprecated).'),
    background: describe(q.bool().optional(), 'Only background (true) or foreground (false) runs.'),
  };
  const agentWhere = (query: { agent_ids?: string[] }): Prisma.RunWhereInput => (query.agent_ids?.length ? { agentId: { in: query.agent_ids } } : {});
  return [
    route({
      method: 'GET',
      path: '/runs',
      operationId: 'list_runs',
      summary: 'List runs',
      description: 'Default newest first.',
      tags,
      query: z.object({
        ...listParams('run', { limit: 100, order: 'desc' }),
        ...agentFilter,
        statuses: describe(q.csv(z.enum(jobsJson.RUN_STATUSES)).optional(), 'Runs in any of these statuses.'),
        stop_reason: z.string().optional(),
        active: describe(q.bool().default(false), 'Only created or running runs.'),
      }),
      response: z.array(jobsJson.Run),
      handler: async ({ ctx, query }) => {
        let statuses = query.statuses?.map(runStatus);
        if (query.active) statuses = ACTIVE_RUN_STATUSES.filter((s) => !statuses?.length || statuses.includes(s));
        const where = { AND: [runWhere({ agentId: query.agent_id, statuses, background: query.background, stopReason: query.stop_reason }), agentWhere(query)] };
        const rows = await page<RunRow>(ctx.db.run, { where, keys: BY_CREATION, type: 'Run' }, { ...query, order: direction(query, 'desc') });
        return rows.map(jobsJson.run);
      },
    }),
    route({
      method: 'GET',
      path: '/runs/active',
      operationId: 'list_active_runs',
      summary: 'List runs not yet ended',
      description: 'Created or running runs, newest first, at most 100.',
      tags,
      deprecated: true,
      query: z.object(agentFilter),
      response: z.array(jobsJson.Run),
      handler: async ({ ctx, query }) => {
        const where = { AND: [runWhere({ agentId: query.agent_id, statuses: ACTIVE_RUN_STATUSES, background: query.background }), agentWhere(query)] };
        const rows = await page<RunRow>(ctx.db.run, { where, keys: BY_CREATION, type: 'Run' }, { limit: 100, order: 'desc' });
        return rows.map(jobsJson.run);
      },
    }),
    route({
      method: 'GET',
      path: '/runs/{run_id}',
      operationId: 'retrieve_run',
      summary: 'Get a run',
      tags,
      params: byId,
      response: jobsJson.Run,
      handler: async ({ ctx, params }) => jobsJson.run(await getRun(ctx.db, params.run_id, 'run_id')),
    }),
    route({
      method: 'GET',
      path: '/runs/{run_id}/steps',
      operationId: 'list_run_steps',
      summary: 'The steps of a run',
      description: 'In the order they were recorded (default newest first); cursors are step ids.',
      tags,
      params: byId,
      query: z.object(listParams('step', { limit: 100, order: 'desc' })),
      response: z.array(jobsJson.Step),
      handler: async ({ ctx, params, query }) => {
        await getRun(ctx.db, params.run_id, 'run_id');
        const rows = await page<StepRow>(
          ctx.db.runStep,
          { where: stepWhere({ runId: params.run_id }), keys: [{ field: 'seq' }, { field: 'id' }], type: 'Step', include: stepInclude },
          { ...query, order: direction(query, 'desc') },
        );
        return rows.map(jobsJson.step);
      },
    }),
    route({
      method: 'GET',
      path: '/runs/{run_id}/usage',
      operationId: 'retrieve_run_usage',
      summary: 'Token usage of a run',
      description: 'Summed over the steps its runtime reported; zeros before the first step.',
      tags,
      params: byId,
      response: jobsJson.UsageStatistics,
      handler: async ({ ctx, params }) => jobsJson.usage(runUsage(await getRun(ctx.db, params.run_id, 'run_id'))),
    }),
  ];
}

export function stepRoutes(): Route[] {
  const tags = ['steps'];
  return [
    route({
      method: 'GET',
      path: '/steps',
      operationId: 'list_steps',
      summary: 'List steps',
      description:
        'Steps of all your runs, default newest first. Quarry keeps no feedback, tags, traces or projects on steps: asking for any ' +
        '(`feedback`, `has_feedback=true`, `tags`, `trace_ids`, `project_id`) matches nothing.',
      tags,
      query: z.object({
        ...listParams('step', { limit: 50, order: 'desc' }),
        agent_id: describe(idOf('agent').optional(), 'Steps of this agent’s runs.'),
        model: describe(z.string().optional(), 'Steps that used exactly this model.'),
        start_date: isoDate('Steps recorded at or after this ISO datetime.'),
        end_date: isoDate('Steps recorded before this ISO datetime.'),
        feedback: z.enum(['positive', 'negative']).optional(),
        has_feedback: q.bool().optional(),
        tags: q.list(z.string()).optional(),
        trace_ids: q.list(z.string()).optional(),
        project_id: z.string().optional(),
      }),
      response: z.array(jobsJson.Step),
      handler: async ({ ctx, query }) => {
        const unknowable = query.feedback !== undefined || query.has_feedback === true || !!query.tags?.length || !!query.trace_ids?.length || query.project_id !== undefined;
        if (unknowable) return [];
        const where = stepWhere({
          agentId: query.agent_id,
          model: query.model,
          startDate: query.start_date ? new Date(query.start_date) : null,
          endDate: query.end_date ? new Date(query.end_date) : null,
        });
        const rows = await page<StepRow>(ctx.db.runStep, { where, keys: BY_CREATION, type: 'Step', include: stepInclude }, { ...query, order: direction(query, 'desc') });
        return rows.map(jobsJson.step);
      },
    }),
    route({
      method: 'GET',
      path: '/steps/{step_id}',
      operationId: 'retrieve_step',
      summary: 'Get a step',
      tags,
      params: z.object({ step_id: idOf('step') }),
      response: jobsJson.Step,
      handler: async ({ ctx, params }) => jobsJson.step(await getStep(ctx.db, params.step_id, 'step_id')),
    }),
  ];
}
