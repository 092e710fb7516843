import { describe, expect, it } from 'vitest';
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
