import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // Real redis-server/sentinel processes: long hooks, one file at a time on 2 cores.
    hookTimeout: 60_000,
    testTimeout: 60_000,
    fileParallelism: false,
  },
});
