// The maildir's guard: which domains' mail may be written into one of our mailboxes, as the resolver classes them.
// Trusts the resolver; the domain is client input (a recipient's, or a DSN's).
import type { AddressResolver } from './types.ts';

/** Our mailbox domains (the local and virtual mailbox classes): nothing else is ever written into a maildir. */
export function mailboxDomains(resolver: AddressResolver): (domain: string) => boolean {
  return (domain) => {
    const c = resolver.classify(`postmaster@${domain}`);
    return c === 'local' || c === 'virtual-mailbox';
  };
}
