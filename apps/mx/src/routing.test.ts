// The resolver the gateway and its delivery thread use, built from moat.yaml's recipients: and queue.transport(s).
import { ConfigError, parseConfig } from '@moat/config';
import { describe, expect, it } from 'vitest';
import { routingFromConfig } from './routing.ts';

const yaml = (transports: string) => `
policy: { hostname: mx.example.org }
recipients:
  domains: [example.org]
  relay_domains: [backup.example, nohop.example]
  users: [rcpt@example.org, Bob@example.org, special@example.org, gone@example.org]
  catch_all: [catch.example]
  recipient_delimiter: "+-"
queue:
  transport: maildir:/var/mail/moat
  transports: {${transports}}
`;
const TRANSPORTS = `"backup.example": "smtp:[10.0.0.5]:25", "special@example.org": "lmtp:unix:/run/dovecot/lmtp", ".sub.example": "smtp:[10.0.0.6]", "gone@example.org": "error:5.1.1 moved away"`;
const routing = routingFromConfig(parseConfig(yaml(TRANSPORTS), { file: '/etc/moat/moat.yaml', env: {} }));

const hopOf = (a: string) => {
  const r = routing.resolver.resolve(a);
  return r.ok ? r.recipients.map((f) => `${f.class} ${f.address}${f.extension ? ` ext=${f.extension}` : ''} ${f.nextHop.raw}`) : `${r.status} ${r.text}`;
};

describe('routing from moat.yaml', () => {
  it('our users go to queue.transport; +ext (any delimiter) is looked up without it and kept on the address, as Postfix does', () => {
    expect(hopOf('rcpt@example.org')).toEqual(['virtual-mailbox rcpt@example.org maildir:/var/mail/moat']);
    expect(hopOf('rcpt+news@Example.ORG')).toEqual(['virtual-mailbox rcpt+news@example.org ext=news maildir:/var/mail/moat']);
    expect(hopOf('anyone@catch.example')[0]).toMatch(/^virtual-mailbox anyone@catch\.example maildir:\/var\/mail\/moat$/);
  });

  it('unknown users of our domains are refused (550 5.1.1); remote and relay domains are not looked up', () => {
    expect(hopOf('nobody@example.org')).toMatch(/^5\.1\.1 .*User unknown in virtual mailbox table/);
    expect(hopOf('someone@elsewhere.example')[0]).toMatch(/^remote someone@elsewhere\.example smtp/);
    expect(hopOf('anyone@backup.example')).toEqual(['relay anyone@backup.example smtp:[10.0.0.5]:25']);
  });

  it('queue.transports as transport_maps: user@domain, then domain, then .parent for subdomains; the maildir guard', () => {
    expect(hopOf('special+x@example.org')).toEqual(['virtual-mailbox special+x@example.org ext=x lmtp:unix:/run/dovecot/lmtp']);
    // what resolves to the error transport is refused at RCPT, as smtpd does
    expect(hopOf('gone@example.org')).toBe('5.1.1 moved away');
    expect(hopOf('a@host.sub.example')).toEqual(['remote a@host.sub.example smtp:[10.0.0.6]']);
    expect(routing.isLocal('example.org')).toBe(true);
    expect(routing.isLocal('catch.example')).toBe(true);
    expect(routing.isLocal('backup.example')).toBe(false);
    expect(routing.isLocal('elsewhere.example')).toBe(false);
  });

  it('a transport that does not parse is a config error naming its key', () => {
    let err: unknown;
    try {
      routingFromConfig(parseConfig(yaml(`"x.example": "uucp:host"`), { file: '/etc/moat/moat.yaml', env: {} }));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect(String((err as Error).message)).toMatch(/queue\.transports/);
  });
});

describe('the delivery thread\'s resolver, rebuilt from plain data', () => {
  it('answers as the SMTP side\'s after a structured clone (no config code in the thread)', async () => {
    const { compileConfig } = await import('@moat/config');
    const { createAddressResolver, fromPlainResolverSpec, mailboxDomains, toPlainResolverSpec } = await import('@moat/address');
    const compiled = compileConfig(parseConfig(yaml(TRANSPORTS), { file: '/etc/moat/moat.yaml', env: {} }));
    const plain = structuredClone(toPlainResolverSpec(compiled.routing.spec));
    const rebuilt = createAddressResolver(fromPlainResolverSpec(plain, (s, o) => compiled.tables.open(s, o)));
    const isLocal = mailboxDomains(rebuilt);
    for (const a of ['rcpt@example.org', 'rcpt+news@Example.ORG', 'anyone@catch.example', 'nobody@example.org', 'someone@elsewhere.example', 'anyone@backup.example', 'special+x@example.org', 'gone@example.org', 'a@host.sub.example', 'postmaster@mx.example.org']) {
      expect(rebuilt.resolve(a)).toEqual(compiled.addressResolver.resolve(a));
    }
    for (const d of ['example.org', 'catch.example', 'backup.example', 'elsewhere.example']) expect(isLocal(d)).toBe(routing.isLocal(d));
  });
});
