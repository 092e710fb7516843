// DNS white- and blacklists (Postfix's permit_dnswl_client ... reject_rhsbl_helo), answered from the list's one batch.
// Trusts the DNS-list port's answers (codes already filtered by the provider profile); unknown fails open.
import { matchesCode } from '../code-filter.ts';
import { type Compiled, type Ctx, HELO, MAIL, NOT_LISTED, type Result } from '../engine/context.ts';
import { dnsKey } from '../engine/dns.ts';
import type { DnsTarget } from '../types.ts';
import { define } from './define.ts';

/** Postfix's rbl_class words for the reply ("Client host [x] blocked using zone"). */
const DNS_CLASS: Readonly<Record<DnsTarget, string>> = {
  client: 'Client host',
  'client-name': 'Client host',
  'reverse-client-name': 'Unverified Client host',
  'sender-domain': 'Sender address',
  helo: 'Helo command',
};

/** One DNS-list restriction's verdict, from the answer its (zone, target, use) got in the batch. */
export function evalDns(c: Compiled, index: number, ctx: Ctx): Result {
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
  if (c.dnsUse === 'allow') {
    // Postfix: "permit_dnswl_client ... does not allow mail relaying"; neither does moat.
    if (ctx.inRelayList) return { outcome: 'dunno', reason: `${key}: listed ${hit}, but a DNS whitelist never authorises relaying` };
    return { outcome: 'permit', status: '2.0.0', text: 'Ok', reason: `${key}: listed ${hit}` };
  }
  const what = c.dnsTarget === 'client' ? ctx.facts.clientAddress : key;
  const txt = a.txt ? `; ${a.txt}` : '';
  return {
    outcome: 'reject',
    status: '5.7.1',
    text: `Service unavailable; ${DNS_CLASS[c.dnsTarget!]} [${what}] blocked using ${c.zoneDisplay}${txt}`,
    reason: `${key}: listed ${hit}${a.txt ? ` (${a.txt})` : ''}`,
  };
}

const dnsList = <const N extends string>(name: N, target: DnsTarget, use: 'allow' | 'block', stage: number) =>
  define({ name, arg: 'dns', stage, dns: { target, use }, rejectCode: use === 'block' ? 554 : undefined, evaluate: (c, ctx, i) => evalDns(c, i, ctx) });

export const permitDnswlClient = dnsList('permit_dnswl_client', 'client', 'allow', 0);
export const permitRhswlClient = dnsList('permit_rhswl_client', 'client-name', 'allow', 0);
export const rejectRblClient = dnsList('reject_rbl_client', 'client', 'block', 0); // maps_rbl_reject_code
export const rejectRhsblClient = dnsList('reject_rhsbl_client', 'client-name', 'block', 0);
export const rejectRhsblReverseClient = dnsList('reject_rhsbl_reverse_client', 'reverse-client-name', 'block', 0);
export const rejectRhsblSender = dnsList('reject_rhsbl_sender', 'sender-domain', 'block', MAIL);
export const rejectRhsblHelo = dnsList('reject_rhsbl_helo', 'helo', 'block', HELO);
