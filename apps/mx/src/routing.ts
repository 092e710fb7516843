// Where accepted mail goes: the one address resolver compileConfig builds (routing:, recipients:,
// queue.transport(s), a main.cf's keys), and the maildir's guard. Trusts the config; addresses are client input.
import type { AddressResolver } from '@moat/address';
import { type Config, compileConfig } from '@moat/config';
import type { Logger, Registry } from '@moat/observe';

export interface Routing {
  resolver: AddressResolver;
  /** Whether a domain's mail may be written into one of our mailboxes (the local and virtual mailbox classes). */
  isLocal(domain: string): boolean;
  close(): void;
}

/** Our mailbox domains, as the resolver classes them: nothing else is ever written into a maildir. */
export function mailboxDomains(resolver: AddressResolver): (domain: string) => boolean {
  return (domain) => {
    const c = resolver.classify(`postmaster@${domain}`);
    return c === 'local' || c === 'virtual-mailbox';
  };
}

/**
 * The resolver for a thread that has only the config (the delivery thread): its own tables, watched like
 * the SMTP side's, so both threads follow an edited map. Throws ConfigError as compileConfig does.
 */
export function routingFromConfig(config: Config, observe?: { logger: Logger; registry: Registry }): Routing {
  const compiled = compileConfig(config);
  if (observe) compiled.tables.watch(observe);
  return { resolver: compiled.addressResolver, isLocal: mailboxDomains(compiled.addressResolver), close: () => compiled.tables.close() };
}
