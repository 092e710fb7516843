import { createRegistry } from '@moat/observe';
import { describe, expect, it } from 'vitest';
import { createMetrics } from './metrics.ts';

describe('greylist metrics', () => {
  it('a second greylist on the same registry (a config reload) shares the counters instead of throwing', () => {
    const registry = createRegistry();
    const a = createMetrics(registry);
    a.decisions.inc({ action: 'pass', reason: 'known' });
    const b = createMetrics(registry);
    expect(b).toBe(a);
    expect(createMetrics(createRegistry())).not.toBe(a);
  });
});
