// moat's decision core: the seed's ordered restriction list as data, evaluated against ports.
// Pure: no sockets, no DNS, no Redis, no clock of its own. Trusts its ports, not the facts.
export type * from './types.ts';
export { createEngine, type Engine } from './engine/index.ts';
export { parseRestrictions, formatRestriction, formatRestrictions, makeRestriction, isRestrictionName, restrictionArgument, restrictionTakesArgument, RESTRICTION_NAMES } from './parse.ts';
export type { ArgKind } from './restrictions/define.ts';
export { parseCodeFilter, matchesCode, type CompiledCodeFilter } from './code-filter.ts';
export { PolicyError, POLICY_ERROR_CODES, type PolicyErrorCode, type PolicyErrorPosition } from './errors.ts';
export { createStaticRecipients, type StaticRecipientsOptions } from './recipients.ts';
export { parseCidrTable, createCidrAccessMap, type CidrTable, type CidrEntry } from './cidr-map.ts';
export { syncAccessMap, type SyncAccessMap } from './sync-access-map.ts';
export { parseAccessAction, type AccessAction } from './access-action.ts';
export { replyCode, replyLine } from './reply.ts';
export { smtpdDsnFix } from './dsn-fix.ts';
export { subjectText } from './reply-subject.ts';
export { parseIp, parseCidr, formatIp, cidrContains, maskIp, unmapIPv4, type IpAddr, type Cidr } from './ip.ts';
export { isValidHostname, isFqdn, parseAddressLiteral, hostileRecipientForm, isStrictEnvelope, type HostileForm } from './address.ts';
export { DEFAULT_RELAY_RESTRICTIONS } from './defaults.ts';
export { createMemoryDnsList, createMemoryGreylist, createMemoryMailDomains, createMemoryAccessMaps, createManualClock, type DnsScript, type DnsListing, type MemoryGreylistOptions } from './memory-ports.ts';
export { parseDnsblSites, parseDnsblSite, formatDnsblSite } from './dnsbl-sites.ts';
