// Access maps (Postfix access(5)): check_client_access, check_helo_access, check_sender_access, check_recipient_access.
// Trusts the access-map port's answers; a right-hand side moat does not implement defers (451 4.3.5).
import { type AccessAction, parseAccessAction } from '../access-action.ts';
import { hostileRecipientForm } from '../address.ts';
import { type Compiled, type Ctx, clientReplyName, HELO, MAIL, NOT_FOUND, RCPT, type Result, SKIP_NO_HELO, SKIP_NO_SENDER, type Wait, wait } from '../engine/context.ts';
import { domainKeys, isPatternMap, mailAccessKeys } from './access-keys.ts';
import { define } from './define.ts';

/** What a map's answer means, replied as `<name>: Class rejected: text` (Postfix check_table_result). */
function actOnAccess(ctx: Ctx, rhs: string, key: string, subject: string): Result {
  const act: AccessAction | undefined = parseAccessAction(rhs);
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
 * Asks the map each key in turn; the first found decides (`decide`, Postfix check_table_result,
 * possibly changed: an OK for a source-routed recipient). `failed`: what a lookup failure says.
 */
export function lookupKeys(ctx: Ctx, map: string, keys: readonly string[], decide: (rhs: string, key: string) => Result, failed: (e: unknown) => Result): Result | Wait {
  const env = ctx.env;
  const tryKey = (k: number): Result | Wait => {
    if (k >= keys.length) return NOT_FOUND;
    const key = keys[k]!;
    if (env.lookupSync) {
      let rhs: string | undefined;
      try {
        rhs = env.lookupSync(map, key);
      } catch (e) {
        return failed(e);
      }
      return rhs === undefined ? tryKey(k + 1) : decide(rhs, key);
    }
    let pending: Promise<string | undefined>;
    try {
      pending = env.ports.accessMaps.lookup(map, key);
    } catch (e) {
      return failed(e);
    }
    return wait(pending, (rhs) => (rhs === undefined ? tryKey(k + 1) : decide(rhs, key)), failed);
  };
  return tryKey(0);
}

/** A failed map lookup: Postfix says `451 4.3.5 <name>: Class rejected: Server configuration error`. */
const mapFailed = (map: string, subject: string) => (e: unknown): Result => ({
  outcome: 'defer',
  status: '4.3.5',
  text: `${subject}: Server configuration error`,
  reason: `${map}: ${(e as Error)?.message ?? String(e)}`,
  smtpCode: 451,
});

export const checkClientAccess = define({
  name: 'check_client_access',
  arg: 'map',
  stage: 0,
  rejectCode: 554, // access_map_reject_code
  evaluate: (c: Compiled, ctx) => {
    const map = c.r.map!;
    const subject = `<${clientReplyName(ctx)}>: Client host rejected`;
    // moat's answer to a failed client lookup predates the other maps and is kept: 451 4.3.0
    const failed = (e: unknown): Result => ({ outcome: 'defer', status: '4.3.0', text: `<${clientReplyName(ctx)}>: Temporary lookup failure`, reason: `${map}: ${(e as Error).message}`, smtpCode: 451 });
    return lookupKeys(ctx, map, clientKeys(map, ctx), (rhs, key) => actOnAccess(ctx, rhs, key, subject), failed);
  },
});

export const checkHeloAccess = define({
  name: 'check_helo_access',
  arg: 'map',
  stage: HELO,
  rejectCode: 554,
  evaluate: (c: Compiled, ctx) => {
    const helo = ctx.facts.helo;
    if (helo === undefined) return SKIP_NO_HELO;
    const map = c.r.map!;
    const subject = `<${helo}>: Helo command rejected`;
    const keys = domainKeys(helo, ctx.env.parentDomainMatchesSubdomains, isPatternMap(map));
    return lookupKeys(ctx, map, keys, (rhs, key) => actOnAccess(ctx, rhs, key, subject), mapFailed(map, subject));
  },
});

export const checkSenderAccess = define({
  name: 'check_sender_access',
  arg: 'map',
  stage: MAIL,
  rejectCode: 554,
  evaluate: (c: Compiled, ctx) => {
    const sender = ctx.facts.sender;
    if (sender === undefined) return SKIP_NO_SENDER;
    const map = c.r.map!;
    const env = ctx.env;
    const subject = `<${sender}>: Sender address rejected`;
    // the null sender is looked up as smtpd_null_access_lookup_key, with no parents
    const keys = sender === '' ? [env.nullAccessLookupKey] : mailAccessKeys(sender, { delimiter: env.recipientDelimiter, pdms: env.parentDomainMatchesSubdomains, myOrigin: env.myHostnameLower }, isPatternMap(map));
    return lookupKeys(ctx, map, keys, (rhs, key) => actOnAccess(ctx, rhs, key, subject), mapFailed(map, subject));
  },
});

/** Source-routed forms (Postfix RESOLVE_FLAG_ROUTED): an OK for them is not trusted. */
const ROUTED = new Set(['source-route', 'percent-hack', 'bang-path', 'quoted-at']);

export const checkRecipientAccess = define({
  name: 'check_recipient_access',
  arg: 'map',
  stage: RCPT,
  rejectCode: 554,
  evaluate: (c: Compiled, ctx) => {
    const rcpt = ctx.facts.recipient!;
    const map = c.r.map!;
    const env = ctx.env;
    const subject = `<${rcpt}>: Recipient address rejected`;
    const keys = mailAccessKeys(rcpt, { delimiter: env.recipientDelimiter, pdms: env.parentDomainMatchesSubdomains, myOrigin: env.myHostnameLower }, isPatternMap(map));
    const decide = (rhs: string, key: string): Result => {
      const res = actOnAccess(ctx, rhs, key, subject);
      const form = res.outcome === 'permit' ? hostileRecipientForm(rcpt) : undefined;
      // Postfix: "Source-routed ... recipient addresses are too suspicious for returning an OK result"
      if (form !== undefined && ROUTED.has(form)) return { outcome: 'dunno', reason: `${key}: ${rhs}, but ${form} is not trusted with OK` };
      return res;
    };
    return lookupKeys(ctx, map, keys, decide, mapFailed(map, subject));
  },
});
