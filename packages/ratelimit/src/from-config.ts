// The rate limits from moat.yaml: mx.rate_limits, mx.auth's failure limit, in the greylist's Redis (the one shared store).
// Trusts the parsed config; the Redis URL may carry a password and is never logged.
import { type Config, views } from '@moat/config';
import type { RateLimiterOptions } from './limiter.ts';

/**
 * Options for createRateLimiter. The AUTH failure limit (mx.auth.max_failures per mx.auth.failure_window)
 * is on when AUTH is (mx.auth.users_file); smtpd_client_event_limit_exceptions defaults to policy.mynetworks.
 */
export function rateLimiterOptionsFromConfig(config: Config): Omit<RateLimiterOptions, 'registry' | 'logger'> {
  const r = config.mx.rate_limits;
  return {
    redis: views.redis(config),
    limits: {
      smtpd_client_message_rate_limit: r.smtpd_client_message_rate_limit,
      smtpd_client_recipient_rate_limit: r.smtpd_client_recipient_rate_limit,
      smtpd_client_auth_rate_limit: r.smtpd_client_auth_rate_limit,
      sasl_user_message_rate_limit: r.sasl_user_message_rate_limit,
      sasl_user_recipient_rate_limit: r.sasl_user_recipient_rate_limit,
      auth_failure_limit: config.mx.auth.users_file ? config.mx.auth.max_failures : 0,
    },
    timeUnitSeconds: Math.round(r.anvil_rate_time_unit / 1000),
    authFailureWindowSeconds: Math.max(1, Math.round(config.mx.auth.failure_window / 1000)),
    exceptions: r.smtpd_client_event_limit_exceptions ?? config.policy.mynetworks,
    v4Prefix: r.smtpd_client_ipv4_prefix_length,
    v6Prefix: r.smtpd_client_ipv6_prefix_length,
    timeoutMs: r.timeout,
  };
}
