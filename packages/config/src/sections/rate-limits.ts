// The `mx.rate_limits:` section: Postfix anvil's per-client rate limits and moat's per-login limits, counted
// in the shared Redis (greylist.redis) by every MX. Postfix's names and defaults (0 = off) where Postfix has the limit.
import { z } from 'zod';
import { duration, network } from './common.ts';

const perUnit = z.number().int().min(0).default(0);

export const rateLimitsSection = z
  .strictObject({
    /** anvil_rate_time_unit: the window every rate below is counted over (Postfix: 60s). */
    anvil_rate_time_unit: duration.default(60_000).refine((ms) => ms >= 1000, { message: 'expected at least 1s' }),
    /** MAIL commands per client per time unit, accepted or not (450 4.7.1 Error: too much mail from ADDR). */
    smtpd_client_message_rate_limit: perUnit,
    /** RCPT commands per client per time unit, accepted or not (450 4.7.1 Error: too many recipients from ADDR). */
    smtpd_client_recipient_rate_limit: perUnit,
    /** AUTH commands per client per time unit (450 4.7.1 Error: too many AUTH commands from ADDR). */
    smtpd_client_auth_rate_limit: perUnit,
    /** moat's own: MAIL commands per SASL login per time unit, from any client, on any listener. */
    sasl_user_message_rate_limit: perUnit,
    /** moat's own: RCPT commands per SASL login per time unit. */
    sasl_user_recipient_rate_limit: perUnit,
    /** Clients the smtpd_client_* limits skip; unset = policy.mynetworks (Postfix: $mynetworks). Networks only. */
    smtpd_client_event_limit_exceptions: z
      .preprocess((v) => (typeof v === 'string' ? v.split(/[\s,]+/).filter((x) => x !== '') : v), z.array(network))
      .optional(),
    /** Postfix 3.8: IPv4 clients are counted per this network block (32 = per address). */
    smtpd_client_ipv4_prefix_length: z.number().int().min(0).max(32).default(32),
    /** Postfix 3.8: IPv6 clients are counted per this network block (84: one customer's delegation). */
    smtpd_client_ipv6_prefix_length: z.number().int().min(0).max(128).default(84),
    /** Redis slower than this: the command passes uncounted (fail open, like the greylist). */
    timeout: duration.default(200),
  })
  .prefault({});

export type RateLimitsSection = z.infer<typeof rateLimitsSection>;
