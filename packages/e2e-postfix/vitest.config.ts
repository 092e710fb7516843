import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: { include: ['test/**/*.test.ts'], hookTimeout: 300_000, testTimeout: 300_000, fileParallelism: false },
});
