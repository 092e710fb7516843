// A small engine under test for the restriction modules' unit tests: in-memory ports, a settable spec.
// Test support only (no production code imports it); trusts its scripts.
import { DEFAULT_RELAY_RESTRICTIONS } from '../defaults.ts';
import { createEngine } from '../engine/index.ts';
import { createManualClock, createMemoryAccessMaps, createMemoryDnsList, createMemoryGreylist, createMemoryMailDomains, type DnsScript } from '../memory-ports.ts';
import { parseRestrictions } from '../parse.ts';
import { createStaticRecipients } from '../recipients.ts';
import type { AccessMapPort, DnsListPort, Facts, MailDomainAnswer, PolicySpec, Ports, RecipientPort } from '../types.ts';

export interface TestSetup {
  list?: string;
  relay?: string;
  spec?: Partial<PolicySpec>;
  maps?: Record<string, Record<string, string>>;
  failingMaps?: string[];
  domains?: Record<string, MailDomainAnswer>;
  dns?: DnsScript;
  /** A DNS-list port of the test's own (a spy); `dns` is ignored then. */
  dnslist?: DnsListPort;
  /** Make every port answer with a promise only (no sync fast paths). */
  async?: boolean;
  /** The recipient port's own refusal words (RecipientPort.verifySync), as the address resolver gives them. */
  verify?: RecipientPort['verifySync'];
}

export function testEngine(s: TestSetup = {}) {
  const clock = createManualClock(Date.UTC(2026, 10, 24, 12, 0, 0));
  const maps = createMemoryAccessMaps(s.maps ?? {}, s.failingMaps ?? []);
  const mailDomains = createMemoryMailDomains(s.domains ?? {});
  const recipients = createStaticRecipients({ domains: ['example.org'], relayDomains: ['backup.example'], users: ['alice@example.org', 'bob@example.org'], recipientDelimiter: '+' });
  const asyncOnly = <T extends object>(p: T, drop: string): T => Object.fromEntries(Object.entries(p).filter(([k]) => k !== drop)) as T;
  const ports: Ports = {
    dnslist: s.dnslist ?? createMemoryDnsList(s.dns ?? {}),
    greylist: createMemoryGreylist({ clock, whitelist: ['198.51.100.7'] }),
    recipients: { ...(s.async ? asyncOnly<RecipientPort>(recipients, 'classifySync') : recipients), ...(s.verify ? { verifySync: s.verify } : {}) },
    accessMaps: s.async ? asyncOnly<AccessMapPort>(maps, 'lookupSync') : maps,
    mailDomains: s.async ? { check: mailDomains.check } : mailDomains,
    clock,
  };
  const spec: PolicySpec = {
    myHostname: 'mx.example.org',
    myAddresses: [],
    myNetworks: ['127.0.0.0/8'],
    delayReject: true,
    strictRfc821Envelopes: false,
    relayRestrictions: s.relay === undefined ? DEFAULT_RELAY_RESTRICTIONS : parseRestrictions(s.relay),
    recipientRestrictions: parseRestrictions(s.list ?? 'permit'),
    ...s.spec,
  };
  return { engine: createEngine(spec, ports), maps, mailDomains, clock };
}

/** A stranger's RCPT for alice@example.org (greylist-whitelisted client, so check_policy_service passes). */
export function rcpt(f: Partial<Facts> = {}): Facts {
  return {
    stage: 'rcpt',
    clientAddress: '198.51.100.7',
    clientName: 'mail.sender.example',
    reverseClientName: 'mail.sender.example',
    helo: 'mail.sender.example',
    sender: 'carol@sender.example',
    recipient: 'alice@example.org',
    tls: false,
    ...f,
  };
}
