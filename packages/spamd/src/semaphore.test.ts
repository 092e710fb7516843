import { describe, expect, it } from 'vitest';
import { createSemaphore } from './semaphore.ts';

describe('semaphore', () => {
  it('limits holders, serves waiters in order, lets waiters give up', async () => {
    const s = createSemaphore(1);
    const r1 = await s.acquire();
    const order: number[] = [];
    const p2 = s.acquire().then((r) => {
      order.push(2);
      return r;
    });
    const ac = new AbortController();
    const p3 = s.acquire(ac.signal);
    const p4 = s.acquire().then((r) => {
      order.push(4);
      return r;
    });
    expect(s.waiting).toBe(3);
    ac.abort(new Error('gave up'));
    await expect(p3).rejects.toThrow('gave up');
    r1();
    r1(); // one-shot
    const r2 = await p2;
    expect(s.active).toBe(1);
    r2();
    (await p4)();
    expect(order).toEqual([2, 4]);
    expect(s.active).toBe(0);
  });
});
