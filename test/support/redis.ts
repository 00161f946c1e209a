import { randomUUID } from 'node:crypto';
import { inject } from 'vitest';
import { useRedisEvents } from '../../src/core/events.js';
import { RedisConnections } from '../../src/core/redis.js';

/** The test Redis (REDIS_URL) under a prefix of its own, so concurrent test files never hear each other. */
export function testRedis(prefix = `quarry-test-${randomUUID().slice(0, 8)}`): RedisConnections {
  return new RedisConnections({ url: inject('redisUrl')!, prefix });
}

/** Puts the test Redis under this process's event bus; the function returned closes bus and connections. */
export async function useTestRedisEvents(redis = testRedis()): Promise<() => Promise<void>> {
  const closeBus = await useRedisEvents(redis);
  return async () => {
    await closeBus();
    await redis.close();
  };
}
