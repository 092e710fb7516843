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
  /** Hosted domains that accept every local part. */
  catchAll?: readonly string[] | undefined;
  /** Address extension delimiter (Postfix recipient_delimiter), e.g. '+' for `user+tag@domain`. '' = none. */
  recipientDelimiter?: string | undefined;
}

const norm = (d: string): string => {
  const l = d.toLowerCase();
  return l.charCodeAt(l.length - 1) === 46 ? l.slice(0, -1) : l;
};

export function createStaticRecipients(opts: StaticRecipientsOptions): RecipientPort & { classifySync(recipient: string): RecipientClass } {
  const domains = new Set(opts.domains.map(norm));
  const relayDomains = new Set((opts.relayDomains ?? []).map(norm));
  const catchAll = new Set((opts.catchAll ?? []).map((d) => norm(d.replace(/^@/, ''))));
  const users = new Set((opts.users ?? []).map((u) => u.toLowerCase()));
  const delims = opts.recipientDelimiter ?? '+';

  const classifySync = (recipient: string): RecipientClass => {
    const { local, domain } = splitAddress(recipient);
    const d = norm(domain);
    if (relayDomains.has(d)) return 'local';
    if (!domains.has(d)) return 'remote';
    const l = local.toLowerCase();
    if (users.has(`${l}@${d}`)) return 'local';
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
