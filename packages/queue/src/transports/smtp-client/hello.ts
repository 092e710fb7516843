// The start of an SMTP/LMTP session: the greeting, EHLO/LHLO (HELO when EHLO is refused) and STARTTLS.
// The server's words are untrusted: only reply codes and the advertised STARTTLS keyword steer; a TLS policy decides.
import type { TLSSocket } from 'node:tls';
import type { TlsOutcomeFailure } from '../tls-requirement.ts';
import type { Reply } from './conversation.ts';
import { type AttemptResult, type Exchange, fromReply, type SmtpSendResult } from './exchange.ts';

/**
 * Greeting, EHLO and (opportunistic or required) STARTTLS with a second EHLO: the EHLO reply to go on
 * with, or the result that ends this attempt. `tlsFailed` records a TLS policy's failure and, when the
 * policy requires TLS, returns the result that defers every recipient.
 */
export async function hello(
  x: Exchange,
  starttls: 'never' | 'opportunistic',
  tlsFailed: (f: TlsOutcomeFailure) => SmtpSendResult | undefined,
): Promise<{ ehlo: Reply } | { done: AttemptResult }> {
  const { opts, conv } = x;
  let r = await conv.reply();
  if (r.code !== 220) return { done: { results: fromReply(x, r), tls: false } };
  x.stage = 'helo';
  const ehlo = async (): Promise<Reply> => {
    const h = await conv.command(`${opts.lmtp ? 'LHLO' : 'EHLO'} ${opts.heloName}`);
    if (h.code !== 250 && !opts.lmtp && h.code >= 500) return conv.command(`HELO ${opts.heloName}`);
    return h;
  };
  r = await ehlo();
  if (r.code !== 250) return { done: { results: fromReply(x, r), tls: false } };
  const offered = /(^|\s)STARTTLS(\s|$)/im.test(r.text.replace(/^250 /, ''));
  if (starttls === 'opportunistic' && offered) {
    x.stage = 'starttls';
    const s = await conv.command('STARTTLS');
    if (s.code !== 220) {
      const refused = tlsFailed({ type: 'starttls-not-supported', detail: `STARTTLS refused: ${s.text.slice(0, 200)}` });
      if (refused) return { done: refused };
    }
    if (s.code === 220) {
      try {
        await conv.upgrade(opts.servername ?? opts.host, opts.tls?.options);
      } catch (e) {
        const refused = tlsFailed({ type: 'validation-failure', detail: `TLS handshake failed: ${(e as Error).message}` });
        return { done: refused ?? { results: [], tls: false, tlsFailed: true } };
      }
      const bad = opts.tls?.check?.(conv.socket as TLSSocket);
      const refused = bad && tlsFailed(bad);
      if (refused) return { done: refused };
      x.stage = 'helo';
      r = await ehlo();
      if (r.code !== 250) return { done: { results: fromReply(x, r), tls: true } };
    }
  } else if (starttls === 'opportunistic' && (opts.tls !== undefined || (!opts.lmtp && !opts.path))) {
    const refused = tlsFailed({ type: 'starttls-not-supported', detail: `${opts.servername ?? opts.host} did not offer STARTTLS` });
    if (refused) return { done: refused };
  }
  return { ehlo: r };
}
