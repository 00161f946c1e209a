import { randomUUID } from 'node:crypto';
import { inject } from 'vitest';
import { EventBus } from '../../src/core/events.js';
import { RedisConnections } from '../../src/core/redis.js';

/** The test Redis (REDIS_URL) under a prefix of its own, so concurrent test files never hear each other. */
export function testRedis(prefix = `quarry-test-${randomUUID().slice(0, 8)}`): RedisConnections {
  return new RedisConnections({ url: inject('redisUrl')!, prefix });
}

/** An event bus over the test Redis, as a replica opens one; `close` closes bus and connections. */
export async function testRedisEvents(redis = testRedis()): Promise<{ events: EventBus; close: () => Promise<void> }> {
  const events = await EventBus.open(redis);
  return {
    events,
    close: async () => {
      await events.close();
      await redis.close();
    },
  };
}
