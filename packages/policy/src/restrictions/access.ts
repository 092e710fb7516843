// Access maps (Postfix access(5)): check_client_access, check_helo_access, check_sender_access, check_recipient_access.
// Trusts the access-map port's answers; a right-hand side moat does not implement defers (451 4.3.5).
import { type AccessAction, parseAccessAction } from '../access-action.ts';
import { hostileRecipientForm } from '../address.ts';
import { smtpdDsnFix } from '../dsn-fix.ts';
import { type Compiled, type Ctx, clientReplyName, HELO, MAIL, NOT_FOUND, RCPT, type Result, SKIP_NO_HELO, SKIP_NO_SENDER, type Wait, wait } from '../engine/context.ts';
import { domainKeys, isPatternMap, mailAccessKeys } from './access-keys.ts';
import type { ReplySubject } from '../types.ts';
import { define } from './define.ts';

/** Whose address a check's reply is about, for smtpd_dsn_fix (Postfix: the check's reply class). */
type Refusing = 'sender' | 'recipient' | 'other';

/** What a map's answer means, replied as `<name>: Class rejected: text` (Postfix check_table_result). */
function actOnAccess(ctx: Ctx, rhs: string, key: string, subject: ReplySubject, refusing: Refusing): Result {
  const act: AccessAction | undefined = parseAccessAction(rhs);
  if (!act) return { outcome: 'defer', status: '4.3.5', subject, text: 'Server configuration error', reason: `${key}: unsupported action ${JSON.stringify(rhs)}`, smtpCode: 451 };
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
    // REJECT / DEFER answer access_map_reject_code (554) / access_map_defer_code (450), the restriction's and the
    // defer default; the given status keeps its detail but takes the code's class (Postfix smtpd_check_reject)
    case 'reject':
    case 'defer': {
      const cls = act.code !== undefined ? (String(act.code)[0] as '4' | '5') : act.kind === 'reject' ? '5' : '4';
      const status = `${cls}${smtpdDsnFix(act.status ?? 'x.7.1', refusing).slice(1)}`;
      return { outcome: act.kind, status, subject, text: act.text ?? 'Access denied', reason: `${key}: ${rhs}`, smtpCode: act.code };
    }
  }
}

/** Postfix check_namadr_access: for cidr tables the address; else the name (`unknown` if none) and its parents, the address and its prefixes. */
function clientKeys(map: string, ctx: Ctx): string[] {
  const keys: string[] = [];
  if (map.startsWith('cidr:')) {
    if (ctx.client) keys.push(ctx.clientText);
    return keys;
  }
  const pattern = isPatternMap(map);
  // Postfix looks an unverified client up by the name `unknown` (a common access-map key)
  const name = ctx.facts.clientName?.toLowerCase().replace(/\.$/, '') || 'unknown';
  if (pattern) keys.push(name);
  else {
    const labels = name.split('.');
    for (let i = 0; i < labels.length; i++) keys.push(labels.slice(i).join('.'));
  }
  if (ctx.client) {
    keys.push(ctx.clientText);
    if (ctx.client.v4 && !pattern) {
      const p = ctx.clientText.split('.');
      for (let n = 3; n >= 1; n--) keys.push(p.slice(0, n).join('.'));
    } else if (!pattern) {
      // IPv6: Postfix cuts at the last ':' until none is left (2001:db8::1, 2001:db8:, 2001:db8, 2001)
      let a = ctx.clientText;
      for (let cut = a.lastIndexOf(':'); cut >= 0; cut = a.lastIndexOf(':')) keys.push((a = a.slice(0, cut)));
    }
  }
  return keys;
}

/**
 * Asks `count` (map, key) pairs in turn, synchronously when the tables allow; the first found decides
 * (`found`), none found is `notFound`. `failed`: what a lookup failure says.
 */
export function lookupFirst(
  ctx: Ctx,
  count: number,
  mapAt: (i: number) => string,
  keyAt: (i: number) => string,
  found: (rhs: string, key: string) => Result | Wait,
  failed: (e: unknown) => Result,
  notFound: () => Result | Wait = () => NOT_FOUND,
): Result | Wait {
  const env = ctx.env;
  const tryAt = (i: number): Result | Wait => {
    if (i >= count) return notFound();
    const map = mapAt(i);
    const key = keyAt(i);
    if (env.lookupSync) {
      let rhs: string | undefined;
      try {
        rhs = env.lookupSync(map, key);
      } catch (e) {
        return failed(e);
      }
      return rhs === undefined ? tryAt(i + 1) : found(rhs, key);
    }
    let pending: Promise<string | undefined>;
    try {
      pending = env.ports.accessMaps.lookup(map, key);
    } catch (e) {
      return failed(e);
    }
    return wait(pending, (rhs) => (rhs === undefined ? tryAt(i + 1) : found(rhs, key)), failed);
  };
  return tryAt(0);
}

/**
 * Asks the map each key in turn; the first found decides (`decide`, Postfix check_table_result,
 * possibly changed: an OK for a source-routed recipient). `failed`: what a lookup failure says.
 */
export function lookupKeys(ctx: Ctx, map: string, keys: readonly string[], decide: (rhs: string, key: string) => Result, failed: (e: unknown) => Result): Result | Wait {
  return lookupFirst(ctx, keys.length, () => map, (i) => keys[i]!, decide, failed);
}

/** A failed map lookup: Postfix says `451 4.3.5 <name>: Class rejected: Server configuration error`. */
const mapFailed = (map: string, subject: ReplySubject) => (e: unknown): Result => ({
  outcome: 'defer',
  status: '4.3.5',
  subject, text: 'Server configuration error',
  reason: `${map}: ${(e as Error)?.message ?? String(e)}`,
  smtpCode: 451,
});

/** One access check: what it looks up (or the result that skips it), its keys, and its reply's subject. */
interface AccessCheck<N extends string> {
  name: N;
  stage: number;
  /** The looked-up value (a client name, HELO, address), or the result when the fact is not there yet. */
  value(ctx: Ctx): string | Result;
  /** Postfix's reply class for this check (`Client host rejected`, ...). */
  label: string;
  /** Whose address the reply is about, for smtpd_dsn_fix: given with the label, never read from its words. */
  refusing: Refusing;
  keys(ctx: Ctx, map: string, value: string): readonly string[];
  /** What a failed lookup answers (default: 451 4.3.5, as Postfix). */
  failed?(ctx: Ctx, map: string, value: string): (e: unknown) => Result;
  /** A last word on a map's answer (the recipient's source-route rule). */
  trust?(value: string, res: Result, rhs: string, key: string): Result;
}

/** check_*_access: every one of them is this, with its own keys and subject. */
function accessRestriction<const N extends string>(a: AccessCheck<N>) {
  return define({
    name: a.name,
    arg: 'map',
    stage: a.stage,
    rejectCode: 554, // access_map_reject_code
    evaluate: (c: Compiled, ctx) => {
      const value = a.value(ctx);
      if (typeof value !== 'string') return value;
      const map = c.r.map!;
      const subject: ReplySubject = { name: value, context: a.label };
      const decide = (rhs: string, key: string): Result => {
        const res = actOnAccess(ctx, rhs, key, subject, a.refusing);
        return a.trust ? a.trust(value, res, rhs, key) : res;
      };
      return lookupKeys(ctx, map, a.keys(ctx, map, value), decide, a.failed ? a.failed(ctx, map, value) : mapFailed(map, subject));
    },
  });
}

const mailKeys = (ctx: Ctx, map: string, address: string): readonly string[] =>
  mailAccessKeys(address, { delimiter: ctx.env.recipientDelimiter, pdms: ctx.env.parentDomainMatchesSubdomains, myOrigin: ctx.env.myHostnameLower }, isPatternMap(map));

export const checkClientAccess = accessRestriction({
  name: 'check_client_access',
  stage: 0,
  value: clientReplyName,
  label: 'Client host rejected',
  refusing: 'other',
  keys: (ctx, map) => clientKeys(map, ctx),
  // moat's answer to a failed client lookup predates the other maps and is kept: 451 4.3.0
  failed: (_ctx, map, name) => (e) => ({ outcome: 'defer', status: '4.3.0', text: `<${name}>: Temporary lookup failure`, reason: `${map}: ${(e as Error).message}`, smtpCode: 451 }),
});

export const checkHeloAccess = accessRestriction({
  name: 'check_helo_access',
  stage: HELO,
  value: (ctx) => ctx.facts.helo ?? SKIP_NO_HELO,
  label: 'Helo command rejected',
  refusing: 'other',
  keys: (ctx, map, helo) => domainKeys(helo, ctx.env.parentDomainMatchesSubdomains, isPatternMap(map)),
});

export const checkSenderAccess = accessRestriction({
  name: 'check_sender_access',
  stage: MAIL,
  value: (ctx) => ctx.facts.sender ?? SKIP_NO_SENDER,
  label: 'Sender address rejected',
  refusing: 'sender',
  // the null sender is looked up as smtpd_null_access_lookup_key, with no parents
  keys: (ctx, map, sender) => (sender === '' ? [ctx.env.nullAccessLookupKey] : mailKeys(ctx, map, sender)),
});

/** Source-routed forms (Postfix RESOLVE_FLAG_ROUTED): an OK for them is not trusted. */
const ROUTED = new Set(['source-route', 'percent-hack', 'bang-path', 'quoted-at']);

export const checkRecipientAccess = accessRestriction({
  name: 'check_recipient_access',
  stage: RCPT,
  value: (ctx) => ctx.facts.recipient!,
  label: 'Recipient address rejected',
  refusing: 'recipient',
  keys: mailKeys,
  trust: (rcpt, res, rhs, key) => {
    const form = res.outcome === 'permit' ? hostileRecipientForm(rcpt) : undefined;
    // Postfix: "Source-routed ... recipient addresses are too suspicious for returning an OK result"
    if (form !== undefined && ROUTED.has(form)) return { outcome: 'dunno', reason: `${key}: ${rhs}, but ${form} is not trusted with OK` };
    return res;
  },
});
