// What one decision carries (facts, trace, cached answers) and what the whole engine shares (ports, networks).
// Trusts the ports' answers and the compiled spec; every fact is client input and only classified.
import type { CompiledCodeFilter } from '../code-filter.ts';
import type { Cidr, IpAddr } from '../ip.ts';
import { subjectText } from '../reply-subject.ts';
import type { DnsListAnswer, DnsListQuery, DnsTarget, Facts, MailDomainAnswer, Outcome, PolicySpec, Ports, RecipientClass, ReplySubject, RestrictionType, TraceEntry } from '../types.ts';

export type ListName = TraceEntry['list'];

export const STAGE_RANK: Readonly<Record<Facts['stage'], number>> = { connect: 0, helo: 1, mail: 2, rcpt: 3, data: 4, 'end-of-data': 5 };
export const CONNECT = 0;
export const HELO = 1;
export const MAIL = 2;
export const RCPT = 3;

/** A restriction's data as the engine reads it (the Restriction union, seen field by field). */
export interface RestrictionFields {
  readonly type: string;
  readonly zone?: string | undefined;
  readonly filter?: string | undefined;
  readonly map?: string | undefined;
  readonly service?: string | undefined;
}

/** What a restriction's evaluation answers. */
export interface Result {
  outcome: Outcome | 'skip' | 'error';
  status?: string;
  /** The reply's own words; with `subject`, Postfix's `<name>: Class rejected: ` goes before them (resultText). */
  text?: string;
  subject?: ReplySubject | undefined;
  reason?: string | undefined;
  greylisted?: boolean;
  smtpCode?: number | undefined;
}

/** One restriction of a list, ready to run: its module's evaluation and what it was compiled to. */
export interface Compiled {
  /** Trace entries for the commonest constant outcomes, shared and frozen (no allocation per decision). */
  tDunno: TraceEntry | undefined;
  tNotListed: TraceEntry | undefined;
  r: RestrictionFields;
  type: RestrictionType;
  text: string;
  needs: number;
  evaluate: (c: Compiled, ctx: Ctx, index: number) => Result | Wait;
  dnsTarget?: DnsTarget | undefined;
  /** TARGET_INDEX of dnsTarget (-1: not a DNS-list restriction). */
  targetIndex: number;
  dnsUse?: 'allow' | 'block' | undefined;
  /** The zone as queried, and as shown in replies and traces (never a secret key). */
  zone?: string | undefined;
  zoneDisplay?: string | undefined;
  filter?: CompiledCodeFilter | undefined;
  /** The weighted sites a score restriction sums (postscreen_dnsbl_sites), or undefined. */
  sites?: readonly CompiledSite[] | undefined;
}

/** One postscreen_dnsbl_sites entry, ready to match: queried for `use` (an allow list when its weight is negative). */
export interface CompiledSite {
  zone: string;
  zoneDisplay: string;
  /** `zone=filter*weight` with the display name (what traces show). */
  text: string;
  filter: CompiledCodeFilter | undefined;
  weight: number;
  use: 'allow' | 'block';
}

/**
 * A port call in flight: its promise, what the answer means (possibly another call: an access map
 * tried key by key), and what a failure means: the call's, or `map` throwing (absent: the decision fails).
 */
export class Wait {
  readonly promise: Promise<unknown>;
  readonly map: (x: never) => Result | Wait;
  readonly fail: ((e: unknown) => Result) | undefined;
  constructor(promise: Promise<unknown>, map: (x: never) => Result | Wait, fail?: (e: unknown) => Result) {
    this.promise = promise;
    this.map = map;
    this.fail = fail;
  }
}
export const wait = <T>(promise: Promise<T>, map: (x: T) => Result | Wait, fail?: (e: unknown) => Result): Wait => new Wait(promise, map as (x: never) => Result | Wait, fail);

/**
 * The DNS-list queries of one list, worked out once when the engine is built: the distinct
 * (zone, target, use) triples from the first DNS-list restriction to the end of what a stage may
 * evaluate. A zone used both to permit and to reject (hostkarma in the seed) is asked once per use:
 * its answer means different things for the two.
 */
export interface DnsPlan {
  pairs: Array<{ zone: string; target: DnsTarget; targetIndex: number; use: 'allow' | 'block' | undefined; sameZoneBefore: number[]; last: DnsListQuery | undefined }>;
  /** For each restriction index of the list: its pair, or -1. */
  pairOf: Int32Array;
  /** For a score restriction's index: the pair of each of its sites, in site order. */
  sitePairs: Array<number[] | undefined>;
}

/** What the whole engine shares: the spec, the ports and what was worked out from the spec once. */
export interface Env {
  spec: PolicySpec;
  ports: Ports;
  clock: Ports['clock'];
  networks: Cidr[];
  myAddresses: Set<string>;
  myHostnameLower: string;
  callerDoesRelay: boolean;
  /** In-memory directories and maps answer synchronously: no promise per decision for them. */
  classifySync: ((recipient: string) => RecipientClass) | undefined;
  lookupSync: ((map: string, key: string) => string | undefined) | undefined;
  /** `2026-11-24T12:01:00Z` for a time in ms, cached per second (greylist deferrals are common). */
  retryTime: (ms: number) => string;
  /** The spec's Postfix settings with Postfix's defaults applied (types.ts says which). */
  rejectUnlistedRecipient: boolean;
  rejectUnlistedSender: boolean;
  senderLoginMaps: readonly string[];
  recipientDelimiter: string;
  parentDomainMatchesSubdomains: boolean;
  nullAccessLookupKey: string;
  unknownAddressRejectCode: number;
  unknownAddressTempfailDefers: boolean;
  unknownClientRejectCode: number;
  /** check_rcpt_maps' codes by class (unknown_*_recipient_reject_code, unknown_virtual_alias_reject_code); 550 each by default. */
  unknownLocalRecipientRejectCode: number;
  unknownVirtualAliasRejectCode: number;
  unknownVirtualMailboxRejectCode: number;
  unknownRelayRecipientRejectCode: number;
  /** postscreen_dnsbl_threshold (default 1) and postscreen_dnsbl_allowlist_threshold (default 0: off). */
  dnsblThreshold: number;
  dnsblAllowlistThreshold: number;
  checkDomainSync: ((domain: string) => MailDomainAnswer | undefined) | undefined;
}

/** A result kept for later: what defer_if_permit / defer_if_reject turn a permit or a reject into. */
export interface Held {
  c: Compiled;
  res: Result;
}

export interface Ctx {
  env: Env;
  facts: Facts;
  stage: number;
  client: IpAddr | undefined;
  /** Canonical client address text (IPv4-mapped IPv6 shown as IPv4). */
  clientText: string;
  trace: TraceEntry[];
  prepend: string[];
  rcptClass?: RecipientClass | undefined;
  /** DNS-list keys by target (null: not computed yet). */
  keys: Array<string | undefined | null>;
  /** Set once the list's DNS lookup is done: the plan, which answer each pair got (-1: none). */
  dnsPlan?: DnsPlan | undefined;
  dnsAnswerOf?: number[] | undefined;
  dnsAnswers?: DnsListAnswer[] | undefined;
  /** Clock reading after the last wait on a port: restrictions that do not wait take ~0 ms. */
  last: number;
  /** Evaluating the relay list (where DNS whitelists do not permit). */
  inRelayList: boolean;
  /** Whether the client is in mynetworks: 0 not asked yet, 1 yes, 2 no (asked in both lists). */
  inMyNets: number;
  /** The last host name turned into a DNS-list key, and its key. */
  lastName: string | undefined;
  lastNameKey: string | undefined;
  /** warn_if_reject: 2 when it was just evaluated, 1 while the next restriction runs (its reject only warns). */
  warnNext: number;
  /** Postfix defer_if_permit: the first deferral a restriction asked for, applied if nothing rejects. */
  deferIfPermit: Held | undefined;
  /** Postfix defer_if_reject: the first deferral a restriction asked for, given instead of a later 5xx reject. */
  deferIfReject: Held | undefined;
}

export const DUNNO: Result = { outcome: 'dunno' };
export const NOT_LISTED: Result = { outcome: 'dunno', reason: 'not listed' };
export const NOT_FOUND: Result = { outcome: 'dunno', reason: 'not found' };
export const SKIP_NO_HELO: Result = { outcome: 'skip', reason: 'no HELO yet' };
export const SKIP_NO_SENDER: Result = { outcome: 'skip', reason: 'no sender yet' };

export function lowerName(n: string): string {
  const l = n.toLowerCase();
  return l.charCodeAt(l.length - 1) === 46 ? l.slice(0, -1) : l;
}

/** `name[addr]` as Postfix writes a client in replies (`unknown` when the name did not verify). */
export function clientReplyName(ctx: Ctx): string {
  return `${ctx.facts.clientName ?? 'unknown'}[${ctx.facts.clientAddress}]`;
}

/** What a generic reject at the current stage is about, as Postfix names it (`<thing>: Xxx rejected`). */
export function stageSubject(ctx: Ctx): ReplySubject {
  const f = ctx.facts;
  if (ctx.stage >= RCPT && f.recipient !== undefined) return { name: f.recipient, context: 'Recipient address rejected' };
  if (ctx.stage >= MAIL && f.sender !== undefined) return { name: f.sender, context: 'Sender address rejected' };
  if (ctx.stage >= HELO && f.helo !== undefined) return { name: f.helo, context: 'Helo command rejected' };
  return { name: clientReplyName(ctx), context: 'Client host rejected' };
}

/** A result's full reply text, Postfix's form: `<name>: Class rejected: words` (traces and verdict.text use it). */
export function resultText(res: Result): string | undefined {
  return res.subject && res.text !== undefined ? subjectText(res.subject, res.text) : res.text;
}

/** Postfix's smtpd_check_reject: the enhanced status's class digit follows the reply code's. */
export function fixStatus(code: number, status: string): string {
  return `${String(code)[0]}${status.slice(1)}`;
}
