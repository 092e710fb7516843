// An in-memory recipient directory (RecipientPort): hosted domains, their users, catch-alls, backup-MX domains.
// Trusts its own lists (from config); the recipient it is asked about is client input.
import { splitAddress } from './address.ts';
import type { RecipientClass, RecipientPort } from './types.ts';

export interface StaticRecipientsOptions {
  /** Domains we host: mail to unknown users there is refused. */
  domains: readonly string[];
  /** Domains we are a backup MX for: any user is accepted and relayed onwards. */
  relayDomains?: readonly string[] | undefined;
  /** Full addresses that exist (`user@domain`), case-insensitive. */
  users?: readonly string[] | undefined;
  /** Hosted domains that accept every local part (hosted even when not repeated in `domains`). */
  catchAll?: readonly string[] | undefined;
  /** Address extension delimiter (Postfix recipient_delimiter), e.g. '+' for `user+tag@domain`. '' = none. */
  recipientDelimiter?: string | undefined;
}

const norm = (d: string): string => {
  const l = d.toLowerCase();
  return l.charCodeAt(l.length - 1) === 46 ? l.slice(0, -1) : l;
};

export function createStaticRecipients(opts: StaticRecipientsOptions): RecipientPort & { classifySync(recipient: string): RecipientClass } {
  const relayDomains = new Set((opts.relayDomains ?? []).map(norm));
  const catchAll = new Set((opts.catchAll ?? []).map((d) => norm(d.replace(/^@/, ''))));
  // A catch-all domain is hosted by definition, listed in `domains` or not.
  const domains = new Set([...opts.domains.map(norm), ...catchAll]);
  const users = new Set((opts.users ?? []).map((u) => u.toLowerCase()));
  const delims = opts.recipientDelimiter ?? '+';

  const classifySync = (recipient: string): RecipientClass => {
    // Fast path (no quoted local part): one lower-casing, no splitting into new strings but the domain.
    let l: string;
    let d: string;
    let full: string;
    if (recipient.includes('"')) {
      const parts = splitAddress(recipient);
      l = parts.local.toLowerCase();
      d = norm(parts.domain);
      full = `${l}@${d}`;
    } else {
      const lower = recipient.toLowerCase();
      const at = lower.lastIndexOf('@');
      l = at < 0 ? lower : lower.slice(0, at);
      d = at < 0 ? '' : lower.slice(at + 1);
      if (d.charCodeAt(d.length - 1) === 46) {
        d = d.slice(0, -1);
        full = `${l}@${d}`;
      } else full = lower;
    }
    if (relayDomains.has(d)) return 'local';
    if (!domains.has(d)) return 'remote';
    if (users.has(full)) return 'local';
    if (delims !== '') {
      // Postfix: the extension starts at the first delimiter character (any of them).
      let cut = -1;
      for (const ch of delims) {
        const i = l.indexOf(ch);
        if (i > 0 && (cut < 0 || i < cut)) cut = i;
      }
      if (cut > 0 && users.has(`${l.slice(0, cut)}@${d}`)) return 'local';
    }
    if (catchAll.has(d)) return 'local';
    return 'unknown-user';
  };

  return {
    classifySync,
    classify: (recipient) => Promise.resolve(classifySync(recipient)),
  };
}
