// The engine: relay control, then the spam policy, evaluated Postfix-style against the ports.
// Trusts the ports' answers and the compiled spec; every fact is client input and only classified.
import { type AccessAction, parseAccessAction } from './access-action.ts';
import { addressDomain, heloSyntaxProblem, hostileRecipientForm, isFqdn, isStrictEnvelope, isValidHostname, parseAddressLiteral, splitAddress } from './address.ts';
import { type CompiledCodeFilter, matchesCode, parseCodeFilter } from './code-filter.ts';
import { POLICY_ERROR_CODES, PolicyError } from './errors.ts';
import { type Cidr, cidrContains, formatIp, type IpAddr, parseCidr, parseIp } from './ip.ts';
import { formatRestriction } from './parse.ts';
import type {
  DnsListAnswer,
  DnsListQuery,
  DnsTarget,
  Facts,
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
  r: Restriction;
  type: RestrictionType;
  text: string;
  needs: number;
  dnsTarget?: DnsTarget | undefined;
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

interface Ctx {
  facts: Facts;
  stage: number;
  client: IpAddr | undefined;
  /** Canonical client address text (IPv4-mapped IPv6 shown as IPv4). */
  clientText: string;
  trace: TraceEntry[];
  prepend: string[];
  rcptClass?: RecipientClass | undefined;
  dns?: Map<string, DnsListAnswer> | undefined;
}

const DUNNO: Result = { outcome: 'dunno' };
const SKIP_NO_HELO: Result = { outcome: 'skip', reason: 'no HELO yet' };
const SKIP_NO_SENDER: Result = { outcome: 'skip', reason: 'no sender yet' };

function compileList(list: readonly Restriction[], which: string): Compiled[] {
  return list.map((r, i) => {
    const c: Compiled = { r, type: r.type, text: formatRestriction(r), needs: neededStage(r.type) };
    if ('zone' in r) {
      c.dnsTarget = DNS_TARGET[r.type];
      c.zone = r.zone.toLowerCase();
      try {
        c.filter = r.filter === undefined ? undefined : parseCodeFilter(r.filter);
      } catch (e) {
        if (e instanceof PolicyError) throw new PolicyError(e.code, `${which}: ${c.text}`, e.reason, { index: i + 1 });
        throw e;
      }
    }
    return c;
  });
}

function dnsKey(c: Compiled, ctx: Ctx): string | undefined {
  const f = ctx.facts;
  switch (c.dnsTarget) {
    case 'client':
      return ctx.client ? ctx.clientText : undefined;
    case 'client-name':
      return f.clientName && isValidHostname(f.clientName) ? f.clientName.toLowerCase().replace(/\.$/, '') : undefined;
    case 'reverse-client-name':
      return f.reverseClientName && isValidHostname(f.reverseClientName) ? f.reverseClientName.toLowerCase().replace(/\.$/, '') : undefined;
    case 'sender-domain': {
      if (!f.sender) return undefined;
      const d = addressDomain(f.sender);
      return d && isValidHostname(d) ? d : undefined;
    }
    case 'helo':
      return f.helo && isValidHostname(f.helo) ? f.helo.toLowerCase().replace(/\.$/, '') : undefined;
    default:
      return undefined;
  }
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

function sameHost(a: string, b: string): boolean {
  return a.toLowerCase().replace(/\.$/, '') === b.toLowerCase().replace(/\.$/, '');
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
  const relay = compileList(spec.relayRestrictions, 'relay restrictions');
  const recipient = compileList(spec.recipientRestrictions, 'recipient restrictions');
  const clock = ports.clock;

  const inMyNetworks = (ctx: Ctx): boolean => {
    const a = ctx.client;
    if (!a) return false;
    for (let i = 0; i < networks.length; i++) if (cidrContains(networks[i]!, a)) return true;
    return false;
  };

  // A bare `postmaster` (RFC 5321 4.5.1: it must be accepted) is always ours; the only domain-less form let through.
  const classify = async (ctx: Ctx): Promise<RecipientClass> => {
    if (ctx.rcptClass === undefined) {
      const rcpt = ctx.facts.recipient!;
      ctx.rcptClass = rcpt.includes('@') ? await ports.recipients.classify(rcpt) : 'local';
    }
    return ctx.rcptClass;
  };

  /** One lookup() for every DNS-list restriction from `from` to the end of the evaluable part. */
  const fetchDns = async (ctx: Ctx, list: Compiled[], from: number, maxStage: number): Promise<void> => {
    const queries: DnsListQuery[] = [];
    const seen = new Set<string>();
    for (let i = from; i < list.length; i++) {
      const c = list[i]!;
      if (c.needs > maxStage) break;
      if (c.dnsTarget === undefined) continue;
      const key = dnsKey(c, ctx);
      if (key === undefined) continue;
      const id = `${c.zone}\u0000${key}`;
      if (seen.has(id)) continue;
      seen.add(id);
      queries.push({ zone: c.zone!, target: c.dnsTarget, key });
    }
    const map = new Map<string, DnsListAnswer>();
    ctx.dns = map;
    if (queries.length === 0) return;
    let answers: DnsListAnswer[];
    try {
      answers = await ports.dnslist.lookup(queries);
    } catch (e) {
      // The port promises never to throw; if it does, every list is unknown (fail open).
      answers = queries.map((q) => ({ zone: q.zone, key: q.key, status: 'unknown', codes: [], detail: `lookup failed: ${(e as Error).message}` }));
    }
    for (let i = 0; i < queries.length; i++) {
      const q = queries[i]!;
      const a = answers[i];
      if (a) map.set(`${q.zone}\u0000${q.key}`, a);
    }
  };

  const evalDns = (c: Compiled, ctx: Ctx): Result => {
    const key = dnsKey(c, ctx);
    if (key === undefined) return { outcome: 'skip', reason: `no ${c.dnsTarget} to look up` };
    const a = ctx.dns?.get(`${c.zone}\u0000${key}`);
    if (!a) return { outcome: 'dunno', reason: `${key}: unknown (no answer)` };
    if (a.status === 'unknown') return { outcome: 'dunno', reason: `${key}: unknown, treated as not listed${a.detail ? ` (${a.detail})` : ''}` };
    if (a.status === 'not-listed' || a.codes.length === 0) return { outcome: 'dunno', reason: `${key}: not listed` };
    let hit: string | undefined;
    for (const code of a.codes) {
      if (matchesCode(c.filter, code)) {
        hit = code;
        break;
      }
    }
    if (hit === undefined) return { outcome: 'dunno', reason: `${key}: listed ${a.codes.join(',')}, no code matches ${c.filter?.text}` };
    if (c.type === 'permit_dnswl_client' || c.type === 'permit_rhswl_client') {
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

  const checkClientAccess = async (c: Compiled & { r: { type: 'check_client_access'; map: string } }, ctx: Ctx): Promise<Result> => {
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
    for (const key of keys) {
      let rhs: string | undefined;
      try {
        rhs = await ports.accessMaps.lookup(map, key);
      } catch (e) {
        return {
          outcome: 'defer',
          status: '4.3.0',
          text: `<${clientReplyName(ctx)}>: Temporary lookup failure`,
          reason: `${map}: ${(e as Error).message}`,
          smtpCode: 451,
        };
      }
      if (rhs !== undefined) return actOnAccess(ctx, rhs, key);
    }
    return { outcome: 'dunno', reason: 'not found' };
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
      } else ours = sameHost(helo, spec.myHostname);
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

  const evalOne = (c: Compiled, ctx: Ctx): Result | Promise<Result> => {
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
        if (domain.startsWith('[') ? parseAddressLiteral(domain) !== undefined : isFqdn(domain)) return DUNNO;
        return { outcome: 'reject', status: '5.5.2', text: `<${f.sender}>: Sender address rejected: need fully-qualified address`, reason: 'sender domain is not fully qualified' };
      }
      case 'reject_non_fqdn_recipient': {
        const rcpt = f.recipient!;
        const { domain } = splitAddress(rcpt);
        if (domain.startsWith('[') ? parseAddressLiteral(domain) !== undefined : isFqdn(domain)) return DUNNO;
        return { outcome: 'reject', status: '5.5.2', text: `<${rcpt}>: Recipient address rejected: need fully-qualified address`, reason: 'recipient domain is not fully qualified' };
      }
      case 'reject_unlisted_recipient':
        return classify(ctx).then((cls): Result => {
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
        return evalDns(c, ctx);
      case 'check_policy_service':
        return ports.greylist
          .check({ clientAddress: ctx.clientText, clientName: f.clientName, helo: f.helo, sender: f.sender ?? '', recipient: f.recipient! })
          .then((g): Result => {
            if (g.action === 'pass') {
              if (g.header) ctx.prepend.push(g.header);
              return { outcome: 'dunno', reason: `greylist pass (${g.reason})${g.detail ? `: ${g.detail}` : ''}` };
            }
            const secs = Math.max(0, Math.ceil(g.retryAfter));
            const when = new Date(clock.now() + secs * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
            return {
              outcome: 'defer',
              status: '4.7.1',
              text: `<${f.recipient}>: Recipient address rejected: Greylisted, please try again in ${secs} seconds (after ${when})`,
              reason: `greylisted, retry after ${secs}s${g.detail ? `: ${g.detail}` : ''}`,
              greylisted: true,
            };
          });
      case 'reject_unauth_destination':
      case 'defer_unauth_destination':
        return classify(ctx).then((cls): Result => {
          if (cls !== 'remote') return { outcome: 'dunno', reason: cls };
          return c.type === 'reject_unauth_destination'
            ? { outcome: 'reject', status: '5.7.1', text: `<${f.recipient}>: Relay access denied`, reason: 'not a domain of ours' }
            : { outcome: 'defer', status: '4.7.1', text: `<${f.recipient}>: Relay access denied`, reason: 'not a domain of ours' };
        });
      case 'permit_auth_destination':
        return classify(ctx).then((cls): Result => (cls === 'remote' ? { outcome: 'dunno', reason: cls } : { outcome: 'permit', status: '2.0.0', text: 'Ok', reason: cls }));
    }
  };

  /**
   * Runs one list; returns the deciding entry or undefined (everything said DUNNO). Stops before
   * the first restriction that needs facts of a later stage than `maxStage`.
   */
  const runList = async (list: Compiled[], listName: ListName, ctx: Ctx, maxStage: number): Promise<{ c: Compiled; res: Result } | undefined> => {
    ctx.dns = undefined;
    for (let i = 0; i < list.length; i++) {
      const c = list[i]!;
      if (c.needs > maxStage) {
        ctx.trace.push({ restriction: c.text, list: listName, outcome: 'skip', reason: 'needs a later SMTP stage', ms: 0 });
        return undefined;
      }
      const t0 = clock.now();
      if (c.dnsTarget !== undefined && ctx.dns === undefined) await fetchDns(ctx, list, i, maxStage);
      let res = evalOne(c, ctx);
      if (res instanceof Promise) res = await res;
      ctx.trace.push({ restriction: c.text, list: listName, outcome: res.outcome, reason: res.reason, ms: clock.now() - t0 });
      if (res.outcome === 'permit' || res.outcome === 'reject' || res.outcome === 'defer') return { c, res };
    }
    return undefined;
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

  const evaluate = async (facts: Facts): Promise<Verdict> => {
    const client = parseIp(facts.clientAddress);
    const ctx: Ctx = {
      facts,
      stage: STAGE_RANK[facts.stage] ?? RCPT,
      client,
      clientText: client ? formatIp(client) : facts.clientAddress,
      trace: [],
      prepend: [],
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
      const early = await runList(recipient, 'recipient', ctx, ctx.stage);
      // A permit before RCPT only ends this stage's checks; the whole list runs again at RCPT.
      return verdictOf(ctx, early, early?.res.outcome === 'permit');
    }
    if (ctx.stage > RCPT || facts.recipient === undefined) return verdictOf(ctx, undefined);

    // Relay safety first: forms that route elsewhere are refused before any list can permit them.
    const rcpt = facts.recipient;
    const hostile = hostileRecipientForm(rcpt);
    if (hostile !== undefined && !(hostile === 'no-domain' && rcpt.toLowerCase() === 'postmaster')) {
      if (hostile === 'bad-syntax') {
        return fixed(ctx, 'reject_unauth_destination', 'reject_unauth_destination', 'reject', '5.1.3', `<${rcpt}>: Bad recipient address syntax`, 'malformed recipient');
      }
      return fixed(ctx, 'reject_unauth_destination', 'reject_unauth_destination', 'reject', '5.7.1', `<${rcpt}>: Relay access denied`, `hostile recipient form: ${hostile}`);
    }

    const relayDecision = await runList(relay, 'relay', ctx, RCPT);
    if (relayDecision && relayDecision.res.outcome !== 'permit') return verdictOf(ctx, relayDecision);
    if (!relayDecision) {
      // Postfix refuses to run without reject_unauth_destination; moat enforces it: nothing after
      // the relay list may authorise mail to a domain that is not ours.
      const cls = await classify(ctx);
      if (cls === 'remote') {
        return fixed(ctx, 'reject_unauth_destination', 'reject_unauth_destination', 'reject', '5.7.1', `<${rcpt}>: Relay access denied`, 'implicit: relay list did not authorise a remote recipient');
      }
    }
    return verdictOf(ctx, await runList(recipient, 'recipient', ctx, RCPT));
  };

  return { evaluate, spec };
}
