import { AsyncLocalStorage } from 'node:async_hooks';
import type { Logger } from 'pino';

/**
 * Which request (HTTP or WebSocket message) the code running now serves. Every entry point of the server runs its
 * work inside `requestScope.run`, so an error that escapes every handler (an unhandled rejection, an exception
 * thrown from a timer or stream callback started for that request) can still be told apart from a failure of the
 * process itself: the first is logged and the server goes on serving everybody else; the second ends the process.
 */

export interface RequestScope {
  kind: 'http' | 'ws';
  method?: string;
  url?: string;
  /** The request's id (its X-Request-Id, or one made for it): on every log line and every job the request creates. */
  requestId?: string;
  /** Set once the caller is authenticated, for the access log. */
  organizationId?: string;
  /** The route template that served the request (`/v1/sources/{source_id}`, `/graphql`…), for the access log and metrics. */
  route?: string;
}

export const requestScope = new AsyncLocalStorage<RequestScope>();

/** The id of the request being served, if any (jobs record it as `requestId`). */
export function currentRequestId(): string | null {
  return requestScope.getStore()?.requestId ?? null;
}

/**
 * What to do with an error no handler caught: one raised inside a request's scope is that request's failure
 * (logged, the process keeps serving); anything else leaves the process in an unknown state and ends it.
 */
export function escapedErrorPolicy(scope: RequestScope | undefined): 'continue' | 'exit' {
  return scope ? 'continue' : 'exit';
}

/**
 * The handler for errors that escaped every handler (see escapedErrorPolicy), as process events call it. `exit`
 * is injectable for tests; it defaults to process.exit.
 */
export function escapedErrorHandler(log: Logger, origin: 'unhandledRejection' | 'uncaughtException', exit: (code: number) => void = (code) => process.exit(code)) {
  return (error: unknown) => {
    const scope = requestScope.getStore();
    if (escapedErrorPolicy(scope) === 'continue') {
      log.error({ err: error, origin, request: scope }, 'an error escaped a request handler; that request failed, the server goes on');
      return;
    }
    log.fatal({ err: error, origin }, 'an error escaped every handler outside any request; exiting');
    exit(1);
  };
}

/** Installs escapedErrorHandler for unhandled rejections and uncaught exceptions; returns what uninstalls them. */
export function installProcessGuards(log: Logger) {
  const onRejection = escapedErrorHandler(log, 'unhandledRejection');
  const onException = escapedErrorHandler(log, 'uncaughtException');
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  return () => {
    process.off('unhandledRejection', onRejection);
    process.off('uncaughtException', onException);
  };
}
