// End-of-DATA spam decision: spamd's answer (or failure) plus config -> reject, tempfail, quarantine or accept + headers.
// Pure. Trusts spamd's score; spamd being down or slow is a config choice, never a silent accept.
import type { SpamdResult } from '@moat/spamd';
import type { SpamdView } from '@moat/config';

export type SpamDecision =
  | { action: 'accept'; headers: string[]; status: 'clean' | 'spam-flagged' | 'unchecked' | 'relay-checked'; score?: number | undefined; reason?: string | undefined }
  | { action: 'reject'; code: 550; text: string; score: number }
  /** spamd.quarantine_threshold <= score < the reject score: held, with the headers it would have been delivered with. */
  | { action: 'quarantine'; headers: string[]; score: number; reason: string }
  | { action: 'tempfail'; code: 451; text: string; reason: string };

const fmt = (n: number) => n.toFixed(1);

/**
 * `scan` is spamd's result, or the failure (`error`), or `skipped` (too large, spamd disabled), or
 * `relayed`: a trusted relay (our backup MX) scanned it and its X-Spam-* headers stay, none are added.
 */
export function spamDecision(
  scan: { result: SpamdResult } | { error: string } | { skipped: string } | { relayed: string },
  settings: SpamdView,
): SpamDecision {
  if ('relayed' in scan) return { action: 'accept', headers: [], status: 'relay-checked', reason: scan.relayed };
  if ('skipped' in scan) {
    return { action: 'accept', headers: [`X-Spam-Status: unchecked (${scan.skipped})`], status: 'unchecked', reason: scan.skipped };
  }
  if ('error' in scan) {
    if (settings.onFailure === 'tempfail') {
      return { action: 'tempfail', code: 451, text: '4.7.1 Content scanner unavailable, try again later', reason: scan.error };
    }
    return { action: 'accept', headers: ['X-Spam-Status: unchecked (scanner unavailable)'], status: 'unchecked', reason: scan.error };
  }
  const { score, threshold, isSpam } = scan.result;
  const rejectAt = settings.rejectScore ?? threshold;
  if (score >= rejectAt) {
    return { action: 'reject', code: 550, text: `5.7.1 Message content rejected as spam (score ${fmt(score)})`, score };
  }
  const flagged = isSpam || score >= threshold;
  const headers = [
    `X-Spam-Flag: ${flagged ? 'YES' : 'NO'}`,
    `X-Spam-Score: ${fmt(score)}`,
    `X-Spam-Status: ${flagged ? 'Yes' : 'No'}, score=${fmt(score)} required=${fmt(threshold)}`,
  ];
  const q = settings.quarantineScore;
  if (q !== undefined && score >= q) {
    return { action: 'quarantine', headers, score, reason: `score ${fmt(score)}, quarantine at ${fmt(q)}, reject at ${fmt(rejectAt)}` };
  }
  return { action: 'accept', status: flagged ? 'spam-flagged' : 'clean', score, headers };
}
