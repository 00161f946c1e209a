import type { Logger } from './logger.js';
import type { QueueDepth } from './metrics.js';
import type { RedisConnections } from './redis.js';

/**
 * The work queue between whoever creates a job (an upload, a re-embedding) and the workers that do it.
 * Embedded: in memory, consumed by the same process. With REDIS_URL: BullMQ, so workers can be separate
 * processes on other machines (`npm run worker`).
 *
 * The queue only says "look at job X". The job's row in the database is the truth: a worker claims it there
 * (compare-and-set), so a message delivered twice, or for a job that was cancelled or already done, is harmless.
 * That is what makes at-least-once delivery safe, and why the queue itself keeps no state worth recovering.
 */
export interface QueuedJob {
  jobId: string;
  organizationId: string;
}

export interface AddOptions {
  delayMs?: number;
  redelivery?: boolean;
}

export type JobHandler = (job: QueuedJob) => Promise<void>;

export interface JobQueue {
  readonly kind: 'memory' | 'redis';
  /**
   * Queues the job, at once or after `delayMs`. A `redelivery` is queued even if an earlier delivery of the same
   * job is still held by the queue (e.g. by a worker that died, or by the delivery asking for a retry).
   */
  add(job: QueuedJob, options?: AddOptions): Promise<void>;
  /** False while jobs cannot be queued (Redis unreachable): callers answer SERVICE_UNAVAILABLE before writing. */
  available(): boolean;
  /** Called each time the queue's connection is back after an outage. */
  onReconnect(listener: () => void): void;
  /** Starts consuming with up to `concurrency` jobs at once. */
  consume(handler: JobHandler, concurrency: number): Promise<void>;
  /** Stops taking new jobs and waits for running handlers to return. */
  close(): Promise<void>;
  /** Jobs waiting, being processed and delayed (metrics); with Redis, across every process of the deployment. */
  depth(): Promise<QueueDepth>;
}

/** Under the deployment's prefix: `<REDIS_PREFIX>:jobs:…`. */
export const QUEUE_NAME = 'jobs';

/** In-process queue: FIFO, deduplicated by job id while queued. */
export class MemoryQueue implements JobQueue {
  readonly kind = 'memory';
  private readonly waiting: QueuedJob[] = [];
  private readonly queued = new Set<string>();
  private readonly running = new Set<Promise<void>>();
  private handler: JobHandler | null = null;
  private concurrency = 1;
  private closed = false;
  private delayed = 0;

  constructor(private readonly log?: Logger) {}

  async depth(): Promise<QueueDepth> {
    return { waiting: this.waiting.length, active: this.running.size, delayed: this.delayed };
  }

  available(): boolean {
    return !this.closed;
  }

  onReconnect(): void {}

  async add(job: QueuedJob, { delayMs = 0 }: AddOptions = {}): Promise<void> {
    if (delayMs > 0) {
      this.delayed++;
      setTimeout(() => {
        this.delayed--;
        void this.add(job);
      }, delayMs).unref();
      return;
    }
    if (this.closed || this.queued.has(job.jobId)) return;
    this.queued.add(job.jobId);
    this.waiting.push(job);
    this.drain();
  }

  async consume(handler: JobHandler, concurrency: number): Promise<void> {
    this.handler = handler;
    this.concurrency = Math.max(1, concurrency);
    this.drain();
  }

  private drain() {
    while (this.handler && !this.closed && this.running.size < this.concurrency && this.waiting.length) {
      const job = this.waiting.shift()!;
      this.queued.delete(job.jobId);
      const run: Promise<void> = this.handler(job)
        .catch((error) => this.log?.error({ err: error, jobId: job.jobId }, 'job handler failed'))
        .finally(() => {
          this.running.delete(run);
          this.drain();
        });
      this.running.add(run);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.waiting.length = 0;
    await Promise.allSettled([...this.running]);
  }
}

/**
 * BullMQ on Redis. Quarry's jobs table already tracks attempts, heartbeats and recovery, so BullMQ delivers
 * and forgets: no BullMQ retries, finished entries removed. The BullMQ job id is Quarry's, so adding a job that
 * is still queued does nothing. The queue's keys live under the deployment's prefix (`<REDIS_PREFIX>:jobs:…`).
 *
 * While Redis is unreachable, `add` fails at once (`available()` says so beforehand); a job whose add failed is
 * added again as soon as the connection is back, and the workers' recovery sweep catches anything else (a job
 * queued before Redis restarted empty, or added by a process that died).
 */
export class RedisQueue implements JobQueue {
  readonly kind = 'redis';
  private queue!: import('bullmq').Queue;
  private worker: import('bullmq').Worker | null = null;
  private bullmq!: typeof import('bullmq');
  private producer!: import('ioredis').Redis;
  private consumer: import('ioredis').Redis | null = null;
  /** Adds that failed while Redis was unreachable, by job id: made again on reconnection. */
  private readonly unqueued = new Map<string, { job: QueuedJob; options: AddOptions }>();
  private readonly reconnectListeners = new Set<() => void>();
  private closed = false;

  private constructor(
    private readonly redis: RedisConnections,
    private readonly log?: Logger,
  ) {}

  static async connect(redis: RedisConnections, log?: Logger): Promise<RedisQueue> {
    const queue = new RedisQueue(redis, log);
    queue.bullmq = await import('bullmq');
    queue.producer = redis.connect('queue', 'queue');
    queue.queue = new queue.bullmq.Queue(QUEUE_NAME, { connection: asBullConnection(queue.producer), prefix: redis.prefix });
    // Connection errors are logged (once per outage) by core/redis; the rest matter.
    queue.queue.on('error', (error) => log?.[queue.producer.status === 'ready' ? 'warn' : 'debug']({ err: error }, 'job queue error'));
    await queue.queue.waitUntilReady();
    // 'ready' after the first one is a reconnection.
    queue.producer.on('ready', () => void queue.reconnected());
    return queue;
  }

  available(): boolean {
    return !this.closed && this.producer.status === 'ready';
  }

  async depth(): Promise<QueueDepth> {
    const counts = await this.queue.getJobCounts('waiting', 'active', 'delayed');
    return { waiting: counts.waiting ?? 0, active: counts.active ?? 0, delayed: counts.delayed ?? 0 };
  }

  onReconnect(listener: () => void): void {
    this.reconnectListeners.add(listener);
  }

  async add(job: QueuedJob, options: AddOptions = {}): Promise<void> {
    const { delayMs = 0, redelivery = false } = options;
    // BullMQ drops an add whose id it still holds (a retry asked for by the active delivery, or the delivery a dead
    // worker held until BullMQ's stall check): a redelivery needs an id of its own.
    const jobId = redelivery ? `${job.jobId}:${Date.now()}:${Math.random().toString(36).slice(2, 8)}` : job.jobId;
    try {
      await this.queue.add('job', job, { jobId, delay: delayMs, removeOnComplete: true, removeOnFail: true, attempts: 1 });
      this.unqueued.delete(job.jobId);
    } catch (error) {
      if (!this.closed && this.unqueued.size < MAX_UNQUEUED) this.unqueued.set(job.jobId, { job, options });
      throw error;
    }
  }

  private async reconnected(): Promise<void> {
    if (this.closed) return;
    const retry = [...this.unqueued.values()];
    if (retry.length) this.log?.info({ count: retry.length }, 'Redis is back: queueing jobs whose queueing failed');
    for (const { job, options } of retry) {
      await this.add(job, options).catch((error: unknown) => this.log?.warn({ err: error, jobId: job.jobId }, 'queueing a job failed again'));
    }
    for (const listener of this.reconnectListeners) listener();
  }

  async consume(handler: JobHandler, concurrency: number): Promise<void> {
    this.consumer = this.redis.connect('worker', 'worker');
    this.worker = new this.bullmq.Worker<QueuedJob>(QUEUE_NAME, (job) => handler(job.data), {
      connection: asBullConnection(this.consumer),
      prefix: this.redis.prefix,
      concurrency: Math.max(1, concurrency),
      // Quarry's own heartbeat decides when a job was abandoned; BullMQ's stall check only re-delivers, which
      // the claim makes harmless.
      maxStalledCount: 1,
    });
    // During a Redis outage BullMQ reports failed lock renewals and moves (and, after it, jobs Redis forgot): the job's
    // row decides what happens, so these are not the job's errors.
    this.worker.on('error', (error) => this.log?.[this.consumer?.status === 'ready' ? 'warn' : 'debug']({ err: error }, 'queue worker error'));
    await this.worker.waitUntilReady();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.unqueued.clear();
    if (this.worker) {
      // With Redis up, running deliveries finish and BullMQ says goodbye; with Redis down that would wait for it to
      // come back, so the worker is closed at once (the jobs' rows and heartbeats decide who resumes them).
      const worker = this.worker;
      const graceful = this.consumer?.status === 'ready';
      const closing = (force: boolean) => worker.close(force).catch((error: unknown) => this.log?.warn({ err: error }, 'closing the queue worker failed'));
      // Bounded either way: BullMQ's close can wait on Redis (to report a job's end) and must never hold the
      // shutdown past its time. Offline, even the forced close may wait for a reconnection: give it a moment only.
      const closed = await within(closing(!graceful), graceful ? CLOSE_TIMEOUT_MS : OFFLINE_CLOSE_MS);
      // A delivery still running would later try to report its end on the connections released below: force the
      // worker closed first where it can be, so nothing of it outlives them.
      if (!closed && graceful) await within(closing(true), OFFLINE_CLOSE_MS);
      if (!closed) this.log?.warn('the queue worker did not close in time; its connections are dropped');
    }
    await within(this.queue.close().catch(() => {}), OFFLINE_CLOSE_MS);
    await Promise.all([this.redis.release(this.producer), this.consumer && this.redis.release(this.consumer)]);
  }
}

/** BullMQ pins its own ioredis release; it takes any ioredis 5 instance (it checks the API, not the class). */
const asBullConnection = (client: import('ioredis').Redis) => client as unknown as import('bullmq').ConnectionOptions;

/** How long closing waits for BullMQ's worker before leaving it (the process is ending). */
const CLOSE_TIMEOUT_MS = 5_000;
/** The same while Redis is unreachable, or for the forced close after a graceful one timed out. */
const OFFLINE_CLOSE_MS = 1_000;

/** Whether `work` ended within `ms` (it goes on in the background otherwise). */
async function within(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const ended = await Promise.race([work.then(() => true), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)))]);
  clearTimeout(timer);
  return ended;
}

/** Failed adds remembered for the reconnection, at most; beyond that the recovery sweep finds the jobs. */
const MAX_UNQUEUED = 10_000;

export function openQueue(redis: RedisConnections | null, log?: Logger): Promise<JobQueue> {
  return redis ? RedisQueue.connect(redis, log) : Promise.resolve(new MemoryQueue(log));
}
