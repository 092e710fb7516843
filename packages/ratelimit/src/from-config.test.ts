import { parseConfig } from '@moat/config';
import { describe, expect, it } from 'vitest';
import { rateLimiterOptionsFromConfig } from './from-config.ts';

const MINIMAL = 'policy:\n  hostname: mx.example.org\n  mynetworks: 192.0.2.0/24\nrecipients:\n  domains: [example.org]\n';

describe('rateLimiterOptionsFromConfig', () => {
  it('everything off by default; exceptions are mynetworks; AUTH failures only with AUTH', () => {
    const o = rateLimiterOptionsFromConfig(parseConfig(MINIMAL, { env: {} }));
    expect(Object.values(o.limits).every((v) => v === 0)).toBe(true);
    expect(o).toMatchObject({ timeUnitSeconds: 60, authFailureWindowSeconds: 600, exceptions: ['192.0.2.0/24'], v4Prefix: 32, v6Prefix: 84, timeoutMs: 200, redis: { url: 'redis://127.0.0.1:6379' } });
  });

  it('reads mx.rate_limits and mx.auth', () => {
    const o = rateLimiterOptionsFromConfig(
      parseConfig(
        `${MINIMAL}mx:\n  auth:\n    users_file: /etc/moat/users\n    max_failures: 4\n    failure_window: 15m\n  rate_limits:\n    anvil_rate_time_unit: 2m\n    sasl_user_message_rate_limit: 30\n    smtpd_client_event_limit_exceptions: []\n`,
        { env: {} },
      ),
    );
    expect(o.limits).toMatchObject({ sasl_user_message_rate_limit: 30, auth_failure_limit: 4, smtpd_client_message_rate_limit: 0 });
    expect(o).toMatchObject({ timeUnitSeconds: 120, authFailureWindowSeconds: 900, exceptions: [] });
  });
});
