// Rate limits shared by every MX (Postfix anvil's message/recipient/AUTH limits, per SASL login, AUTH failures) on Redis, failing open.
// Trusts Redis; the public surface is createRateLimiter, its types and the key prefix.
export {
  createRateLimiter,
  type CounterState,
  type RateEvent,
  type RateLimiter,
  type RateLimiterOptions,
  type RateLimits,
  type RateOutcome,
} from './limiter.ts';
export { clientBlock, DEFAULT_PREFIX, LIMITS, type LimitName } from './keys.ts';
export { rateLimiterOptionsFromConfig } from './from-config.ts';
