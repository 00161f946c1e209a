import type { Actor, Authenticator } from '../core/auth.js';
import type { Database } from '../core/db/index.js';
import type { Logger } from '../core/logger.js';
import { noteOrganization } from '../core/observability.js';
import type { SubscriptionConnection, SubscriptionRegistry } from '../core/subscription-limits.js';
import { ScopedClients } from '../core/tenancy.js';
import { unauthenticated } from '../core/errors.js';
import { OrgReader } from '../domain/reads/org-reader.js';
import type { EmbeddingCatalog } from '../embeddings/config.js';
import type { Embedders } from '../embeddings/index.js';
import type { IngestionService } from '../ingest/worker.js';
import type { CallbackSweeper } from '../domain/callbacks.js';
import type { EventBus } from '../core/events.js';
import type { EventHub } from '../core/live.js';
import type { Context } from '../context.js';
import { toGraphQLError } from './graphql-errors.js';

/** What every caller's context is made from: the process's services, built once in buildApp. */
export interface ContextServices {
  db: Database;
  log: Logger;
  ingest: IngestionService;
  callbacks: CallbackSweeper;
  events: EventBus;
  hub: EventHub;
  embeddings: EmbeddingCatalog;
  embedders: Embedders;
  authenticator: Authenticator;
  registry: SubscriptionRegistry;
  uploads: Context['uploads'];
}

/** The context of an authenticated caller. An HTTP request (SSE included) is a connection of its own; a WebSocket passes its own. */
export type ContextFor = (actor: Actor | undefined, connection?: SubscriptionConnection) => Context;

/** Builds each caller's context: clients and the raw reader bound to the caller's organization, and the shared services. */
export function contextFactory(services: ContextServices): ContextFor {
  const { db, log, ingest, callbacks, events, hub, embeddings, embedders, authenticator, registry, uploads } = services;
  const scopedClients = new ScopedClients(db.prisma);
  const tenants: Context['tenants'] = { for: (organizationId) => scopedClients.for(organizationId), root: db.prisma };
  const transact: Context['transact'] = (fn) => db.withRunner((runner) => runner.transaction(fn));
  return (actor, connection) => {
    if (!actor) throw toGraphQLError(unauthenticated()); // unreachable: the gate answered already
    noteOrganization(actor.organizationId);
    connection ??= registry.connection(actor.apiKeyId);
    return {
      actor,
      db: scopedClients.for(actor.organizationId),
      reader: new OrgReader(db.sql, actor.organizationId),
      tenants,
      log,
      embeddings,
      embedders,
      authenticator,
      ingest,
      callbacks,
      events,
      uploads,
      transact,
      subscriptions: { registry, connection, hub },
    };
  };
}
