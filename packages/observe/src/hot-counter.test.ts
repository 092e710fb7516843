import { describe, expect, it } from 'vitest';
import { hotCounter } from './hot-counter.ts';
import { Counter, createRegistry } from './metrics.ts';

describe('hotCounter', () => {
  it('exposes the same series and values as counting with inc(labels)', async () => {
    const plain = createRegistry();
    const hot = createRegistry();
    const make = (registry: ReturnType<typeof createRegistry>) =>
      new Counter({ name: 'moat_test_total', help: 'test', labelNames: ['action', 'reason'] as const, registers: [registry] });
    const a = make(plain);
    const b = hotCounter(make(hot));
    const calls: Array<[{ action: string; reason?: string }, number?]> = [
      [{ action: 'pass', reason: 'known' }],
      [{ action: 'defer', reason: 'greylisted' }, 3],
      [{ action: 'pass', reason: 'known' }],
      [{ action: 'pass' }],
      [{ reason: 'known', action: 'pass' }, 2],
    ];
    for (const [labels, n] of calls) {
      a.inc(labels, n);
      b.inc(labels, n);
    }
    expect(await hot.metrics()).toBe(await plain.metrics());
    // counted again after a read: the pending counts were handed over once, not twice
    a.inc({ action: 'pass', reason: 'known' });
    b.inc({ action: 'pass', reason: 'known' });
    expect(await hot.getMetricsAsJSON()).toEqual(await plain.getMetricsAsJSON());
    expect(await hot.metrics()).toContain('moat_test_total{action="pass",reason="known"} 5');
  });

  it('an unknown label name throws at the first increment, as prom-client does', () => {
    const c = hotCounter(new Counter({ name: 'moat_test2_total', help: 'test', labelNames: ['kind'] as const, registers: [createRegistry()] }));
    expect(() => c.inc({ other: 'x' } as never)).toThrow(/label/i);
  });

  it('a counter without labels', async () => {
    const registry = createRegistry();
    const c = hotCounter(new Counter({ name: 'moat_test3_total', help: 'test', registers: [registry] }));
    c.inc({});
    c.inc({}, 4);
    expect(await registry.metrics()).toContain('moat_test3_total 5');
  });
});
