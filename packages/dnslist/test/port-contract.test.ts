// The DnsListPort contract, run against every implementation: the engine's in-memory port and the real
// client (rbldnsd + Unbound on loopback). One answer per query, in order, echoing zone and key; never throws.
import { createLogger, createRegistry } from '@moat/observe';
import { createMemoryDnsList, type DnsListPort, type DnsListQuery } from '@moat/policy';
import { type RbldnsdServer, startRbldnsd, startUnbound, type UnboundServer } from '@moat/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDnsList } from '../src/index.ts';

let rbl: RbldnsdServer;
let unbound: UnboundServer;
const closers: Array<() => void> = [];

beforeAll(async () => {
  rbl = await startRbldnsd({ zones: { 'bl.moat.test': ':127.0.0.2:listed $\n127.0.0.2\n192.0.2.1\n' } });
  unbound = await startUnbound({ stubZones: { 'bl.moat.test': rbl.stubAddr } });
});
afterAll(async () => {
  for (const c of closers) c();
  await unbound?.stop();
  await rbl?.stop();
});

const implementations: Record<string, () => DnsListPort> = {
  memory: () => createMemoryDnsList({ 'bl.moat.test': { '192.0.2.1': { codes: ['127.0.0.2'], txt: 'listed 192.0.2.1' } } }),
  'rbldnsd+unbound': () => {
    const dns = createDnsList({
      resolver: unbound.server,
      healthOnStart: false,
      healthIntervalMs: 0,
      registry: createRegistry(),
      logger: createLogger('contract', { level: 'silent' }),
    });
    closers.push(() => dns.close());
    return dns;
  },
};

for (const [name, make] of Object.entries(implementations)) {
  describe(`DnsListPort contract: ${name}`, () => {
    it('one answer per query, in order, echoing zone and key', async () => {
      const port = make();
      const queries: DnsListQuery[] = [
        { zone: 'bl.moat.test', target: 'client', key: '192.0.2.2' },
        { zone: 'bl.moat.test', target: 'client', key: '192.0.2.1' },
        { zone: 'bl.moat.test', target: 'client', key: '192.0.2.1' },
      ];
      const answers = await port.lookup(queries);
      expect(answers.map((a) => [a.zone, a.key, a.status])).toEqual([
        ['bl.moat.test', '192.0.2.2', 'not-listed'],
        ['bl.moat.test', '192.0.2.1', 'listed'],
        ['bl.moat.test', '192.0.2.1', 'listed'],
      ]);
      expect(answers[1]?.codes).toEqual(['127.0.0.2']);
      expect(answers[1]?.txt).toBe('listed 192.0.2.1');
      expect(answers[0]?.codes).toEqual([]);
    });

    it('an empty batch answers nothing; junk never throws', async () => {
      const port = make();
      expect(await port.lookup([])).toEqual([]);
      const answers = await port.lookup([
        { zone: 'bl.moat.test', target: 'client', key: 'not an ip' },
        { zone: 'bl.moat.test', target: 'helo', key: '' },
      ]);
      expect(answers).toHaveLength(2);
      for (const a of answers) expect(['listed', 'not-listed', 'unknown']).toContain(a.status);
      expect(answers.every((a) => a.status !== 'listed')).toBe(true);
    });
  });
}
