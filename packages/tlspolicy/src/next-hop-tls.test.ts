import { describe, expect, it } from 'vitest';
import { hopPolicyKey, nextHopTls } from './next-hop-tls.ts';

describe('hopPolicyKey (Postfix: the next hop verbatim, brackets and any port as written, lower-cased)', () => {
  it('smtp: the destination as written, a default :25 kept', () => {
    expect(hopPolicyKey({ kind: 'smtp', host: 'relay.example', port: 25, dest: '[relay.example]' })).toBe('[relay.example]');
    expect(hopPolicyKey({ kind: 'smtp', host: 'relay.example', port: 25, dest: '[relay.example]:25' })).toBe('[relay.example]:25');
    expect(hopPolicyKey({ kind: 'smtp', host: 'relay.example', port: 587, dest: '[Relay.Example]:587' })).toBe('[relay.example]:587');
  });
  it('lmtp: no inet: prefix, brackets and a default :24 as written', () => {
    expect(hopPolicyKey({ kind: 'lmtp', host: 'mail.example', port: 24, dest: 'mail.example:24' })).toBe('mail.example:24');
    expect(hopPolicyKey({ kind: 'lmtp', host: 'mail.example', port: 24, dest: 'mail.example' })).toBe('mail.example');
    expect(hopPolicyKey({ kind: 'lmtp', host: 'mail.example', port: 2424, dest: '[mail.example]:2424' })).toBe('[mail.example]:2424');
  });
  it('hops from older queue files (no dest): the raw text after the transport name, else [host][:port]', () => {
    expect(hopPolicyKey({ kind: 'lmtp', host: 'mail.example', port: 24, raw: 'lmtp:inet:mail.example:24' })).toBe('mail.example:24');
    expect(hopPolicyKey({ kind: 'smtp', host: 'relay.example', port: 25, raw: 'smtp:[relay.example]:25' })).toBe('[relay.example]:25');
    expect(hopPolicyKey({ kind: 'smtp', host: 'relay.example', port: 25 })).toBe('[relay.example]');
    expect(hopPolicyKey({ kind: 'smtp', host: 'relay.example', port: 587, raw: 'smtp: (relayhost [relay.example]:587)' })).toBe('[relay.example]:587');
  });
});

describe('nextHopTls', () => {
  const tls = nextHopTls({ smtp: { level: 'dane', policies: { '[relay.example]:587': 'encrypt', '[other.example]': 'dane-only' } }, lmtp: { level: 'none', policies: { 'mail.example': 'verify' } }, ca: [] });
  it('the table entry for the hop, else the default level', () => {
    expect(tls({ kind: 'smtp', host: 'relay.example', port: 587, dest: '[relay.example]:587' })).toMatchObject({ level: 'encrypt', key: '[relay.example]:587', starttls: 'opportunistic', tls: { required: true } });
    // dane without MX lookup is may (moat uses no TLSA there); the same host on 25 has no entry
    expect(tls({ kind: 'smtp', host: 'relay.example', port: 25, dest: '[relay.example]' })).toEqual({ level: 'dane', starttls: 'opportunistic' });
    expect(tls({ kind: 'smtp', host: 'other.example', port: 25, dest: '[other.example]' }).refuse).toMatch(/dane-only/);
  });
  it('lmtp: none by default (no STARTTLS), a table level applies, a unix socket never uses TLS', () => {
    expect(tls({ kind: 'lmtp', host: 'box.example', port: 24, dest: 'box.example:24' })).toEqual({ level: 'none', starttls: 'never' });
    expect(tls({ kind: 'lmtp', host: 'mail.example', port: 24, dest: 'mail.example' })).toMatchObject({ level: 'verify', starttls: 'opportunistic', tls: { required: true } });
    expect(tls({ kind: 'lmtp', host: 'localhost', port: 0, path: '/run/lmtp' })).toMatchObject({ starttls: 'never' });
  });
  it('a default port written in the next hop is part of the key: [h]:25 encrypt enforces, h:24 verify applies', () => {
    const t = nextHopTls({ smtp: { level: 'may', policies: { '[relay.example]:25': 'encrypt' } }, lmtp: { level: 'none', policies: { 'box.example:24': 'verify' } }, ca: [] });
    expect(t({ kind: 'smtp', host: 'relay.example', port: 25, dest: '[relay.example]:25' })).toMatchObject({ level: 'encrypt', tls: { required: true } });
    expect(t({ kind: 'smtp', host: 'relay.example', port: 25, dest: '[relay.example]' })).toEqual({ level: 'may', starttls: 'opportunistic' });
    expect(t({ kind: 'lmtp', host: 'box.example', port: 24, dest: 'box.example:24' })).toMatchObject({ level: 'verify', starttls: 'opportunistic', tls: { required: true } });
    expect(t({ kind: 'lmtp', host: 'box.example', port: 24, dest: 'box.example' })).toEqual({ level: 'none', starttls: 'never' });
  });
});
