import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // Real redis-server/rbldnsd, the console as a child process, headless Chromium: long hooks, one file at a time on 2 cores.
    hookTimeout: 90_000,
    testTimeout: 90_000,
    fileParallelism: false,
  },
});
