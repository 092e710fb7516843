// Gives memory back when the gateway goes quiet: V8 keeps the heap a load grew (young generation at its largest,
// old space uncompacted) for as long as nothing allocates; once the event loop has been idle a while, one
// memory-reducing full GC shrinks it to what is live. Trusts V8 and this thread's own counters only.
import { performance } from 'node:perf_hooks';
import v8 from 'node:v8';
import vm from 'node:vm';
import { Counter, Gauge, type Logger, type Registry } from '@moat/observe';

/** What the upkeep looks at, every interval. */
export interface MemorySample {
  /** Event-loop utilization over the last interval, 0..1. */
  elu: number;
  /** V8 heap committed (total_heap_size), bytes. */
  heapCommitted: number;
  /**
   * What would be caught inside the pause, if anything (`2 transactions`, `3 deliveries`): the memory-reducing GC
   * blocks the thread for up to ~0.4 s, and a DNS or Redis answer due meanwhile is read only after its timer has
   * fired (libuv runs timers before I/O), so a lookup that was on time would be taken for a timeout.
   */
  busy?: string | undefined;
}

export interface UpkeepPolicy {
  /** At most this event-loop utilization counts as quiet. */
  quietElu: number;
  /** Intervals in a row that must be quiet: a lull between two messages is not "gone quiet". */
  quietIntervals: number;
  /** Shrink only when the heap committed has grown this much over what the last shrink left (the first: over 0). */
  minGrowthBytes: number;
}

/**
 * Quiet for 3 x 1 s below 5% of one core, after 8 MB of growth: a busy MX never pays for it, and the heap a load
 * grew is given back ~3 s after the load stops (before sessions that arrive next find it).
 */
export const DEFAULT_POLICY: UpkeepPolicy = { quietElu: 0.05, quietIntervals: 3, minGrowthBytes: 8 * 1024 * 1024 };
export const DEFAULT_INTERVAL_MS = 1000;

export interface UpkeepState {
  quietRun: number;
  /** Heap committed after the last shrink (0 before the first). */
  floor: number;
}

export interface Decision {
  shrink: boolean;
  /** Due, but something is in flight (the sample's `busy`): asked again at the next interval. */
  deferred?: string | undefined;
  state: UpkeepState;
}

/** Pure: whether to shrink now, and the state after this sample. */
export function decide(policy: UpkeepPolicy, state: UpkeepState, s: MemorySample): Decision {
  const quietRun = s.elu <= policy.quietElu ? state.quietRun + 1 : 0;
  // the floor follows the heap down (V8's own GCs may shrink it), never up: growth is measured from the lowest point
  const floor = Math.min(state.floor, s.heapCommitted);
  const due = quietRun >= policy.quietIntervals && s.heapCommitted - floor >= policy.minGrowthBytes;
  // deferred: still quiet and grown, so the first sample with nothing in flight shrinks
  if (due && s.busy) return { shrink: false, deferred: s.busy, state: { quietRun, floor } };
  return { shrink: due, state: { quietRun: due ? 0 : quietRun, floor } };
}

type Gc = (options?: { type?: 'major' | 'minor'; execution?: 'sync' | 'async'; flavor?: 'regular' | 'last-resort' }) => void;

/**
 * V8's gc() without exposing it to the application's globals: the flag applies to contexts made after it, and
 * only this one, private context gets it. undefined where the runtime refuses (then the upkeep stays off).
 */
export function privateGc(): Gc | undefined {
  try {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('typeof gc === "function" ? gc : undefined') as Gc | undefined;
    return typeof gc === 'function' ? gc : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A full GC in V8's memory-reducing mode ("last resort": what V8 runs under memory pressure): live objects
 * compacted, the young generation back to its initial size, freed pages unmapped.
 */
export function shrinkHeap(gc: Gc): void {
  gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
}

/** How long a due shrink waits for work in flight before it runs anyway (one stuck session must not hold it off). */
export const MAX_DEFER_MS = 60_000;

type ShrinksCounter = InstanceType<typeof Counter<'result'>>;
interface DeferredGauge {
  /** When the current deferral spell began (the ticker's clock, ms), undefined outside one. */
  since: number | undefined;
  now: () => number;
}
let metrics: WeakMap<Registry, Map<string, { shrinks: ShrinksCounter; deferred: DeferredGauge }>> | undefined;
/** The counter by `name`, and beside it `name` with `_shrinks_total` -> `_shrink_deferred_seconds` (a gauge). */
function upkeepMetrics(registry: Registry, name: string): { shrinks: ShrinksCounter; deferred: DeferredGauge } {
  metrics ??= new WeakMap();
  let byName = metrics.get(registry);
  if (!byName) metrics.set(registry, (byName = new Map()));
  let m = byName.get(name);
  if (!m) {
    const shrinks = new Counter<'result'>({
      name,
      help: 'Memory-reducing GCs because the thread went quiet after its heap grew, by result (deferred: a spell of waiting began because work was in flight; forced: run anyway after waiting the limit)',
      labelNames: ['result'] as const,
      registers: [registry],
    });
    const deferred: DeferredGauge = { since: undefined, now: () => performance.now() };
    new Gauge({
      name: name.replace(/_shrinks_total$/, '') + '_shrink_deferred_seconds',
      help: 'Seconds the due heap shrink has been waiting for work in flight (0: not waiting)',
      registers: [registry],
      collect() {
        this.set(deferred.since === undefined ? 0 : Math.max(0, deferred.now() - deferred.since) / 1000);
      },
    });
    m = { shrinks, deferred };
    byName.set(name, m);
  }
  return m;
}

export interface MemoryUpkeep {
  stop(): void;
}

export interface UpkeepOptions {
  logger: Logger;
  registry: Registry;
  /** Which thread (logged). */
  thread: string;
  /** The shrink counter's name: each thread's registry is scraped into one /metrics, so the names differ. */
  metricName?: string;
  /**
   * A gauge of this thread's V8 heap (`kind`: used, committed) by this name: for a thread whose registry has no
   * default metrics (the delivery thread's; the SMTP thread's has nodejs_heap_space_size_*).
   */
  heapGauge?: string;
  /** What is in flight that the pause would stall (undefined: nothing); a due shrink waits for it. */
  busy?: () => string | undefined;
  intervalMs?: number;
  policy?: UpkeepPolicy;
  /** A due shrink deferred this long runs anyway (result `forced`); default MAX_DEFER_MS. */
  maxDeferMs?: number;
}

const mb = (bytes: number) => Math.round(bytes / 104857.6) / 10;

export interface UpkeepTicker {
  /** One interval: sample, decide, maybe shrink. What the timer calls (tests call it directly). */
  tick(elu: number): Decision;
}

/** The upkeep without its timer: `gc` and the heap figure are given, so tests drive it sample by sample. */
export function upkeepTicker(o: UpkeepOptions & { gc: Gc; heapCommitted?: () => number; now?: () => number }): UpkeepTicker {
  const heapCommitted = o.heapCommitted ?? (() => v8.getHeapStatistics().total_heap_size);
  const now = o.now ?? (() => performance.now());
  const { shrinks, deferred: spell } = upkeepMetrics(o.registry, o.metricName ?? 'moat_mx_heap_shrinks_total');
  spell.now = now;
  const policy = o.policy ?? DEFAULT_POLICY;
  const maxDeferMs = o.maxDeferMs ?? MAX_DEFER_MS;
  // floor 0: the heap the start-up grew (config compiled, modules evaluated: ~10 MB more committed than live) is
  // growth too, given back at the first quiet spell
  let state: UpkeepState = { quietRun: 0, floor: 0 };
  return {
    tick(elu) {
      const heap = heapCommitted();
      let d = decide(policy, state, { elu, heapCommitted: heap });
      // asked only when a shrink is due (it walks the open sessions)
      const busy = d.shrink ? o.busy?.() : undefined;
      if (busy) d = decide(policy, state, { elu, heapCommitted: heap, busy });
      state = d.state;
      let forced: string | undefined;
      if (d.deferred) {
        // one line per deferral spell, not one a second
        if (spell.since === undefined) {
          spell.since = now();
          shrinks.inc({ result: 'deferred' });
          o.logger.info({ event: 'heap-shrink-deferred', thread: o.thread, decidedBy: 'memory-upkeep', busy: d.deferred, heapMb: mb(heap) }, 'heap shrink due: waiting for work in flight');
        }
        // a stranger holding a transaction open (RCPT/NOOP to each timeout, then again) or a slow next hop would
        // otherwise hold the shrink off for ever: after the limit, one pause is the smaller harm
        if (now() - spell.since < maxDeferMs) return d;
        forced = d.deferred;
        d = { shrink: true, state: { quietRun: 0, floor: state.floor } };
        state = d.state;
      } else if (!d.shrink) {
        // the spell ended without a shrink (the thread got busy again, or V8 shrank the heap itself)
        spell.since = undefined;
        return d;
      }
      const waitedMs = spell.since === undefined ? undefined : Math.round(now() - spell.since);
      spell.since = undefined;
      const rss = process.memoryUsage.rss();
      const t0 = performance.now();
      try {
        shrinkHeap(o.gc);
      } catch (e) {
        shrinks.inc({ result: 'failed' });
        o.logger.warn({ event: 'heap-shrink', thread: o.thread, decidedBy: 'memory-upkeep', err: String(e) }, 'heap shrink failed');
        return d;
      }
      const ms = performance.now() - t0;
      const after = heapCommitted();
      state = { quietRun: 0, floor: after };
      shrinks.inc({ result: forced ? 'forced' : 'done' });
      const line = { event: 'heap-shrink', thread: o.thread, decidedBy: 'memory-upkeep', elu: Math.round(elu * 1000) / 1000, heapMb: [mb(heap), mb(after)], rssMb: [mb(rss), mb(process.memoryUsage.rss())], ms: Math.round(ms), ...(waitedMs !== undefined ? { waitedMs } : {}) };
      if (forced) o.logger.warn({ ...line, result: 'forced', busy: forced }, 'heap shrunk after waiting the limit for work in flight');
      else o.logger.info({ ...line, result: 'done' }, 'quiet after growth: heap shrunk');
      return d;
    },
  };
}

/** Starts the upkeep (an unref'd timer: it never keeps the process alive). Off, with one log line, without gc(). */
export function startMemoryUpkeep(o: UpkeepOptions): MemoryUpkeep {
  const gc = privateGc();
  if (!gc) {
    upkeepMetrics(o.registry, o.metricName ?? 'moat_mx_heap_shrinks_total').shrinks.inc({ result: 'unavailable' });
    o.logger.warn({ event: 'memory-upkeep', thread: o.thread }, 'memory upkeep off: V8 refused to expose gc()');
    return { stop() {} };
  }
  if (o.heapGauge) {
    new Gauge<'kind'>({
      name: o.heapGauge,
      help: "This thread's V8 heap, bytes: used and committed",
      labelNames: ['kind'] as const,
      registers: [o.registry],
      collect() {
        const h = v8.getHeapStatistics();
        this.set({ kind: 'used' }, h.used_heap_size);
        this.set({ kind: 'committed' }, h.total_heap_size);
      },
    });
  }
  const ticker = upkeepTicker({ ...o, gc });
  let last = performance.eventLoopUtilization();
  const timer = setInterval(() => {
    const now = performance.eventLoopUtilization();
    const elu = performance.eventLoopUtilization(now, last).utilization;
    last = now;
    ticker.tick(elu);
  }, o.intervalMs ?? DEFAULT_INTERVAL_MS);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
