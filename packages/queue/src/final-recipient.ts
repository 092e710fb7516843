// From the address resolver's answer to queue recipients: the address that goes on the wire, deduplicated.
// Trusts the resolver's rewrites; the address the client wrote is only used to find its delimiter.
import type { FinalRecipient, Resolution } from '@moat/address';
import type { RecipientInfo } from './types.ts';

const localPart = (a: string): string => {
  const at = a.lastIndexOf('@');
  return at < 0 ? a : a.slice(0, at);
};

/**
 * The delivery address of a final recipient: its address with the extension kept (`user+tag@d`), as
 * Postfix hands it to smtp, lmtp and local delivery (propagate_unmatched_extensions). The delimiter is
 * the one the client used (found in `input` before the extension), `+` when it cannot be found. An
 * address that already ends in delimiter+extension is left as it is.
 */
export function deliveryAddress(input: string, fr: FinalRecipient): string {
  const ext = fr.extension;
  if (!ext) return fr.address;
  const given = localPart(input);
  const delim = given.length > ext.length + 1 && given.endsWith(ext) ? given.charAt(given.length - ext.length - 1) : '+';
  const at = fr.address.lastIndexOf('@');
  const local = at < 0 ? fr.address : fr.address.slice(0, at);
  if (local.endsWith(`${delim}${ext}`)) return fr.address;
  return at < 0 ? `${local}${delim}${ext}` : `${local}${delim}${ext}${fr.address.slice(at)}`;
}

/**
 * The queue recipients of one accepted RCPT (or a DSN's sender): one per distinct delivery address
 * (an alias that names a user twice delivers once, Postfix's duplicate_filter), with its next hop.
 */
export function queueRecipients(input: string, res: Extract<Resolution, { ok: true }>): { address: string; info: RecipientInfo }[] {
  const seen = new Set<string>();
  const out: { address: string; info: RecipientInfo }[] = [];
  for (const fr of res.recipients) {
    const address = deliveryAddress(input, fr);
    const key = address.toLowerCase();
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({
      address,
      info: {
        nextHop: fr.nextHop,
        class: fr.class,
        ...(fr.extension ? { extension: fr.extension } : {}),
        ...(address !== input ? { original: input } : {}),
      },
    });
  }
  return out;
}
