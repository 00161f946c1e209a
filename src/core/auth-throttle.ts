import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Logger } from './logger.js';

/**
 * Throttling of failed authentication (rate-limiter-flexible): each unknown, revoked or expired key counts
 * against the client's address and against the key's first characters (its display prefix), within a fixed
 * window. Past either limit, key lookups from that address or for that prefix are refused with a retry delay
 * and cost nothing (no database lookup). With REDIS_URL the counts are shared by every replica; if Redis is
 * unreachable each process counts in memory until it is back.
 */

export interface AuthThrottleOptions {
  /** Failed attempts allowed per client address per window. */
  perAddress: number;
  /** Failed attempts allowed per key prefix per window. */
  perKeyPrefix: number;
  windowS: number;
  /** The process's short-command connection (core/redis.ts); without one, each process counts on its own. */
  redis?: Redis;
  /** The deployment's prefix for Redis keys (REDIS_PREFIX): keys are `<prefix>:auth-failures:…`. */
  redisPrefix: string;
  log: Logger;
}

/** A refusal: how long until the client may try again. */
export interface Throttled {
  retryAfterS: number;
}

export class AuthThrottle {
  private readonly byAddress: RateLimiterAbstract;
  private readonly byKeyPrefix: RateLimiterAbstract;
  private readonly redis?: Redis;
  /** Resolves once Redis first answered (or gave up for a moment): counts made before then would stay local. */
  private readonly connected: Promise<void> = Promise.resolve();

  constructor(private readonly options: AuthThrottleOptions) {
    const { perAddress, perKeyPrefix, windowS: duration, redis, redisPrefix, log } = options;
    this.redis = redis;
    const limiter = (points: number, name: string): RateLimiterAbstract => {
      const keyPrefix = `${redisPrefix}:auth-failures:${name}`;
      const memory = new RateLimiterMemory({ points, duration, keyPrefix });
      if (!this.redis) return memory;
      // While Redis is unreachable, this process counts on its own (the insurance limiter) rather than failing open.
      return new RateLimiterRedis({ storeClient: this.redis, points, duration, keyPrefix, rejectIfRedisNotReady: true, insuranceLimiter: memory });
    };
    if (redis && redis.status !== 'ready') {
      log.debug('auth throttle: waiting for Redis before counting');
      this.connected = new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 2000).unref();
        redis.once('ready', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    this.byAddress = limiter(perAddress, 'address');
    this.byKeyPrefix = limiter(perKeyPrefix, 'key-prefix');
  }

  /** Refused before any lookup when the address or the prefix already used up its failures. */
  async blocked(address: string, keyPrefix: string): Promise<Throttled | null> {
    await this.connected;
    const [a, k] = await Promise.all([this.byAddress.get(address), this.byKeyPrefix.get(keyPrefix)]);
    const over = [
      a && a.consumedPoints >= this.options.perAddress ? a : null,
      k && k.consumedPoints >= this.options.perKeyPrefix ? k : null,
    ].filter((r): r is RateLimiterRes => r !== null);
    return over.length ? throttled(over) : null;
  }

  /** Counts a failed attempt; a refusal when it went past a limit (the attempt itself is then answered 429). */
  async failed(address: string, keyPrefix: string): Promise<Throttled | null> {
    await this.connected;
    const results = await Promise.all([consume(this.byAddress, address), consume(this.byKeyPrefix, keyPrefix)]);
    const over = results.filter((r) => r.over).map((r) => r.res);
    return over.length ? throttled(over) : null;
  }

}

async function consume(limiter: RateLimiterAbstract, key: string): Promise<{ over: boolean; res: RateLimiterRes }> {
  try {
    return { over: false, res: await limiter.consume(key) };
  } catch (rejection) {
    if (rejection instanceof RateLimiterRes) return { over: true, res: rejection };
    throw rejection;
  }
}

const throttled = (results: RateLimiterRes[]): Throttled => ({
  retryAfterS: Math.max(1, ...results.map((r) => Math.ceil(r.msBeforeNext / 1000))),
});
