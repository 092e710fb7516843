// The contract of the address resolver: an envelope address in, its Postfix address class, the final
// recipients it rewrites to and each one's next hop out. Pure; trusts its tables, not the address.
import type { LookupTable } from '@moat/maps';

/**
 * Postfix's address classes (ADDRESS_CLASS_README), plus `remote` for the default class.
 * `local`: mydestination (local_recipient_maps, alias_maps); `virtual-alias`: virtual_alias_domains;
 * `virtual-mailbox`: virtual_mailbox_domains; `relay`: relay_domains (backup MX); `remote`: the rest.
 */
export type AddressClass = 'local' | 'virtual-alias' | 'virtual-mailbox' | 'relay' | 'remote';

/** A transport_maps right-hand side (or a default transport), parsed. `raw` is what the admin wrote. */
export type NextHop =
  /** `smtp:[host]:port` (mx: false), `smtp:host[:port]` (mx: true, MX lookup), `smtp:` (the recipient domain by MX). */
  | {
      transport: 'smtp';
      host: string | undefined;
      port: number;
      mx: boolean;
      raw: string;
      /**
       * The destination verbatim (`[relay.example]:25`, `relay.example`; the relayhost value): Postfix's
       * smtp_tls_policy_maps key for a next hop without MX lookup. Absent in queue files from older moat.
       */
      dest?: string | undefined;
      /**
       * `may`: opportunistic TLS whatever MTA-STS, DANE or the configured levels say, and the session is not
       * counted for TLS-RPT. Only moat's own TLS reports go this way (RFC 8460 3); no table or config sets it.
       */
      tls?: 'may' | undefined;
    }
  /** `lmtp:unix:/path`, `lmtp:inet:host:port`, `lmtp:host:port`, `lmtp:[host]:port`. */
  | {
      transport: 'lmtp';
      socket: { path: string } | { host: string; port: number };
      raw: string;
      /** The destination verbatim without `inet:` (`[h]:24`, `h:2424`): Postfix's lmtp_tls_policy_maps key. */
      dest?: string | undefined;
    }
  /** moat's own mailbox delivery: `maildir:/path` (the path is the maildir root; see the README for the layout). */
  | { transport: 'maildir'; path: string; raw: string }
  /**
   * `error:5.x.x text` (or `error:text`, no status): the recipient bounces (or is refused at RCPT). `status` is as
   * written, whatever its class (Postfix accepts 2, 4 and 5); error-hop.ts turns it into what smtpd and error(8) say.
   * `text` is never empty (Postfix's "Address is undeliverable" when none is written).
   */
  | { transport: 'error'; status?: string; text: string; raw: string }
  /**
   * `retry:4.x.x text` (or `retry:text`): Postfix's retry(8), the error(8) program run as `retry`: refused at RCPT with
   * 450, deferred at delivery (the message stays queued until its lifetime ends). Fields as `error:`'s.
   */
  | { transport: 'retry'; status?: string; text: string; raw: string }
  /** `discard:[text]`: accepted and dropped, as Postfix's discard(8). */
  | { transport: 'discard'; text: string; raw: string };

/** One final recipient after alias expansion, with where it goes. */
export interface FinalRecipient {
  /** The address delivery uses, rewritten (canonical case kept for the local part, domain lower-cased). */
  address: string;
  /** The address extension split off by recipient_delimiter (`tag` of `user+tag@d`), when there was one. */
  extension?: string | undefined;
  class: AddressClass;
  nextHop: NextHop;
}

export type Resolution =
  /** The address exists (or is remote/relay and may be sent on): its final recipients. */
  | { ok: true; input: string; class: AddressClass; recipients: FinalRecipient[]; trace: string[] }
  /**
   * The address cannot be accepted. `unknown-user`: a class with a recipient table that does not
   * list it (Postfix "User unknown in ... table", 550 5.1.1); `empty-expansion`: an alias that expands
   * to nothing; `loop`/`too-many`: virtual_alias_recursion_limit / virtual_alias_expansion_limit
   * (5.4.6); `lookup-failure`: a table could not answer (451 4.3.0, never a reject). `by`: what refused the
   * address as given, in verify()'s words (`error`/`retry` hop, the class's `table`), when that is what refused it.
   */
  | {
      ok: false;
      input: string;
      class: AddressClass;
      reason: 'unknown-user' | 'retry' | 'empty-expansion' | 'loop' | 'too-many' | 'lookup-failure';
      status: string;
      text: string;
      trace: string[];
      by?: Extract<Verification, { accepted: false }>['by'] | undefined;
    };

/** What the resolver is built from: Postfix's parameters by their own names, tables already opened. */
export interface ResolverSpec {
  myhostname: string;
  /** Postfix mydestination (domains, lower case). */
  mydestination: readonly string[];
  /**
   * local_recipient_maps; undefined or empty: every local part of a mydestination domain exists (Postfix
   * with it empty). postmaster, MAILER-DAEMON and double-bounce always exist, as in smtpd.
   */
  localRecipientMaps?: readonly LookupTable[] | undefined;
  aliasMaps: readonly LookupTable[];
  virtualAliasDomains: readonly string[];
  virtualAliasMaps: readonly LookupTable[];
  virtualMailboxDomains: readonly string[];
  virtualMailboxMaps: readonly LookupTable[];
  relayDomains: readonly string[];
  /** relay_recipient_maps; undefined or empty: every user of a relay domain is accepted. */
  relayRecipientMaps?: readonly LookupTable[] | undefined;
  transportMaps: readonly LookupTable[];
  /** Postfix recipient_delimiter: each character starts an extension; '' = none. */
  recipientDelimiter: string;
  /** Default next hops by class (local_transport, virtual_transport, relay_transport, default_transport/relayhost). */
  localTransport: NextHop;
  virtualTransport: NextHop;
  relayTransport: NextHop;
  defaultTransport: NextHop;
  virtualAliasRecursionLimit: number;
  virtualAliasExpansionLimit: number;
  /** myorigin: the domain given to addresses without one (`user` in an alias result); default myhostname. */
  myorigin?: string | undefined;
  /** Our own IP addresses (inet_interfaces, proxy_interfaces): `user@[192.0.2.1]` is local, as resolve_local(3) says. */
  localAddresses?: readonly string[] | undefined;
  /**
   * Tables named in the domain lists (`virtual_alias_domains = hash:/etc/postfix/vdomains`, and Postfix's
   * defaults `virtual_alias_domains = $virtual_alias_maps`, `virtual_mailbox_domains = $virtual_mailbox_maps`):
   * a domain is listed when the table has a key for it (the value is ignored). Asked after the names.
   */
  mydestinationMaps?: readonly LookupTable[] | undefined;
  virtualAliasDomainMaps?: readonly LookupTable[] | undefined;
  virtualMailboxDomainMaps?: readonly LookupTable[] | undefined;
  relayDomainMaps?: readonly LookupTable[] | undefined;
  /** parent_domain_matches_subdomains (parameter names); default Postfix's, which lists relay_domains but not transport_maps. */
  parentDomainMatchesSubdomains?: readonly string[] | undefined;
}

export interface AddressResolver {
  /** Resolve an envelope recipient. Synchronous (tables are in memory); never throws. */
  resolve(address: string): Resolution;
  /** The class alone (no alias expansion), for relay control. Throws LookupFailure when a domain table cannot answer. */
  classify(address: string): AddressClass;
  /**
   * smtpd's RCPT-time check alone (check_rcpt_maps): a virtual_alias_maps key is accepted without
   * expanding it (loops and limits surface at delivery, as in Postfix; an entry with no address is
   * refused), then the error transport, then the class's recipient table. No expansion, no trace:
   * the cheap question the policy engine asks per RCPT. `as: 'sender'` asks it for a MAIL FROM address
   * (reject_unlisted_sender): statuses then follow smtpd's sender mapping (5.1.0, 5.1.7...). Throws LookupFailure.
   */
  verify(address: string, as?: 'recipient' | 'sender'): Verification;
  /**
   * trivial-rewrite alone: the class and next hop of one address as written (no alias expansion, no
   * recipient table), for static checks of transport_maps. Throws LookupFailure, or NextHopError for an
   * entry moat cannot deliver with.
   */
  route(address: string): Route;
  /**
   * Every table the resolver asks (their `generation` counters tell a reload), so a caller may keep
   * answers until one reloads. Undefined: answers may change at any time (nothing may be kept).
   */
  readonly tables?: readonly LookupTable[] | undefined;
}

/** What trivial-rewrite answers for an address: its class, its next hop, and the transport_maps key that chose it. */
export interface Route {
  class: AddressClass;
  nextHop: NextHop;
  /** The transport_maps key that matched (`*` for the catch-all); undefined: the class's default transport. */
  via?: string | undefined;
}

/** What smtpd decides at RCPT for an address: accepted, or refused with a status and Postfix's text. */
/**
 * smtpd's RCPT answer. `by` is what refused, which picks smtpd's reply code (@moat/policy does): `table` (the class's
 * recipient table), `error` (an `error:` next hop, incl. an unknown user of a virtual alias domain), `retry` (a
 * `retry:` next hop), `alias` (an alias that expands to no address).
 */
export type Verification = { accepted: true; class: AddressClass } | { accepted: false; class: AddressClass; status: string; text: string; by: 'table' | 'error' | 'retry' | 'alias' };
