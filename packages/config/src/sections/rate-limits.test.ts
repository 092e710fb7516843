import { describe, expect, it } from 'vitest';
import { parseConfig } from '../load.ts';

const MINIMAL = 'policy:\n  hostname: mx.example.org\nrecipients:\n  domains: [example.org]\n';

describe('mx.rate_limits', () => {
  it("defaults are Postfix's: every limit off, a 60 s unit, exceptions left to policy.mynetworks", () => {
    expect(parseConfig(MINIMAL, { env: {} }).mx.rate_limits).toEqual({
      anvil_rate_time_unit: 60_000,
      smtpd_client_message_rate_limit: 0,
      smtpd_client_recipient_rate_limit: 0,
      smtpd_client_auth_rate_limit: 0,
      sasl_user_message_rate_limit: 0,
      sasl_user_recipient_rate_limit: 0,
      smtpd_client_ipv4_prefix_length: 32,
      smtpd_client_ipv6_prefix_length: 84,
      timeout: 200,
    });
  });

  it('reads Postfix-style values: a bare unit in seconds, exceptions as a Postfix list', () => {
    const r = parseConfig(
      `${MINIMAL}mx:\n  rate_limits:\n    anvil_rate_time_unit: 120\n    sasl_user_message_rate_limit: 30\n    smtpd_client_event_limit_exceptions: "192.0.2.0/24, [2001:db8::]/32"\n`,
      { env: {} },
    ).mx.rate_limits;
    expect(r).toMatchObject({ anvil_rate_time_unit: 120_000, sasl_user_message_rate_limit: 30, smtpd_client_event_limit_exceptions: ['192.0.2.0/24', '[2001:db8::]/32'] });
  });

  it('refuses negative limits, unknown keys and non-networks', () => {
    for (const bad of ['smtpd_client_message_rate_limit: -1', 'smtpd_client_mesage_rate_limit: 5', 'smtpd_client_event_limit_exceptions: [example.org]', 'anvil_rate_time_unit: 500ms']) {
      expect(() => parseConfig(`${MINIMAL}mx:\n  rate_limits:\n    ${bad}\n`, { env: {} }), bad).toThrow();
    }
  });
});

describe('mx.rate_limits advice', () => {
  it('a per-login limit without a users file never applies: said by config check', async () => {
    const { lintConfig } = await import('../lint.ts');
    const text = `${MINIMAL}mx:\n  tls: { cert: /c.pem, key: /k.pem }\n  rate_limits:\n    sasl_user_message_rate_limit: 30\n`;
    expect(lintConfig(parseConfig(text, { env: {} }))).toEqual([
      { path: 'mx.rate_limits.sasl_user_message_rate_limit', message: 'set, but no mx.auth.users_file: nobody logs in, so this limit never applies' },
    ]);
    expect(lintConfig(parseConfig(text.replace('  rate_limits:', '  auth: { users_file: /etc/moat/users }\n  rate_limits:'), { env: {} }))).toEqual([]);
  });
});
