// The address resolver: Postfix address classes, recipient_delimiter, aliases and transport_maps.
// Pure: tables come in opened; nothing here reads files, sockets or DNS.
export type { AddressClass, AddressResolver, FinalRecipient, NextHop, Resolution, ResolverSpec } from './types.ts';
