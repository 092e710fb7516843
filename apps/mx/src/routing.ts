// Where accepted mail goes: the one address resolver compileConfig builds (routing:, recipients:,
// queue.transport(s), a main.cf's keys), and the maildir's guard. Trusts the config; addresses are client input.
import { type AddressResolver, mailboxDomains } from '@moat/address';
import { type Config, compileConfig } from '@moat/config';
import type { Logger, Registry } from '@moat/observe';

export interface Routing {
  resolver: AddressResolver;
  /** Whether a domain's mail may be written into one of our mailboxes (the local and virtual mailbox classes). */
  isLocal(domain: string): boolean;
  close(): void;
}

/**
 * The resolver from a config alone (its own tables, watched when `observe` is given), as the SMTP side builds
 * it; the delivery thread gets the same from plain data (toPlainResolverSpec). Throws ConfigError as compileConfig does.
 */
export function routingFromConfig(config: Config, observe?: { logger: Logger; registry: Registry }): Routing {
  const compiled = compileConfig(config);
  if (observe) compiled.tables.watch(observe);
  return { resolver: compiled.addressResolver, isLocal: mailboxDomains(compiled.addressResolver), close: () => compiled.tables.close() };
}
