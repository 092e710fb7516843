// The engine: relay control, then the spam policy, evaluated Postfix-style against the ports.
// Trusts the ports' answers and the compiled spec; every fact is client input and only classified.
import { type AccessAction, parseAccessAction } from './access-action.ts';
import { addressDomain, heloSyntaxProblem, hostileRecipientForm, isFqdn, isFqdnDomain, isStrictEnvelope, isValidHostname, parseAddressLiteral, splitAddress } from './address.ts';
import { type CompiledCodeFilter, matchesCode, parseCodeFilter } from './code-filter.ts';
import { POLICY_ERROR_CODES, PolicyError } from './errors.ts';
import { type Cidr, cidrContains, formatIp, type IpAddr, parseCidr, parseIp, parseIpShared } from './ip.ts';
import { formatRestriction } from './parse.ts';
import type {
  DnsListAnswer,
  DnsListQuery,
  DnsTarget,
  Facts,
  GreylistAnswer,
  Outcome,
  PolicySpec,
  Ports,
  RecipientClass,
  Restriction,
  RestrictionType,
  Stage,
  TraceEntry,
  Verdict,
} from './types.ts';

export interface Engine {
  evaluate(facts: Facts): Promise<Verdict>;
  /** The spec the engine was built from (frozen). */
  readonly spec: PolicySpec;
}

type ListName = TraceEntry['list'];

const STAGE_RANK: Readonly<Record<Stage, number>> = { connect: 0, helo: 1, mail: 2, rcpt: 3, data: 4, 'end-of-data': 5 };
const RCPT = 3;

const DNS_TARGET: Partial<Record<RestrictionType, DnsTarget>> = {
  permit_dnswl_client: 'client',
  reject_rbl_client: 'client',
  permit_rhswl_client: 'client-name',
  reject_rhsbl_client: 'client-name',
  reject_rhsbl_reverse_client: 'reverse-client-name',
  reject_rhsbl_sender: 'sender-domain',
  reject_rhsbl_helo: 'helo',
};

/** What a DNS-list restriction asks a list for: whitelisting (permit_*) or blacklisting (reject_*). */
const DNS_USE: Partial<Record<RestrictionType, 'allow' | 'block'>> = {
  permit_dnswl_client: 'allow',
  permit_rhswl_client: 'allow',
  reject_rbl_client: 'block',
  reject_rhsbl_client: 'block',
  reject_rhsbl_reverse_client: 'block',
  reject_rhsbl_sender: 'block',
  reject_rhsbl_helo: 'block',
};

/** Postfix's rbl_class words for the reply ("Client host [x] blocked using zone"). */
const DNS_CLASS: Readonly<Record<DnsTarget, string>> = {
  client: 'Client host',
  'client-name': 'Client host',
  'reverse-client-name': 'Unverified Client host',
  'sender-domain': 'Sender address',
  helo: 'Helo command',
};

/** The earliest stage whose facts a restriction needs (used only when delayReject is off). */
function neededStage(t: RestrictionType): number {
  switch (t) {
    case 'reject_missing_helo':
    case 'reject_invalid_helo_hostname':
    case 'reject_non_fqdn_helo_hostname':
    case 'reject_rhsbl_helo':
      return 1;
    case 'reject_non_fqdn_sender':
    case 'reject_rhsbl_sender':
    case 'permit_sasl_authenticated':
      return 2;
    case 'reject_non_fqdn_recipient':
    case 'reject_unlisted_recipient':
    case 'check_policy_service':
    case 'reject_unauth_destination':
    case 'permit_auth_destination':
    case 'defer_unauth_destination':
      return RCPT;
    default:
      return 0;
  }
}

interface Compiled {
  /** Trace entries for the commonest constant outcomes, shared and frozen (no allocation per decision). */
  tDunno: TraceEntry | undefined;
  tNotListed: TraceEntry | undefined;
  r: Restriction;
  type: RestrictionType;
  text: string;
  needs: number;
  dnsTarget?: DnsTarget | undefined;
  /** TARGET_INDEX of dnsTarget (-1: not a DNS-list restriction). */
  targetIndex: number;
  dnsUse?: 'allow' | 'block' | undefined;
  zone?: string | undefined;
  filter?: CompiledCodeFilter | undefined;
}

interface Result {
  outcome: Outcome | 'skip' | 'error';
  status?: string;
  text?: string;
  reason?: string | undefined;
  greylisted?: boolean;
  smtpCode?: number | undefined;
}

/**
 * A port call in flight: its promise, what the answer means (possibly another call: an access map
 * tried key by key), and what a failure means (absent: the decision fails).
 */
class Wait {
  readonly promise: Promise<unknown>;
  readonly map: (x: never) => Result | Wait;
  readonly fail: ((e: unknown) => Result) | undefined;
  constructor(promise: Promise<unknown>, map: (x: never) => Result | Wait, fail?: (e: unknown) => Result) {
    this.promise = promise;
    this.map = map;
    this.fail = fail;
  }
}
const wait = <T>(promise: Promise<T>, map: (x: T) => Result | Wait, fail?: (e: unknown) => Result): Wait => new Wait(promise, map as (x: never) => Result | Wait, fail);

interface Ctx {
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
}

const DUNNO: Result = { outcome: 'dunno' };
const NOT_LISTED: Result = { outcome: 'dunno', reason: 'not listed' };
const NOT_FOUND: Result = { outcome: 'dunno', reason: 'not found' };
const RELAY_DENIED_IMPLICIT: Result = { outcome: 'reject', reason: 'implicit' };
const SKIP_NO_HELO: Result = { outcome: 'skip', reason: 'no HELO yet' };
const SKIP_NO_SENDER: Result = { outcome: 'skip', reason: 'no sender yet' };

// Restriction names as the engine's switch statements spell them (internalised strings compare by
// pointer); a name that came out of toLowerCase() would be compared character by character.
const INTERNED = new Map<string, RestrictionType>(
  (['permit', 'reject', 'defer', 'dunno', 'reject_missing_helo', 'reject_invalid_helo_hostname', 'reject_non_fqdn_helo_hostname', 'reject_non_fqdn_sender', 'reject_non_fqdn_recipient', 'reject_unlisted_recipient', 'permit_mynetworks', 'check_client_access', 'permit_sasl_authenticated', 'permit_dnswl_client', 'permit_rhswl_client', 'reject_rbl_client', 'reject_rhsbl_client', 'reject_rhsbl_reverse_client', 'reject_rhsbl_sender', 'reject_rhsbl_helo', 'check_policy_service', 'reject_unauth_destination', 'permit_auth_destination', 'defer_unauth_destination'] as const).map((t) => [t, t]),
);
function internType(t: RestrictionType): RestrictionType {
  const i = INTERNED.get(t);
  if (i === undefined) throw new PolicyError(POLICY_ERROR_CODES.UNKNOWN_RESTRICTION, String(t), 'unknown restriction type in spec');
  return i;
}

const TARGET_INDEX: Readonly<Record<DnsTarget, number>> = { client: 0, 'client-name': 1, 'reverse-client-name': 2, 'sender-domain': 3, helo: 4 };

function compileList(list: readonly Restriction[], which: string, listName: ListName): Compiled[] {
  return list.map((r, i) => {
    // every field present from the start: one object shape for the whole hot loop
    const c: Compiled = { tDunno: undefined, tNotListed: undefined, r, type: internType(r.type), text: formatRestriction(r), needs: neededStage(r.type), dnsTarget: undefined, targetIndex: -1, dnsUse: undefined, zone: undefined, filter: undefined };
    if ('zone' in r) {
      c.dnsTarget = DNS_TARGET[r.type];
      c.dnsUse = DNS_USE[r.type];
      c.targetIndex = c.dnsTarget === undefined ? -1 : TARGET_INDEX[c.dnsTarget];
      c.zone = r.zone.toLowerCase();
      try {
        c.filter = r.filter === undefined ? undefined : parseCodeFilter(r.filter);
      } catch (e) {
        if (e instanceof PolicyError) throw new PolicyError(e.code, `${which}: ${c.text}`, e.reason, { index: i + 1 });
        throw e;
      }
    }
    c.tDunno = Object.freeze({ restriction: c.text, list: listName, outcome: 'dunno', reason: undefined, ms: 0 });
    c.tNotListed = Object.freeze({ restriction: c.text, list: listName, outcome: 'dunno', reason: NOT_LISTED.reason, ms: 0 });
    return c;
  });
}


function lowerName(n: string): string {
  const l = n.toLowerCase();
  return l.charCodeAt(l.length - 1) === 46 ? l.slice(0, -1) : l;
}

function computeKey(target: DnsTarget, ctx: Ctx): string | undefined {
  const f = ctx.facts;
  switch (target) {
    case 'client':
      return ctx.client ? ctx.clientText : undefined;
    case 'client-name':
      return nameKey(f.clientName, ctx);
    case 'reverse-client-name':
      return nameKey(f.reverseClientName, ctx);
    case 'sender-domain': {
      if (!f.sender) return undefined;
      const d = addressDomain(f.sender);
      return d && isValidHostname(d) ? d : undefined;
    }
    case 'helo':
      return nameKey(f.helo, ctx);
  }
}

/** A host name's key; the client, reverse and HELO names are often the same text: checked once. */
function nameKey(n: string | undefined, ctx: Ctx): string | undefined {
  if (!n) return undefined;
  if (n === ctx.lastName) return ctx.lastNameKey;
  const k = isValidHostname(n) ? lowerName(n) : undefined;
  ctx.lastName = n;
  ctx.lastNameKey = k;
  return k;
}

/** The name or address a DNS list is asked about, computed once per decision and target. */
function dnsKey(target: DnsTarget, i: number, ctx: Ctx): string | undefined {
  let k = ctx.keys[i];
  if (k === null) k = ctx.keys[i] = computeKey(target, ctx);
  return k;
}

/**
 * The DNS-list queries of one list, worked out once when the engine is built: the distinct
 * (zone, target, use) triples from the first DNS-list restriction to the end of what a stage may
 * evaluate. A zone used both to permit and to reject (hostkarma in the seed) is asked once per use:
 * its answer means different things for the two.
 */
interface DnsPlan {
  pairs: Array<{ zone: string; target: DnsTarget; targetIndex: number; use: 'allow' | 'block' | undefined; sameZoneBefore: number[]; last: DnsListQuery | undefined }>;
  /** For each restriction index of the list: its pair, or -1. */
  pairOf: Int32Array;
}

function makeDnsPlan(list: Compiled[], maxStage: number): DnsPlan {
  const pairs: DnsPlan['pairs'] = [];
  const pairOf = new Int32Array(list.length).fill(-1);
  for (let i = 0; i < list.length; i++) {
    const c = list[i]!;
    if (c.needs > maxStage) break;
    if (c.dnsTarget === undefined) continue;
    let idx = pairs.findIndex((p) => p.zone === c.zone && p.target === c.dnsTarget && p.use === c.dnsUse);
    if (idx < 0) {
      const sameZoneBefore = pairs.flatMap((p, j) => (p.zone === c.zone && p.use === c.dnsUse ? [j] : []));
      idx = pairs.push({ zone: c.zone!, target: c.dnsTarget, targetIndex: c.targetIndex, use: c.dnsUse, sameZoneBefore, last: undefined }) - 1;
    }
    pairOf[i] = idx;
  }
  return { pairs, pairOf };
}

/** `name[addr]` as Postfix writes a client in replies (`unknown` when the name did not verify). */
function clientReplyName(ctx: Ctx): string {
  return `${ctx.facts.clientName ?? 'unknown'}[${ctx.facts.clientAddress}]`;
}

/** The `<thing>: Xxx rejected` prefix Postfix uses for a generic reject at the current stage. */
function stageSubject(ctx: Ctx): string {
  const f = ctx.facts;
  if (ctx.stage >= RCPT && f.recipient !== undefined) return `<${f.recipient}>: Recipient address rejected`;
  if (ctx.stage >= 2 && f.sender !== undefined) return `<${f.sender}>: Sender address rejected`;
  if (ctx.stage >= 1 && f.helo !== undefined) return `<${f.helo}>: Helo command rejected`;
  return `<${clientReplyName(ctx)}>: Client host rejected`;
}

/** Builds the engine. Throws PolicyError when the spec is malformed (bad network, bad filter). */
export function createEngine(spec: PolicySpec, ports: Ports): Engine {
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
  const relay = compileList(spec.relayRestrictions, 'relay restrictions', 'relay');
  const recipient = compileList(spec.recipientRestrictions, 'recipient restrictions', 'recipient');
  // DNS plans per list and per stage reached (0..3), made on first use.
  const relayPlans: Array<DnsPlan | undefined> = [];
  const recipientPlans: Array<DnsPlan | undefined> = [];
  const clock = ports.clock;
  const callerDoesRelay = spec.relayControl === 'caller';
  // In-memory directories and maps answer synchronously: no promise per decision for them.
  const classifySync = ports.recipients.classifySync?.bind(ports.recipients);
  const lookupSync = ports.accessMaps.lookupSync?.bind(ports.accessMaps);
  const myHostnameLower = lowerName(spec.myHostname);

  // `2026-11-24T12:01:00Z`, cached per second: greylist deferrals are the most common verdict.
  let retrySecond = Number.NaN;
  let retryText = '';
  const retryTime = (ms: number): string => {
    const sec = Math.floor(ms / 1000);
    if (sec !== retrySecond) {
      retrySecond = sec;
      retryText = new Date(sec * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    }
    return retryText;
  };

  const inMyNetworks = (ctx: Ctx): boolean => {
    if (ctx.inMyNets !== 0) return ctx.inMyNets === 1;
    const a = ctx.client;
    let yes = false;
    if (a) {
      for (let i = 0; i < networks.length; i++) {
        if (cidrContains(networks[i]!, a)) {
          yes = true;
          break;
        }
      }
    }
    ctx.inMyNets = yes ? 1 : 2;
    return yes;
  };

  // A bare `postmaster` (RFC 5321 4.5.1: it must be accepted) is always ours; the only domain-less form let through.
  // Asked once per decision; later restrictions (and the relay safety net) reuse the answer.
  const withClass = (ctx: Ctx, f: (cls: RecipientClass) => Result): Result | Wait => {
    if (ctx.rcptClass !== undefined) return f(ctx.rcptClass);
    const rcpt = ctx.facts.recipient!;
    if (!rcpt.includes('@')) return f((ctx.rcptClass = 'local'));
    if (classifySync) {
      let cls: RecipientClass;
      try {
        cls = classifySync(rcpt);
      } catch (e) {
        return directoryFailed(ctx, e);
      }
      return f((ctx.rcptClass = cls));
    }
    let pending: Promise<RecipientClass>;
    try {
      pending = ports.recipients.classify(rcpt);
    } catch (e) {
      return directoryFailed(ctx, e);
    }
    return wait(pending, (cls) => f((ctx.rcptClass = cls)), (e) => directoryFailed(ctx, e));
  };
  // Postfix: a table lookup failure is a temporary error (451 4.3.0), never an accept or a reject.
  const directoryFailed = (ctx: Ctx, e: unknown): Result => ({
    outcome: 'defer',
    status: '4.3.0',
    text: `<${ctx.facts.recipient}>: Recipient address rejected: Temporary lookup failure`,
    reason: `recipient directory: ${(e as Error)?.message ?? String(e)}`,
    smtpCode: 451,
  });
  // The seed: "Should the greylisting daemon not be available, the servers are set to accept the mail."
  const greylistFailOpen = (e: unknown): Result => ({ outcome: 'dunno', reason: `greylist failed, passing (fail open): ${(e as Error)?.message ?? String(e)}` });

  /** One lookup() for every DNS-list restriction the plan holds: concurrent, under the port's budget. */
  const fetchDns = (ctx: Ctx, plan: DnsPlan): Promise<DnsListAnswer[]> | undefined => {
    const queries: DnsListQuery[] = [];
    // a plain array: a typed array costs more to allocate than it saves on a dozen reads
    const n = plan.pairs.length;
    const answerOf: number[] = new Array(n);
    for (let p = 0; p < n; p++) answerOf[p] = -1;
    for (let p = 0; p < plan.pairs.length; p++) {
      const pair = plan.pairs[p]!;
      const key = dnsKey(pair.target, pair.targetIndex, ctx);
      if (key === undefined) continue;
      // the same zone asked about the same name for the same use through two targets (HELO = client name): ask once
      const same = pair.sameZoneBefore;
      for (let j = 0; j < same.length; j++) {
        const q = same[j]!;
        if (answerOf[q]! >= 0 && ctx.keys[plan.pairs[q]!.targetIndex] === key) {
          answerOf[p] = answerOf[q]!;
          break;
        }
      }
      if (answerOf[p]! >= 0) continue;
      answerOf[p] = queries.length;
      // Queries are values (ports must not change them): the same name as last time reuses the object.
      let query = pair.last;
      if (query === undefined || query.key !== key) query = pair.last = { zone: pair.zone, target: pair.target, key, use: pair.use };
      queries.push(query);
    }
    ctx.dnsPlan = plan;
    ctx.dnsAnswerOf = answerOf;
    if (queries.length === 0) {
      ctx.dnsAnswers = [];
      return undefined;
    }
    try {
      return ports.dnslist.lookup(queries);
    } catch (e) {
      return Promise.reject(e);
    }
  };

  // The port promises never to throw; if it does, every list is unknown (fail open).
  const dnsFailOpen = (ctx: Ctx, e: unknown): DnsListAnswer[] => {
    const n = ctx.dnsAnswerOf ? Math.max(-1, ...ctx.dnsAnswerOf) + 1 : 0;
    return Array.from({ length: n }, (): DnsListAnswer => ({ zone: '', key: '', status: 'unknown', codes: [], detail: `lookup failed: ${(e as Error).message}` }));
  };

  const evalDns = (c: Compiled, index: number, ctx: Ctx): Result => {
    const key = dnsKey(c.dnsTarget!, c.targetIndex, ctx);
    if (key === undefined) return { outcome: 'skip', reason: `no ${c.dnsTarget} to look up` };
    const pair = ctx.dnsPlan!.pairOf[index]!;
    const a = ctx.dnsAnswers![ctx.dnsAnswerOf![pair]!];
    if (!a) return { outcome: 'dunno', reason: `${key}: unknown (no answer)` };
    if (a.status === 'unknown') return { outcome: 'dunno', reason: `${key}: unknown, treated as not listed${a.detail ? ` (${a.detail})` : ''}` };
    if (a.status === 'not-listed' || a.codes.length === 0) return NOT_LISTED;
    let hit: string | undefined;
    for (const code of a.codes) {
      if (matchesCode(c.filter, code)) {
        hit = code;
        break;
      }
    }
    if (hit === undefined) return { outcome: 'dunno', reason: `${key}: listed ${a.codes.join(',')}, no code matches ${c.filter?.text}` };
    if (c.type === 'permit_dnswl_client' || c.type === 'permit_rhswl_client') {
      // Postfix: "permit_dnswl_client ... does not allow mail relaying"; neither does moat.
      if (ctx.inRelayList) return { outcome: 'dunno', reason: `${key}: listed ${hit}, but a DNS whitelist never authorises relaying` };
      return { outcome: 'permit', status: '2.0.0', text: 'Ok', reason: `${key}: listed ${hit}` };
    }
    const what = c.dnsTarget === 'client' ? ctx.facts.clientAddress : key;
    const txt = a.txt ? `; ${a.txt}` : '';
    return {
      outcome: 'reject',
      status: '5.7.1',
      text: `Service unavailable; ${DNS_CLASS[c.dnsTarget!]} [${what}] blocked using ${c.zone}${txt}`,
      reason: `${key}: listed ${hit}${a.txt ? ` (${a.txt})` : ''}`,
    };
  };

  const actOnAccess = (ctx: Ctx, rhs: string, key: string): Result => {
    const act: AccessAction | undefined = parseAccessAction(rhs);
    const subject = `<${clientReplyName(ctx)}>: Client host rejected`;
    if (!act) return { outcome: 'defer', status: '4.3.5', text: `${subject}: Server configuration error`, reason: `${key}: unsupported action ${JSON.stringify(rhs)}`, smtpCode: 451 };
    switch (act.kind) {
      case 'permit':
        return { outcome: 'permit', status: '2.0.0', text: 'Ok', reason: `${key}: ${rhs}` };
      case 'dunno':
        return { outcome: 'dunno', reason: `${key}: DUNNO` };
      case 'prepend':
        ctx.prepend.push(act.header);
        return { outcome: 'dunno', reason: `${key}: PREPEND` };
      case 'warn':
        return { outcome: 'dunno', reason: `${key}: WARN ${act.text}` };
      case 'reject':
        return { outcome: 'reject', status: act.status ?? '5.7.1', text: `${subject}: ${act.text ?? 'Access denied'}`, reason: `${key}: ${rhs}`, smtpCode: act.code };
      case 'defer':
        return { outcome: 'defer', status: act.status ?? '4.7.1', text: `${subject}: ${act.text ?? 'Access denied'}`, reason: `${key}: ${rhs}`, smtpCode: act.code };
    }
  };

  const checkClientAccess = (c: Compiled & { r: { type: 'check_client_access'; map: string } }, ctx: Ctx): Result | Wait => {
    const map = c.r.map;
    const keys: string[] = [];
    if (map.startsWith('cidr:')) {
      if (ctx.client) keys.push(ctx.clientText);
    } else {
      // Postfix order for hash-style maps: client name and its parents, then address and its prefixes.
      const name = ctx.facts.clientName?.toLowerCase().replace(/\.$/, '');
      if (name) {
        const labels = name.split('.');
        for (let i = 0; i < labels.length; i++) keys.push(labels.slice(i).join('.'));
      }
      if (ctx.client) {
        keys.push(ctx.clientText);
        if (ctx.client.v4) {
          const p = ctx.clientText.split('.');
          for (let n = 3; n >= 1; n--) keys.push(p.slice(0, n).join('.'));
        }
      }
    }
    const tempFail = (e: unknown): Result => ({
      outcome: 'defer',
      status: '4.3.0',
      text: `<${clientReplyName(ctx)}>: Temporary lookup failure`,
      reason: `${map}: ${(e as Error).message}`,
      smtpCode: 451,
    });
    const tryKey = (k: number): Result | Wait => {
      if (k >= keys.length) return NOT_FOUND;
      const key = keys[k]!;
      if (lookupSync) {
        let rhs: string | undefined;
        try {
          rhs = lookupSync(map, key);
        } catch (e) {
          return tempFail(e);
        }
        return rhs === undefined ? tryKey(k + 1) : actOnAccess(ctx, rhs, key);
      }
      let pending: Promise<string | undefined>;
      try {
        pending = ports.accessMaps.lookup(map, key);
      } catch (e) {
        return tempFail(e);
      }
      return wait(pending, (rhs) => (rhs === undefined ? tryKey(k + 1) : actOnAccess(ctx, rhs, key)), tempFail);
    };
    return tryKey(0);
  };

  const heloCheck = (c: Compiled, ctx: Ctx): Result => {
    const helo = ctx.facts.helo;
    if (helo === undefined) return SKIP_NO_HELO;
    if (c.type === 'reject_invalid_helo_hostname') {
      const problem = heloSyntaxProblem(helo);
      if (problem) {
        return { outcome: 'reject', status: '5.5.2', text: `<${helo}>: Helo command rejected: Invalid name`, reason: problem === 'literal' ? 'malformed address literal' : 'bad hostname syntax' };
      }
      // A stranger claiming to be us: forged. Our own networks may legitimately say our name.
      const literal = parseAddressLiteral(helo);
      let ours = false;
      if (literal !== undefined) {
        const ip = parseIp(literal);
        ours = ip !== undefined && myAddresses.has(formatIp(ip));
      } else ours = helo.length - myHostnameLower.length <= 1 && lowerName(helo) === myHostnameLower;
      if (ours && !inMyNetworks(ctx)) {
        return { outcome: 'reject', status: '5.7.1', text: `<${helo}>: Helo command rejected: You are not me`, reason: 'claims our own name or address' };
      }
      return DUNNO;
    }
    // reject_non_fqdn_helo_hostname: address literals are not names; the syntax check handles them.
    if (helo.startsWith('[')) return DUNNO;
    if (!isFqdn(helo)) return { outcome: 'reject', status: '5.5.2', text: `<${helo}>: Helo command rejected: need fully-qualified hostname`, reason: 'not a fully-qualified name' };
    return DUNNO;
  };

  const evalOne = (c: Compiled, index: number, ctx: Ctx): Result | Wait => {
    const f = ctx.facts;
    switch (c.type) {
      case 'permit':
        return { outcome: 'permit', status: '2.0.0', text: 'Ok' };
      case 'dunno':
        return DUNNO;
      case 'reject':
        return { outcome: 'reject', status: '5.7.1', text: `${stageSubject(ctx)}: Access denied` };
      case 'defer':
        return { outcome: 'defer', status: '4.7.1', text: `${stageSubject(ctx)}: Try again later` };
      case 'reject_missing_helo':
        if (f.helo === undefined || f.helo === '') return { outcome: 'reject', status: '5.5.1', text: 'Error: send HELO/EHLO first', reason: 'no HELO/EHLO' };
        return DUNNO;
      case 'reject_invalid_helo_hostname':
      case 'reject_non_fqdn_helo_hostname':
        return heloCheck(c, ctx);
      case 'reject_non_fqdn_sender': {
        if (f.sender === undefined) return SKIP_NO_SENDER;
        if (f.sender === '') return DUNNO; // the null sender is always acceptable
        const { domain } = splitAddress(f.sender);
        if (domain.startsWith('[') ? parseAddressLiteral(domain) !== undefined : isFqdnDomain(domain)) return DUNNO;
        return { outcome: 'reject', status: '5.5.2', text: `<${f.sender}>: Sender address rejected: need fully-qualified address`, reason: 'sender domain is not fully qualified' };
      }
      case 'reject_non_fqdn_recipient': {
        const rcpt = f.recipient!;
        const { domain } = splitAddress(rcpt);
        if (domain.startsWith('[') ? parseAddressLiteral(domain) !== undefined : isFqdnDomain(domain)) return DUNNO;
        return { outcome: 'reject', status: '5.5.2', text: `<${rcpt}>: Recipient address rejected: need fully-qualified address`, reason: 'recipient domain is not fully qualified' };
      }
      case 'reject_unlisted_recipient':
        return withClass(ctx, (cls): Result => {
          if (cls === 'unknown-user') {
            return { outcome: 'reject', status: '5.1.1', text: `<${f.recipient}>: Recipient address rejected: User unknown in local recipient table`, reason: 'unknown user' };
          }
          return { outcome: 'dunno', reason: cls };
        });
      case 'permit_mynetworks':
        return inMyNetworks(ctx) ? { outcome: 'permit', status: '2.0.0', text: 'Ok', reason: `${ctx.clientText} in mynetworks` } : DUNNO;
      case 'permit_sasl_authenticated':
        return f.saslUsername ? { outcome: 'permit', status: '2.0.0', text: 'Ok', reason: 'authenticated' } : DUNNO;
      case 'check_client_access':
        return checkClientAccess(c as Compiled & { r: { type: 'check_client_access'; map: string } }, ctx);
      case 'permit_dnswl_client':
      case 'permit_rhswl_client':
      case 'reject_rbl_client':
      case 'reject_rhsbl_client':
      case 'reject_rhsbl_reverse_client':
      case 'reject_rhsbl_sender':
      case 'reject_rhsbl_helo':
        return evalDns(c, index, ctx);
      case 'check_policy_service': {
        let pending: Promise<GreylistAnswer>;
        try {
          pending = ports.greylist.check({ clientAddress: ctx.clientText, clientName: f.clientName, helo: f.helo, sender: f.sender ?? '', recipient: f.recipient! });
        } catch (e) {
          return greylistFailOpen(e);
        }
        return wait(
          pending,
          (g): Result => {
            if (g.action === 'pass') {
              if (g.header) ctx.prepend.push(g.header);
              return { outcome: 'dunno', reason: `greylist pass (${g.reason})${g.detail ? `: ${g.detail}` : ''}` };
            }
            const secs = Math.max(0, Math.ceil(g.retryAfter));
            const when = retryTime(clock.now() + secs * 1000);
            return {
              outcome: 'defer',
              status: '4.7.1',
              text: `<${f.recipient}>: Recipient address rejected: Greylisted, please try again in ${secs} seconds (after ${when})`,
              reason: `greylisted, retry after ${secs}s${g.detail ? `: ${g.detail}` : ''}`,
              greylisted: true,
            };
          },
          greylistFailOpen,
        );
      }
      case 'reject_unauth_destination':
      case 'defer_unauth_destination':
        return withClass(ctx, (cls): Result => {
          if (cls !== 'remote') return { outcome: 'dunno', reason: cls };
          return c.type === 'reject_unauth_destination'
            ? { outcome: 'reject', status: '5.7.1', text: `<${f.recipient}>: Relay access denied`, reason: 'not a domain of ours' }
            : { outcome: 'defer', status: '4.7.1', text: `<${f.recipient}>: Relay access denied`, reason: 'not a domain of ours' };
        });
      case 'permit_auth_destination':
        return withClass(ctx, (cls): Result => (cls === 'remote' ? { outcome: 'dunno', reason: cls } : { outcome: 'permit', status: '2.0.0', text: 'Ok', reason: cls }));
    }
  };

  type Decided = { c: Compiled; res: Result } | undefined;

  const record = (ctx: Ctx, c: Compiled, listName: ListName, res: Result, waited: boolean): void => {
    let ms = 0;
    if (waited) {
      const now = clock.now();
      ms = now - ctx.last;
      ctx.last = now;
    }
    if (ms === 0 && res === DUNNO) ctx.trace.push(c.tDunno!);
    else if (ms === 0 && res === NOT_LISTED) ctx.trace.push(c.tNotListed!);
    else ctx.trace.push({ restriction: c.text, list: listName, outcome: res.outcome, reason: res.reason, ms });
  };
  const decisive = (res: Result): boolean => res.outcome === 'permit' || res.outcome === 'reject' || res.outcome === 'defer';

  // ---- the run of one decision: synchronous until a port answers with a promise, then driven from
  // that promise's callback. One `then` per port asked, no promise chains to adopt.
  const RELAY_PHASE = 0;
  const SAFETY_PHASE = 1;
  const RECIPIENT_PHASE = 2;
  const EARLY_PHASE = 3;
  const WAITING = 1;

  interface Run {
    ctx: Ctx;
    phase: number;
    list: Compiled[];
    plans: Array<DnsPlan | undefined>;
    listName: ListName;
    maxStage: number;
    i: number;
    /** The next restriction recorded waited on the DNS lookup. */
    waited: boolean;
    verdict?: Verdict | undefined;
    resolve?: ((v: Verdict) => void) | undefined;
    reject?: ((e: unknown) => void) | undefined;
  }

  const startList = (run: Run, phase: number): void => {
    run.phase = phase;
    const isRelay = phase === RELAY_PHASE;
    run.list = isRelay ? relay : recipient;
    run.plans = isRelay ? relayPlans : recipientPlans;
    run.listName = isRelay ? 'relay' : 'recipient';
    run.maxStage = phase === EARLY_PHASE ? run.ctx.stage : RCPT;
    run.i = 0;
    run.waited = false;
    run.ctx.dnsPlan = undefined;
    run.ctx.inRelayList = isRelay;
  };

  const fail = (run: Run, e: unknown): void => {
    if (run.reject) run.reject(e);
    else throw e;
  };
  const resume = (run: Run): void => {
    try {
      drive(run);
    } catch (e) {
      fail(run, e);
    }
  };
  const hook = (run: Run, c: Compiled, w: Wait): void => {
    w.promise.then(
      (x) => settle(run, c, w.map(x as never)),
      (e: unknown) => (w.fail ? settle(run, c, w.fail(e)) : fail(run, e)),
    );
  };
  const settle = (run: Run, c: Compiled, r: Result | Wait): void => {
    try {
      if (r instanceof Wait) {
        hook(run, c, r);
        return;
      }
      record(run.ctx, c, run.listName, r, true);
      run.waited = false;
      if (decisive(r)) listDone(run, { c, res: r });
      else run.i++;
      drive(run);
    } catch (e) {
      fail(run, e);
    }
  };

  /** Runs the current list from run.i: its decision, undefined (all DUNNO), or WAITING. */
  const listStep = (run: Run): Decided | typeof WAITING => {
    const { ctx, list } = run;
    for (; run.i < list.length; run.i++) {
      const c = list[run.i]!;
      if (c.needs > run.maxStage) {
        ctx.trace.push({ restriction: c.text, list: run.listName, outcome: 'skip', reason: 'needs a later SMTP stage', ms: 0 });
        return undefined;
      }
      if (c.dnsTarget !== undefined && ctx.dnsPlan === undefined) {
        let plan = run.plans[run.maxStage];
        if (!plan) plan = run.plans[run.maxStage] = makeDnsPlan(list, run.maxStage);
        const pending = fetchDns(ctx, plan);
        if (pending) {
          pending.then(
            (answers) => {
              ctx.dnsAnswers = answers;
              run.waited = true;
              resume(run);
            },
            (e: unknown) => {
              ctx.dnsAnswers = dnsFailOpen(ctx, e);
              run.waited = true;
              resume(run);
            },
          );
          return WAITING;
        }
      }
      // DNS-list restrictions (two thirds of the seed's list) go straight to evalDns: no switch
      const res = c.targetIndex >= 0 ? evalDns(c, run.i, ctx) : evalOne(c, run.i, ctx);
      if (res instanceof Wait) {
        hook(run, c, res);
        return WAITING;
      }
      record(ctx, c, run.listName, res, run.waited);
      run.waited = false;
      if (decisive(res)) return { c, res };
    }
    return undefined;
  };

  /** A list has finished: decide, or move to the next phase. */
  const listDone = (run: Run, d: Decided): void => {
    const ctx = run.ctx;
    switch (run.phase) {
      case EARLY_PHASE:
        // A permit before RCPT only ends this stage's checks; the whole list runs again at RCPT.
        run.verdict = verdictOf(ctx, d, d?.res.outcome === 'permit');
        return;
      case RELAY_PHASE:
        if (d && d.res.outcome !== 'permit') run.verdict = verdictOf(ctx, d);
        else if (d || callerDoesRelay) startList(run, RECIPIENT_PHASE);
        else run.phase = SAFETY_PHASE;
        return;
      default:
        run.verdict = verdictOf(ctx, d);
    }
  };

  const safetyDone = (run: Run, r: Result): void => {
    const ctx = run.ctx;
    if (r === RELAY_DENIED_IMPLICIT) {
      run.verdict = fixed(ctx, 'reject_unauth_destination', 'reject_unauth_destination', 'reject', '5.7.1', `<${ctx.facts.recipient}>: Relay access denied`, 'implicit: relay list did not authorise a remote recipient');
    } else if (r.outcome === 'defer') {
      run.verdict = fixed(ctx, 'reject_unauth_destination', 'reject_unauth_destination', 'defer', r.status ?? '4.3.0', r.text ?? 'Temporary lookup failure', r.reason ?? '');
    } else startList(run, RECIPIENT_PHASE);
  };

  const drive = (run: Run): void => {
    for (;;) {
      if (run.verdict) {
        run.resolve?.(run.verdict);
        return;
      }
      if (run.phase === SAFETY_PHASE) {
        // Postfix refuses to run without reject_unauth_destination; moat enforces it: nothing after
        // the relay list may authorise mail to a domain that is not ours.
        const r = withClass(run.ctx, (cls) => (cls === 'remote' ? RELAY_DENIED_IMPLICIT : DUNNO));
        if (r instanceof Wait) {
          r.promise.then(
            (x) => {
              safetyDone(run, r.map(x as never) as Result);
              resume(run);
            },
            (e: unknown) => {
              safetyDone(run, r.fail!(e));
              resume(run);
            },
          );
          return;
        }
        safetyDone(run, r);
        continue;
      }
      const d = listStep(run);
      if (d === WAITING) return;
      listDone(run, d);
    }
  };

  const verdictOf = (ctx: Ctx, decided: { c: Compiled; res: Result } | undefined, earlyPermit = false): Verdict => {
    if (!decided || earlyPermit) {
      return { action: 'continue', status: '2.0.0', text: 'Ok', prepend: ctx.prepend, trace: ctx.trace, decidedBy: decided?.c.text, decidedByType: decided?.c.type };
    }
    const { c, res } = decided;
    const action = res.outcome as 'permit' | 'reject' | 'defer';
    const v: Verdict = {
      action,
      status: res.status ?? (action === 'permit' ? '2.0.0' : action === 'reject' ? '5.7.1' : '4.7.1'),
      text: res.text ?? 'Ok',
      decidedBy: c.text,
      decidedByType: c.type,
      prepend: action === 'permit' ? ctx.prepend : [],
      trace: ctx.trace,
    };
    if (res.greylisted) v.greylisted = true;
    if (res.smtpCode !== undefined) v.smtpCode = res.smtpCode;
    return v;
  };

  const fixed = (ctx: Ctx, restriction: string, type: RestrictionType | undefined, action: 'reject' | 'defer', status: string, text: string, reason: string): Verdict => {
    ctx.trace.push({ restriction, list: 'relay', outcome: action, reason, ms: 0 });
    return { action, status, text, decidedBy: restriction, decidedByType: type, prepend: [], trace: ctx.trace };
  };

  const decide = (facts: Facts): Verdict | Promise<Verdict> => {
    const client = parseIpShared(facts.clientAddress);
    const ctx: Ctx = {
      facts,
      stage: STAGE_RANK[facts.stage] ?? RCPT,
      client: client.ip,
      clientText: client.text,
      trace: [],
      prepend: [],
      keys: [null, null, null, null, null],
      last: clock.now(),
      rcptClass: undefined,
      dnsPlan: undefined,
      dnsAnswerOf: undefined,
      dnsAnswers: undefined,
      inRelayList: false,
      inMyNets: 0,
      lastName: undefined,
      lastNameKey: undefined,
    };

    // strict_rfc821_envelopes is command syntax: Postfix refuses it at once, whatever delay_reject says.
    if (spec.strictRfc821Envelopes) {
      if (ctx.stage >= 2 && ctx.stage <= RCPT && facts.rawSender !== undefined && !isStrictEnvelope(facts.rawSender, true)) {
        return fixed(ctx, 'strict_rfc821_envelopes', 'reject_non_fqdn_sender', 'reject', '5.1.7', 'Bad sender address syntax', 'MAIL FROM is not <local@domain.tld> or <>');
      }
      if (ctx.stage === RCPT && facts.rawRecipient !== undefined && !isStrictEnvelope(facts.rawRecipient, false)) {
        return fixed(ctx, 'strict_rfc821_envelopes', 'reject_non_fqdn_recipient', 'reject', '5.1.3', 'Bad recipient address syntax', 'RCPT TO is not <local@domain.tld>');
      }
    }

    if (ctx.stage < RCPT) {
      if (spec.delayReject) return verdictOf(ctx, undefined);
      return start(ctx, EARLY_PHASE);
    }
    if (ctx.stage > RCPT || facts.recipient === undefined) return verdictOf(ctx, undefined);

    // Relay safety first: forms that route elsewhere are refused before any list can permit them.
    const rcpt = facts.recipient;
    const hostile = callerDoesRelay ? undefined : hostileRecipientForm(rcpt);
    if (hostile !== undefined && !(hostile === 'no-domain' && rcpt.toLowerCase() === 'postmaster')) {
      if (hostile === 'bad-syntax') {
        return fixed(ctx, 'reject_unauth_destination', 'reject_unauth_destination', 'reject', '5.1.3', `<${rcpt}>: Bad recipient address syntax`, 'malformed recipient');
      }
      return fixed(ctx, 'reject_unauth_destination', 'reject_unauth_destination', 'reject', '5.7.1', `<${rcpt}>: Relay access denied`, `hostile recipient form: ${hostile}`);
    }

    return start(ctx, RELAY_PHASE);
  };

  const start = (ctx: Ctx, phase: number): Verdict | Promise<Verdict> => {
    const run: Run = { ctx, phase, list: relay, plans: relayPlans, listName: 'relay', maxStage: RCPT, i: 0, waited: false, verdict: undefined, resolve: undefined, reject: undefined };
    startList(run, phase);
    drive(run);
    if (run.verdict) return run.verdict;
    return new Promise<Verdict>((resolve, reject) => {
      run.resolve = resolve;
      run.reject = reject;
    });
  };

  const evaluate = (facts: Facts): Promise<Verdict> => {
    try {
      const v = decide(facts);
      return v instanceof Promise ? v : Promise.resolve(v);
    } catch (e) {
      return Promise.reject(e);
    }
  };

  return { evaluate, spec };
}
