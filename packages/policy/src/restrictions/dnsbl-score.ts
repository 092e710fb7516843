// Weighted DNS lists as postscreen sums them (postscreen_dnsbl_sites): reject_dnsbl_score and permit_dnsbl_score.
// Trusts the DNS-list port's answers (codes already filtered by the list profile); a failed lookup adds 0 (fail open).
import { matchesCode } from '../code-filter.ts';
import type { Compiled, Ctx, Result } from '../engine/context.ts';
import { define } from './define.ts';

/** The sum for the client, and what each site added (for the trace, the log line and the reply). */
export interface DnsblScore {
  sum: number;
  /** Sites whose answer matched: display name, the code that matched, the weight added. */
  hits: Array<{ site: string; zone: string; code: string; weight: number }>;
  /** Sites whose lookup failed (timeout, SERVFAIL, disabled): they added 0. */
  unknown: string[];
}

/**
 * Postfix psc_dnsbl_receive: every entry whose filter matches any answer of its zone adds its weight once;
 * two entries for one zone (different filters) may both add. The list profile has already dropped the
 * answers that never count (Spamhaus's 127.255.255.x error codes, a mixed list's codes of the other use).
 */
export function dnsblScore(c: Compiled, ctx: Ctx, index: number): DnsblScore | undefined {
  const pairs = ctx.dnsPlan?.sitePairs[index];
  if (pairs === undefined || ctx.dnsAnswerOf === undefined || ctx.dnsAnswers === undefined) return undefined;
  const out: DnsblScore = { sum: 0, hits: [], unknown: [] };
  const sites = c.sites!;
  let asked = false;
  for (let k = 0; k < sites.length; k++) {
    const ai = ctx.dnsAnswerOf[pairs[k]!]!;
    if (ai < 0) continue;
    asked = true;
    const s = sites[k]!;
    const a = ctx.dnsAnswers[ai];
    if (!a || a.status === 'unknown') {
      if (!out.unknown.includes(s.zoneDisplay)) out.unknown.push(s.zoneDisplay);
      continue;
    }
    if (a.status !== 'listed') continue;
    const code = a.codes.find((x) => matchesCode(s.filter, x));
    if (code === undefined) continue;
    out.sum += s.weight;
    out.hits.push({ site: s.text, zone: s.zoneDisplay, code, weight: s.weight });
  }
  return asked ? out : undefined;
}

/** `score 4: zen.spamhaus.org=127.0.0.[2..11]*3 127.0.0.4 +3, list.dnswl.org*-2 127.0.10.1 -2; unknown: x.example`. */
export function describeScore(s: DnsblScore): string {
  const parts = s.hits.map((h) => `${h.site} ${h.code} ${h.weight >= 0 ? '+' : ''}${h.weight}`);
  const unknown = s.unknown.length ? `; unknown, counted 0: ${s.unknown.join(', ')}` : '';
  return `score ${s.sum}${parts.length ? `: ${parts.join(', ')}` : ': no list matched'}${unknown}`;
}

/**
 * `X-Moat-DNSBL-Score: 2 (zen.spamhaus.org +3, list.dnswl.org -2)`, for content scoring (a SpamAssassin rule
 * can read it): display names only. Prepended once per decision, and only to mail the lists let through.
 */
function scoreHeader(ctx: Ctx, s: DnsblScore): void {
  const parts = s.hits.map((h) => `${h.zone} ${h.weight >= 0 ? '+' : ''}${h.weight}`);
  const h = `X-Moat-DNSBL-Score: ${s.sum}${parts.length ? ` (${parts.join(', ')})` : ''}`;
  if (!ctx.prepend.includes(h)) ctx.prepend.push(h);
}

function evalReject(c: Compiled, ctx: Ctx, index: number): Result {
  const s = dnsblScore(c, ctx, index);
  if (s === undefined) return { outcome: 'skip', reason: 'no client address to look up' };
  scoreHeader(ctx, s);
  const threshold = ctx.env.dnsblThreshold;
  const why = `${describeScore(s)} (threshold ${threshold})`;
  if (s.sum < threshold) return { outcome: 'dunno', reason: why };
  // the lists that pushed the sum up, heaviest first (postscreen names the heaviest): display names only
  const names = [...new Set(s.hits.filter((h) => h.weight > 0).sort((a, b) => b.weight - a.weight).map((h) => h.zone))];
  return {
    outcome: 'reject',
    status: '5.7.1',
    text: `Service unavailable; Client host [${ctx.facts.clientAddress}] blocked using ${names.join(', ')} (DNSBL score ${s.sum})`,
    reason: why,
  };
}

function evalPermit(c: Compiled, ctx: Ctx, index: number): Result {
  const s = dnsblScore(c, ctx, index);
  if (s === undefined) return { outcome: 'skip', reason: 'no client address to look up' };
  scoreHeader(ctx, s);
  const threshold = ctx.env.dnsblAllowlistThreshold;
  // Postfix: postscreen_dnsbl_allowlist_threshold is enabled only by a negative value
  if (threshold >= 0) return { outcome: 'dunno', reason: `${describeScore(s)} (allowlist threshold ${threshold}: off)` };
  const why = `${describeScore(s)} (allowlist threshold ${threshold})`;
  if (s.sum > threshold) return { outcome: 'dunno', reason: why };
  // as permit_dnswl_client: an allow list never authorises relaying
  if (ctx.inRelayList) return { outcome: 'dunno', reason: `${why}, but a DNS allow list never authorises relaying` };
  return { outcome: 'permit', status: '2.0.0', text: 'Ok', reason: why };
}

export const rejectDnsblScore = define({ name: 'reject_dnsbl_score', arg: 'none', stage: 0, weighted: true, rejectCode: 554, evaluate: evalReject });
export const permitDnsblScore = define({ name: 'permit_dnsbl_score', arg: 'none', stage: 0, weighted: true, evaluate: evalPermit });
