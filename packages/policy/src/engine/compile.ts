// Turns a PolicySpec into what the run loop reads: each restriction bound to its module, the engine-wide environment.
// Trusts the spec's shape (typed) but not its values: a bad network, address or return-code filter throws PolicyError.
import { type CompiledCodeFilter, parseCodeFilter } from '../code-filter.ts';
import { formatDnsblSite } from '../dnsbl-sites.ts';
import { POLICY_ERROR_CODES, PolicyError } from '../errors.ts';
import { type Cidr, formatIp, parseCidr, parseIp } from '../ip.ts';
import { formatRestriction } from '../parse.ts';
import { BY_NAME } from '../restrictions/table.ts';
import type { PolicySpec, Ports, Restriction, RestrictionType } from '../types.ts';
import { type Compiled, type CompiledSite, type Env, type ListName, lowerName, NOT_LISTED } from './context.ts';
import { TARGET_INDEX } from './dns.ts';

export function compileList(list: readonly Restriction[], which: string, listName: ListName, env: Env): Compiled[] {
  const display = new Map(Object.entries(env.spec.zoneDisplayNames ?? {}).map(([z, d]) => [z.toLowerCase().replace(/\.$/, ''), d]));
  return list.map((r, i) => {
    const def = BY_NAME.get(r.type);
    // the table's own string: interned, so the run loop's comparisons are by pointer
    if (def === undefined || def.name !== r.type) throw new PolicyError(POLICY_ERROR_CODES.UNKNOWN_RESTRICTION, String(r.type), 'unknown restriction type in spec');
    if (def.requires !== undefined && env.ports[def.requires] === undefined) {
      throw new PolicyError(POLICY_ERROR_CODES.BAD_SPEC, `${which}: ${def.name}`, `needs the ${def.requires} port, which this engine was not given`, { index: i + 1 });
    }
    // A zone may carry a secret (a DQS key): replies, traces and decidedBy show its display name.
    const zoneDisplay = 'zone' in r ? (display.get(r.zone.toLowerCase()) ?? r.zone.toLowerCase()) : undefined;
    const text = formatRestriction(zoneDisplay === undefined ? r : ({ ...r, zone: zoneDisplay } as Restriction));
    // every field present from the start: one object shape for the whole hot loop
    const c: Compiled = {
      tDunno: undefined,
      tNotListed: undefined,
      r,
      type: def.name as RestrictionType,
      text,
      needs: def.stage,
      evaluate: def.evaluate,
      dnsTarget: undefined,
      targetIndex: -1,
      dnsUse: undefined,
      zone: undefined,
      zoneDisplay: undefined,
      filter: undefined,
      sites: undefined,
    };
    if ('zone' in r && def.dns !== undefined) {
      c.dnsTarget = def.dns.target;
      c.dnsUse = def.dns.use;
      c.targetIndex = TARGET_INDEX[c.dnsTarget];
      c.zone = r.zone.toLowerCase();
      c.zoneDisplay = zoneDisplay;
      try {
        c.filter = r.filter === undefined ? undefined : parseCodeFilter(r.filter);
      } catch (e) {
        if (e instanceof PolicyError) throw new PolicyError(e.code, `${which}: ${c.text}`, e.reason, { index: i + 1 });
        throw e;
      }
    }
    if (def.weighted) {
      c.dnsTarget = 'client';
      c.sites = compileSites(env, display, `${which}: ${c.text}`, i);
    }
    c.tDunno = Object.freeze({ restriction: c.text, list: listName, outcome: 'dunno', reason: undefined, ms: 0 });
    c.tNotListed = Object.freeze({ restriction: c.text, list: listName, outcome: 'dunno', reason: NOT_LISTED.reason, ms: 0 });
    return c;
  });
}

/** postscreen_dnsbl_sites for a score restriction: each entry with its display name, filter and use. */
function compileSites(env: Env, display: ReadonlyMap<string, string>, where: string, i: number): CompiledSite[] {
  const sites = env.spec.dnsblSites ?? [];
  if (sites.length === 0) throw new PolicyError(POLICY_ERROR_CODES.BAD_SPEC, where, 'needs weighted DNS lists (postscreen_dnsbl_sites), and none are set', { index: i + 1 });
  return sites.map((s) => {
    const zone = s.zone.toLowerCase().replace(/\.$/, '');
    const zoneDisplay = display.get(zone) ?? zone;
    const shown = formatDnsblSite({ ...s, zone: zoneDisplay });
    let filter: CompiledCodeFilter | undefined;
    try {
      filter = s.filter === undefined ? undefined : parseCodeFilter(s.filter);
    } catch (e) {
      if (e instanceof PolicyError) throw new PolicyError(e.code, `postscreen_dnsbl_sites: ${shown}`, e.reason);
      throw e;
    }
    if (!Number.isInteger(s.weight)) throw new PolicyError(POLICY_ERROR_CODES.BAD_SPEC, `postscreen_dnsbl_sites: ${shown}`, 'the weight must be an integer');
    // Postfix: "a negative weight means whitelist"; the list profile counts that use's answers
    return { zone, zoneDisplay, text: shown, filter, weight: s.weight, use: s.weight < 0 ? 'allow' : 'block' };
  });
}

/** What every decision shares, worked out once from the spec and the ports. */
export function buildEnv(spec: PolicySpec, ports: Ports): Env {
  const networks: Cidr[] = spec.myNetworks.map((n, i) => {
    const c = parseCidr(n);
    if (!c) throw new PolicyError(POLICY_ERROR_CODES.BAD_CIDR, n, 'not a network (expected address/prefix, IPv4 or IPv6)', { index: i + 1 });
    return c;
  });
  const myAddresses = new Set<string>();
  for (const a of spec.myAddresses) {
    const ip = parseIp(a.replace(/^\[|\]$/g, '').replace(/^ipv6:/i, ''));
    if (!ip) throw new PolicyError(POLICY_ERROR_CODES.BAD_SPEC, a, 'myAddresses: not an IP address');
    myAddresses.add(formatIp(ip));
  }
  let retrySecond = Number.NaN;
  let retryText = '';
  return {
    spec,
    ports,
    clock: ports.clock,
    networks,
    myAddresses,
    myHostnameLower: lowerName(spec.myHostname),
    callerDoesRelay: spec.relayControl === 'caller',
    classifySync: ports.recipients.classifySync?.bind(ports.recipients),
    lookupSync: ports.accessMaps.lookupSync?.bind(ports.accessMaps),
    retryTime: (ms: number): string => {
      const sec = Math.floor(ms / 1000);
      if (sec !== retrySecond) {
        retrySecond = sec;
        retryText = new Date(sec * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
      }
      return retryText;
    },
    rejectUnlistedRecipient: spec.rejectUnlistedRecipient ?? spec.relayControl !== 'caller',
    rejectUnlistedSender: spec.rejectUnlistedSender ?? false,
    senderLoginMaps: spec.senderLoginMaps ?? [],
    recipientDelimiter: spec.recipientDelimiter ?? '',
    parentDomainMatchesSubdomains: spec.parentDomainMatchesSubdomains ?? true,
    nullAccessLookupKey: spec.nullAccessLookupKey ?? '<>',
    unknownAddressRejectCode: replyCodeSetting(spec.unknownAddressRejectCode, 450, 'unknownAddressRejectCode'),
    unknownAddressTempfailDefers: spec.unknownAddressTempfailAction === 'defer',
    unknownClientRejectCode: replyCodeSetting(spec.unknownClientRejectCode, 450, 'unknownClientRejectCode'),
    unknownLocalRecipientRejectCode: replyCodeSetting(spec.unknownLocalRecipientRejectCode, 550, 'unknownLocalRecipientRejectCode'),
    unknownVirtualAliasRejectCode: replyCodeSetting(spec.unknownVirtualAliasRejectCode, 550, 'unknownVirtualAliasRejectCode'),
    unknownVirtualMailboxRejectCode: replyCodeSetting(spec.unknownVirtualMailboxRejectCode, 550, 'unknownVirtualMailboxRejectCode'),
    unknownRelayRecipientRejectCode: replyCodeSetting(spec.unknownRelayRecipientRejectCode, 550, 'unknownRelayRecipientRejectCode'),
    dnsblThreshold: spec.dnsblThreshold ?? 1,
    dnsblAllowlistThreshold: spec.dnsblAllowlistThreshold ?? 0,
    checkDomainSync: ports.mailDomains?.checkSync?.bind(ports.mailDomains),
  };
}

function replyCodeSetting(v: number | undefined, dflt: number, name: string): number {
  if (v === undefined) return dflt;
  if (!Number.isInteger(v) || v < 400 || v > 599) throw new PolicyError(POLICY_ERROR_CODES.BAD_SPEC, String(v), `${name}: expected a 4xx or 5xx reply code`);
  return v;
}
