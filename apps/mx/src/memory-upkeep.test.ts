import v8 from 'node:v8';
import { type BufferedOut, createLogger, createRegistry } from '@moat/observe';
import { describe, expect, it } from 'vitest';
import { DEFAULT_POLICY, decide, privateGc, shrinkHeap, startMemoryUpkeep, type UpkeepState, upkeepTicker } from './memory-upkeep.ts';

const MB = 1024 * 1024;
const run = (samples: Array<[number, number]>, start: UpkeepState = { quietRun: 0, floor: 40 * MB }) => {
  let state = start;
  return samples.map(([elu, heapMb]) => {
    const d = decide(DEFAULT_POLICY, state, { elu, heapCommitted: heapMb * MB });
    state = d.state;
    return d.shrink;
  });
};

describe('decide: shrink once the gateway has gone quiet after its heap grew', () => {
  it('a load that grew the heap, then three quiet intervals: one shrink, on the third', () => {
    expect(run([[0.9, 60], [0.8, 66], [0.01, 66], [0.01, 66], [0.01, 66]])).toEqual([false, false, false, false, true]);
  });
  it('never while busy, however large the heap', () => {
    expect(run([[0.9, 80], [0.5, 90], [0.2, 90], [0.06, 90], [0.06, 90]])).toEqual([false, false, false, false, false]);
  });
  it('one quiet interval between busy ones is a lull, not idle', () => {
    expect(run([[0.9, 70], [0.01, 70], [0.01, 70], [0.9, 70], [0.01, 70], [0.7, 70]])).toEqual([false, false, false, false, false, false]);
  });
  it('quiet without growth: nothing to give back, no GC', () => {
    expect(run([[0.01, 44], [0.01, 44], [0.01, 45], [0.01, 47], [0.01, 47]])).toEqual([false, false, false, false, false]);
  });
  it('growth is measured from the lowest heap seen (V8 may shrink it on its own)', () => {
    expect(run([[0.9, 30], [0.01, 37], [0.01, 37], [0.01, 37], [0.5, 39], [0.01, 39], [0.01, 39], [0.01, 39]])).toEqual([false, false, false, false, false, false, false, true]);
  });
  it('after a shrink the quiet count starts again: no GC every interval while idle', () => {
    let state: UpkeepState = { quietRun: 0, floor: 40 * MB };
    const shrinks: boolean[] = [];
    for (let i = 0; i < 9; i++) {
      const d = decide(DEFAULT_POLICY, state, { elu: 0, heapCommitted: 60 * MB });
      // what the caller does after a shrink: the floor becomes the heap left
      state = d.shrink ? { quietRun: 0, floor: 30 * MB } : d.state;
      shrinks.push(d.shrink);
    }
    // the heap is still reported at 60 MB here (a fake), so it decides again after three more quiet intervals
    expect(shrinks).toEqual([false, false, true, false, false, true, false, false, true]);
  });
});

describe('decide and the ticker: no pause while work is in flight (a lookup due inside it would time out)', () => {
  it('due while busy: deferred, the quiet count kept, and the first sample with nothing in flight shrinks', () => {
    let state: UpkeepState = { quietRun: 0, floor: 40 * MB };
    const out: Array<[boolean, string | undefined]> = [];
    for (const busy of [undefined, undefined, '1 transactions', '2 transactions', undefined]) {
      const d = decide(DEFAULT_POLICY, state, { elu: 0.01, heapCommitted: 60 * MB, busy });
      state = d.state;
      out.push([d.shrink, d.deferred]);
    }
    expect(out).toEqual([
      [false, undefined],
      [false, undefined],
      [false, '1 transactions'],
      [false, '2 transactions'],
      [true, undefined],
    ]);
  });
  it('busy and not due: nothing deferred (busy only matters when a shrink is due)', () => {
    const d = decide(DEFAULT_POLICY, { quietRun: 0, floor: 40 * MB }, { elu: 0.01, heapCommitted: 60 * MB, busy: '1 transactions' });
    expect(d.shrink).toBe(false);
    expect(d.deferred).toBeUndefined();
  });
  it('the ticker asks busy() only when due, never calls gc() while busy, and counts and logs the deferral once', async () => {
    let gcs = 0;
    let busyAsked = 0;
    let inFlight = 0;
    let heap = 40 * MB;
    const registry = createRegistry();
    const lines: string[] = [];
    const out: BufferedOut = { write: (l) => lines.push(l) > 0, flushSync() {}, flush: async () => {}, dropped: () => 0 };
    const logger = createLogger('test', { level: 'info', destination: out });
    const ticker = upkeepTicker({
      logger,
      registry,
      thread: 'test',
      gc: () => {
        gcs++;
        heap = 30 * MB;
      },
      heapCommitted: () => heap,
      busy: () => {
        busyAsked++;
        return inFlight > 0 ? `${inFlight} transactions` : undefined;
      },
    });
    heap = 60 * MB; // a load grew the heap
    ticker.tick(0.9);
    ticker.tick(0.01);
    ticker.tick(0.01);
    expect(busyAsked).toBe(0);
    inFlight = 1; // a session sent MAIL FROM
    for (let i = 0; i < 5; i++) expect(ticker.tick(0.01).deferred).toBe('1 transactions');
    expect(gcs).toBe(0);
    inFlight = 0; // its DATA ended
    expect(ticker.tick(0.01).shrink).toBe(true);
    expect(gcs).toBe(1);
    expect(await registry.getSingleMetricAsString('moat_mx_heap_shrinks_total')).toMatch(/result="deferred"} 1[\s\S]*result="done"} 1|result="done"} 1[\s\S]*result="deferred"} 1/);
    expect(lines.filter((l) => l.includes('heap-shrink-deferred'))).toHaveLength(1);
    expect(lines.find((l) => l.includes('"event":"heap-shrink"'))).toMatch(/"waitedMs":\d+/);
  });
});

describe('the ticker: a deferral has a limit, and a spell ends when the shrink stops being due', () => {
  const setup = () => {
    const st = { gcs: 0, heap: 60 * MB, inFlight: 0, clock: 0, lines: [] as string[] };
    const registry = createRegistry();
    const out: BufferedOut = { write: (l) => st.lines.push(l) > 0, flushSync() {}, flush: async () => {}, dropped: () => 0 };
    const ticker = upkeepTicker({
      logger: createLogger('test', { level: 'info', destination: out }),
      registry,
      thread: 'test',
      gc: () => {
        st.gcs++;
        st.heap = 30 * MB;
      },
      heapCommitted: () => st.heap,
      busy: () => (st.inFlight > 0 ? `${st.inFlight} transactions` : undefined),
      now: () => st.clock,
      maxDeferMs: 60_000,
    });
    // one sample a second, as the timer does
    const tick = (elu: number) => {
      st.clock += 1000;
      return ticker.tick(elu);
    };
    return { st, registry, tick };
  };
  it('a transaction held open for ever: after 60 s deferred the shrink runs anyway, counted and logged as forced', async () => {
    const { st, registry, tick } = setup();
    st.inFlight = 1;
    tick(0.01);
    tick(0.01);
    expect(tick(0.01).deferred).toBe('1 transactions'); // due at t=3 s: the spell starts
    expect(await registry.getSingleMetricAsString('moat_mx_heap_shrink_deferred_seconds')).toMatch(/ 0$/m);
    for (let i = 0; i < 59; i++) expect(tick(0.01).shrink).toBe(false);
    expect(st.gcs).toBe(0);
    expect(await registry.getSingleMetricAsString('moat_mx_heap_shrink_deferred_seconds')).toMatch(/ 59$/m);
    expect(tick(0.01).shrink).toBe(true); // 60 s after the spell began
    expect(st.gcs).toBe(1);
    const shrinks = await registry.getSingleMetricAsString('moat_mx_heap_shrinks_total');
    expect(shrinks).toMatch(/result="forced"} 1/);
    expect(shrinks).toMatch(/result="deferred"} 1/);
    expect(shrinks).not.toMatch(/result="done"/);
    expect(st.lines.find((l) => l.includes('"result":"forced"'))).toMatch(/"waitedMs":60000[\s\S]*"busy":"1 transactions"/);
    expect(await registry.getSingleMetricAsString('moat_mx_heap_shrink_deferred_seconds')).toMatch(/ 0$/m);
    // the heap is back at its floor: nothing due, so no new spell while the transaction stays open
    for (let i = 0; i < 10; i++) expect(tick(0.01).deferred).toBeUndefined();
    expect(st.gcs).toBe(1);
  });
  it('deferred, then busy (the spell ends), then deferred again: a second spell, counted and logged again', async () => {
    const { st, registry, tick } = setup();
    st.inFlight = 1;
    tick(0.01);
    tick(0.01);
    expect(tick(0.01).deferred).toBeDefined();
    expect(tick(0.9).deferred).toBeUndefined(); // a load: no longer due
    expect(await registry.getSingleMetricAsString('moat_mx_heap_shrink_deferred_seconds')).toMatch(/ 0$/m);
    tick(0.01);
    tick(0.01);
    expect(tick(0.01).deferred).toBeDefined();
    expect(await registry.getSingleMetricAsString('moat_mx_heap_shrinks_total')).toMatch(/result="deferred"} 2/);
    expect(st.lines.filter((l) => l.includes('heap-shrink-deferred'))).toHaveLength(2);
    // the limit counts from the second spell's start, not the first's
    for (let i = 0; i < 58; i++) tick(0.01);
    expect(st.gcs).toBe(0);
    st.inFlight = 0;
    expect(tick(0.01).shrink).toBe(true);
    expect(await registry.getSingleMetricAsString('moat_mx_heap_shrinks_total')).toMatch(/result="done"} 1/);
  });
});

describe('privateGc and shrinkHeap on this V8', () => {
  it('gc() is reachable without becoming a global', () => {
    const gc = privateGc();
    expect(typeof gc).toBe('function');
    expect((globalThis as { gc?: unknown }).gc).toBeUndefined();
  });
  it('the memory-reducing GC gives back a young generation the garbage grew and frees dead objects', () => {
    const gc = privateGc()!;
    let junk: unknown[] | undefined = Array.from({ length: 300_000 }, (_, i) => ({ i, s: `x${i}` }));
    const before = v8.getHeapStatistics();
    junk = undefined;
    shrinkHeap(gc);
    const after = v8.getHeapStatistics();
    expect(junk).toBeUndefined();
    expect(after.used_heap_size).toBeLessThan(before.used_heap_size);
    expect(after.total_heap_size).toBeLessThan(before.total_heap_size);
  });
  it('starts and stops without keeping the process alive', () => {
    const upkeep = startMemoryUpkeep({ logger: createLogger('test', { level: 'silent' }), registry: createRegistry(), thread: 'test' });
    upkeep.stop();
  });
});
