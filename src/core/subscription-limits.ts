import { AppError } from './errors.js';

/**
 * Open subscriptions of one server (one `buildApp`): how many each connection and each organization holds,
 * within SUBSCRIPTIONS_PER_CONNECTION and SUBSCRIPTIONS_PER_ORGANIZATION, and a handle on each so shutdown can
 * complete them. The organization count is per process: each replica enforces it on its own connections.
 */
export interface SubscriptionLimits {
  perConnection: number;
  perOrganization: number;
}

/** One client connection: a WebSocket (any number of operations) or an SSE request (one). */
export interface SubscriptionConnection {
  open: number;
  /** The API key the connection authenticated with: its subscriptions end when the key is revoked. */
  apiKeyId?: string;
}

/** What the registry needs from an open subscription: a way to complete it. */
export interface OpenSubscription {
  /** Completes the subscription: no more events, the client gets `complete` (after `reason` as an error, if given). */
  end(reason?: Error): void;
}

export class SubscriptionRegistry {
  private readonly perOrganization = new Map<string, number>();
  private readonly open = new Map<OpenSubscription, SubscriptionConnection>();
  private drained: (() => void) | null = null;
  private closing = false;

  constructor(readonly limits: SubscriptionLimits) {}

  connection(apiKeyId?: string): SubscriptionConnection {
    return { open: 0, apiKeyId };
  }

  /**
   * Counts a new subscription, or refuses it with RATE_LIMITED past a limit (or while the server stops).
   * Returns the release function; calling it more than once is harmless.
   */
  acquire(connection: SubscriptionConnection, organizationId: string, subscription: OpenSubscription): () => void {
    if (this.closing) throw new AppError('INTERNAL', 'The server is shutting down; subscribe again in a moment');
    if (connection.open >= this.limits.perConnection) {
      throw new AppError('RATE_LIMITED', `At most ${this.limits.perConnection} subscriptions may be open on one connection`, {
        limit: 'connection',
        max: this.limits.perConnection,
      });
    }
    const orgCount = this.perOrganization.get(organizationId) ?? 0;
    if (orgCount >= this.limits.perOrganization) {
      throw new AppError('RATE_LIMITED', `Your organization already has ${orgCount} open subscriptions, the most allowed`, {
        limit: 'organization',
        max: this.limits.perOrganization,
      });
    }
    connection.open++;
    this.perOrganization.set(organizationId, orgCount + 1);
    this.open.set(subscription, connection);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      connection.open--;
      const left = (this.perOrganization.get(organizationId) ?? 1) - 1;
      if (left > 0) this.perOrganization.set(organizationId, left);
      else this.perOrganization.delete(organizationId);
      this.open.delete(subscription);
      if (this.open.size === 0) this.drained?.();
    };
  }

  /** Open subscriptions of an organization on this server. */
  count(organizationId?: string): number {
    return organizationId === undefined ? this.open.size : (this.perOrganization.get(organizationId) ?? 0);
  }

  /** The API keys open subscriptions were made with. */
  keyIds(): Set<string> {
    const ids = new Set<string>();
    for (const connection of this.open.values()) if (connection.apiKeyId) ids.add(connection.apiKeyId);
    return ids;
  }

  /** Ends, with `reason`, every open subscription made with one of these keys. */
  revoke(apiKeyIds: ReadonlySet<string>, reason: Error): void {
    for (const [subscription, connection] of [...this.open]) if (connection.apiKeyId && apiKeyIds.has(connection.apiKeyId)) subscription.end(reason);
  }

  /** Refuses new subscriptions, completes every open one, and resolves once all have let go. */
  async close(): Promise<void> {
    this.closing = true;
    if (this.open.size === 0) return;
    const drained = new Promise<void>((resolve) => (this.drained = resolve));
    for (const subscription of [...this.open.keys()]) subscription.end();
    await drained;
  }
}
