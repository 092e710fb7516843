// Gives memory back when the gateway goes quiet: V8 keeps the heap a load grew (young generation at its largest,
// old space uncompacted) for as long as nothing allocates; once the event loop has been idle a while, one
// memory-reducing full GC shrinks it to what is live. Trusts V8 and this thread's own counters only.
import { performance } from 'node:perf_hooks';
import v8 from 'node:v8';
import vm from 'node:vm';
import { Counter, type Logger, type Registry } from '@moat/observe';

/** What the upkeep looks at, every interval. */
export interface MemorySample {
  /** Event-loop utilization over the last interval, 0..1. */
  elu: number;
  /** V8 heap committed (total_heap_size), bytes. */
  heapCommitted: number;
}

export interface UpkeepPolicy {
  /** At most this event-loop utilization counts as quiet. */
  quietElu: number;
  /** Intervals in a row that must be quiet: a lull between two messages is not "gone quiet". */
  quietIntervals: number;
  /** Shrink only when the heap committed has grown this much over what the last shrink (or the start) left. */
  minGrowthBytes: number;
}

/** Quiet for 2 x 5 s below 5% of one core, after 8 MB of growth: a busy MX never pays for it. */
export const DEFAULT_POLICY: UpkeepPolicy = { quietElu: 0.05, quietIntervals: 2, minGrowthBytes: 8 * 1024 * 1024 };
export const DEFAULT_INTERVAL_MS = 5000;

export interface UpkeepState {
  quietRun: number;
  /** Heap committed after the last shrink (or at the start). */
  floor: number;
}

/** Pure: whether to shrink now, and the state after this sample. */
export function decide(policy: UpkeepPolicy, state: UpkeepState, s: MemorySample): { shrink: boolean; state: UpkeepState } {
  const quietRun = s.elu <= policy.quietElu ? state.quietRun + 1 : 0;
  // the floor follows the heap down (V8's own GCs may shrink it), never up: growth is measured from the lowest point
  const floor = Math.min(state.floor, s.heapCommitted);
  const shrink = quietRun >= policy.quietIntervals && s.heapCommitted - floor >= policy.minGrowthBytes;
  return { shrink, state: { quietRun: shrink ? 0 : quietRun, floor } };
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

type ShrinksCounter = InstanceType<typeof Counter<'result'>>;
let metrics: WeakMap<Registry, ShrinksCounter> | undefined;
function shrinksCounter(registry: Registry): ShrinksCounter {
  metrics ??= new WeakMap();
  let c = metrics.get(registry);
  if (!c) {
    c = new Counter<'result'>({ name: 'moat_mx_heap_shrinks_total', help: 'Memory-reducing GCs run because the gateway went quiet after its heap grew, by result', labelNames: ['result'] as const, registers: [registry] });
    metrics.set(registry, c);
  }
  return c;
}

export interface MemoryUpkeep {
  stop(): void;
}

export interface UpkeepOptions {
  logger: Logger;
  registry: Registry;
  /** Which thread (logged). */
  thread: string;
  intervalMs?: number;
  policy?: UpkeepPolicy;
}

const mb = (bytes: number) => Math.round(bytes / 104857.6) / 10;

/** Starts the upkeep (an unref'd timer: it never keeps the process alive). Off, with one log line, without gc(). */
export function startMemoryUpkeep(o: UpkeepOptions): MemoryUpkeep {
  const gc = privateGc();
  const shrinks = shrinksCounter(o.registry);
  if (!gc) {
    shrinks.inc({ result: 'unavailable' });
    o.logger.warn({ event: 'memory-upkeep', thread: o.thread }, 'memory upkeep off: V8 refused to expose gc()');
    return { stop() {} };
  }
  const policy = o.policy ?? DEFAULT_POLICY;
  let state: UpkeepState = { quietRun: 0, floor: v8.getHeapStatistics().total_heap_size };
  let last = performance.eventLoopUtilization();
  const timer = setInterval(() => {
    const now = performance.eventLoopUtilization();
    const elu = performance.eventLoopUtilization(now, last).utilization;
    last = now;
    const heapCommitted = v8.getHeapStatistics().total_heap_size;
    const d = decide(policy, state, { elu, heapCommitted });
    state = d.state;
    if (!d.shrink) return;
    const rss = process.memoryUsage.rss();
    const t0 = performance.now();
    try {
      shrinkHeap(gc);
    } catch (e) {
      shrinks.inc({ result: 'failed' });
      o.logger.warn({ event: 'heap-shrink', thread: o.thread, decidedBy: 'memory-upkeep', err: String(e) }, 'heap shrink failed');
      return;
    }
    const ms = performance.now() - t0;
    const after = v8.getHeapStatistics().total_heap_size;
    state = { quietRun: 0, floor: after };
    shrinks.inc({ result: 'done' });
    o.logger.info(
      { event: 'heap-shrink', thread: o.thread, decidedBy: 'memory-upkeep', elu: Math.round(elu * 1000) / 1000, heapMb: [mb(heapCommitted), mb(after)], rssMb: [mb(rss), mb(process.memoryUsage.rss())], ms: Math.round(ms) },
      'quiet after growth: heap shrunk',
    );
  }, o.intervalMs ?? DEFAULT_INTERVAL_MS);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
