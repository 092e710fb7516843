import { describe, expect, it } from 'vitest';
import { createAddressResolver } from './resolver.ts';
import { memoryTable, testSpec } from './test-tables.ts';

// error: and retry: next hops in transport_maps: refused at RCPT when the address as given routes there (smtpd),
// accepted and routed there when an alias target does (error(8) bounces, retry(8) defers). Compared with Postfix in
// test/postfix-error-hop.test.ts.
const mk = (entries: Record<string, string>) =>
  createAddressResolver(
    testSpec({
      mydestination: ['mx.example.org', 'localhost'],
      transportMaps: [memoryTable(entries)],
      relayDomains: ['backup.example'],
      virtualAliasDomains: ['alias.example'],
      virtualAliasMaps: [memoryTable({ 'to-busy@alias.example': 'x@busy.example', 'to-gone@alias.example': 'u@gone.example' })],
    }),
  );

describe('error: next hops', () => {
  it('refused at RCPT with its status (by error)', () => {
    const r = mk({ 'gone.example': 'error:5.1.6 we moved', 'soft.example': 'error:4.2.0 later', 'bad.example': 'error' });
    expect(r.resolve('u@gone.example')).toMatchObject({ ok: false, reason: 'unknown-user', status: '5.1.6', text: 'we moved', by: 'error' });
    expect(r.verify('u@gone.example')).toMatchObject({ accepted: false, status: '5.1.6', by: 'error' });
    // smtpd refuses the error transport with 550 and a 5.x.x status, even for error:4.x.x (checked with Postfix).
    expect(r.resolve('u@soft.example')).toMatchObject({ ok: false, status: '5.2.0' });
    // no status written: smtpd's default for a recipient, 5.1.1 (error(8) would bounce it as 5.0.0)
    expect(r.resolve('u@bad.example')).toMatchObject({ ok: false, status: '5.1.1', text: 'Address is undeliverable' });
  });
  it('an alias target routed there is accepted, with the error hop', () => {
    const r = mk({ 'gone.example': 'error:5.1.6 we moved' });
    const res = r.resolve('to-gone@alias.example');
    expect(res.ok && res.recipients.map((x) => [x.address, x.nextHop.transport])).toEqual([['u@gone.example', 'error']]);
  });
});

describe('retry: next hops', () => {
  it('refused for now at RCPT (4.x.x, by retry), as a recipient and as a sender', () => {
    const r = mk({ 'busy.example': 'retry:4.3.0 disk full', 'later.example': 'retry:' });
    expect(r.verify('x@busy.example')).toEqual({ accepted: false, class: 'remote', status: '4.3.0', text: 'disk full', by: 'retry' });
    expect(r.verify('x@later.example', 'sender')).toEqual({ accepted: false, class: 'remote', status: '4.1.0', text: 'Address is undeliverable', by: 'retry' });
    expect(r.resolve('x@busy.example')).toMatchObject({ ok: false, reason: 'retry', status: '4.3.0', text: 'disk full', by: 'retry' });
  });
  it('an alias target routed there is accepted, with the retry hop; route() names the hop (DSNs to such a sender defer)', () => {
    const r = mk({ 'busy.example': 'retry:4.3.0 disk full' });
    const res = r.resolve('to-busy@alias.example');
    expect(res.ok && res.recipients.map((x) => [x.address, x.nextHop.transport])).toEqual([['x@busy.example', 'retry']]);
    expect(r.route('x@busy.example')).toMatchObject({ class: 'remote', nextHop: { transport: 'retry', status: '4.3.0', text: 'disk full' }, via: 'busy.example' });
  });
});
