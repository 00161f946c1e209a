import type { Route } from '../route.js';
import { agentRoutes } from './agents.js';
import { serverRoutes, unsupportedRoutes } from './server.js';
import { batchRoutes } from './batches.js';
import { jobRoutes } from './jobs.js';
import { runRoutes, stepRoutes } from './runs.js';
import { sourceRoutes } from './sources.js';
import { toolRoutes } from './tools.js';

/**
 * Every route of the Letta shim, in matching order: within a resource, static paths come before `/{id}`. The
 * first route whose path and method match serves the request; a path that matches only with another method is
 * a 405.
 */
export function lettaRoutes(): Route[] {
  const routes = [
    ...serverRoutes(),
    ...unsupportedRoutes(),
    ...sourceRoutes('sources'),
    ...sourceRoutes('folders'),
    ...agentRoutes(),
    ...toolRoutes(),
    ...jobRoutes(),
    ...runRoutes(),
    ...stepRoutes(),
    ...batchRoutes(),
  ];
  const seen = new Set<string>();
  for (const r of routes) {
    if (seen.has(r.operationId)) throw new Error(`Duplicate operationId ${r.operationId}`);
    seen.add(r.operationId);
  }
  return routes;
}
