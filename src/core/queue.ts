import type { Logger } from './logger.js';

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
  /** Starts consuming with up to `concurrency` jobs at once. */
  consume(handler: JobHandler, concurrency: number): Promise<void>;
  /** Stops taking new jobs and waits for running handlers to return. */
  close(): Promise<void>;
}

export const QUEUE_NAME = 'quarry-jobs';

/** In-process queue: FIFO, deduplicated by job id while queued. */
export class MemoryQueue implements JobQueue {
  readonly kind = 'memory';
  private readonly waiting: QueuedJob[] = [];
  private readonly queued = new Set<string>();
  private readonly running = new Set<Promise<void>>();
  private handler: JobHandler | null = null;
  private concurrency = 1;
  private closed = false;

  constructor(private readonly log?: Logger) {}

  async add(job: QueuedJob, { delayMs = 0 }: AddOptions = {}): Promise<void> {
    if (delayMs > 0) {
      setTimeout(() => void this.add(job), delayMs).unref();
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
 * is still queued does nothing.
 */
export class RedisQueue implements JobQueue {
  readonly kind = 'redis';
  private queue: import('bullmq').Queue | null = null;
  private worker: import('bullmq').Worker | null = null;
  private bullmq!: typeof import('bullmq');

  private constructor(
    private readonly redisUrl: string,
    private readonly log?: Logger,
  ) {}

  static async connect(redisUrl: string, log?: Logger): Promise<RedisQueue> {
    const queue = new RedisQueue(redisUrl, log);
    queue.bullmq = await import('bullmq');
    queue.queue = new queue.bullmq.Queue(QUEUE_NAME, { connection: queue.connection() });
    await queue.queue.waitUntilReady();
    return queue;
  }

  private connection() {
    const url = new URL(this.redisUrl);
    return {
      host: url.hostname,
      port: Number(url.port || 6379),
      username: url.username || undefined,
      password: url.password ? decodeURIComponent(url.password) : undefined,
      db: url.pathname.length > 1 ? Number(url.pathname.slice(1)) : undefined,
      tls: url.protocol === 'rediss:' ? {} : undefined,
      // BullMQ's workers block on Redis; they need commands retried forever rather than failed.
      maxRetriesPerRequest: null,
    };
  }

  async add(job: QueuedJob, { delayMs = 0, redelivery = false }: AddOptions = {}): Promise<void> {
    // BullMQ drops an add whose id it still holds (a retry asked for by the active delivery, or the delivery a dead
    // worker held until BullMQ's stall check): a redelivery needs an id of its own.
    const jobId = redelivery ? `${job.jobId}:${Date.now()}:${Math.random().toString(36).slice(2, 8)}` : job.jobId;
    await this.queue!.add('job', job, { jobId, delay: delayMs, removeOnComplete: true, removeOnFail: true, attempts: 1 });
  }

  async consume(handler: JobHandler, concurrency: number): Promise<void> {
    this.worker = new this.bullmq.Worker<QueuedJob>(QUEUE_NAME, (job) => handler(job.data), {
      connection: this.connection(),
      concurrency: Math.max(1, concurrency),
      // Quarry's own heartbeat decides when a job was abandoned; BullMQ's stall check only re-delivers, which
      // the claim makes harmless.
      maxStalledCount: 1,
    });
    this.worker.on('error', (error) => this.log?.error({ err: error }, 'queue worker error'));
    await this.worker.waitUntilReady();
  }

  async close(): Promise<void> {
    await this.worker?.close();
    await this.queue?.close();
  }
}

export function openQueue(redisUrl: string | undefined, log?: Logger): Promise<JobQueue> {
  return redisUrl ? RedisQueue.connect(redisUrl, log) : Promise.resolve(new MemoryQueue(log));
}
