import type { Server, ServerOptions } from 'node:http';
import type { Logger } from './logger.js';

export interface ConnectionLimits {
  /** MAX_CONNECTIONS: sockets past it are closed as they arrive. */
  maxConnections: number;
  /** HEADERS_TIMEOUT_MS: a client that has not sent its request headers by then gets 408 and is disconnected. */
  headersTimeoutMs: number;
  /** REQUEST_TIMEOUT_MS: the same for the whole request, body included (0: no limit). */
  requestTimeoutMs: number;
}

/**
 * Options for `http.createServer`. Node checks both timeouts on a timer (every 30 s by default), so a 10 s header
 * timeout could hold a socket for 40 s: the timer runs often enough for the smaller limit to be kept to about a
 * quarter of itself.
 */
export function serverOptions(limits: ConnectionLimits): ServerOptions {
  const smallest = Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs || Infinity);
  return {
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    connectionsCheckingInterval: Math.max(25, Math.min(30_000, Math.floor(smallest / 4))),
  };
}

/** Caps the server's connections; refused ones are logged, at most once a minute with their count. */
export function applyConnectionCap(server: Server, limits: ConnectionLimits, log: Logger) {
  server.maxConnections = limits.maxConnections;
  let dropped = 0;
  let lastReport = 0;
  server.on('drop', () => {
    dropped++;
    if (Date.now() - lastReport < 60_000) return;
    log.warn({ dropped, maxConnections: limits.maxConnections }, 'connections refused: MAX_CONNECTIONS reached');
    lastReport = Date.now();
    dropped = 0;
  });
}
