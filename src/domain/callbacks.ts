import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { badInput } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { outboundFetch, OutboundRefusedError, type AddressAllowList } from '../core/outbound.js';
import { Prisma, type Job, type PrismaClient } from '../generated/prisma/client.js';

/**
 * Callbacks: when a job with a callback URL ends, Quarry POSTs a JSON body to that URL and records the outcome.
 *
 * Durable: the delivery is a `CallbackDelivery` row, written by a trigger on "Job" in the transaction that ends the
 * job (whichever code ends it: a worker, a cancel, a sweep), holding the job as it ended. The process that ended the
 * job claims the row at once and delivers it; every process that runs a sweeper (`CallbackSweeper.start`: the server and
 * `npm run worker`) also claims, every CALLBACK_SWEEP_MS, rows whose claim has lapsed — a process that stopped or
 * died mid-delivery — so a restart resumes what was pending. A claim is one atomic UPDATE (`FOR UPDATE SKIP LOCKED`
 * when sweeping) that sets `lockedBy`/`lockedUntil`, and holds through the wait before a retry, so with several
 * replicas a delivery is never sent by two processes at once.
 *
 * Delivery goes through the guarded outbound client (core/outbound.ts): a URL whose host resolves only to loopback,
 * private, link-local, metadata or other non-public addresses is refused without any connection, unless the
 * operator's allow-list (CALLBACK_ALLOW_PRIVATE) names the range; redirects are never followed (as in Letta). Each
 * attempt has a timeout; network errors, timeouts, 408, 429 and 5xx are retried with exponential backoff (with
 * jitter), any other answer ends the delivery. Each attempt is recorded on the row (attempts, next attempt time, last
 * error). A process that stops interrupts its attempts and releases their rows for the next start.
 *
 * The recorded outcome says no more than delivered, refused or failed (see CALLBACK_REFUSED, CALLBACK_FAILED):
 * a status code, a timeout or an error like ECONNREFUSED from the receiver would turn callbacks into a scanner
 * of whatever the server can reach. The details go to the server's log.
 */

export interface CallbackOptions {
  /** Attempts in all, the first one included. */
  attempts: number;
  /** Wait before the first retry; it doubles after each failed attempt, up to maxDelayMs. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** Per attempt, until the response headers arrive. */
  timeoutMs: number;
  /** Non-public address ranges callbacks may reach (CALLBACK_ALLOW_PRIVATE); empty: none. */
  allowPrivate: AddressAllowList;
  /** How long a claim holds a delivery beyond its next attempt; a claim that lapsed may be taken by any process. */
  leaseMs: number;
  /** How often a started sweeper looks for deliveries nobody holds. */
  sweepMs: number;
  log?: Logger;
}

/** The recorded error when the URL does not lead to an allowed address (nothing was sent). */
export const CALLBACK_REFUSED = 'Refused: the callback URL does not lead to an allowed address';
/** The recorded error when the receiver did not accept the delivery, whatever the reason. */
export const CALLBACK_FAILED = 'Failed: the callback was not delivered';

const DEFAULTS: CallbackOptions = { attempts: 5, baseDelayMs: 1000, maxDelayMs: 30_000, timeoutMs: 5000, allowPrivate: [], leaseMs: 60_000, sweepMs: 5000 };

/** The callback settings of a process's configuration, the same in the server and in `npm run worker`. */
export function callbackSettings(
  config: { CALLBACK_ATTEMPTS: number; CALLBACK_TIMEOUT_MS: number; CALLBACK_ALLOW_PRIVATE: AddressAllowList; CALLBACK_LEASE_MS?: number; CALLBACK_SWEEP_MS?: number },
  log?: Logger,
): Partial<CallbackOptions> {
  const settings: Partial<CallbackOptions> = { attempts: config.CALLBACK_ATTEMPTS, timeoutMs: config.CALLBACK_TIMEOUT_MS, allowPrivate: config.CALLBACK_ALLOW_PRIVATE, log };
  if (config.CALLBACK_LEASE_MS != null) settings.leaseMs = config.CALLBACK_LEASE_MS;
  if (config.CALLBACK_SWEEP_MS != null) settings.sweepMs = config.CALLBACK_SWEEP_MS;
  return settings;
}
const URL_MAX = 2048;

/** Validates a callback URL as given by a client: an absolute http(s) URL without credentials. */
export function checkCallbackUrl(value: string, field = 'callbackUrl'): string {
  const trimmed = value.trim();
  let url: URL;
  try {
    url = new URL(trimmed);
  } catch {
    throw badInput(`${field} must be an absolute http(s) URL, got "${value}"`, field);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw badInput(`${field} must use http or https, not ${url.protocol.slice(0, -1)}`, field);
  }
  // fetch refuses URLs with credentials, so such a callback could never be delivered.
  if (url.username || url.password) throw badInput(`${field} must not contain a user name or password`, field);
  if (trimmed.length > URL_MAX) throw badInput(`${field} must be at most ${URL_MAX} characters`, field);
  return trimmed;
}


const retryable = (status: number) => status === 408 || status === 429 || status >= 500;

/** A delivery row as claimed (raw SQL: the sweeper works across organizations and on the rows' own columns). */
interface DeliveryRow {
  id: string;
  organizationId: string;
  jobId: string | null;
  url: string;
  snapshot: Record<string, unknown>;
  attempts: number;
}

/** What one attempt came to: the row's next state, and for the job the final outcome once there is one. */
interface AttemptResult {
  status: 'DELIVERED' | 'REFUSED' | 'FAILED';
  statusCode: number | null;
  retry: boolean;
  sentAt: Date;
}

const CLAIMED = Prisma.sql`id, "organizationId", "jobId", url, snapshot, attempts`;

export class CallbackSweeper {
  /** Names this process's claims. */
  readonly workerId = `callbacks-${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  private readonly pending = new Set<Promise<void>>();
  private stopping = new AbortController();
  private db: PrismaClient | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(public options: CallbackOptions) {}

  /** Starts sweeping `db` (unscoped: every organization) for deliveries nobody holds. */
  start(db: PrismaClient): void {
    this.db = db;
    this.timer ??= setInterval(() => void this.sweep(), this.options.sweepMs);
    this.timer.unref();
    void this.sweep();
  }

  /** Claims the deliveries of a job that just ended and delivers them in the background. Returns at once. */
  deliverJob(db: PrismaClient, job: Pick<Job, 'id' | 'organizationId'>): void {
    if (this.stopping.signal.aborted) return;
    this.track(
      this.claim(db, Prisma.sql`
        SELECT id FROM "CallbackDelivery" WHERE "jobId" = ${job.id} AND "organizationId" = ${job.organizationId}
           AND status = 'PENDING' AND "lockedUntil" IS NULL FOR UPDATE SKIP LOCKED`).then((rows) => this.runAll(db, rows)),
    );
  }

  /** One pass: claims due deliveries whose claim lapsed (or that nobody claimed within a lease) and delivers them. */
  async sweep(): Promise<void> {
    const db = this.db;
    if (!db || this.stopping.signal.aborted) return;
    const lease = this.options.leaseMs;
    const sweep = this.claim(db, Prisma.sql`
      SELECT id FROM "CallbackDelivery"
       WHERE status = 'PENDING' AND "nextAttemptAt" <= now()
         AND COALESCE("lockedUntil", "createdAt" + make_interval(secs => ${lease / 1000}::float8)) < now()
       ORDER BY "nextAttemptAt" LIMIT 50 FOR UPDATE SKIP LOCKED`).then((rows) => this.runAll(db, rows));
    await this.track(sweep); // a failed pass is logged, and the next one tries again: it never ends the process
  }

  /** Resolves once every delivery started so far (and any started meanwhile) has ended or been released. */
  async idle(): Promise<void> {
    while (this.pending.size) await Promise.allSettled([...this.pending]);
  }

  /** Stops sweeping, interrupts attempts and waits between retries, and releases their rows for the next start. */
  async stop(): Promise<void> {
    this.stopping.abort();
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.idle();
    // Usable again, with the same settings, as when one process opens several apps in turn (tests).
    this.stopping = new AbortController();
    this.db = null;
  }

  /** Changes the settings; deliveries under way use them from their next attempt. */
  configure(changes: Partial<CallbackOptions>): void {
    this.options = { ...this.options, ...changes };
  }

  /** Tracks `work` until it ends; the returned promise never rejects (a failure is logged). */
  private track(work: Promise<void>): Promise<void> {
    const tracked = work
      .catch((err: unknown) => this.options.log?.error({ err }, 'callback deliveries could not be claimed or recorded'))
      .finally(() => this.pending.delete(tracked));
    this.pending.add(tracked);
    return tracked;
  }

  /** Claims the rows `ids` selects, in one statement: a row is held by one process at a time. */
  private claim(db: PrismaClient, ids: Prisma.Sql): Promise<DeliveryRow[]> {
    // Long enough for an attempt (its timeout) and the recording after it: a claim never lapses mid-attempt.
    const until = Prisma.sql`now() + make_interval(secs => ${(this.options.timeoutMs + this.options.leaseMs) / 1000}::float8)`;
    return db.$queryRaw<DeliveryRow[]>`
      UPDATE "CallbackDelivery" SET "lockedBy" = ${this.workerId}, "lockedUntil" = ${until}, "updatedAt" = now()
       WHERE id IN (${ids}) RETURNING ${CLAIMED}`;
  }

  private async runAll(db: PrismaClient, rows: DeliveryRow[]): Promise<void> {
    await Promise.all(rows.map((row) => this.run(db, row)));
  }

  /** Attempts a claimed delivery until it ends, recording each attempt; waits between retries hold the claim. */
  private async run(db: PrismaClient, row: DeliveryRow): Promise<void> {
    const body = JSON.stringify(jobCallbackBody(jobOfSnapshot(row.snapshot)));
    for (let attempts = row.attempts + 1; ; attempts++) {
      const result = await this.attempt(row.url, body, attempts);
      const interrupted = this.stopping.signal.aborted;
      const final = !interrupted && (!result.retry || attempts >= this.options.attempts);
      const delay = final || interrupted ? 0 : this.backoff(attempts);
      const kept = await this.record(db, row, attempts, result, final, delay);
      if (final && row.jobId) await this.recordOnJob(db, row, result);
      if (final || interrupted || !kept) return;
      await sleep(delay, undefined, { signal: this.stopping.signal }).catch(() => {});
      if (this.stopping.signal.aborted) return void (await this.release(db, row));
    }
  }

  private backoff(attempts: number): number {
    const delay = Math.min(this.options.maxDelayMs, this.options.baseDelayMs * 2 ** (attempts - 1));
    // Jitter spreads the retries of many jobs that failed together.
    return Math.round(delay / 2 + (Math.random() * delay) / 2);
  }

  /** Writes the attempt on the row, only while this process still holds it; false when it no longer does. */
  private async record(db: PrismaClient, row: DeliveryRow, attempts: number, result: AttemptResult, final: boolean, delayMs: number): Promise<boolean> {
    const status = final ? result.status : 'PENDING';
    const error = result.status === 'DELIVERED' ? null : result.status === 'REFUSED' ? CALLBACK_REFUSED : CALLBACK_FAILED;
    // Held through the wait, so no other process retries it meanwhile; released when it ends or the process stops.
    const holds = !final && !this.stopping.signal.aborted;
    const holdMs = delayMs + this.options.timeoutMs + this.options.leaseMs;
    const lockedUntil = holds ? Prisma.sql`now() + make_interval(secs => ${holdMs / 1000}::float8)` : Prisma.sql`NULL`;
    const updated = await db.$executeRaw`
      UPDATE "CallbackDelivery"
         SET status = ${status}::"CallbackStatus", attempts = ${attempts}, "lastAttemptAt" = ${result.sentAt},
             "lastError" = ${error}, "lastStatusCode" = ${result.statusCode},
             "nextAttemptAt" = now() + make_interval(secs => ${delayMs / 1000}::float8),
             "lockedBy" = ${holds ? this.workerId : null}, "lockedUntil" = ${lockedUntil}, "updatedAt" = now()
       WHERE id = ${row.id} AND "organizationId" = ${row.organizationId} AND "lockedBy" = ${this.workerId}`;
    return updated > 0;
  }

  private async release(db: PrismaClient, row: DeliveryRow): Promise<void> {
    await db.$executeRaw`
      UPDATE "CallbackDelivery" SET "lockedBy" = NULL, "lockedUntil" = NULL, "nextAttemptAt" = now(), "updatedAt" = now()
       WHERE id = ${row.id} AND "organizationId" = ${row.organizationId} AND "lockedBy" = ${this.workerId}`;
  }

  /** The job's own callback fields (Letta's): the final outcome. A job deleted meanwhile records nothing. */
  private async recordOnJob(db: PrismaClient, row: DeliveryRow, result: AttemptResult): Promise<void> {
    const error = result.status === 'DELIVERED' ? null : result.status === 'REFUSED' ? CALLBACK_REFUSED : CALLBACK_FAILED;
    await db.$executeRaw`
      UPDATE "Job" SET "callbackSentAt" = ${result.sentAt}, "callbackStatusCode" = ${result.statusCode}, "callbackError" = ${error}
       WHERE id = ${row.jobId} AND "organizationId" = ${row.organizationId}`;
  }

  private async attempt(url: string, body: string, attempt: number): Promise<AttemptResult> {
    const sentAt = new Date();
    const { timeoutMs, allowPrivate, log } = this.options;
    const failed = (reason: string, retry: boolean): AttemptResult => {
      log?.warn({ url, attempt, reason }, 'callback not delivered');
      return { status: 'FAILED', statusCode: null, retry, sentAt };
    };
    try {
      const response = await outboundFetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'Quarry-Callback/1' },
        body,
        timeoutMs,
        signal: this.stopping.signal,
        policy: { allowPrivate },
      });
      await response.body?.cancel();
      if (response.ok) return { status: 'DELIVERED', statusCode: response.status, retry: false, sentAt };
      return failed(`the receiver answered HTTP ${response.status}`, retryable(response.status));
    } catch (err) {
      if (err instanceof OutboundRefusedError) {
        log?.warn({ url, reason: err.message }, 'callback refused');
        return { status: 'REFUSED', statusCode: null, retry: false, sentAt };
      }
      const e = err as Error & { cause?: { message?: string } };
      const reason = this.stopping.signal.aborted
        ? 'interrupted: the process is stopping'
        : e.name === 'TimeoutError'
          ? `no answer within ${timeoutMs} ms`
          : (e.cause?.message ?? e.message);
      return failed(reason, true);
    }
  }
}

/** A process's sweeper, made by its entry point with its settings and passed down (it sweeps only once started). */
export function createCallbacks(settings: Partial<CallbackOptions> = {}): CallbackSweeper {
  return new CallbackSweeper({ ...DEFAULTS, ...settings });
}

/** The job as the trigger stored it (to_jsonb of the row): timestamps as strings, counts as numbers. */
function jobOfSnapshot(snapshot: Record<string, unknown>): Job {
  const date = (key: string) => (snapshot[key] == null ? null : new Date(snapshot[key] as string));
  return {
    ...(snapshot as unknown as Job),
    createdAt: date('createdAt')!,
    updatedAt: date('updatedAt')!,
    completedAt: date('completedAt'),
    callbackSentAt: date('callbackSentAt'),
    heartbeatAt: date('heartbeatAt'),
    cancelRequestedAt: date('cancelRequestedAt'),
  };
}

const iso = (date: Date | null) => date?.toISOString() ?? null;

/**
 * The body POSTed when a job ends: the job in Letta's Job shape (snake_case keys, lowercase status and job_type,
 * ISO-8601 UTC timestamps, nanosecond counts as numbers) plus Quarry's `source_id` and `file_id`, and `job_id`,
 * the key of Letta's own callback body `{job_id, status, completed_at, metadata}`, so receivers written for
 * Letta keep working. The callback_* fields describe the previous delivery, if any.
 */
export function jobCallbackBody(job: Job) {
  return {
    job_id: job.id,
    id: job.id,
    status: job.status.toLowerCase(),
    job_type: job.jobType.toLowerCase(),
    metadata: job.metadata,
    stop_reason: job.stopReason,
    background: job.background,
    agent_id: job.agentId,
    source_id: job.sourceId,
    file_id: job.fileId,
    user_id: job.userId,
    callback_url: job.callbackUrl,
    callback_sent_at: iso(job.callbackSentAt),
    callback_status_code: job.callbackStatusCode,
    callback_error: job.callbackError,
    ttft_ns: job.ttftNs === null ? null : Number(job.ttftNs),
    total_duration_ns: job.totalDurationNs === null ? null : Number(job.totalDurationNs),
    created_by_id: job.createdById,
    created_at: iso(job.createdAt),
    updated_at: iso(job.updatedAt),
    completed_at: iso(job.completedAt),
  };
}

/**
 * Delivers the callback of a job that just ended, if it has one: its row was written with the ending (a trigger on
 * "Job"); this process claims it at once. `db` may be tenant-scoped or not: the statements name the organization.
 */
export function dispatchJobCallback(db: PrismaClient, job: Job, { callbacks }: { callbacks: CallbackSweeper }): void {
  if (!job.callbackUrl) return;
  callbacks.deliverJob(db, job);
}
