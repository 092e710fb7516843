import { describe, expect, it } from 'vitest';
import { hopPolicyKey, nextHopTls } from './next-hop-tls.ts';

describe('hopPolicyKey (Postfix: the verbatim next hop, brackets kept, the default port dropped)', () => {
  it('smtp: [host] on 25, [host]:port otherwise', () => {
    expect(hopPolicyKey({ kind: 'smtp', host: 'relay.example', port: 25 })).toBe('[relay.example]');
    expect(hopPolicyKey({ kind: 'smtp', host: 'relay.example', port: 587 })).toBe('[relay.example]:587');
  });
  it('lmtp: no inet: prefix, brackets as written, :24 dropped', () => {
    expect(hopPolicyKey({ kind: 'lmtp', host: 'mail.example', port: 24, raw: 'lmtp:inet:mail.example:24' })).toBe('mail.example');
    expect(hopPolicyKey({ kind: 'lmtp', host: 'mail.example', port: 2424, raw: 'lmtp:[mail.example]:2424' })).toBe('[mail.example]:2424');
  });
});

describe('nextHopTls', () => {
  const tls = nextHopTls({ smtp: { level: 'dane', policies: { '[relay.example]:587': 'encrypt', '[other.example]': 'dane-only' } }, lmtp: { level: 'none', policies: { 'mail.example': 'verify' } }, ca: [] });
  it('the table entry for the hop, else the default level', () => {
    expect(tls({ kind: 'smtp', host: 'relay.example', port: 587 })).toMatchObject({ level: 'encrypt', key: '[relay.example]:587', starttls: 'opportunistic', tls: { required: true } });
    // dane without MX lookup is may (moat uses no TLSA there); the same host on 25 has no entry
    expect(tls({ kind: 'smtp', host: 'relay.example', port: 25 })).toEqual({ level: 'dane', starttls: 'opportunistic' });
    expect(tls({ kind: 'smtp', host: 'other.example', port: 25 }).refuse).toMatch(/dane-only/);
  });
  it('lmtp: none by default (no STARTTLS), a table level applies, a unix socket never uses TLS', () => {
    expect(tls({ kind: 'lmtp', host: 'box.example', port: 24, raw: 'lmtp:box.example:24' })).toEqual({ level: 'none', starttls: 'never' });
    expect(tls({ kind: 'lmtp', host: 'mail.example', port: 24, raw: 'lmtp:inet:mail.example' })).toMatchObject({ level: 'verify', starttls: 'opportunistic', tls: { required: true } });
    expect(tls({ kind: 'lmtp', host: 'localhost', port: 0, path: '/run/lmtp' })).toMatchObject({ starttls: 'never' });
  });
});
