import type { IncomingMessage, ServerResponse } from 'node:http';
import cors from 'cors';

/**
 * The cross-origin policy of every route (GraphQL, SSE, the REST shim): only the origins in CORS_ORIGINS (`*` for
 * any) get CORS headers; with none configured, browsers allow same-origin pages only. Keys travel in headers, never
 * in cookies, so credentials are not allowed cross-origin. Preflights are answered here, before authentication,
 * with or without the headers that let the browser go on.
 *
 * Returns a function that applies the policy and says whether it answered the request (a preflight).
 */
export function corsPolicy(origins: readonly string[]): (req: IncomingMessage, res: ServerResponse) => boolean {
  const middleware = origins.length
    ? cors({ origin: origins.includes('*') ? '*' : [...origins], maxAge: 600, exposedHeaders: ['Retry-After'] })
    : undefined;
  return (req, res) => {
    if (!req.headers.origin) return false;
    const preflight = req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined;
    // With static options `cors` decides synchronously: a preflight is ended before this returns.
    middleware?.(req, res, () => {});
    if (!preflight) return false;
    if (!res.writableEnded) {
      res.writeHead(204, { 'content-length': '0', vary: 'Origin' });
      res.end();
    }
    return true;
  };
}
