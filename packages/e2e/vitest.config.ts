import { defineConfig } from 'vitest/config';

// One stack for the whole suite (started in globalSetup); files run one at a time on 2 cores.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    hookTimeout: 600_000,
    testTimeout: 240_000,
    teardownTimeout: 120_000,
    fileParallelism: false,
    sequence: { concurrent: false },
  },
});
