import { defineConfig } from 'vitest/config';

// The fast tier: the compose files and configs checked without Docker (the stack itself is test:integration).
export default defineConfig({
  test: {
    include: ['src/**/*.test.ts'],
    testTimeout: 30_000,
  },
});
