import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/** secrets.test.ts searches every service's logs for secrets: it runs after the other files have made them. */
class SecretsLast extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const last = (f: TestSpecification) => f.moduleId.endsWith('/secrets.test.ts');
    return [...sorted.filter((f) => !last(f)), ...sorted.filter(last)];
  }
}

// One stack for the whole suite (started in globalSetup); files run one at a time on 2 cores.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    hookTimeout: 600_000,
    testTimeout: 240_000,
    teardownTimeout: 120_000,
    fileParallelism: false,
    sequence: { concurrent: false, sequencer: SecretsLast },
  },
});
