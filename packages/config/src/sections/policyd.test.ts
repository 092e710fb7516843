import { describe, expect, it } from 'vitest';
import { parseConfig } from '../load.ts';

const MINIMAL = 'policy:\n  hostname: mx.example.org\nrecipients:\n  domains: [example.org]\n';

describe('policyd.workers', () => {
  it('defaults to one process, and takes a count or auto', () => {
    expect(parseConfig(MINIMAL, { env: {} }).policyd.workers).toBe(1);
    expect(parseConfig(`${MINIMAL}policyd:\n  workers: 4\n`, { env: {} }).policyd.workers).toBe(4);
    expect(parseConfig(`${MINIMAL}policyd:\n  workers: auto\n`, { env: {} }).policyd.workers).toBe('auto');
  });

  it('refuses zero, fractions and other words, naming the key', () => {
    for (const bad of ['0', '1.5', 'all', '-2']) {
      expect(() => parseConfig(`${MINIMAL}policyd:\n  workers: ${bad}\n`, { env: {} }), bad).toThrow(/policyd\.workers/);
    }
    expect(() => parseConfig(`${MINIMAL}policyd:\n  workers: all\n`, { env: {} })).toThrow(/number of processes \(1 to 256\) or auto/);
  });
});
