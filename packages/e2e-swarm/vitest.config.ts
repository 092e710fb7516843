import { defineConfig } from 'vitest/config';

// One swarm for the whole suite (built and deployed in globalSetup); files run one at a time on 2 cores in
// the order below, each leaves the stack converged and reads the state it needs (which Redis is master).
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    hookTimeout: 1_200_000,
    testTimeout: 900_000,
    teardownTimeout: 180_000,
    fileParallelism: false,
    // one failure means a degraded swarm: stop there instead of waiting out every file's timeouts
    bail: 1,
    sequence: { concurrent: false },
  },
});
