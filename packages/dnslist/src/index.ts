// DNS white/black list client (RFC 5782) implementing the engine's DnsListPort, with provider profiles.
// Talks to one configured resolver only (the bundled Unbound); trusts vetted profiles, not list answers.
export {
  createDnsList,
  applyCodeFilter,
  sanitiseTxt,
  type DnsList,
  type DnsListOptions,
  type DnsListRequest,
  type DnsListResult,
  type ZoneOptions,
  type ZoneHealth,
  type ZoneState,
} from './client.ts';
// Return-code filters are the engine's (@moat/policy parseCodeFilter/matchesCode); profiles use the same syntax.
export {
  builtinProfiles,
  profileForZone,
  profileTable,
  normaliseProfile,
  ProfileConfigError,
  type ProfileInput,
  type ProviderProfile,
  type CodeRule,
  type HealthProbes,
} from './profiles.ts';
export { classify, type Classified } from './classify.ts';
export { KEYED_ZONE_SUFFIXES, validDisplayName, zoneDisplayName, zoneDisplayNames } from './display-name.ts';
export { queryName, reverseIPv4, reverseIPv6, expandIPv6 } from './query-name.ts';
export { parseResolver, isLocalAddress, ResolverConfigError } from '@moat/dns';
