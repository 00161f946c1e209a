import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from './logger.js';

/**
 * Every Redis connection of the process is made here, with options fitted to its use, an error handler, and the
 * deployment's prefix for what it names. Redis is a dependency that comes and goes: connections reconnect forever
 * (never giving up), errors are logged (once per outage, not per retry), and what each use does while Redis is
 * down is decided by its role:
 *
 * - `queue`      BullMQ producer: an add fails at once (the API answers 503, or the job stays PENDING and is
 *                queued again on reconnection or by the recovery sweep) instead of waiting in memory;
 * - `worker`     BullMQ consumer: blocking commands, retried across reconnections (BullMQ requires
 *                `maxRetriesPerRequest: null`);
 * - `publisher`  event publishes are held while Redis is down and sent once it is back;
 * - `subscriber` pub/sub: channels are subscribed again after a reconnection; a SUBSCRIBE made meanwhile waits;
 * - `commands`   short commands (readiness, counters): fail fast while Redis is down.
 *
 * Keys, channels and BullMQ queues all live under `<REDIS_PREFIX>:` (see `key`), so deployments sharing one
 * Redis never see each other's events or jobs.
 */
export type RedisRole = 'queue' | 'worker' | 'publisher' | 'subscriber' | 'commands';

const ROLE_OPTIONS: Record<RedisRole, RedisOptions> = {
  queue: { enableOfflineQueue: false, maxRetriesPerRequest: 1 },
  worker: { enableOfflineQueue: true, maxRetriesPerRequest: null },
  publisher: { enableOfflineQueue: true, maxRetriesPerRequest: null },
  subscriber: { enableOfflineQueue: true, maxRetriesPerRequest: null, autoResubscribe: true },
  commands: { enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 2000 },
};

/** Reconnection delay: quick at first, then once a second, for as long as it takes. */
export const reconnectDelay = (attempt: number) => Math.min(50 * 2 ** Math.min(attempt, 10), 1000);

export interface RedisSettings {
  url: string;
  prefix: string;
  log?: Logger;
}

export class RedisConnections {
  readonly prefix: string;
  readonly log: Logger | undefined;
  private readonly url: string;
  private readonly open = new Set<Redis>();
  private commandClient: Redis | null = null;
  private closed = false;

  constructor(settings: RedisSettings) {
    this.url = settings.url;
    this.prefix = settings.prefix;
    this.log = settings.log;
  }

  /** `<prefix>:<parts…>`: the name of every key and channel this deployment uses. */
  key(...parts: string[]): string {
    return [this.prefix, ...parts].join(':');
  }

  /**
   * A new connection for `role`, named `quarry-<name>-<pid>` (so CLIENT LIST tells whose it is), connecting at
   * once. It is closed by `release` or `close`.
   */
  connect(role: RedisRole, name: string): Redis {
    if (this.closed) throw new Error('Redis connections are closed');
    const connectionName = `quarry-${name}-${process.pid}`;
    const client = new Redis(this.url, {
      ...ROLE_OPTIONS[role],
      connectionName,
      retryStrategy: reconnectDelay,
      // A replica promoted or demoted under us (failover): reconnect and resend the command.
      reconnectOnError: (error) => (error.message.startsWith('READONLY') ? 2 : false),
    });
    this.open.add(client);
    let down = false;
    client.on('error', (error: Error) => {
      // ioredis reports each failed reconnection attempt: one warning per outage is enough.
      if (down) return this.log?.debug({ err: error, connection: connectionName }, 'Redis still unreachable');
      down = true;
      this.log?.warn({ err: error, connection: connectionName }, 'Redis connection failed; reconnecting');
    });
    client.on('ready', () => {
      if (down) this.log?.info({ connection: connectionName }, 'Redis connection restored');
      down = false;
    });
    client.once('end', () => this.open.delete(client));
    return client;
  }

  /** The process's shared connection for short commands (fails fast while Redis is down). */
  commands(): Redis {
    this.commandClient ??= this.connect('commands', 'commands');
    return this.commandClient;
  }

  /** Resolves when `client` is ready (waiting through reconnections); rejects if it is closed first. */
  ready(client: Redis): Promise<void> {
    if (client.status === 'ready') return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onReady = () => {
        client.off('end', onEnd);
        resolve();
      };
      const onEnd = () => {
        client.off('ready', onReady);
        reject(new Error('Redis connection closed before it was ready'));
      };
      client.once('ready', onReady);
      client.once('end', onEnd);
    });
  }

  /**
   * Whether Redis is usable right now: every connection of this process is up and Redis answers a PING within
   * `timeoutMs` (a connection can look up for a while after a network partition).
   */
  async healthy(timeoutMs = 1000): Promise<boolean> {
    if (this.closed) return false;
    const commands = this.commands();
    for (const client of this.open) if (client !== commands && client.status !== 'ready') return false;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    // The command connection fails fast while down, so wait for it only when it is still making its first connection.
    const answered = (commands.status === 'connecting' || commands.status === 'connect' ? this.ready(commands) : Promise.resolve())
      .then(() => commands.ping())
      .then((reply) => reply === 'PONG', () => false);
    try {
      return await Promise.race([answered, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Closes one connection: politely (QUIT) when Redis is there, at once when it is not. */
  async release(client: Redis): Promise<void> {
    this.open.delete(client);
    if (client === this.commandClient) this.commandClient = null;
    if (client.status === 'end') return;
    if (client.status === 'ready') {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, 1000)));
      await Promise.race([client.quit().then(() => undefined, () => undefined), timeout]);
      clearTimeout(timer);
    }
    if ((client.status as string) !== 'end') client.disconnect();
  }

  /** Closes every connection still open. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.open].map((client) => this.release(client)));
  }
}

/** The process's Redis connections when REDIS_URL is set. */
export function openRedis(config: { REDIS_URL?: string; REDIS_PREFIX: string }, log?: Logger): RedisConnections | null {
  return config.REDIS_URL ? new RedisConnections({ url: config.REDIS_URL, prefix: config.REDIS_PREFIX, log }) : null;
}
