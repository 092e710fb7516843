import { describe, expect, it } from 'vitest';
import { Counter, createRegistry, metricOnce } from './index.ts';

describe('metricOnce', () => {
  it('makes the metric on first use and hands the same one to every later caller on that registry', async () => {
    const registry = createRegistry();
    let made = 0;
    const make = () => {
      made++;
      return new Counter({ name: 'moat_test_once_total', help: 'test', registers: [registry] });
    };
    const a = metricOnce(registry, 'moat_test_once_total', make);
    const b = metricOnce(registry, 'moat_test_once_total', make);
    expect(b).toBe(a);
    expect(made).toBe(1);
    a.inc();
    b.inc();
    expect(await registry.metrics()).toContain('moat_test_once_total 2');
    // another registry gets its own
    const other = createRegistry();
    expect(metricOnce(other, 'moat_test_once_total', () => new Counter({ name: 'moat_test_once_total', help: 'test', registers: [other] }))).not.toBe(a);
  });
});
