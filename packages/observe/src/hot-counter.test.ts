import { describe, expect, it } from 'vitest';
import { hotCounter } from './hot-counter.ts';
import { Counter, createRegistry } from './metrics.ts';

describe('hotCounter', () => {
  it('exposes the same series and values as counting with inc(labels)', async () => {
    const plain = createRegistry();
    const hot = createRegistry();
    const config = (registry: ReturnType<typeof createRegistry>) => ({ name: 'moat_test_total', help: 'test', labelNames: ['action', 'reason'] as const, registers: [registry] });
    const a = new Counter(config(plain));
    const b = hotCounter(config(hot));
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

  it('an unknown label name throws on every increment, as prom-client does', () => {
    const c = hotCounter({ name: 'moat_test2_total', help: 'test', labelNames: ['kind'] as const, registers: [createRegistry()] });
    expect(() => c.inc({ other: 'x' } as never)).toThrow(/label/i);
    c.inc({ kind: 'a' });
    // the same path as a counted set, plus a name that is not a label: still refused
    expect(() => c.inc({ kind: 'a', other: 'x' } as never)).toThrow(/label/i);
  });

  it('reset() drops the counts not yet handed over', async () => {
    const registry = createRegistry();
    const c = hotCounter({ name: 'moat_test4_total', help: 'test', labelNames: ['kind'] as const, registers: [registry] });
    c.inc({ kind: 'a' }, 3);
    registry.resetMetrics();
    c.inc({ kind: 'a' });
    expect(await registry.metrics()).toContain('moat_test4_total{kind="a"} 1');
  });

  it('a counter without labels', async () => {
    const registry = createRegistry();
    const c = hotCounter({ name: 'moat_test3_total', help: 'test', registers: [registry] });
    c.inc({});
    c.inc({}, 4);
    expect(await registry.metrics()).toContain('moat_test3_total 5');
  });
});
