import type { Authenticator } from './auth.js';
import { AppError } from './errors.js';
import type { Logger } from './logger.js';

/**
 * Revocation reaching open connections. A key is checked when a connection opens; a WebSocket or an SSE stream
 * may then stay open for hours. Every open connection's key is re-checked here: at once on the process where the
 * key was revoked (Authenticator.forget), and on every process each `intervalMs` (one statement for all the keys
 * held open), so a revoke made on any replica, or a key that expired, ends what it holds within that time:
 * subscriptions end with UNAUTHENTICATED, WebSockets close with 4403.
 */

/** Things open on this process that hold keys: WebSockets, subscriptions. */
export interface KeyHolders {
  keyIds(): Iterable<string>;
  /** Ends whatever these keys hold, telling the client `reason`. */
  revoke(apiKeyIds: ReadonlySet<string>, reason: Error): void;
}

export const revokedKeyError = () => new AppError('UNAUTHENTICATED', 'The API key of this connection was revoked or has expired');

/** Open WebSockets and the key each authenticated with. */
export class OpenSockets implements KeyHolders {
  private readonly sockets = new Map<object, { apiKeyId: string; close(reason: Error): void }>();
  private readonly revoked = new WeakSet<object>();

  /** Registers a connection (by any object identifying it) until `remove`. */
  add(connection: object, apiKeyId: string, close: (reason: Error) => void): void {
    this.sockets.set(connection, { apiKeyId, close });
  }

  remove(connection: object): void {
    this.sockets.delete(connection);
  }

  /** Whether this connection's key was found revoked (its socket is closing). */
  isRevoked(connection: object): boolean {
    return this.revoked.has(connection);
  }

  keyIds(): Iterable<string> {
    return new Set([...this.sockets.values()].map((s) => s.apiKeyId));
  }

  revoke(apiKeyIds: ReadonlySet<string>, reason: Error): void {
    for (const [connection, socket] of [...this.sockets]) {
      if (!apiKeyIds.has(socket.apiKeyId)) continue;
      this.sockets.delete(connection);
      this.revoked.add(connection);
      socket.close(reason);
    }
  }
}

export interface RevocationWatchOptions {
  holders: KeyHolders[];
  authenticator: Authenticator;
  /** Of these key ids, those that no longer authenticate. */
  inactive(apiKeyIds: string[]): Promise<string[]>;
  intervalMs: number;
  log: Logger;
}

/** Starts watching; returns the function that stops. */
export function watchRevocations(options: RevocationWatchOptions): () => void {
  const { holders, authenticator, inactive, intervalMs, log } = options;
  const revoke = (ids: ReadonlySet<string>) => {
    if (ids.size === 0) return;
    const reason = revokedKeyError();
    for (const holder of holders) holder.revoke(ids, reason);
  };
  const stopListening = authenticator.onForget(revoke);
  let sweeping = false;
  const sweep = async () => {
    if (sweeping) return;
    const ids = new Set<string>();
    for (const holder of holders) for (const id of holder.keyIds()) ids.add(id);
    if (ids.size === 0) return;
    sweeping = true;
    try {
      const gone = await inactive([...ids]);
      if (gone.length) {
        log.info({ apiKeyIds: gone }, 'closing connections whose API key was revoked or expired');
        // Forgotten by the cache too, so requests with the key stop at once; the listener above closes what it holds.
        authenticator.forget(gone);
      }
    } catch (error) {
      log.warn({ err: error }, 'could not re-check the API keys of open connections');
    } finally {
      sweeping = false;
    }
  };
  const timer = setInterval(() => void sweep(), intervalMs);
  timer.unref();
  return () => {
    clearInterval(timer);
    stopListening();
  };
}
