import { pino, type Logger } from 'pino';

export type { Logger };

/** Structured JSON logs on stdout (one object per line). */
export function createLogger(level = 'info'): Logger {
  return pino({ level, base: { service: 'quarry' }, timestamp: pino.stdTimeFunctions.isoTime });
}
