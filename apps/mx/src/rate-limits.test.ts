import { describe, expect, it } from 'vitest';
import { rateLimitReply } from './rate-limits.ts';

const hit = (limit: Parameters<typeof rateLimitReply>[0]['limit'], subject: string) => ({ ok: false as const, limit, subject, count: 2, max: 1, windowSeconds: 60 });
const text = (r: { responseCode: number; message: string }) => `${r.responseCode} ${r.message}`;

describe('rateLimitReply', () => {
  it("answers with smtpd.c's texts, naming the client address (or the login)", () => {
    expect(text(rateLimitReply(hit('smtpd_client_message_rate_limit', '192.0.2.1')))).toBe('450 4.7.1 Error: too much mail from 192.0.2.1');
    expect(text(rateLimitReply(hit('smtpd_client_recipient_rate_limit', '2001:db8::1')))).toBe('450 4.7.1 Error: too many recipients from 2001:db8::1');
    expect(text(rateLimitReply(hit('smtpd_client_auth_rate_limit', '192.0.2.1')))).toBe('450 4.7.1 Error: too many AUTH commands from 192.0.2.1');
    expect(text(rateLimitReply(hit('sasl_user_message_rate_limit', 'alice')))).toBe('450 4.7.1 Error: too much mail from alice');
    expect(text(rateLimitReply(hit('sasl_user_recipient_rate_limit', 'alice')))).toBe('450 4.7.1 Error: too many recipients from alice');
    expect(text(rateLimitReply(hit('auth_failure_limit', '192.0.2.1')))).toBe('454 4.7.0 Too many failed authentication attempts, try again later');
  });

  it('keeps a login with control characters to one printable line', () => {
    expect(rateLimitReply(hit('sasl_user_message_rate_limit', 'a\r\n250 ok\u00e9')).message).toBe('4.7.1 Error: too much mail from a??250 ok?');
  });
});
