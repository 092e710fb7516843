// The delivery thread's address resolver: the SMTP side's, rebuilt from its plain spec with the thread's own table
// registry. Trusts the spec (compiled from config by the SMTP side); the table files are read as that side read them.
import { type AddressResolver, createAddressResolver, fromPlainResolverSpec } from '@moat/address';
import { createTables, type Tables } from '@moat/maps';
import type { DeliveryWorkerData } from './delivery-thread.ts';

/**
 * Opens every table of `routing.spec` in a new registry (each in the source format the SMTP side read it in:
 * alias_maps hash/btree/lmdb files are aliases(5), as postalias builds them) and builds the resolver on them.
 * The registry is returned unwatched: the caller starts watching with its logger. Throws TableError.
 */
export function threadResolver(routing: DeliveryWorkerData['routing']): { resolver: AddressResolver; tables: Tables } {
  const tables = createTables({ baseDir: routing.baseDir });
  const resolver = createAddressResolver(fromPlainResolverSpec(routing.spec, (spec, opts) => tables.open(spec, opts)));
  return { resolver, tables };
}
