// A metric registered once per registry: the registry's metric of that name, or a new one made now, so several
// handles (queues, table sets, clients, reloads) share one registry without prom-client's duplicate-name throw.
import type { Registry } from './metrics.ts';

/** The metric `name` on `registry`, or `make()`'s (which must register it there under that name). */
export function metricOnce<T>(registry: Registry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make();
}
