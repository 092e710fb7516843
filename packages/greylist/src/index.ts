// Greylisting shared by every MX host, on Redis (standalone or Sentinel), failing open.
// Trusts Redis and the configured resolver; the public surface is createGreylist and its helpers.
export { createGreylist, type Greylist, type GreylistOptions } from './greylist.ts';
export type { GreylistAdmin, InspectResult, RemoveTarget, TripletQuery, TripletRecord, AutoWhitelistRecord } from './admin.ts';
export { GreylistStoreError, type RedisTarget } from './store.ts';
export type { WhitelistSpec } from './whitelist.ts';
export { defaultWhitelist, DEFAULT_WHITELIST_SOURCE } from './default-whitelist.ts';
export { normalizeSender, normalizeRecipient } from './normalize.ts';
export { clientNetwork } from './network.ts';
export { createCachingDns, type SpfDns, type DnsResult } from './dns.ts';
export { checkSpf, type SpfAnswer, type SpfResult } from './spf.ts';
export { senderIdentity, organisationalDomain, isGenericHostname, type Identity } from './identity.ts';
export { DEFAULT_PREFIX } from './keys.ts';
