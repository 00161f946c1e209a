import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { WebSocketServer } from 'ws';
import type { Logger } from '../core/logger.js';

export interface ShutdownParts {
  server: Server;
  wss: WebSocketServer;
  /** Completes open subscriptions (SSE streams end, WebSocket operations get `complete`). */
  completeSubscriptions: () => Promise<void>;
  /** Resolves when every WebSocket operation has sent its `complete`. */
  wsDrained: () => Promise<void>;
  /** Stops background work of the server (the revocation watch). */
  stopWatches: () => void;
  timeoutMs: number;
  log: Logger;
}

/**
 * Stops the server gracefully, once however often called: subscriptions complete first, then new connections are
 * refused and in-flight requests finish, up to the timeout each; what remains is closed. The database stays open.
 */
export function gracefulStop(parts: ShutdownParts): () => Promise<void> {
  const { server, wss, log, timeoutMs } = parts;
  const sockets = new Set<Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  let stopping: Promise<void> | undefined;
  const stop = async () => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // Complete open subscriptions first: WebSocket clients get `complete` for each, SSE streams end cleanly.
    const drained = parts.wsDrained();
    const completed = parts.completeSubscriptions().then(() => drained).then(() => new Promise((resolve) => setImmediate(resolve)));
    const limit = new Promise((resolve) => setTimeout(resolve, timeoutMs).unref());
    await Promise.race([completed, limit]);
    for (const client of wss.clients) client.close(1001, 'Server shutting down');
    wss.close();
    parts.stopWatches();
    server.closeIdleConnections();
    const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), timeoutMs).unref());
    if ((await Promise.race([closed, timeout])) === 'timeout') {
      log.warn({ open: sockets.size }, 'shutdown timeout: closing remaining connections');
      server.closeAllConnections();
      for (const s of sockets) s.destroy();
      await closed;
    }
  };
  return () => (stopping ??= stop());
}
