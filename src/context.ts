import type { Actor, Authenticator } from './core/auth.js';
import type { SqlRunner } from './core/db/sql.js';
import type { EventBus } from './core/events.js';
import type { EventHub } from './core/live.js';
import type { Logger } from './core/logger.js';
import type { Tenants } from './core/tenancy.js';
import type { SubscriptionConnection, SubscriptionRegistry } from './core/subscription-limits.js';
import type { CallbackSweeper } from './domain/callbacks.js';
import type { OrgReader } from './domain/reads/org-reader.js';
import type { EmbeddingCatalog } from './embeddings/config.js';
import type { Embedders } from './embeddings/index.js';
import type { IngestionService } from './ingest/worker.js';
import type { PrismaClient } from './generated/prisma/client.js';

/** What every resolver gets. `db` is already confined to the actor's organization (core/tenancy.ts). */
export interface Context {
  actor: Actor;
  db: PrismaClient;
  /** Raw reads for hot paths, bound to the actor's organization like `db` (domain/reads/org-reader.ts). */
  reader: OrgReader;
  log: Logger;
  /** Embedding providers this server can use, for resolving handles and configs. */
  embeddings: EmbeddingCatalog;
  /** Builds embedders for configs, their requests counted in the process's metrics (search embeds its query text). */
  embedders: Embedders;
  /** Other organizations' scoped clients, for server administration only (domain/administration.ts). */
  tenants: Tenants;
  /** For dropping a revoked key from the authentication cache. */
  authenticator: Authenticator;
  /** A raw SQL transaction on the same database, for bulk writes where Prisma's engine costs too much. */
  transact: <T>(fn: (tx: SqlRunner) => Promise<T>) => Promise<T>;
  /** Queues file processing jobs. */
  ingest: IngestionService;
  /** Delivers the callback of a job that ends (the process's sweeper). */
  callbacks: CallbackSweeper;
  /** MAX_UPLOAD_BYTES and MAX_UPLOAD_FILES. */
  uploads: { maxBytes: number; maxFiles: number };
  /** Open subscriptions: this server's registry (limits, shutdown), the caller's connection, and the hub over `events`. */
  subscriptions: { registry: SubscriptionRegistry; connection: SubscriptionConnection; hub: EventHub };
  /** The process's event bus (core/events.ts): domain functions publish state changes on it. */
  events: EventBus;
}
