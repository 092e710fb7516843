// The spamd scan at end of DATA: what spamd is shown (our Received and RCPT headers, the header block as it
// will be queued, the body from the draft file) and its answer or failure. Talks to spamd; the message is untrusted.
import type { Draft } from '@moat/queue';
import { isSpamdError, type SpamdResult } from '@moat/spamd';
import type { MxContext } from './mx-context.ts';

export type ScanOutcome = { readonly relayed: string } | { readonly skipped: string } | { readonly result: SpamdResult } | { readonly error: string };

export interface ScanInput {
  session: string;
  /** A trusted relay scanned it already (its X-Spam-Status says Yes/No). */
  scannedByRelay: boolean;
  /** The header lines spamd sees first: our Received and the RCPT verdicts' headers. */
  top: readonly string[];
  /** The header block as it will be queued, and where the draft's body starts. */
  head: Buffer;
  draft: Draft;
  skip: number;
  /** The queued message's length (head and body). */
  messageLength: number;
}

export async function scanMessage(ctx: MxContext, m: ScanInput): Promise<ScanOutcome> {
  const { deps, settings, metrics, logger } = ctx;
  if (m.scannedByRelay) return { relayed: 'scanned by the trusted relay' } as const;
  if (!deps.spamd || !settings.spamd.enabled) return { skipped: 'scanner disabled' } as const;
  if (m.messageLength > settings.spamd.maxScanBytes) return { skipped: 'message too large to scan' } as const;
  // our Received and the RCPT verdicts' headers (X-Moat-DNSBL-Score: a SpamAssassin rule scores it)
  const top = Buffer.from(`${m.top.join('\r\n')}\r\n`);
  // what spamd sees: our Received, the header block as it will be queued, the body from the draft file
  async function* chunks() {
    yield top;
    yield m.head;
    yield* m.draft.read(m.skip);
  }
  try {
    return { result: await deps.spamd.check({ length: top.length + m.messageLength, chunks: chunks() }) } as const;
  } catch (e) {
    const code = isSpamdError(e) ? e.code : 'unknown';
    metrics.spamdFailures.inc({ code });
    logger.warn({ event: 'spamd-failure', session: m.session, code, err: String((e as Error)?.message ?? e) }, 'spamd failed');
    return { error: code } as const;
  }
}
