// A labelled counter for a per-request hot path: each label set's count is a plain number, handed to prom-client
// when the metric is read. Trusts its callers' label values to be a small fixed set (actions, reasons, kinds).
import client, { type CounterConfiguration } from 'prom-client';

type Labels<L extends string> = Partial<Record<L, string | number>>;
interface Child<L extends string> {
  labels: Labels<L>;
  pending: number;
}
type Node<L extends string> = Map<string | number | undefined, Node<L> | Child<L>>;

export interface HotCounter<L extends string> {
  /** As `counter.inc(labels, n)`; the count reaches prom-client at the next read (scrape, get, getMetricsAsJSON). */
  inc(labels: Labels<L>, n?: number): void;
}

/**
 * prom-client's `inc(labels)` builds and validates a hash string of the label set on every call (its
 * `labels()` children too): a few µs per decision. Here a label set is found by one map lookup per label,
 * and the counts are added to the counter by its public `inc` when anything reads it (its `collect` hook),
 * so the exposition is the same. The counter is made here, from prom-client's own configuration, so that its
 * label names are known without reading prom-client's internals; every increment goes through the handle.
 */
export function hotCounter<L extends string>(config: CounterConfiguration<L>): HotCounter<L> {
  const counter = new client.Counter<L>(config);
  const names: readonly L[] = config.labelNames ?? [];
  const known = new Set<string>(names);
  const root: Node<L> = new Map();
  const children: Child<L>[] = [];
  const flush = () => {
    for (const c of children) {
      if (c.pending === 0) continue;
      const n = c.pending;
      c.pending = 0;
      counter.inc(c.labels as never, n);
    }
  };
  const hooked = counter as unknown as { collect?: () => unknown };
  const prior = hooked.collect;
  hooked.collect = function (this: unknown) {
    flush();
    return prior?.call(this);
  };
  // reset() (registry.resetMetrics(), tests) zeroes the counter: counts not yet handed over go too, as they would
  // with prom-client's own inc. The label sets stay known (prom-client keeps no series for them until counted).
  const priorReset = counter.reset.bind(counter);
  counter.reset = () => {
    for (const c of children) c.pending = 0;
    priorReset();
  };
  return {
    inc(labels, n = 1) {
      // every call's names checked (a name of another label set would otherwise be ignored once its path exists)
      for (const name in labels) if (!known.has(name)) throw new Error(`Added label "${name}" is not included in initial labelset: ${JSON.stringify(names)}`);
      let node = root;
      const last = names.length - 1;
      for (let i = 0; i < last; i++) {
        const v = labels[names[i]!];
        let next = node.get(v) as Node<L> | undefined;
        if (next === undefined) node.set(v, (next = new Map()));
        node = next;
      }
      const v = last >= 0 ? labels[names[last]!] : undefined;
      let child = node.get(v) as Child<L> | undefined;
      if (child === undefined) {
        counter.inc(labels as never, 0); // prom-client validates the label names now (a bad one throws here)
        // the label set as prom-client keeps it (undefined values left out)
        const kept: Labels<L> = {};
        for (const name of names) if (labels[name] !== undefined) kept[name] = labels[name];
        child = { labels: kept, pending: 0 };
        node.set(v, child);
        children.push(child);
      }
      child.pending += n;
    },
  };
}
