import { describe, expect, it } from 'vitest';
import { PolicyError } from '../errors.ts';
import { formatRestriction, isRestrictionName, makeRestriction, parseRestrictions, RESTRICTION_NAMES, restrictionTakesArgument } from '../parse.ts';
import { replyCode } from '../reply.ts';
import { BY_NAME, RESTRICTIONS } from './table.ts';

describe('the restriction table', () => {
  it('one entry per name; aliases never shadow a name; the parser knows exactly these', () => {
    const names = RESTRICTIONS.map((d) => d.name);
    expect(new Set(names).size).toBe(names.length);
    expect(RESTRICTION_NAMES).toEqual(names);
    const aliases = RESTRICTIONS.flatMap((d) => d.aliases ?? []);
    for (const a of aliases) expect(names).not.toContain(a);
    expect(BY_NAME.size).toBe(names.length + aliases.length);
    for (const n of [...names, ...aliases]) expect(isRestrictionName(n.toUpperCase())).toBe(true);
  });
  it('every restriction evaluates at a stage from connect to RCPT', () => {
    for (const d of RESTRICTIONS) expect([0, 1, 2, 3], d.name).toContain(d.stage);
  });
});

describe('parsing the restrictions of pasted Postfix lists', () => {
  it('a main.cf block with the new names parses and prints back', () => {
    const text = `smtpd_recipient_restrictions =
      reject_unauth_pipelining, warn_if_reject reject_unknown_client_hostname,
      reject_unknown_reverse_client_hostname, check_helo_access hash:/etc/postfix/helo_access,
      check_sender_access hash:/etc/postfix/sender_access, check_recipient_access pcre:/etc/postfix/rcpt.pcre,
      reject_sender_login_mismatch, reject_authenticated_sender_login_mismatch,
      reject_known_sender_login_mismatch, reject_unauthenticated_sender_login_mismatch,
      reject_unknown_sender_domain, reject_unknown_recipient_domain, reject_unlisted_sender,
      defer_if_permit, defer_if_reject, permit`;
    const list = parseRestrictions(text);
    expect(list.map(formatRestriction)).toEqual([
      'reject_unauth_pipelining',
      'warn_if_reject',
      'reject_unknown_client_hostname',
      'reject_unknown_reverse_client_hostname',
      'check_helo_access hash:/etc/postfix/helo_access',
      'check_sender_access hash:/etc/postfix/sender_access',
      'check_recipient_access pcre:/etc/postfix/rcpt.pcre',
      'reject_sender_login_mismatch',
      'reject_authenticated_sender_login_mismatch',
      'reject_known_sender_login_mismatch',
      'reject_unauthenticated_sender_login_mismatch',
      'reject_unknown_sender_domain',
      'reject_unknown_recipient_domain',
      'reject_unlisted_sender',
      'defer_if_permit',
      'defer_if_reject',
      'permit',
    ]);
    expect(list[4]).toEqual({ type: 'check_helo_access', map: 'hash:/etc/postfix/helo_access' });
  });
  it('the access checks need a map; the others take no argument', () => {
    for (const n of ['check_helo_access', 'check_sender_access', 'check_recipient_access']) {
      expect(restrictionTakesArgument(n)).toBe(true);
      expect(() => makeRestriction(n, undefined)).toThrow(/missing argument/);
      expect(() => makeRestriction(n, '/etc/postfix/access')).toThrow(PolicyError);
    }
    expect(() => makeRestriction('defer_if_permit', 'x')).toThrow(/takes no argument/);
    expect(restrictionTakesArgument('reject_sender_login_mismatch')).toBe(false);
  });
  it("Postfix's reply codes by default", () => {
    const v = (decidedByType: string, status = '5.7.1') => replyCode({ action: 'reject', status, text: '', prepend: [], trace: [], decidedByType: decidedByType as never });
    expect(v('check_sender_access')).toBe(554);
    expect(v('check_helo_access')).toBe(554);
    expect(v('reject_unlisted_sender', '5.1.0')).toBe(550);
    expect(v('reject_sender_login_mismatch')).toBe(553);
    expect(v('reject_unauth_pipelining', '5.5.0')).toBe(503);
  });
});
