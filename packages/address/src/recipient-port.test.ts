import { describe, expect, it } from 'vitest';
import { parseNextHop } from './next-hop.ts';
import { RecipientLookupError, recipientPortFromResolver } from './recipient-port.ts';
import { createAddressResolver } from './resolver.ts';
import { brokenTable, memoryTable } from './test-tables.ts';
import type { ResolverSpec } from './types.ts';

const maildir = parseNextHop('maildir:/var/mail/moat');
const spec = (over: Partial<ResolverSpec> = {}): ResolverSpec => ({
  myhostname: 'mx.example.org',
  mydestination: ['mx.example.org'],
  aliasMaps: [],
  virtualAliasDomains: ['alias.example'],
  virtualAliasMaps: [memoryTable({ 'info@alias.example': 'a@hosted.example', 'loop@alias.example': 'loop2@alias.example', 'loop2@alias.example': 'loop@alias.example' })],
  virtualMailboxDomains: ['hosted.example'],
  virtualMailboxMaps: [memoryTable({ 'a@hosted.example': 'OK' })],
  relayDomains: ['backup.example'],
  transportMaps: [],
  recipientDelimiter: '+',
  localTransport: maildir,
  virtualTransport: maildir,
  relayTransport: parseNextHop('relay:'),
  defaultTransport: parseNextHop('smtp:'),
  virtualAliasRecursionLimit: 1000,
  virtualAliasExpansionLimit: 1000,
  ...over,
});

describe('recipientPortFromResolver', () => {
  it('answers as smtpd would at RCPT', async () => {
    const p = recipientPortFromResolver(createAddressResolver(spec()));
    expect(p.classifySync('a+x@hosted.example')).toBe('local');
    expect(p.classifySync('b@hosted.example')).toBe('unknown-user');
    expect(p.classifySync('info@alias.example')).toBe('local');
    expect(p.classifySync('nobody@alias.example')).toBe('unknown-user');
    expect(p.classifySync('anyone@backup.example')).toBe('local');
    expect(p.classifySync('x@elsewhere.example')).toBe('remote');
    // Postfix accepts an alias key at RCPT and fails the loop at delivery.
    expect(p.classifySync('loop@alias.example')).toBe('local');
    expect(await p.classify('b@hosted.example')).toBe('unknown-user');
    expect(p.verifySync('b@hosted.example')).toEqual({ accepted: false, class: 'virtual-mailbox', status: '5.1.1', text: 'User unknown in virtual mailbox table' });
  });
  it('refuses unknown users of relay domains when relay_recipient_maps is set', () => {
    const p = recipientPortFromResolver(createAddressResolver(spec({ relayRecipientMaps: [memoryTable({ '@backup.example': 'x', 'u@sub.backup.example': 'x' })] })));
    expect(p.classifySync('anyone@backup.example')).toBe('local');
    expect(p.classifySync('u@sub.backup.example')).toBe('local');
    expect(p.classifySync('v@sub.backup.example')).toBe('unknown-user');
  });
  it('a table that cannot answer throws (the engine answers 451 4.3.0)', async () => {
    const p = recipientPortFromResolver(createAddressResolver(spec({ virtualMailboxMaps: [brokenTable()] })));
    expect(() => p.classifySync('a@hosted.example')).toThrow(RecipientLookupError);
    await expect(p.classify('a@hosted.example')).rejects.toThrow(/4\.3\.0/);
    const q = recipientPortFromResolver(createAddressResolver(spec({ relayDomainMaps: [brokenTable()] })));
    expect(() => q.classifySync('x@elsewhere.example')).toThrow(RecipientLookupError);
  });
});
