import type { Actor, Authenticator } from './core/auth.js';
import type { Logger } from './core/logger.js';
import type { EmbeddingCatalog } from './domain/embedding-config.js';
import type { PrismaClient } from './generated/prisma/client.js';

/** What every resolver gets. `db` is already confined to the actor's organization (core/tenancy.ts). */
export interface Context {
  actor: Actor;
  db: PrismaClient;
  log: Logger;
  /** Embedding providers this server can use, for resolving handles and configs. */
  embeddings: EmbeddingCatalog;
  /** For dropping a revoked key from the authentication cache. */
  authenticator: Authenticator;
  /** Query depth, breadth and complexity limits (GRAPHQL_MAX_*), checked before execution. */
  limits: { depth: number; complexity: number; breadth: number };
}
