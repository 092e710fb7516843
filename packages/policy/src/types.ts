// The engine's contract: the facts of one SMTP step in, a verdict out, and the ports it asks.
// Trusts nothing in Facts (it is what a remote client said); trusts the ports' answers.
import type { ArgKind } from './restrictions/define.ts';
import type { RESTRICTIONS } from './restrictions/table.ts';

/** The SMTP stage a decision is asked for. Postfix's protocol_state, lower-cased. */
export type Stage = 'connect' | 'helo' | 'mail' | 'rcpt' | 'data' | 'end-of-data';

/** What is known about one SMTP transaction at the moment a decision is asked. */
export interface Facts {
  stage: Stage;
  /** Client IP address (v4 or v6 literal, no brackets, no port). */
  clientAddress: string;
  /** Forward-confirmed client hostname; undefined when it does not verify ("unknown" in Postfix). */
  clientName?: string | undefined;
  /** Unverified PTR name of the client; undefined when there is none. */
  reverseClientName?: string | undefined;
  /**
   * The client name lookup failed temporarily (DNS timeout, SERVFAIL): clientName is undefined for
   * now, not for good (Postfix name_status TEMP). reject_unknown_client_hostname then says 450.
   */
  clientNameTempFail?: boolean | undefined;
  /** The PTR lookup failed temporarily (Postfix reverse_name_status TEMP). */
  reverseClientNameTempFail?: boolean | undefined;
  /**
   * The client sent commands ahead of our replies where that is not allowed (before the greeting,
   * or without PIPELINING); the edge observes it (Postfix SMTPD_FLAG_ILL_PIPELINING).
   */
  improperPipelining?: boolean | undefined;
  /** HELO/EHLO argument as sent; undefined when the client never said HELO/EHLO. */
  helo?: string | undefined;
  /** Envelope sender without angle brackets; '' is the null sender; undefined before MAIL FROM. */
  sender?: string | undefined;
  /**
   * The MAIL FROM argument exactly as written (e.g. `<a@b.example>` or `a@b.example`), when the
   * caller saw the raw command. Used for strict RFC 5321 envelope checks; absent from policyd
   * (Postfix has already parsed it).
   */
  rawSender?: string | undefined;
  /** Envelope recipient without angle brackets; undefined before RCPT TO. */
  recipient?: string | undefined;
  /** The raw RCPT TO argument, when the caller saw it (for strict envelope checks). */
  rawRecipient?: string | undefined;
  /** SASL login name, when the client authenticated. */
  saslUsername?: string | undefined;
  /** Whether the session runs over TLS. */
  tls: boolean;
  /** Session or queue id for logs and traces. */
  sessionId?: string | undefined;
}

/** Postfix's three outcomes (plus defer), as values. `dunno` means: no opinion, go on. */
export type Outcome = 'permit' | 'reject' | 'defer' | 'dunno';

/** One restriction's result in the trace of a decision. */
export interface TraceEntry {
  /** The restriction as an admin writes it, e.g. `reject_rbl_client zen.spamhaus.org`. */
  restriction: string;
  /** Which list it belongs to: relay control is evaluated before the spam policy. */
  list: 'relay' | 'recipient';
  outcome: Outcome | 'skip' | 'error';
  /** Why, for a human: the listing codes, the map's right-hand side, the port failure. */
  reason?: string | undefined;
  /** Wall time spent in this restriction, milliseconds (includes waiting on a port). */
  ms: number;
}

/** Who a refusal is about and Postfix's class for it: `bob@example.org` + `Recipient address rejected`. */
export interface ReplySubject {
  /** The address, HELO name or `name[addr]` of the client, without the angle brackets. */
  name: string;
  context: string;
}

/**
 * The engine's answer. `continue` means nothing decided yet at this stage (the caller goes on);
 * at the last stage the caller treats it as accept.
 */
export interface Verdict {
  action: 'permit' | 'reject' | 'defer' | 'continue';
  /** RFC 3463 enhanced status code, e.g. `5.7.1`; `2.0.0` for permit/continue. */
  status: string;
  /**
   * Human text for the reply in Postfix's form, e.g. `Client host [192.0.2.1] blocked using zen.spamhaus.org; ...`
   * or `<bob@example.org>: Recipient address rejected: User unknown` (= subjectText(subject, message)).
   */
  text: string;
  /** What the refusal is about, when Postfix names it (`<name>: Class rejected: `); edges format it themselves. */
  subject?: ReplySubject | undefined;
  /** The reply's own words, without the subject (set with `subject`). */
  message?: string | undefined;
  /** The restriction that decided (its admin-facing text); undefined when none did. */
  decidedBy?: string | undefined;
  /** The kind of the deciding restriction (its type), for metrics and reply-code choice. */
  decidedByType?: RestrictionType | undefined;
  /** True when the deferral is a greylist deferral (policyd maps it to DEFER_IF_PERMIT). */
  greylisted?: boolean | undefined;
  /**
   * The basic SMTP code the admin chose explicitly (an access map's `450 text` / `550 text`), when
   * one did; edges call `replyCode(verdict)`, which honours it and otherwise applies Postfix defaults.
   */
  smtpCode?: number | undefined;
  /** Headers to prepend to the message if it is accepted (e.g. X-Greylist). Full `Name: value` lines. */
  prepend: string[];
  /** Every restriction evaluated, in order. */
  trace: TraceEntry[];
}

// ---------------------------------------------------------------- restrictions (data)

/** A return-code filter in Postfix syntax, kept as written (`127.0.[0..255].[2..3]`); '' = any. */
export type CodeFilter = string;

export type DnsTarget =
  | 'client' // client IP (reversed octets / nibbles)
  | 'client-name' // verified client hostname
  | 'reverse-client-name' // unverified PTR name
  | 'sender-domain' // envelope sender's domain
  | 'helo'; // HELO name

/** Every restriction moat knows: the names in restrictions/table.ts (one line per restriction). */
export type RestrictionType = RestrictionDefs['name'];

type RestrictionDefs = (typeof RESTRICTIONS)[number];
type NamesTaking<A extends ArgKind> = Extract<RestrictionDefs, { arg: A }>['name'];

export type Restriction =
  | { type: NamesTaking<'none'> }
  | {
      type: NamesTaking<'dns'>;
      zone: string;
      /** undefined: no filter written; '' : bare `=` (any answer); else the pattern. */
      filter?: CodeFilter | undefined;
    }
  | {
      type: NamesTaking<'map'>;
      /** Postfix map name as written, e.g. `cidr:/etc/moat/rbl_override`. */
      map: string;
    }
  | {
      type: NamesTaking<'service'>;
      /** As written (`inet:127.0.0.1:10023`); moat routes it to its greylist whatever it says. */
      service?: string | undefined;
    };

/** The whole policy the engine runs. Compiled from config; frozen. */
export interface PolicySpec {
  /** Our own hostname: a HELO claiming it (or our addresses) from outside is rejected. */
  myHostname: string;
  /** Our own IP addresses (HELO `[addr]` literals claiming them are rejected). */
  myAddresses: readonly string[];
  /** Networks trusted by permit_mynetworks (CIDR, v4 or v6). */
  myNetworks: readonly string[];
  /** Evaluate HELO/MAIL restrictions at RCPT so the recipient is known (Postfix smtpd_delay_reject). */
  delayReject: boolean;
  /** Require `<...>` around MAIL FROM / RCPT TO addresses (Postfix strict_rfc821_envelopes). */
  strictRfc821Envelopes: boolean;
  /**
   * Who does relay control. 'engine' (the default): hostile recipient forms are refused, the relay
   * list runs, and a remote recipient it did not authorise is refused whatever the spam policy says.
   * 'caller': the caller has done it already (Postfix, with moat behind check_policy_service and
   * its own smtpd_relay_restrictions): only `relayRestrictions` as given runs (often empty).
   */
  relayControl?: 'engine' | 'caller' | undefined;
  /** Relay control, evaluated first (Postfix smtpd_relay_restrictions). */
  relayRestrictions: readonly Restriction[];
  /** The spam policy (Postfix smtpd_recipient_restrictions), the seed's 11 steps. */
  recipientRestrictions: readonly Restriction[];
  /**
   * Postfix smtpd_reject_unlisted_recipient: refuse an unknown user of our domains at RCPT even when
   * no list says reject_unlisted_recipient and a list permitted. Default: true (Postfix 2.1+), except
   * with relayControl 'caller', where the Postfix in front has done it.
   */
  rejectUnlistedRecipient?: boolean | undefined;
  /** Postfix smtpd_reject_unlisted_sender: refuse an unknown sender address of our domains. Default false. */
  rejectUnlistedSender?: boolean | undefined;
  /**
   * Postfix smtpd_sender_login_maps: maps (`hash:/etc/postfix/sender_login`...) from a sender address
   * (or `@domain`) to the SASL logins that own it, asked through the access-map port. Unset: nobody
   * owns any address, so (as in Postfix) reject_sender_login_mismatch and
   * reject_authenticated_sender_login_mismatch refuse a logged-in client every sender.
   */
  senderLoginMaps?: readonly string[] | undefined;
  /**
   * moat's addition for the listeners' own sender-login check (mx.sender_login), never Postfix's lists: a
   * SASL login that is an address owns that address (with or without an extension) besides what the maps
   * give it. Default false (Postfix: only the maps say who owns what).
   */
  loginOwnsItself?: boolean | undefined;
  /** Postfix recipient_delimiter (one or more characters), for map keys without the extension. Default: none. */
  recipientDelimiter?: string | undefined;
  /**
   * Whether `example.com` in an access map also matches subdomains (Postfix: smtpd_access_maps is in
   * parent_domain_matches_subdomains, the default); false: only `.example.com` does.
   */
  parentDomainMatchesSubdomains?: boolean | undefined;
  /** Postfix smtpd_null_access_lookup_key: the key check_sender_access looks up for `<>`. Default `<>`. */
  nullAccessLookupKey?: string | undefined;
  /** Postfix unknown_address_reject_code (reject_unknown_sender/recipient_domain). Default 450. */
  unknownAddressRejectCode?: number | undefined;
  /** Postfix unknown_address_tempfail_action: a DNS failure defers only if nothing rejects, or at once. Default defer_if_permit. */
  unknownAddressTempfailAction?: 'defer_if_permit' | 'defer' | undefined;
  /** Postfix unknown_client_reject_code (reject_unknown_client_hostname, ..._reverse_...). Default 450. */
  unknownClientRejectCode?: number | undefined;
  /**
   * Postfix check_rcpt_maps' reply codes for an unknown user, by the address's class: unknown_local_recipient_reject_code,
   * unknown_virtual_alias_reject_code (also an `error:` hop in a virtual alias domain), unknown_virtual_mailbox_reject_code,
   * unknown_relay_recipient_reject_code. Default 550 each. A 4xx code defers (the status class follows the code).
   */
  unknownLocalRecipientRejectCode?: number | undefined;
  unknownVirtualAliasRejectCode?: number | undefined;
  unknownVirtualMailboxRejectCode?: number | undefined;
  unknownRelayRecipientRejectCode?: number | undefined;
  /**
   * DNS list zone -> the name shown in replies, traces and decidedBy. A zone may hold a secret (a
   * Spamhaus DQS key: `KEY.zen.dq.spamhaus.net`); its display name never does.
   */
  zoneDisplayNames?: Readonly<Record<string, string>> | undefined;
  /**
   * Postfix postscreen_dnsbl_sites: the weighted DNS lists reject_dnsbl_score / permit_dnsbl_score sum up
   * for the client address (dnsbl-sites.ts parses the text). Unset or empty: those restrictions cannot be listed.
   */
  dnsblSites?: readonly DnsblSite[] | undefined;
  /** Postfix postscreen_dnsbl_threshold: reject_dnsbl_score rejects a sum at or above it. Default 1. */
  dnsblThreshold?: number | undefined;
  /**
   * Postfix postscreen_dnsbl_allowlist_threshold (older name ..._whitelist_threshold): permit_dnsbl_score
   * permits a sum at or below it. Default 0, which (as in Postfix) means off: only a negative value enables it.
   */
  dnsblAllowlistThreshold?: number | undefined;
}

/** One postscreen_dnsbl_sites entry: `zone[=filter][*weight]`. */
export interface DnsblSite {
  /** The zone as queried (lower case, no final dot); may hold a DQS key, never shown (zoneDisplayNames). */
  zone: string;
  /** A return-code filter (code-filter.ts syntax); absent: any answer the list profile counts. */
  filter?: CodeFilter | undefined;
  /** What a match adds to the sum; negative for allow lists. Postfix's default 1. */
  weight: number;
}

// ---------------------------------------------------------------- ports

/** One DNS list query. `key` is an IP literal for `client`, a domain name otherwise. */
export interface DnsListQuery {
  zone: string;
  target: DnsTarget;
  key: string;
  /**
   * What the answer is for: `allow` (a permit_*wl_* restriction) or `block` (a reject_*bl_*
   * restriction). Lists whose codes mean different things for the two (hostkarma: 127.0.0.1 is its
   * whitelist, 127.0.0.2 its blacklist) count only the codes of this use. Unset: any use (older
   * callers). The engine always sets it and asks a zone once per use.
   */
  use?: 'allow' | 'block' | undefined;
}

export interface DnsListAnswer {
  zone: string;
  key: string;
  /**
   * listed: the zone answered with one or more valid listing codes (operator error codes removed).
   * not-listed: NXDOMAIN/NODATA, or only error codes.
   * unknown: timeout, SERVFAIL, budget exceeded, zone disabled by health checks: fail open.
   */
  status: 'listed' | 'not-listed' | 'unknown';
  /** The A records that count as listings (dotted quads), after the provider profile is applied. */
  codes: string[];
  /** TXT reason, when the zone publishes one. */
  txt?: string | undefined;
  /** Why the answer is unknown or why codes were dropped (for the trace). */
  detail?: string | undefined;
}

export interface DnsListPort {
  /** Query every item concurrently under one time budget; answers in the same order. Never throws.
   * The queries are values the engine may reuse across decisions: do not modify them. */
  lookup(queries: readonly DnsListQuery[]): Promise<DnsListAnswer[]>;
}

export interface GreylistRequest {
  clientAddress: string;
  clientName?: string | undefined;
  helo?: string | undefined;
  sender: string;
  recipient: string;
}

export type GreylistAnswer =
  | {
      action: 'pass';
      /** Why it passed: a retry after the delay, a whitelist, an auto-whitelisted client, fail-open. */
      reason: 'retry' | 'whitelist' | 'auto-whitelist' | 'fail-open' | 'known';
      /** Header to prepend (e.g. `X-Greylist: delayed 61 seconds by moat ...`), when one applies. */
      header?: string | undefined;
      detail?: string | undefined;
    }
  | {
      action: 'defer';
      /** Seconds until a retry will pass. */
      retryAfter: number;
      detail?: string | undefined;
    };

export interface GreylistPort {
  /** Never throws: an unavailable store answers pass/fail-open. */
  check(request: GreylistRequest): Promise<GreylistAnswer>;
}

/**
 * How a recipient relates to us. `local`: a domain we host or relay for (backup MX) and the user
 * exists; `unknown-user`: our domain, no such user; `remote`: not a domain of ours (relaying).
 */
export type RecipientClass = 'local' | 'unknown-user' | 'remote';

export interface RecipientPort {
  /** Classify an envelope recipient (already checked for hostile forms by the engine). */
  classify(recipient: string): Promise<RecipientClass>;
  /**
   * Optional synchronous form for in-memory directories (createStaticRecipients has it). The engine
   * uses it when present: no promise, no event-loop turn per decision. Throwing = lookup failure.
   */
  classifySync?(recipient: string): RecipientClass;
  /**
   * Optional: smtpd's own words for an `unknown-user` (Postfix check_rcpt_maps names the table or the
   * error: transport's text: "User unknown in relay recipient table"). Absent, or throwing, the engine says
   * "User unknown in local recipient table".
   */
  verifySync?(recipient: string, as?: 'recipient' | 'sender'): RecipientVerification;
}

/**
 * A recipient port's RCPT answer. `by` says what refused, which picks Postfix's reply code (the engine's business):
 * `table` (the class's recipient table: unknown_{local,virtual_mailbox,relay}_recipient_reject_code), `error` (an
 * `error:` next hop: 550, or unknown_virtual_alias_reject_code in a virtual alias domain), `retry` (a `retry:` next hop:
 * 450), `alias` (an alias that expands to nothing: 550). Absent: 550. `class` is the address class
 * (`local`, `virtual-alias`, `virtual-mailbox`, `relay`, `remote`).
 */
export type RecipientVerification =
  | { accepted: true; class?: string }
  | { accepted: false; class?: string; status: string; text: string; by?: 'table' | 'error' | 'retry' | 'alias' | undefined };

/** Postfix-style access map: key lookup returns the right-hand side (`OK`, `REJECT text`, `DUNNO`...). */
export interface AccessMapPort {
  lookup(map: string, key: string): Promise<string | undefined>;
  /** Optional synchronous form for in-memory maps (createCidrAccessMap has it); preferred when present. */
  lookupSync?(map: string, key: string): string | undefined;
}

/**
 * Whether a mail domain exists in the DNS (Postfix reject_unknown_sender_domain and
 * reject_unknown_recipient_domain): an MX, or else an A/AAAA record. `null-mx`: RFC 7505 `MX 0 .`.
 * `temporary`: timeout, SERVFAIL. Never throws (a throw counts as temporary).
 */
export type MailDomainAnswer = 'ok' | 'not-found' | 'null-mx' | 'temporary';

export interface MailDomainPort {
  check(domain: string): Promise<MailDomainAnswer>;
  /** Optional synchronous form (in-memory tables, a warm cache); undefined: ask check(). */
  checkSync?(domain: string): MailDomainAnswer | undefined;
}

export interface ClockPort {
  /** Milliseconds since the epoch. */
  now(): number;
}

export interface Ports {
  dnslist: DnsListPort;
  greylist: GreylistPort;
  recipients: RecipientPort;
  accessMaps: AccessMapPort;
  clock: ClockPort;
  /** Needed only by reject_unknown_sender_domain / reject_unknown_recipient_domain (createEngine says so). */
  mailDomains?: MailDomainPort | undefined;
}
