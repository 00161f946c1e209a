import type { Server, ServerOptions } from 'node:http';

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

export function applyConnectionCap(server: Server, limits: ConnectionLimits) {
  server.maxConnections = limits.maxConnections;
}
