import { z } from 'zod';
import { AppError } from '../../core/errors.js';
import { cancelJob, deleteJob, getJob, jobWhere } from '../../domain/jobs.js';
import type { Job as JobRow, JobStatus } from '../../generated/prisma/client.js';
import { BY_CREATION, page } from '../pages.js';
import { route, type Route } from '../route.js';
import { idOf, q } from '../validation.js';
import { describe, direction, listParams } from './common.js';
import * as jobsJson from '../json/jobs.js';

/**
 * `/v1/jobs`: background jobs of type `job` (Letta lists runs and batches elsewhere). Jobs are your
 * organization's, as everything in Quarry (Letta scopes them to the user who created them).
 */

const jobStatus = (status: (typeof jobsJson.JOB_STATUSES)[number]) => status.toUpperCase() as JobStatus;

/** A job of type JOB, or NOT_FOUND: runs and batches have their own routes. */
async function getPlainJob(db: Parameters<typeof getJob>[0], id: string) {
  const job = await getJob(db, id, 'job_id');
  if (job.jobType !== 'JOB') throw new AppError('NOT_FOUND', `Job ${id} not found`, { id });
  return job;
}

export function jobRoutes(): Route[] {
  const tags = ['jobs'];
  const byId = z.object({ job_id: idOf('job') });
  return [
    route({
      method: 'GET',
      path: '/jobs',
      operationId: 'list_jobs',
      summary: 'List jobs',
      description: 'Only jobs of type `job` (runs are under /v1/runs, batches under /v1/messages/batches). Default newest first.',
      tags,
      query: z.object({
        ...listParams('job', { limit: 100, order: 'desc' }),
        source_id: describe(idOf('source').optional(), 'Jobs working on this source.'),
        statuses: describe(q.csv(z.enum(jobsJson.JOB_STATUSES)).optional(), 'Jobs in any of these statuses.'),
        active: describe(q.bool().default(false), 'Only jobs not yet ended (created, pending, running).'),
      }),
      response: z.array(jobsJson.Job),
      handler: async ({ ctx, query }) => {
        const where = jobWhere({ jobType: 'JOB', sourceId: query.source_id, status: query.statuses?.map(jobStatus), active: query.active });
        const rows = await page<JobRow>(ctx.db.job, { where, keys: BY_CREATION, type: 'Job' }, { ...query, order: direction(query, 'desc') });
        return rows.map(jobsJson.job);
      },
    }),
    route({
      method: 'GET',
      path: '/jobs/active',
      operationId: 'list_active_jobs',
      summary: 'List jobs not yet ended',
      description: 'Created, pending or running jobs of type `job`; default oldest first, 50 per page.',
      tags,
      deprecated: true,
      query: z.object({ ...listParams('job', { limit: 50, order: 'asc' }), source_id: idOf('source').optional() }),
      response: z.array(jobsJson.Job),
      handler: async ({ ctx, query }) => {
        const where = jobWhere({ jobType: 'JOB', sourceId: query.source_id, active: true });
        const rows = await page<JobRow>(ctx.db.job, { where, keys: BY_CREATION, type: 'Job' }, { ...query, order: direction(query, 'asc') });
        return rows.map(jobsJson.job);
      },
    }),
    route({
      method: 'GET',
      path: '/jobs/{job_id}',
      operationId: 'retrieve_job',
      summary: 'Get a job',
      tags,
      params: byId,
      response: jobsJson.Job,
      handler: async ({ ctx, params }) => jobsJson.job(await getPlainJob(ctx.db, params.job_id)),
    }),
    route({
      method: 'PATCH',
      path: '/jobs/{job_id}/cancel',
      operationId: 'cancel_job',
      summary: 'Cancel a job',
      description:
        'Answers the job as the cancel leaves it (Letta declares that too, though its server answers 500 here): a job no worker holds is ' +
        '`cancelled` at once, with `completed_at`; one a worker holds is still `running` with `cancel_requested_at` set, and ends `cancelled` ' +
        'at the worker’s next step; a finished job is answered as it is.',
      tags,
      params: byId,
      response: jobsJson.Job,
      handler: async ({ ctx, params }) => {
        await getPlainJob(ctx.db, params.job_id);
        return jobsJson.job(await cancelJob(ctx.db, params.job_id, ctx));
      },
    }),
    route({
      method: 'DELETE',
      path: '/jobs/{job_id}',
      operationId: 'delete_job',
      summary: 'Delete a job',
      description: 'Answers the job’s last state. An active job is cancelled first (its callback goes out).',
      tags,
      params: byId,
      response: jobsJson.Job,
      handler: async ({ ctx, params }) => {
        await getPlainJob(ctx.db, params.job_id);
        return jobsJson.job(await deleteJob(ctx.db, params.job_id, undefined, ctx));
      },
    }),
  ];
}
