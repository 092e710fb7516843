// The address resolver: Postfix address classes, recipient_delimiter, aliases and transport_maps.
// Pure: tables come in opened; nothing here reads files, sockets or DNS.
export type { AddressClass, AddressResolver, FinalRecipient, NextHop, Resolution, ResolverSpec, Route, Verification } from './types.ts';
export { createAddressResolver, DEFAULT_PARENT_DOMAIN_MATCHES_SUBDOMAINS } from './resolver.ts';
export { splitAddressList, splitAliasValue } from './alias-values.ts';
export { parseNextHop, NextHopError, TRANSPORT_NAMES } from './next-hop.ts';
export { errorBounceStatus, errorRefusalStatus, retryDeferStatus, retryRefusalStatus, UNDELIVERABLE } from './error-hop.ts';
export { LookupFailure } from './table-find.ts';
export { smtpdDsnFix } from '@moat/policy';
export { createMemoryTable } from './memory-table.ts';
export { lintAliases, lintTransportMaps, type AliasProblem } from './lint-aliases.ts';
export { recipientPortFromResolver, RecipientLookupError, RCPT_MEMO_SIZE, type RecipientVerdict, type ResolverRecipientPort } from './recipient-port.ts';
export { splitAddress, splitExtension, quoteLocal, unquoteLocal, type AddressParts, type Extension } from './address-parts.ts';
export { createDomainList, type DomainList, type DomainListOptions } from './domain-list.ts';
export { fakeAddressResolver, type FakeResolverSpec } from './fake-resolver.ts';
export { toPlainResolverSpec, fromPlainResolverSpec, type PlainResolverSpec, type PlainTable, type PlainTableOpener } from './plain-spec.ts';
export { mailboxDomains } from './mailbox-domains.ts';
