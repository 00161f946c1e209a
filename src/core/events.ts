import { createPubSub } from 'graphql-yoga';
import type { Redis } from 'ioredis';
import type { RedisConnections } from './redis.js';
import type { File, Job, Run } from '../generated/prisma/client.js';

/**
 * The event bus: every change of a job's, file's or run's state is published here, by whichever process made
 * it (API replica or worker), and subscriptions read from it. Embedded: in memory. With REDIS_URL:
 * `EventBus.open` puts Redis pub/sub underneath, so an event published anywhere reaches every replica.
 *
 * Topics are routed by organization (`job:<org id>`), so a subscriber only ever receives its own
 * organization's events, and on Redis each organization is its own channel. Payloads are plain JSON (they
 * cross Redis): dates as ISO strings, no BigInt.
 */

export interface JobChange {
  id: string;
  organizationId: string;
  status: Job['status'];
  jobType: Job['jobType'];
  sourceId: string | null;
  fileId: string | null;
  agentId: string | null;
  progress: unknown;
  stopReason: string | null;
  updatedAt: string;
}

export interface FileChange {
  id: string;
  organizationId: string;
  sourceId: string;
  processingStatus: File['processingStatus'];
  totalChunks: number | null;
  chunksEmbedded: number | null;
  errorMessage: string | null;
  processingNote: string | null;
  /** False once the file is deleted (or replaced): nothing more will come. */
  exists: boolean;
  updatedAt: string;
}

export interface RunChange {
  id: string;
  organizationId: string;
  agentId: string | null;
  status: Run['status'];
  stepCount: number;
  totalTokens: number;
  stopReason: string | null;
  updatedAt: string;
}

/**
 * The bus's topics: each an organization id and a change. A domain adds its own where it is declared, by
 * augmenting this interface (`declare module '…/core/events.js' { interface Topics { widget: [string, WidgetChange] } }`),
 * so core names no domain it does not already know.
 */
export interface Topics {
  job: [organizationId: string, change: JobChange];
  file: [organizationId: string, change: FileChange];
  run: [organizationId: string, change: RunChange];
}

/** Topics as the pubsub's type argument (an interface has no index signature; a mapped type of it does). */
type TopicArgs = { [T in keyof Topics]: Topics[T] };

type PubSub = ReturnType<typeof createPubSub<TopicArgs>>;

export type Topic = keyof Topics;
export type ChangeOf<T extends Topic> = Topics[T][1];

/** Publishes held while Redis is unreachable, at most; past that, new ones are dropped (streams re-read state anyway). */
const MAX_HELD_PUBLISHES = 10_000;

/**
 * A process's bus, made by its entry point (`EventBus.open`) and passed down: to buildApp (Context.events), the
 * ingestion service, and domain functions as their `services` argument. In memory unless opened over Redis.
 */
export class EventBus {
  private readonly reconnectListeners = new Set<() => void>();

  constructor(
    private readonly bus: PubSub = createPubSub<TopicArgs>(),
    /** Redis confirms a SUBSCRIBE asynchronously; until then a publication can be missed. In memory: at once. */
    private readonly confirmed: (channel: string) => Promise<unknown> = async () => {},
    private readonly closeBus: () => Promise<void> = async () => {},
  ) {}

  /** Over Redis pub/sub when the process has Redis (REDIS_URL), else in memory. */
  static async open(redis: RedisConnections | null | undefined): Promise<EventBus> {
    return redis ? overRedis(redis) : new EventBus();
  }

  publish<T extends keyof Topics>(topic: T, ...args: Topics[T]): void {
    this.bus.publish(topic, ...args);
  }

  /** Lazy, like any yoga pubsub iterator: the subscription is made by the first `next()`. */
  subscribe<T extends keyof Topics>(topic: T, organizationId: string): AsyncIterableIterator<Topics[T][1]> {
    return (this.bus.subscribe as (topic: T, organizationId: string) => AsyncIterableIterator<Topics[T][1]>)(topic, organizationId);
  }

  /**
   * Resolves once a subscription already started (first `next()` called) is in effect, so that anything
   * published from then on reaches it: what "subscribe, then read the current state" needs to lose nothing.
   */
  ready(topic: keyof Topics, organizationId: string): Promise<unknown> {
    return this.confirmed(`${topic}:${organizationId}`);
  }

  /** Called each time the bus is back after a lost connection (Redis): what was published meanwhile is lost. */
  onReconnect(listener: () => void): () => void {
    this.reconnectListeners.add(listener);
    return () => void this.reconnectListeners.delete(listener);
  }

  /** The Redis subscriber is back (its channels re-subscribed): streams re-read their state. */
  reconnected(): void {
    for (const listener of this.reconnectListeners) listener();
  }

  /** Closes the Redis connections, if any (after the workers, whose last steps still publish). */
  close(): Promise<void> {
    return this.closeBus();
  }
}

/**
 * Puts Redis pub/sub under a bus. Channels are named `<REDIS_PREFIX>:events:<topic>:<organization id>`, so
 * deployments sharing a Redis never hear each other.
 *
 * While Redis is down the bus keeps working: publishes are held and sent once it is back, subscriptions stay open,
 * and once the subscriber connection is back every open stream re-reads its state (`onReconnect`), so a terminal
 * state reached during the outage is delivered either way.
 */
async function overRedis(redis: RedisConnections): Promise<EventBus> {
  const { createRedisEventTarget } = await import('@graphql-yoga/redis-event-target');
  const log = redis.log;
  const publishClient = redis.connect('publisher', 'events-pub');
  const subscribeClient = redis.connect('subscriber', 'events-sub');
  await Promise.all([redis.ready(publishClient), redis.ready(subscribeClient)]);
  const prefix = `${redis.key('events')}:`;
  let held = 0;
  let dropping = false;
  // The event target publishes without awaiting or catching: failures are handled here, never left unhandled.
  const publisher = {
    publish: (channel: string, message: string) => {
      if (publishClient.status !== 'ready' && held >= MAX_HELD_PUBLISHES) {
        if (!dropping) log?.warn({ held }, 'Redis unreachable: event publishes dropped until it is back');
        dropping = true;
        return Promise.resolve(0);
      }
      dropping = false;
      held++;
      return publishClient
        .publish(prefix + channel, message)
        .catch((error: unknown) => {
          log?.warn({ err: error, channel }, 'event publish failed');
          return 0;
        })
        .finally(() => held--);
    },
  } as unknown as Redis;
  // The event target fires SUBSCRIBE without awaiting it; keep each channel's acknowledgement for `ready`.
  const acks = new Map<string, Promise<unknown>>();
  const subscriber = {
    on: (event: 'message', listener: (channel: string, message: string) => void) =>
      subscribeClient.on(event, (channel: string, message: string) => {
        if (channel.startsWith(prefix)) listener(channel.slice(prefix.length), message);
      }),
    subscribe: (channel: string) => {
      const ack = subscribeClient.subscribe(prefix + channel);
      ack.catch(() => {}); // surfaced through `ready`
      acks.set(channel, ack);
      return ack;
    },
    unsubscribe: (channel: string) => {
      acks.delete(channel);
      // Nothing to undo if Redis is gone: a new connection starts with no subscriptions.
      return subscribeClient.unsubscribe(prefix + channel).catch(() => 0);
    },
  } as unknown as Redis;
  const pubsub = createPubSub<TopicArgs>({ eventTarget: createRedisEventTarget({ publishClient: publisher, subscribeClient: subscriber }) });
  const confirmed = (channel: string) => acks.get(channel) ?? Promise.resolve();
  const close = async () => {
    await Promise.all([redis.release(publishClient), redis.release(subscribeClient)]);
  };
  // 'ready' again means a reconnection. ioredis re-sends its SUBSCRIBEs right after emitting it; a PING sent
  // after them is answered after them, so once it is, the channels are back and streams can re-read state.
  const bus = new EventBus(pubsub, confirmed, close);
  subscribeClient.on('ready', () =>
    setImmediate(() =>
      subscribeClient
        .ping()
        .catch(() => {})
        .then(() => bus.reconnected()),
    ),
  );
  return bus;
}


export const jobChange = (job: Job): JobChange => ({
  id: job.id,
  organizationId: job.organizationId,
  status: job.status,
  jobType: job.jobType,
  sourceId: job.sourceId,
  fileId: job.fileId,
  agentId: job.agentId,
  progress: job.progress ?? null,
  stopReason: job.stopReason,
  updatedAt: job.updatedAt.toISOString(),
});

export const fileChange = (
  file: Pick<File, 'id' | 'organizationId' | 'sourceId' | 'processingStatus' | 'totalChunks' | 'chunksEmbedded' | 'errorMessage' | 'processingNote' | 'updatedAt'>,
  exists = true,
): FileChange => ({
  id: file.id,
  organizationId: file.organizationId,
  sourceId: file.sourceId,
  processingStatus: file.processingStatus,
  totalChunks: file.totalChunks,
  chunksEmbedded: file.chunksEmbedded,
  errorMessage: file.errorMessage,
  processingNote: file.processingNote,
  exists,
  updatedAt: file.updatedAt.toISOString(),
});

export const runChange = (run: Pick<Run, 'id' | 'organizationId' | 'agentId' | 'status' | 'stepCount' | 'totalTokens' | 'stopReason' | 'updatedAt'>): RunChange => ({
  id: run.id,
  organizationId: run.organizationId,
  agentId: run.agentId,
  status: run.status,
  stepCount: run.stepCount,
  totalTokens: run.totalTokens,
  stopReason: run.stopReason,
  updatedAt: run.updatedAt.toISOString(),
});
