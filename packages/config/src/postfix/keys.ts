// What moat does with each main.cf parameter it does not map itself: the routing keys handed to the
// `routing:` section verbatim, and the classes of keys moat ignores, each with its reason. Data only.

/** How a routing key's value is handed on: Postfix list text split into items, or scalar text, or typed. */
export type RoutingKind = 'list' | 'string' | 'bool' | 'int';

/**
 * Until the `routing:` section exists, these keys also fill the `recipients:` section, which hosts
 * domains by name (table-valued domain lists and dotless names such as `localhost` are left out, with a warning).
 */
export type RecipientsBridge = 'recipients.domains' | 'recipients.relay_domains' | 'recipients.recipient_delimiter';

/**
 * Keys of the `routing:` section, named as in Postfix. Values go to `routing.<name>`: lists as arrays of
 * items (`hash:/etc/postfix/virtual`, `example.org`), yes/no as booleans, limits as integers.
 * `withDefault`: the Postfix default is handed on too when main.cf leaves the key unset, because it
 * depends on other parameters (mydestination on myhostname, relay_domains on compatibility_level).
 */
export const ROUTING_KEYS: Readonly<Record<string, { kind: RoutingKind; withDefault?: true; bridge?: RecipientsBridge }>> = Object.freeze({
  mydestination: { kind: 'list', withDefault: true, bridge: 'recipients.domains' },
  local_recipient_maps: { kind: 'list' },
  alias_maps: { kind: 'list' },
  virtual_alias_domains: { kind: 'list', withDefault: true, bridge: 'recipients.domains' },
  virtual_alias_maps: { kind: 'list' },
  virtual_mailbox_domains: { kind: 'list', withDefault: true },
  virtual_mailbox_maps: { kind: 'list' },
  relay_domains: { kind: 'list', withDefault: true, bridge: 'recipients.relay_domains' },
  relay_recipient_maps: { kind: 'list' },
  transport_maps: { kind: 'list' },
  relayhost: { kind: 'string' },
  local_transport: { kind: 'string' },
  virtual_transport: { kind: 'string' },
  relay_transport: { kind: 'string' },
  default_transport: { kind: 'string' },
  recipient_delimiter: { kind: 'string', bridge: 'recipients.recipient_delimiter' },
  virtual_alias_recursion_limit: { kind: 'int' },
  virtual_alias_expansion_limit: { kind: 'int' },
  smtpd_reject_unlisted_recipient: { kind: 'bool', withDefault: true },
  smtpd_reject_unlisted_sender: { kind: 'bool', withDefault: true },
  parent_domain_matches_subdomains: { kind: 'list' },
});

/** Why a key is ignored, by class: `moat config check` prints the class and this reason. */
export const IGNORED_CLASSES = Object.freeze({
  tls: 'TLS: moat takes mx.tls.cert/key and its own protocol and cipher policy (TLS 1.2+, no session cache files, no DH files)',
  milter: 'milters: moat runs no milters (DKIM signing is queue.dkim; SPF/DKIM/DMARC checks are built in)',
  'local-delivery': 'local delivery: moat delivers through queue.transport (maildir or LMTP), not local(8), procmail or mbox',
  sasl: 'SASL: moat authenticates against mx.auth.users_file (PLAIN/LOGIN, only over TLS); Cyrus/Dovecot settings do not apply',
  rewriting: 'address rewriting: moat does not rewrite envelope or header addresses (no myorigin/mydomain appending, canonical or masquerading)',
  listeners: 'listeners: moat listens where mx.listen says',
  installation: 'Postfix installation paths and ownership: not used by moat',
  queue: 'queue tuning: moat\'s queue is set in queue: (retry, concurrency)',
  notify: 'notices to the postmaster: moat logs and counts instead',
  other: 'not implemented by moat',
  unknown: 'not a built-in Postfix parameter: a master.cf service\'s own <service>_* parameter, a user-defined one, or a misspelling (Postfix warns "unused parameter")',
} as const);

export type IgnoredClass = keyof typeof IGNORED_CLASSES;

/** A key's ignore class, by exact name or by prefix; undefined: not known to be ignored (then `other`). */
export function ignoredClassOf(name: string): IgnoredClass {
  const exact: Record<string, IgnoredClass> = {
    tls_preempt_cipherlist: 'tls',
    milter_protocol: 'milter',
    milter_default_action: 'milter',
    smtpd_milters: 'milter',
    non_smtpd_milters: 'milter',
    mailbox_command: 'local-delivery',
    mailbox_size_limit: 'local-delivery',
    home_mailbox: 'local-delivery',
    mail_spool_directory: 'local-delivery',
    mailbox_transport: 'local-delivery',
    fallback_transport: 'local-delivery',
    biff: 'local-delivery',
    alias_database: 'local-delivery',
    forward_path: 'local-delivery',
    allow_mail_to_commands: 'local-delivery',
    allow_mail_to_files: 'local-delivery',
    luser_relay: 'local-delivery',
    append_dot_mydomain: 'rewriting',
    append_at_myorigin: 'rewriting',
    myorigin: 'rewriting',
    canonical_maps: 'rewriting',
    sender_canonical_maps: 'rewriting',
    recipient_canonical_maps: 'rewriting',
    masquerade_domains: 'rewriting',
    masquerade_exceptions: 'rewriting',
    swap_bangpath: 'rewriting',
    allow_percent_hack: 'rewriting',
    inet_interfaces: 'listeners',
    inet_protocols: 'listeners',
    proxy_interfaces: 'listeners',
    readme_directory: 'installation',
    html_directory: 'installation',
    manpage_directory: 'installation',
    sample_directory: 'installation',
    config_directory: 'installation',
    data_directory: 'installation',
    queue_directory: 'installation',
    daemon_directory: 'installation',
    command_directory: 'installation',
    meta_directory: 'installation',
    shlib_directory: 'installation',
    mail_owner: 'installation',
    setgid_group: 'installation',
    sendmail_path: 'installation',
    newaliases_path: 'installation',
    mailq_path: 'installation',
    bounce_queue_lifetime: 'queue',
    minimal_backoff_time: 'queue',
    maximal_backoff_time: 'queue',
    queue_run_delay: 'queue',
    default_destination_concurrency_limit: 'queue',
    notify_classes: 'notify',
    bounce_notice_recipient: 'notify',
    '2bounce_notice_recipient': 'notify',
    delay_notice_recipient: 'notify',
    error_notice_recipient: 'notify',
  };
  const hit = exact[name];
  if (hit) return hit;
  if (/^(smtpd?|lmtp|tls|postscreen)_tls_|^tls_/.test(name)) return 'tls';
  if (/milter/.test(name)) return 'milter';
  if (/^smtpd_sasl_|^smtp_sasl_|^cyrus_sasl/.test(name)) return 'sasl';
  if (/^local_|^mailbox_|^virtual_(mailbox_base|uid_maps|gid_maps|minimum_uid|mailbox_limit)$/.test(name)) return 'local-delivery';
  return 'other';
}
