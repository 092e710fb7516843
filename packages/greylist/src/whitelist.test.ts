import { describe, expect, it } from 'vitest';
import { defaultWhitelist } from './default-whitelist.ts';
import { Whitelist } from './whitelist.ts';

const q = (over: Partial<{ clientAddress: string; clientName: string; recipient: string }>) => ({
  clientAddress: '198.51.100.7',
  recipient: 'alice@example.net',
  ...over,
});

describe('Whitelist', () => {
  const wl = new Whitelist({
    clients: ['192.0.2.0/24', '2001:db8:5::/48'],
    clientNames: ['*.partner.example', 'relay.example.org', 'bigcorp.example', '/^mx\\d+\\.isp\\.example$/'],
    recipients: ['postmaster@', 'vip@example.net', '@spamlovers.example', 'bare.example'],
    recipientDomains: ['open.example', '*.lists.example'],
  });

  it('client CIDRs', () => {
    expect(wl.match(q({ clientAddress: '192.0.2.9' }))).toEqual({ kind: 'client', entry: '192.0.2.9' });
    expect(wl.match(q({ clientAddress: '2001:db8:5:1::2' }))?.kind).toBe('client');
    expect(wl.match(q({}))).toBeUndefined();
  });

  it('client names: *.sub, exact, postgrey-style suffix, regex; never the bare *. parent', () => {
    expect(wl.match(q({ clientName: 'out1.partner.example' }))?.entry).toBe('*.partner.example');
    expect(wl.match(q({ clientName: 'partner.example' }))).toBeUndefined();
    expect(wl.match(q({ clientName: 'relay.example.org' }))?.kind).toBe('client-name');
    expect(wl.match(q({ clientName: 'x.relay.example.org' }))?.kind).toBe('client-name');
    expect(wl.match(q({ clientName: 'bigcorp.example' }))?.kind).toBe('client-name');
    expect(wl.match(q({ clientName: 'smtp.bigcorp.example' }))?.kind).toBe('client-name');
    expect(wl.match(q({ clientName: 'notbigcorp.example' }))).toBeUndefined();
    expect(wl.match(q({ clientName: 'MX12.isp.example.' }))?.kind).toBe('client-name');
    const dot = new Whitelist({ clientNames: ['.dot.example', 'relay.example.org', '*.relay.example.org'] });
    expect(dot.match(q({ clientName: 'dot.example' }))?.entry).toBe('.dot.example');
    expect(dot.match(q({ clientName: 'a.b.dot.example' }))?.entry).toBe('.dot.example');
    expect(dot.match(q({ clientName: 'xdot.example' }))).toBeUndefined();
    expect(dot.match(q({ clientName: 'relay.example.org' }))?.entry).toBe('relay.example.org');
    expect(wl.match(q({ clientName: 'unknown' }))).toBeUndefined();
  });

  it('recipients and recipient domains', () => {
    expect(wl.match(q({ recipient: 'postmaster@anything.example' }))?.kind).toBe('recipient');
    expect(wl.match(q({ recipient: 'vip@example.net' }))?.kind).toBe('recipient');
    expect(wl.match(q({ recipient: 'x@spamlovers.example' }))?.kind).toBe('recipient-domain');
    expect(wl.match(q({ recipient: 'x@open.example' }))?.kind).toBe('recipient-domain');
    expect(wl.match(q({ recipient: 'x@sub.open.example' }))).toBeUndefined();
    expect(wl.match(q({ recipient: 'x@a.lists.example' }))?.kind).toBe('recipient-domain');
    expect(wl.match(q({ recipient: 'x@bare.example' }))?.kind).toBe('recipient-domain');
  });

  it('the default list parses entirely and covers the big pool senders', () => {
    const d = new Whitelist(defaultWhitelist);
    expect(d.rejected).toEqual([]);
    expect(d.match(q({ clientAddress: '209.85.220.41' }))?.kind).toBe('client'); // Gmail outbound
    expect(d.match(q({ clientAddress: '2a00:1450:4864:20::62f' }))?.kind).toBe('client');
    expect(d.match(q({ clientAddress: '40.107.22.100' }))?.kind).toBe('client'); // Exchange Online
    expect(d.match(q({ clientAddress: '54.240.8.1' }))?.kind).toBe('client'); // SES
    expect(d.match(q({ clientName: 'mail-sor-f41.google.com' }))?.kind).toBe('client-name');
    expect(d.match(q({ clientName: 'a8-1.smtp-out.amazonses.com' }))?.kind).toBe('client-name');
    expect(d.match(q({ clientName: 'out.github.example' }))).toBeUndefined();
    expect(d.match(q({ recipient: 'abuse@example.net' }))?.kind).toBe('recipient');
  });

  it('a client name asked again gets the same answer (names are remembered per spelling)', () => {
    const d = new Whitelist(defaultWhitelist);
    for (let i = 0; i < 3; i++) {
      expect(d.match(q({ clientName: 'MAIL-sor-f41.google.com.' }))).toEqual({ kind: 'client-name', entry: expect.any(String) });
      expect(d.match(q({ clientName: 'out.github.example' }))).toBeUndefined();
      expect(d.match(q({ clientName: 'unknown' }))).toBeUndefined();
    }
  });
});
