import type { Context } from '../context.js';
import type { WatchScope } from '../domain/watch.js';
import { builder } from './builder.js';

/**
 * Live status over graphql-ws (`ws://…/graphql`) and SSE (`accept: text/event-stream`): the root type, and what each
 * domain's subscription fields share (they live with the domain: jobs.ts, files.ts, runs.ts). Every event type
 * resolves from the event itself — no database read per subscriber — except its `job`/`file`/`run` field,
 * which loads the whole object when asked for.
 */

builder.subscriptionType({
  description:
    'Each subscription first sends the current state, then every change. Single-object subscriptions complete after a terminal state. ' +
    'Limits: SUBSCRIPTIONS_PER_CONNECTION and SUBSCRIPTIONS_PER_ORGANIZATION (RATE_LIMITED past them).',
});

/** What a subscription watches with: the caller's scoped client and organization, and the subscription limits. */
export const watchScope = (ctx: Context): WatchScope => ({
  db: ctx.db,
  organizationId: ctx.actor.organizationId,
  registry: ctx.subscriptions.registry,
  connection: ctx.subscriptions.connection,
  hub: ctx.subscriptions.hub,
});

/** An event's ISO time as a DateTime. */
export const at = (iso: string) => new Date(iso);
/** The description of an event's field that reads the whole object. */
export const LAZY = 'Read from the database when selected; with many subscribers, prefer the event’s own fields.';
