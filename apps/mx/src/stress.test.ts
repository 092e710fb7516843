import { expect, it } from 'vitest';
import { pickEviction, StressState, stressPerIpLimit } from './stress.ts';

it('goes under stress at 80% of the connection limit and out below 50% (no flapping in between)', () => {
  const s = new StressState(500);
  expect(s.update(399)).toBe(false);
  expect(s.update(400)).toBe(true);
  expect(s.on).toBe(true);
  expect(s.update(300)).toBe(false);
  expect(s.update(249)).toBe(true);
  expect(s.on).toBe(false);
  expect(stressPerIpLimit(10)).toBe(5);
  expect(stressPerIpLimit(1)).toBe(1);
});

it('drops the oldest session that has not said EHLO, never one that has', () => {
  const conns = [
    { id: 'a', hostNameAppearsAs: 'x.example' as const, openedAt: 1 },
    { id: 'b', hostNameAppearsAs: false as const, openedAt: 5 },
    { id: 'c', hostNameAppearsAs: false as const, openedAt: 3 },
  ];
  expect(pickEviction(conns)?.id).toBe('c');
  expect(pickEviction(conns.slice(0, 1))).toBeUndefined();
});
