// End-of-DATA DMARC enforcement: mailauth's DMARC/ARC result, the client's standing and mx.dmarc -> reject,
// quarantine, tag or accept. Pure. Trusts mailauth's verdicts and the gateway's exemptions; every name is untrusted.
import type { DmarcView } from '@moat/config';

/** mailauth's DMARC evaluation of one message, as auth-results.ts reads it. */
export interface DmarcFacts {
  /** pass | fail | none | temperror | permerror | neutral. */
  result: string;
  /** The RFC5322.From domain (lowercased). */
  domain?: string | undefined;
  /** Where the applied record was published: the From domain, or its organizational domain (then sp=/np= applied). */
  policyDomain?: string | undefined;
  /** The policy mailauth applied: p=, or sp=/np= for a subdomain, one level down with t=y. */
  policy?: 'none' | 'quarantine' | 'reject' | undefined;
  /** The record's pct= (RFC 7489 6.3; DMARCbis dropped it, mailauth reports the record only). */
  pct?: number | undefined;
  /** Why a temperror (the DNS failure). */
  error?: string | undefined;
  arc?: ArcFacts | undefined;
}

/** The ARC chain as mailauth verified it (RFC 8617). */
export interface ArcFacts {
  /** pass: every ARC-Seal and the newest ARC-Message-Signature verify; fail; none (no chain). */
  result: string;
  instance?: number | undefined;
  /** d= of the newest ARC-Seal: the forwarder that handed us the message. */
  sealer?: string | undefined;
  /** The dmarc= result that sealer recorded on receipt (its ARC-Authentication-Results), and for which From domain. */
  aarDmarc?: string | undefined;
  aarFrom?: string | undefined;
}

/** Clients whose mail is never enforced, only tagged (the gateway knows who they are). */
export type DmarcExemption = 'mynetworks' | 'sasl' | 'trusted-relay';

export type DmarcAction = 'accept' | 'tag' | 'quarantine' | 'reject';

export interface DmarcDecision {
  action: DmarcAction;
  /** For the log, the journal and the quarantine: what decided and why. */
  reason: string;
  domain?: string | undefined;
  /** The policy applied after pct= (what the action came from). */
  policy?: 'none' | 'quarantine' | 'reject' | undefined;
  /** reject: the reply (550, enhanced status and text). */
  code?: 550 | undefined;
  text?: string | undefined;
  /** tag and quarantine: `X-Moat-DMARC: ...` (without CRLF) for the message. */
  header?: string | undefined;
}

/** pct= picks which failing messages get the policy; the others get the next one down (RFC 7489 section 6.6.4). */
const WEAKER = { reject: 'quarantine', quarantine: 'none', none: 'none' } as const;

/** A domain name fit for a reply line: only what a DNS name may hold. */
const safe = (d: string | undefined) => (d ?? 'unknown').replace(/[^A-Za-z0-9.-]/g, '?').slice(0, 253);

/**
 * A forwarder we trust to have checked DMARC before it changed the message (a mailing list): the whole ARC chain
 * validates (mailauth: every seal, the newest message signature, cv= as required), the newest seal's d= is on
 * mx.dmarc.trusted_arc_sealers (or a subdomain of an entry), and that sealer's own ARC-Authentication-Results says
 * dmarc=pass for the same From domain. Older sets are not consulted: their sealers are not on our list.
 */
export function trustedArcSealer(facts: DmarcFacts, sealers: readonly string[]): string | undefined {
  const arc = facts.arc;
  if (arc?.result !== 'pass' || !arc.sealer) return undefined;
  const s = arc.sealer;
  if (!sealers.some((t) => s === t || s.endsWith(`.${t}`))) return undefined;
  if (arc.aarDmarc !== 'pass' || !facts.domain || arc.aarFrom !== facts.domain) return undefined;
  return s;
}

/**
 * `auth`: mailauth's facts; `{ error }` when the check itself failed or timed out; undefined when it was not run
 * (disabled, or a trusted relay checked it). `random` in [0, 1) samples pct=.
 */
export function dmarcDecision(
  auth: DmarcFacts | { error: string } | undefined,
  exemption: DmarcExemption | undefined,
  settings: DmarcView,
  random: () => number = Math.random,
): DmarcDecision {
  if (!auth) return { action: 'accept', reason: 'not evaluated' };
  if (!('result' in auth)) {
    return { action: 'tag', reason: `not evaluated: ${auth.error}`, header: 'X-Moat-DMARC: temperror (authentication check failed)' };
  }
  const f = auth as DmarcFacts;
  const domain = f.domain;
  if (f.result === 'temperror') {
    return { action: 'tag', domain, reason: `temperror: ${f.error ?? 'DNS failure'}`, header: `X-Moat-DMARC: temperror (domain=${safe(domain)})` };
  }
  if (f.result !== 'fail') return { action: 'accept', domain, reason: f.result };
  const published = f.policy ?? 'none';
  const sampled = f.pct !== undefined && f.pct < 100 && random() * 100 >= f.pct;
  const policy = sampled ? WEAKER[published] : published;
  const where = f.policyDomain && f.policyDomain !== domain ? `sp=${policy} of ${f.policyDomain}` : `p=${policy}`;
  const tag = (why: string): DmarcDecision => ({
    action: 'tag',
    domain,
    policy,
    reason: why,
    header: `X-Moat-DMARC: fail (domain=${safe(domain)} policy=${policy}; ${why})`,
  });
  if (policy === 'none') return tag(sampled ? `pct=${f.pct}: not sampled, ${published} not applied` : 'p=none (monitoring)');
  if (exemption) return tag(`exempt: ${exemption}`);
  const sealer = trustedArcSealer(f, settings.trustedArcSealers);
  if (sealer) return tag(`trusted ARC sealer ${safe(sealer)}`);
  const action = policy === 'reject' ? settings.onReject : settings.onQuarantine;
  const reason = `${where}${sampled ? ` (pct=${f.pct}: ${published} not sampled)` : ''}`;
  if (action === 'tag') return tag(`${reason}, mx.dmarc says tag`);
  if (action === 'quarantine') {
    return { action: 'quarantine', domain, policy, reason, header: `X-Moat-DMARC: fail (domain=${safe(domain)} policy=${policy}; quarantined)` };
  }
  return { action: 'reject', domain, policy, reason, code: 550, text: `5.7.1 Rejected by DMARC policy for ${safe(domain)} (${where})` };
}
