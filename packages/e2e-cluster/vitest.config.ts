import { defineConfig } from 'vitest/config';

// One cluster for the whole suite (started in globalSetup); files run one at a time on 2 cores, each
// leaves the cluster healthy and reads the state it needs (which Redis is master) instead of assuming it.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    hookTimeout: 600_000,
    testTimeout: 300_000,
    teardownTimeout: 120_000,
    fileParallelism: false,
    sequence: { concurrent: false },
  },
});
