// @moat/dns: the one DNS client (configured resolver only, one timeout rule, one caching rule), resolver addresses,
// and the one wire client (codec + UDP/TCP transport) for questions node:dns cannot answer (SOA, AD bit).
// Trusts the configured resolver; see cache.ts for what is kept and for how long.
export { createDns, perTryTimeout, type CachingDns, type Dns, type DnsOptions, type MxRecord } from './resolver.ts';
export { memo, type CacheOptions, type Held, type Memo } from './cache.ts';
export { dnsFailureKind, isNotFound, type DnsFailureKind } from './failure.ts';
export { parseResolver, isLocalAddress, ResolverConfigError, type ResolverAddress } from './server-address.ts';
export { exchange, DnsAnswerError, type ExchangeOptions } from './transport.ts';
export { RR, type Reply, type WireRecord } from './wire.ts';
