import { setTimeout as sleep } from 'node:timers/promises';
import { badInput } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { outboundFetch, OutboundRefusedError, type AddressAllowList } from '../core/outbound.js';
import type { Job, PrismaClient } from '../generated/prisma/client.js';

/**
 * Callbacks: when work with a callback URL ends, Quarry POSTs a JSON body to that URL and records the outcome.
 *
 * Delivery happens in the background — whatever ended the work never waits for the receiver. It goes through the
 * guarded outbound client (core/outbound.ts): a URL whose host resolves only to loopback, private, link-local,
 * metadata or other non-public addresses is refused without any connection, unless the operator's allow-list
 * (CALLBACK_ALLOW_PRIVATE) names the range; redirects are never followed (as in Letta). Each attempt has a
 * timeout; network errors, timeouts, 408, 429 and 5xx are retried with exponential backoff (with jitter), any
 * other answer ends the delivery. Deliveries live in memory: stopping the process interrupts them (recorded as
 * failed) and nothing is redelivered after a restart.
 *
 * The recorded outcome says no more than delivered, refused or failed (see CALLBACK_REFUSED, CALLBACK_FAILED):
 * a status code, a timeout or an error like ECONNREFUSED from the receiver would turn callbacks into a scanner
 * of whatever the server can reach. The details go to the server's log.
 *
 * The module keeps one default dispatcher, created on first use, so domain code can reach it without a context
 * field. `configureCallbacks` tunes it (tests use short delays); every process that ends jobs (the server and
 * `npm run worker`) configures it with `callbackSettings(config)`, and must `await stopCallbacks()` on shutdown,
 * before closing the database, so in-flight deliveries end and record their outcome.
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
  log?: Logger;
}

export interface CallbackOutcome {
  /** When the last attempt started. */
  sentAt: Date;
  /** The receiver's 2xx status once delivered; null otherwise (refused or failed). */
  statusCode: number | null;
  /** Null once delivered; otherwise CALLBACK_REFUSED or CALLBACK_FAILED. */
  error: string | null;
  attempts: number;
}

/** The recorded error when the URL does not lead to an allowed address (nothing was sent). */
export const CALLBACK_REFUSED = 'Refused: the callback URL does not lead to an allowed address';
/** The recorded error when the receiver did not accept the delivery, whatever the reason. */
export const CALLBACK_FAILED = 'Failed: the callback was not delivered';

const DEFAULTS: CallbackOptions = { attempts: 5, baseDelayMs: 1000, maxDelayMs: 30_000, timeoutMs: 5000, allowPrivate: [] };

/** The callback settings of a process's configuration, the same in the server and in `npm run worker`. */
export function callbackSettings(
  config: { CALLBACK_ATTEMPTS: number; CALLBACK_TIMEOUT_MS: number; CALLBACK_ALLOW_PRIVATE: AddressAllowList },
  log?: Logger,
): Partial<CallbackOptions> {
  return { attempts: config.CALLBACK_ATTEMPTS, timeoutMs: config.CALLBACK_TIMEOUT_MS, allowPrivate: config.CALLBACK_ALLOW_PRIVATE, log };
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

export class CallbackDispatcher {
  private readonly pending = new Set<Promise<void>>();
  private readonly stopping = new AbortController();

  constructor(public options: CallbackOptions) {}

  /** Delivers `payload` to `url` in the background and hands the outcome to `record`. Returns at once. */
  dispatch(url: string, payload: unknown, record: (outcome: CallbackOutcome) => Promise<unknown>): void {
    if (this.stopping.signal.aborted) {
      this.options.log?.warn({ url }, 'callback not sent: the server is shutting down');
      return;
    }
    const delivery = this.deliver(url, JSON.stringify(payload))
      .then(record)
      .then(
        () => undefined,
        (err: unknown) => this.options.log?.error({ err, url }, 'callback outcome could not be recorded'),
      )
      .finally(() => this.pending.delete(delivery));
    this.pending.add(delivery);
  }

  /** Resolves once every delivery started so far (and any started meanwhile) has ended and been recorded. */
  async idle(): Promise<void> {
    while (this.pending.size) await Promise.allSettled([...this.pending]);
  }

  /** Refuses new deliveries, interrupts attempts and backoffs in progress, and waits for their outcomes. */
  async stop(): Promise<void> {
    this.stopping.abort();
    await this.idle();
  }

  private async deliver(url: string, body: string): Promise<CallbackOutcome> {
    const { attempts, baseDelayMs, maxDelayMs } = this.options;
    for (let attempt = 1; ; attempt++) {
      const outcome = await this.attempt(url, body, attempt);
      if (!outcome.retry || attempt >= attempts) return outcome.result;
      const delay = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
      // Jitter spreads the retries of many jobs that failed together.
      await sleep(delay / 2 + (Math.random() * delay) / 2, undefined, { signal: this.stopping.signal }).catch(() => {});
      if (this.stopping.signal.aborted) {
        this.options.log?.warn({ url, attempts: attempt }, 'callback retries stopped: the server is shutting down');
        return outcome.result;
      }
    }
  }

  private async attempt(url: string, body: string, attempt: number): Promise<{ result: CallbackOutcome; retry: boolean }> {
    const sentAt = new Date();
    const { timeoutMs, allowPrivate, log } = this.options;
    const failed = (reason: string, retry: boolean) => {
      log?.warn({ url, attempt, reason }, 'callback not delivered');
      return { result: { sentAt, statusCode: null, error: CALLBACK_FAILED, attempts: attempt }, retry: retry && !this.stopping.signal.aborted };
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
      if (response.ok) return { result: { sentAt, statusCode: response.status, error: null, attempts: attempt }, retry: false };
      return failed(`the receiver answered HTTP ${response.status}`, retryable(response.status));
    } catch (err) {
      if (err instanceof OutboundRefusedError) {
        log?.warn({ url, reason: err.message }, 'callback refused');
        return { result: { sentAt, statusCode: null, error: CALLBACK_REFUSED, attempts: attempt }, retry: false };
      }
      const e = err as Error & { cause?: { message?: string } };
      const reason = this.stopping.signal.aborted
        ? 'interrupted: the server shut down'
        : e.name === 'TimeoutError'
          ? `no answer within ${timeoutMs} ms`
          : (e.cause?.message ?? e.message);
      return failed(reason, true);
    }
  }
}

let options: CallbackOptions = DEFAULTS;
let dispatcher: CallbackDispatcher | undefined;

/** The default dispatcher, created on first use. */
export function callbacks(): CallbackDispatcher {
  return (dispatcher ??= new CallbackDispatcher(options));
}

/** Changes the default dispatcher's settings; deliveries under way use them from their next attempt. */
export function configureCallbacks(changes: Partial<CallbackOptions>): void {
  options = { ...options, ...changes };
  if (dispatcher) dispatcher.options = options;
}

/**
 * Stops the default dispatcher (see CallbackDispatcher.stop). A later dispatch starts a fresh one with the same
 * settings, as when one process opens several apps in turn (tests).
 */
export async function stopCallbacks(): Promise<void> {
  const current = dispatcher;
  dispatcher = undefined;
  await current?.stop();
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
 * Sends the job's callback, if it has one, and records the outcome on the job. `db` may be tenant-scoped or not:
 * the write names the organization itself. A job deleted meanwhile simply records nothing.
 */
export function dispatchJobCallback(db: PrismaClient, job: Job): void {
  if (!job.callbackUrl) return;
  callbacks().dispatch(job.callbackUrl, jobCallbackBody(job), (outcome) =>
    db.job.updateMany({
      where: { id: job.id, organizationId: job.organizationId },
      data: { callbackSentAt: outcome.sentAt, callbackStatusCode: outcome.statusCode, callbackError: outcome.error },
    }),
  );
}
