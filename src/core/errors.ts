/**
 * Errors with a stable code, raised by the domain layer and translated at the edges: GraphQL puts the code in
 * `extensions.code`, the REST shim maps it to Letta's status and `{"detail": …}` body. Messages are written for
 * the API's user; anything else (a bug, a database failure) is masked as INTERNAL and logged.
 */
export const ERROR_CODES = {
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  BAD_USER_INPUT: 422,
  UNSUPPORTED_MEDIA_TYPE: 415,
  PAYLOAD_TOO_LARGE: 413,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  /** A dependency (Redis, the job queue) is unreachable for now: nothing was changed; try again. */
  SERVICE_UNAVAILABLE: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'AppError';
  }

  get httpStatus(): number {
    return ERROR_CODES[this.code];
  }
}

export const notFound = (type: string, id: string) => new AppError('NOT_FOUND', `${type} ${id} not found`, { id });
export const badInput = (message: string, field?: string) =>
  new AppError('BAD_USER_INPUT', message, field ? { field } : {});
export const conflict = (message: string, field?: string) => new AppError('CONFLICT', message, field ? { field } : {});
export const unauthenticated = (message = 'A valid API key is required (Authorization: Bearer <key> or X-API-Key: <key>)') =>
  new AppError('UNAUTHENTICATED', message);
export const forbidden = (message: string) => new AppError('FORBIDDEN', message);
export const serviceUnavailable = (message: string) => new AppError('SERVICE_UNAVAILABLE', message);

/** PostgreSQL's refusals of text holding NUL (22021 in text columns, 22P05 in jsonb): no column can store it. */
const NUL_IN_TEXT = new Set(['22021', '22P05']);

/**
 * Prisma's known request errors as domain errors: P2002 unique violation, P2025 missing record; and text holding
 * NUL, from Prisma or from raw SQL, is the client's input (BAD_USER_INPUT), whatever field it came in.
 */
export function fromPrismaError(error: unknown): AppError | null {
  const e = error as { code?: string; meta?: { target?: unknown; modelName?: string; driverAdapterError?: { cause?: { originalCode?: string } } } };
  if (NUL_IN_TEXT.has(e?.meta?.driverAdapterError?.cause?.originalCode ?? e?.code ?? '')) {
    return badInput('Text must not contain NUL characters (U+0000)');
  }
  if (typeof e?.code !== 'string' || !e.code.startsWith('P')) return null;
  if (e.code === 'P2002') {
    const target = Array.isArray(e.meta?.target) ? e.meta.target.join(', ') : String(e.meta?.target ?? 'a unique field');
    return conflict(`A ${e.meta?.modelName ?? 'record'} with the same ${target} already exists`);
  }
  if (e.code === 'P2025') return new AppError('NOT_FOUND', `${e.meta?.modelName ?? 'Record'} not found`);
  return null;
}
