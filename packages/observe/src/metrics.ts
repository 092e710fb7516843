// One prom-client registry per process; every component registers its metrics on the registry it is handed.
import client from 'prom-client';

export const { Counter, Gauge, Histogram, Registry } = client;
export type Registry = client.Registry;

/** A fresh registry (tests use one each so metrics never collide). */
export function createRegistry(withDefaults = false): client.Registry {
  const registry = new client.Registry();
  if (withDefaults) client.collectDefaultMetrics({ register: registry });
  return registry;
}

/** The process-wide registry the apps expose on /metrics. */
export const defaultRegistry: client.Registry = createRegistry(true);
