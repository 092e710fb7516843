import { describe, expect, it } from 'vitest';
import { lintConfig } from './lint.ts';
import { parseConfig } from './load.ts';

const base = 'policy:\n  hostname: mx.example.org\nrecipients:\n  domains: [example.org]\nmx:\n  tls: { cert: /c.pem, key: /k.pem }\n';

describe('lintConfig', () => {
  it('the shipped default has nothing to say', () => {
    expect(lintConfig(parseConfig(base, { env: {} }))).toEqual([]);
  });

  it('weighted lists that no list sums, and an allowlist threshold nothing permits by, are pointed out', () => {
    const c = parseConfig(base.replace('hostname: mx.example.org\n', 'hostname: mx.example.org\n  dnsbl_sites: zen.example*3\n  dnsbl_whitelist_threshold: -2\n'), { env: {} });
    expect(lintConfig(c).map((x) => `${x.path}: ${x.message}`)).toEqual([
      'policy.dnsbl_sites: set, but no list names reject_dnsbl_score or permit_dnsbl_score: the weighted lists are never asked',
      'policy.dnsbl_allowlist_threshold: -2, but no permit_dnsbl_score in recipient_restrictions: nothing permits by it',
    ]);
  });

  it('a Redis without a password is not warned about, in URL and Sentinel mode alike (the network may be the boundary)', () => {
    expect(lintConfig(parseConfig(base, { env: { MOAT_REDIS_SENTINELS: '10.0.0.1:26379' } }))).toEqual([]);
  });

  it('warns about SORBS, public resolvers, list order, missing relay control, delay_reject off', () => {
    const c = parseConfig(
      `${base}dns:\n  resolver: 8.8.8.8:53\n`.replace(
        'policy:\n  hostname: mx.example.org\n',
        'policy:\n  hostname: mx.example.org\n  delay_reject: false\n  relay_restrictions: permit_mynetworks\n  recipient_restrictions: permit_mynetworks, reject_unlisted_recipient, check_policy_service inet:, reject_rbl_client dnsbl.sorbs.net, permit\nrouting:\n  smtpd_reject_unlisted_recipient: no\n',
      ),
      { env: {} },
    );
    const w = lintConfig(c).map((x) => `${x.path}: ${x.message}`);
    expect(w).toHaveLength(6);
    expect(w.join('\n')).toContain('policy.recipient_restrictions[3]: reject_rbl_client dnsbl.sorbs.net: the seed advises against SORBS');
    expect(w.join('\n')).toContain('policy.relay_restrictions: no reject_unauth_destination');
    expect(w.join('\n')).toContain('greylist) comes before the DNS lists');
    expect(w.join('\n')).toContain('permit_mynetworks before reject_unlisted_recipient');
    expect(w.join('\n')).toContain('dns.resolver: 8.8.8.8:53: DNS lists refuse');
    expect(w.join('\n')).toContain('policy.delay_reject: off');
  });
});
