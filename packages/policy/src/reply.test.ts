import { describe, expect, it } from 'vitest';
import { replyCode } from './reply.ts';
import type { RestrictionType, Verdict } from './types.ts';

const v = (action: Verdict['action'], status: string, decidedByType?: RestrictionType, extra: Partial<Verdict> = {}): Verdict => ({
  action,
  status,
  text: '',
  decidedByType,
  prepend: [],
  trace: [],
  ...extra,
});

describe('replyCode: Postfix defaults', () => {
  it('maps verdicts to basic codes', () => {
    expect(replyCode(v('permit', '2.0.0', 'permit'))).toBe(250);
    expect(replyCode(v('continue', '2.0.0'))).toBe(250);
    expect(replyCode(v('reject', '5.7.1', 'reject_rbl_client'))).toBe(554);
    expect(replyCode(v('reject', '5.7.1', 'reject_unauth_destination'))).toBe(554);
    expect(replyCode(v('reject', '5.1.1', 'reject_unlisted_recipient'))).toBe(550);
    expect(replyCode(v('reject', '5.5.2', 'reject_invalid_helo_hostname'))).toBe(501);
    // classes that differ from their restriction's default come from the engine as smtpCode, never from the status
    expect(replyCode(v('reject', '5.7.1', 'reject_invalid_helo_hostname', { smtpCode: 554 }))).toBe(554);
    expect(replyCode(v('reject', '5.5.2', 'reject_non_fqdn_sender'))).toBe(504);
    expect(replyCode(v('reject', '5.5.2', 'reject_non_fqdn_helo_hostname'))).toBe(504);
    expect(replyCode(v('reject', '5.5.1', 'reject_missing_helo'))).toBe(503);
    expect(replyCode(v('reject', '5.1.7', 'reject_non_fqdn_sender', { smtpCode: 501 }))).toBe(501);
    expect(replyCode(v('reject', '5.1.3', 'reject_unauth_destination'))).toBe(554);
    expect(replyCode(v('reject', '5.7.1'))).toBe(554);
    expect(replyCode(v('defer', '4.7.1', 'check_policy_service', { greylisted: true }))).toBe(450);
    expect(replyCode(v('defer', '4.3.0', 'check_client_access', { smtpCode: 451 }))).toBe(451);
    expect(replyCode(v('defer', '4.3.0', 'check_client_access'))).toBe(450);
    // relay_domains_reject_code - 100 (smtpd_check.c), as Postfix answers defer_unauth_destination
    expect(replyCode(v('defer', '4.7.1', 'defer_unauth_destination'))).toBe(454);
    expect(replyCode(v('reject', '5.7.1', 'check_client_access', { smtpCode: 550 }))).toBe(550);
  });
});

