import { describe, expect, it } from 'vitest';
import { configResolver } from './routing.ts';

const resolver = configResolver({
  recipients: {
    domains: ['example.org'],
    relayDomains: ['backup.example', 'nohop.example'],
    users: ['rcpt@example.org', 'Bob@example.org', 'special@example.org', 'gone@example.org'],
    catchAll: ['catch.example'],
    recipientDelimiter: '+-',
  },
  transport: 'maildir:/var/mail/moat',
  transports: {
    'backup.example': 'smtp:[10.0.0.5]:25',
    'special@example.org': 'lmtp:unix:/run/dovecot/lmtp',
    '.sub.example': 'smtp:[10.0.0.6]',
    'gone@example.org': 'error:5.1.1 moved away',
  },
});

const hopOf = (a: string) => {
  const r = resolver.resolve(a);
  return r.ok ? r.recipients.map((f) => `${f.class} ${f.address}${f.extension ? ` ext=${f.extension}` : ''} ${f.nextHop.raw}`) : `${r.status} ${r.text}`;
};

describe('configResolver', () => {
  it('our users go to queue.transport; +ext (any delimiter) is split off, the user looked up', () => {
    expect(hopOf('rcpt@example.org')).toEqual(['virtual-mailbox rcpt@example.org maildir:/var/mail/moat']);
    expect(hopOf('rcpt+news@Example.ORG')).toEqual(['virtual-mailbox rcpt@example.org ext=news maildir:/var/mail/moat']);
    expect(hopOf('bob-a+b@example.org')).toEqual(['virtual-mailbox bob@example.org ext=a+b maildir:/var/mail/moat']);
    // an empty extension: the address stays as written (the maildir files it under rcpt)
    expect(hopOf('rcpt+@example.org')).toEqual(['virtual-mailbox rcpt+@example.org maildir:/var/mail/moat']);
    expect(hopOf('anyone@catch.example')).toEqual(['virtual-mailbox anyone@catch.example maildir:/var/mail/moat']);
  });

  it('unknown users of our domains are refused (550 5.1.1); remote and relay domains are not looked up', () => {
    expect(hopOf('nobody@example.org')).toBe('5.1.1 <nobody@example.org>: Recipient address rejected: User unknown in virtual mailbox table');
    expect(hopOf('someone@elsewhere.example')).toEqual(['remote someone@elsewhere.example smtp:']);
    expect(hopOf('anyone@backup.example')).toEqual(['relay anyone@backup.example smtp:[10.0.0.5]:25']);
    // a relay domain without a transport: MX lookup (documented: give it one)
    expect(hopOf('anyone@nohop.example')).toEqual(['relay anyone@nohop.example smtp:']);
  });

  it('queue.transports as transport_maps: user@domain, then domain, then .parent for subdomains only', () => {
    expect(hopOf('special+x@example.org')).toEqual(['virtual-mailbox special@example.org ext=x lmtp:unix:/run/dovecot/lmtp']);
    expect(hopOf('gone@example.org')).toEqual(['virtual-mailbox gone@example.org error:5.1.1 moved away']);
    expect(hopOf('a@host.sub.example')).toEqual(['remote a@host.sub.example smtp:[10.0.0.6]']);
    expect(hopOf('a@sub.example')).toEqual(['remote a@sub.example smtp:']);
    expect(resolver.isLocal('example.org')).toBe(true);
    expect(resolver.isLocal('backup.example')).toBe(false);
    expect(resolver.isLocal('elsewhere.example')).toBe(false);
  });

  it('a transport that does not parse is an error naming its key', () => {
    expect(() => configResolver({ recipients: { domains: ['example.org'] }, transport: 'maildir:/m', transports: { 'x.example': 'uucp:host' } })).toThrow(
      /queue\.transports\.x\.example: bad transport "uucp:host"/,
    );
  });
});
