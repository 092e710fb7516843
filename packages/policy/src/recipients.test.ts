import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { splitAddress } from './address.ts';
import { createStaticRecipients } from './recipients.ts';

describe('static recipients', () => {
  const r = createStaticRecipients({
    domains: ['Example.org', 'example.net.'],
    relayDomains: ['backup.example'],
    users: ['Alice@example.org', 'b.c@example.org'],
    catchAll: ['@example.net'],
    recipientDelimiter: '+-',
  });
  it('classifies', async () => {
    expect(await r.classify('alice@example.org')).toBe('local');
    expect(await r.classify('ALICE@EXAMPLE.ORG.')).toBe('local');
    expect(await r.classify('alice+tag@example.org')).toBe('local');
    expect(await r.classify('alice-tag+x@example.org')).toBe('local');
    expect(await r.classify('b.c+x@example.org')).toBe('local');
    expect(await r.classify('+alice@example.org')).toBe('unknown-user');
    expect(await r.classify('mallory@example.org')).toBe('unknown-user');
    expect(await r.classify('anyone@example.net')).toBe('local');
    expect(await r.classify('anyone@backup.example')).toBe('local');
    expect(await r.classify('alice@remote.example')).toBe('remote');
    expect(await r.classify('alice@sub.example.org')).toBe('remote');
  });
  it('without a delimiter, +tag is part of the name', async () => {
    const s = createStaticRecipients({ domains: ['example.org'], users: ['alice@example.org'], recipientDelimiter: '' });
    expect(await s.classify('alice+tag@example.org')).toBe('unknown-user');
  });
});

describe('static recipients, property', () => {
  it('the fast path classifies like the plain definition', () => {
    const r = createStaticRecipients({ domains: ['example.org'], relayDomains: ['backup.example'], users: ['alice@example.org', 'b@example.org'], catchAll: ['catch.example'], recipientDelimiter: '+' });
    const reference = (rcpt: string): string => {
      const { local, domain } = splitAddress(rcpt);
      const d = domain.toLowerCase().replace(/\.$/, '');
      const l = local.toLowerCase();
      if (d === 'backup.example') return 'local';
      if (d !== 'example.org' && d !== 'catch.example') return 'remote';
      const users = new Set(['alice@example.org', 'b@example.org']);
      if (users.has(`${l}@${d}`)) return 'local';
      const cut = l.indexOf('+');
      if (cut > 0 && users.has(`${l.slice(0, cut)}@${d}`)) return 'local';
      return d === 'catch.example' ? 'local' : 'unknown-user';
    };
    const part = fc.constantFrom('alice', 'ALICE', 'b', 'b+x', 'alice+', '+alice', 'bob', 'a.b', '"alice"', '"a@b"');
    const dom = fc.constantFrom('example.org', 'EXAMPLE.ORG.', 'backup.example', 'catch.example', 'remote.example', 'example.org..', '');
    fc.assert(
      fc.property(part, fc.constantFrom('@', ''), dom, (l, at, d) => {
        const a = `${l}${at}${d}`;
        expect(r.classifySync(a), a).toBe(reference(a));
      }),
      { numRuns: 2000 },
    );
  });
});
