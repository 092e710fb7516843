// The engine tests' shared fixture: an engine over memory ports, a stranger's facts, bare ports.
// Test code only (not exported from the package index); trusts its callers.
import { createCidrAccessMap, parseCidrTable } from './cidr-map.ts';
import { DEFAULT_RELAY_RESTRICTIONS } from './defaults.ts';
import { createEngine } from './engine.ts';
import { createManualClock, createMemoryDnsList, createMemoryGreylist, type DnsScript } from './memory-ports.ts';
import { parseRestrictions } from './parse.ts';
import { createStaticRecipients } from './recipients.ts';
import type { Facts, GreylistPort, PolicySpec, Ports } from './types.ts';
interface Setup {
  list?: string;
  relay?: string;
  dns?: DnsScript;
  greylist?: GreylistPort;
  spec?: Partial<PolicySpec>;
  maps?: Record<string, string>;
}

export function setup(s: Setup = {}) {
  const clock = createManualClock(Date.UTC(2026, 10, 24, 12, 0, 0));
  const dnslist = createMemoryDnsList(s.dns ?? {});
  const greylistCalls: unknown[] = [];
  const inner = s.greylist ?? createMemoryGreylist({ clock, delay: 60 });
  const greylist: GreylistPort = {
    check: (r) => {
      greylistCalls.push(r);
      return inner.check(r);
    },
  };
  const tables = Object.fromEntries(Object.entries(s.maps ?? {}).map(([k, v]) => [k, parseCidrTable(v)]));
  const ports: Ports = {
    dnslist,
    greylist,
    recipients: createStaticRecipients({
      domains: ['example.org', 'example.net'],
      relayDomains: ['backup.example'],
      users: ['alice@example.org', 'postmaster@example.org', 'postmaster@mx.example.org'],
      catchAll: ['example.net'],
      recipientDelimiter: '+',
    }),
    accessMaps: createCidrAccessMap(tables),
    clock,
  };
  const spec: PolicySpec = {
    myHostname: 'mx.example.org',
    myAddresses: ['192.0.2.25', '2001:db8::25'],
    myNetworks: ['127.0.0.0/8', '[::1]/128', '10.1.0.0/16'],
    delayReject: true,
    strictRfc821Envelopes: true,
    relayRestrictions: s.relay === undefined ? DEFAULT_RELAY_RESTRICTIONS : parseRestrictions(s.relay),
    recipientRestrictions: parseRestrictions(s.list ?? 'permit'),
    ...s.spec,
  };
  const engine = createEngine(spec, ports);
  return { engine, dnslist, clock, greylistCalls };
}

export const STRANGER = '198.51.100.7';
export function facts(f: Partial<Facts> = {}): Facts {
  return {
    stage: 'rcpt',
    clientAddress: STRANGER,
    clientName: 'mail.sender.example',
    reverseClientName: 'mail.sender.example',
    helo: 'mail.sender.example',
    sender: 'bob@sender.example',
    rawSender: '<bob@sender.example>',
    recipient: 'alice@example.org',
    rawRecipient: '<alice@example.org>',
    tls: false,
    ...f,
  };
}


export function portsOf(): Ports {
  const clock = createManualClock();
  return {
    dnslist: createMemoryDnsList({}),
    greylist: createMemoryGreylist({ clock }),
    recipients: createStaticRecipients({ domains: ['example.org'], users: ['alice@example.org'] }),
    accessMaps: createCidrAccessMap({}),
    clock,
  };
}
