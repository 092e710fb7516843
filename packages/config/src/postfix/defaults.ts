// Postfix's built-in defaults for every parameter moat reads or expands, as `postconf -d` prints them
// (Debian's Postfix 3.7.11, unexpanded). Checked against the installed postconf by defaults.test.ts.
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: Postfix ${name} expansions are the subject here, not JS templates
import { hostname as osHostname } from 'node:os';

/**
 * `postconf -d NAME` for the parameters moat reads (and those their defaults refer to). Values are raw:
 * `$name` and `${{$compatibility_level} <level {2} ? ...}` are expanded like main.cf values.
 * Host-dependent defaults (HOST_DEPENDENT) are computed: defaultMyhostname(), defaultMydomain(), mynetworks.ts.
 */
export const POSTFIX_DEFAULTS: Readonly<Record<string, string>> = Object.freeze({
  append_at_myorigin: 'yes',
  append_dot_mydomain: '${{$compatibility_level} <level {1} ? {yes} : {no}}',
  alias_maps: 'hash:/etc/aliases, nis:mail.aliases',
  bounce_queue_lifetime: '5d',
  command_directory: '/usr/sbin',
  compatibility_level: '0',
  config_directory: '/etc/postfix',
  daemon_directory: '/usr/lib/postfix/sbin',
  data_directory: '/var/lib/postfix',
  default_database_type: 'hash',
  default_transport: 'smtp',
  delay_warning_time: '0h',
  disable_vrfy_command: 'no',
  inet_interfaces: 'all',
  inet_protocols: 'all',
  local_recipient_maps: 'proxy:unix:passwd.byname $alias_maps',
  local_transport: 'local:$myhostname',
  mail_name: 'Postfix',
  mail_owner: 'postfix',
  mail_version: '3.7.11',
  maximal_queue_lifetime: '5d',
  message_size_limit: '10240000',
  meta_directory: '/etc/postfix',
  mydestination: '$myhostname, localhost.$mydomain, localhost',
  myorigin: '$myhostname',
  mynetworks_style: '${{$compatibility_level} <level {2} ? {subnet} : {host}}',
  parent_domain_matches_subdomains: 'debug_peer_list,fast_flush_domains,mynetworks,permit_mx_backup_networks,qmqpd_authorized_clients,relay_domains,smtpd_access_maps',
  proxy_interfaces: '',
  queue_directory: '/var/spool/postfix',
  recipient_delimiter: '',
  relay_domains: '${{$compatibility_level} <level {2} ? {$mydestination} : {}}',
  relay_recipient_maps: '',
  reject_tempfail_action: 'defer_if_permit',
  relay_transport: 'relay',
  relayhost: '',
  shlib_directory: '/usr/lib/postfix',
  smtpd_banner: '$myhostname ESMTP $mail_name',
  smtpd_client_restrictions: '',
  smtpd_data_restrictions: '',
  smtpd_delay_reject: 'yes',
  smtpd_end_of_data_restrictions: '',
  smtpd_etrn_restrictions: '',
  smtpd_hard_error_limit: '${stress?{1}:{20}}',
  smtpd_helo_required: 'no',
  smtpd_helo_restrictions: '',
  smtpd_recipient_limit: '1000',
  smtpd_recipient_restrictions: '',
  smtpd_reject_unlisted_recipient: 'yes',
  smtpd_reject_unlisted_sender: 'no',
  smtp_dns_support_level: '',
  smtp_enforce_tls: 'no',
  smtp_tls_enforce_peername: 'yes',
  smtp_tls_policy_maps: '',
  smtp_tls_security_level: '',
  smtp_use_tls: 'no',
  smtpd_relay_restrictions: '${{$compatibility_level} <level {1} ? {} : {permit_mynetworks, permit_sasl_authenticated, defer_unauth_destination}}',
  smtpd_restriction_classes: '',
  smtpd_sasl_auth_enable: 'no',
  smtpd_sender_restrictions: '',
  smtpd_timeout: '${stress?{10}:{300}}s',
  smtpd_tls_ask_ccert: 'no',
  smtpd_tls_auth_only: 'no',
  smtpd_tls_req_ccert: 'no',
  stress: '',
  strict_rfc821_envelopes: 'no',
  transport_maps: '',
  unknown_address_reject_code: '450',
  unknown_address_tempfail_action: '$reject_tempfail_action',
  unknown_client_reject_code: '450',
  unknown_local_recipient_reject_code: '550',
  unknown_relay_recipient_reject_code: '550',
  unknown_virtual_alias_reject_code: '550',
  unknown_virtual_mailbox_reject_code: '550',
  virtual_alias_domains: '$virtual_alias_maps',
  virtual_alias_expansion_limit: '1000',
  virtual_alias_maps: '$virtual_maps',
  virtual_alias_recursion_limit: '1000',
  virtual_mailbox_domains: '$virtual_mailbox_maps',
  virtual_mailbox_maps: '',
  virtual_maps: '',
  virtual_transport: 'virtual',
});

/** The parameters whose defaults Postfix computes from the host (gethostname(), the interfaces). */
export const HOST_DEPENDENT = Object.freeze(['myhostname', 'mydomain', 'mynetworks'] as const);

/**
 * myhostname's default as Postfix computes it (mail_params.c check_myhostname): the host name, with
 * `.$mydomain` (main.cf's, else `localdomain`) appended when it has no dot.
 */
export function defaultMyhostname(mydomainFromMainCf?: string, host: string = osHostname()): string {
  return host.includes('.') ? host : `${host}.${mydomainFromMainCf ?? 'localdomain'}`;
}

/** mydomain's default (check_mydomainname): myhostname without its first label, or `localdomain`. */
export function defaultMydomain(myhostname: string): string {
  const dot = myhostname.indexOf('.');
  return dot < 0 ? 'localdomain' : myhostname.slice(dot + 1);
}
