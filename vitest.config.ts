import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);

export default defineConfig({
  resolve: {
    // Node loads graphql's CommonJS build for the plugins in node_modules; make Vite hand our code the same
    // module, or `instanceof` checks fail across two copies of graphql.
    alias: [{ find: /^graphql$/, replacement: require.resolve('graphql') }],
  },
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Vitest's default is one worker less than the cores: a single worker on a 2-core machine, which then idles while
    // tests wait on processes, sockets and timers. Two files at once there (each worker has a PostgreSQL database of
    // its own: test/support/worker-database.ts).
    maxWorkers: Math.max(2, availableParallelism() - 1),
    env: { NODE_ENV: 'test', LOG_LEVEL: 'silent' },
  },
});
