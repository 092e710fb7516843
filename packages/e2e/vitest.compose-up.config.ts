import { defineConfig } from 'vitest/config';

// `docker compose up --build` from a clean clone (compose-up/): its own project and images, no shared stack.
// Long: every image is built inside Docker (cached layers make a repeat run a few minutes).
export default defineConfig({
  test: {
    include: ['compose-up/**/*.test.ts'],
    hookTimeout: 300_000,
    testTimeout: 1_500_000,
    fileParallelism: false,
  },
});
