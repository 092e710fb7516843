// The stack the engine-level DNS-list tests run on: rbldnsd serving test zones, Unbound stubbing each to it,
// and the real client on that Unbound with a profile per zone. Loopback only; nothing else is asked.
import { createLogger, createRegistry } from '@moat/observe';
import { type RbldnsdServer, type RbldnsdZone, startRbldnsd, startUnbound, type UnboundServer } from '@moat/testkit';
import { createDnsList, type DnsList, type ZoneOptions } from '../src/index.ts';

export interface ListStack {
  rbl: RbldnsdServer;
  unbound: UnboundServer;
  dns: DnsList;
  stop(): Promise<void>;
}

/** Each zone's rbldnsd data and its client options (its profile); `name` names the client's logger. */
export async function startListStack(zones: Record<string, { data: RbldnsdZone } & ZoneOptions>, name: string): Promise<ListStack> {
  const names = Object.keys(zones);
  const rbl = await startRbldnsd({ zones: Object.fromEntries(names.map((z) => [z, zones[z]!.data])) });
  const unbound = await startUnbound({ stubZones: Object.fromEntries(names.map((z) => [z, rbl.stubAddr])) });
  const dns = createDnsList({
    resolver: unbound.server,
    healthIntervalMs: 0,
    zones: Object.fromEntries(names.map((z) => [z, (({ data: _, ...options }) => options)(zones[z]!)])),
    registry: createRegistry(),
    logger: createLogger(name, { level: 'silent' }),
  });
  await dns.ready;
  return {
    rbl,
    unbound,
    dns,
    async stop() {
      dns.close();
      await unbound.stop();
      await rbl.stop();
    },
  };
}
