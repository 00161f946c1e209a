import { pino, type Logger } from 'pino';
import { requestScope } from './request-scope.js';

export type { Logger };

/**
 * Structured JSON logs on stdout (one object per line). A line written while a request is served carries its
 * `requestId` (core/request-scope.ts), whichever module wrote it. `destination` is stdout unless given (tests read the lines).
 */
export function createLogger(level = 'info', destination?: pino.DestinationStream): Logger {
  return pino({
    level,
    base: { service: 'quarry' },
    timestamp: pino.stdTimeFunctions.isoTime,
    mixin: () => {
      const requestId = requestScope.getStore()?.requestId;
      return requestId ? { requestId } : {};
    },
  }, destination);
}
