import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { testConfig, views } from '@moat/config';
import { resolveWorkers } from './workers.ts';

describe('resolveWorkers', () => {
  it('takes a count from the flag or the config, and auto as one per core', () => {
    expect(resolveWorkers(1)).toBe(1);
    expect(resolveWorkers(4)).toBe(4);
    expect(resolveWorkers('3')).toBe(3);
    expect(resolveWorkers('auto')).toBe(availableParallelism());
  });

  it('refuses what is not a count of 1 to 256', () => {
    for (const bad of ['0', '-1', '1.5', '2x', '', 'all', '257', ' 2']) expect(resolveWorkers(bad), bad).toBeUndefined();
    expect(resolveWorkers(0)).toBeUndefined();
    expect(resolveWorkers(2.5)).toBeUndefined();
  });
});

describe("a worker's share of max_connections", () => {
  it('divides the whole-service connection limit, rounding up so the total is never below it', () => {
    const share = (max: number, workers: number) => views.policyd(testConfig({ policyd: { max_connections: max } }), { workers }).maxConnections;
    expect(share(100, 1)).toBe(100);
    expect(share(100, 3)).toBe(34);
    expect(share(19, 2)).toBe(10);
    expect(share(1, 4)).toBe(1);
  });
});
