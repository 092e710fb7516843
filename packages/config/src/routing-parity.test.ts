// The engine decides the same with the resolver as its RecipientPort as with today's static directory:
// the shipped policy, the seed's client classes, generated recipients; verdicts compared whole (but for
// the recipient table an unknown user's refusal names).
import { createAddressResolver, createMemoryTable, recipientPortFromResolver } from '@moat/address';
import { createEngine, createManualClock, createMemoryDnsList, createStaticRecipients, type Facts, type Ports, replyLine } from '@moat/policy';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileConfig } from './compile.ts';
import { compileRouting } from './compile-routing.ts';
import { parseConfig } from './load.ts';

const config = parseConfig(
  `policy:
  hostname: mx.example.org
  mynetworks: [127.0.0.0/8, 10.9.0.0/16]
recipients:
  domains: [example.org, example.net]
  relay_domains: [backup.example]
  users: [alice@example.org, bob@example.org, postmaster@example.org]
  catch_all: [example.net]
  recipient_delimiter: "+-"
routing:
  mydestination: []
`,
  { file: 'moat.yaml', env: {} },
);
const compiled = compileConfig(config);
const staticPort = createStaticRecipients(compiled.recipientOptions);
const resolverPort = recipientPortFromResolver(
  createAddressResolver(compileRouting(config, { openTable: (s) => createMemoryTable(s, []), recipients: compiled.recipientOptions }).spec),
);

const ports = (recipients: Ports['recipients']): Ports => ({
  dnslist: createMemoryDnsList({ 'zen.spamhaus.org': { '192.0.2.2': { codes: ['127.0.0.2'] } }, 'list.dnswl.org': { '192.0.2.3': { codes: ['127.0.10.2'] } } }),
  greylist: { check: () => Promise.resolve({ action: 'defer', retryAfter: 60 } as const) },
  recipients,
  accessMaps: compiled.accessMaps,
  clock: createManualClock(),
});
const engines = { static: createEngine(compiled.spec, ports(staticPort)), resolver: createEngine(compiled.spec, ports(resolverPort)) };

describe('engine parity: resolver vs static recipient directory', () => {
  it('same verdicts for the seed client classes and generated recipients', async () => {
    const seen = new Set<string>();
    const client = fc.constantFrom('192.0.2.1', '192.0.2.2', '192.0.2.3', '10.9.0.5', '127.0.0.1');
    const local = fc.constantFrom('alice', 'ALICE', 'bob', 'alice+tag', 'bob-x', 'mallory', 'postmaster', '+alice', 'a.b', '"a b"', 'x%y');
    const domain = fc.constantFrom('example.org', 'EXAMPLE.ORG.', 'example.net', 'backup.example', 'remote.example', 'sub.example.org', 'sub.backup.example');
    await fc.assert(
      fc.asyncProperty(client, local, domain, async (ip, l, d) => {
        const rcpt = `${l}@${d}`;
        const facts: Facts = {
          stage: 'rcpt',
          clientAddress: ip,
          clientName: 'mta.sender.example',
          reverseClientName: 'mta.sender.example',
          helo: 'mta.sender.example',
          sender: 'news@sender.example',
          rawSender: '<news@sender.example>',
          recipient: rcpt,
          rawRecipient: `<${rcpt}>`,
          tls: true,
        };
        const a = await engines.static.evaluate(facts);
        const b = await engines.resolver.evaluate(facts);
        // same reply, but for the table an unknown user's refusal names: the static directory always says
        // "local recipient table", the resolver's port the class's own (Postfix check_rcpt_maps)
        const table = (line: string) => line.replace(/User unknown in (local recipient|virtual mailbox|relay recipient) table$/, 'User unknown in TABLE table');
        expect(table(replyLine(b)), `${ip} ${rcpt}`).toBe(table(replyLine(a)));
        expect(b.action, `${ip} ${rcpt}`).toBe(a.action);
        seen.add(replyLine(a).slice(0, 9));
      }),
      { numRuns: 600 },
    );
    // Not vacuous: accepted, greylisted, unknown users, relay denied and DNS-list rejects all occur.
    expect(seen.size, [...seen].join(' | ')).toBeGreaterThanOrEqual(4);
  });
});
