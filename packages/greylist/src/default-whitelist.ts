// The shipped default whitelist: big senders that retry from pools of addresses, as data.
// Never edited by operators (they add their own `whitelist`, or set `defaultWhitelist: false`).
import type { WhitelistSpec } from './whitelist.ts';

/**
 * SOURCE, and how far to trust it:
 * - client names: the pool senders listed in postgrey's `postgrey_whitelist_clients` (Debian
 *   postgrey 1.37, /etc/postgrey/whitelist_clients) plus the outbound hostnames the same providers
 *   use today; matched only against a forward-confirmed client name, so a spoofed PTR never hits.
 * - CIDRs: the providers' published SPF records (`_netblocks.google.com`, `spf.protection.outlook.com`,
 *   `amazonses.com`, `sendgrid.net`, `servers.mcsv.net`, `spf.mandrillapp.com`, `_spf.facebook.com`,
 *   `_spf.github.com`, Apple's 17.0.0.0/8 ...) AS OF THE AUTHOR'S KNOWLEDGE (2025), written down from
 *   memory of those records, not fetched at build time (the build has no network). They drift: the
 *   pool-aware SPF matching covers what this list misses, and operators can refresh the list from
 *   live SPF with `dig TXT` and add entries in their own config.
 * The list only skips greylisting; every other check (DNS lists, SPF policy, spamd) still applies.
 */
export const DEFAULT_WHITELIST_SOURCE =
  "postgrey 1.37 whitelist_clients + providers' public SPF records as of the author's knowledge (2025)";

export const defaultWhitelist: WhitelistSpec = {
  clientNames: [
    // Google (Gmail, Workspace)
    '*.google.com',
    '*.googlemail.com',
    // Microsoft (Outlook.com, Exchange Online)
    '*.outlook.com',
    '*.protection.outlook.com',
    '*.hotmail.com',
    // Yahoo / AOL
    '*.yahoo.com',
    '*.yahoodns.net',
    '*.aol.com',
    // Amazon SES
    '*.amazonses.com',
    // SendGrid (Twilio)
    '*.sendgrid.net',
    // Mailchimp / Mandrill
    '*.mcsv.net',
    '*.mcdlv.net',
    '*.rsgsv.net',
    '*.mandrillapp.com',
    // Salesforce / ExactTarget / Marketing Cloud
    '*.salesforce.com',
    '*.exacttarget.com',
    // Meta / Facebook
    '*.facebook.com',
    '*.facebookmail.com',
    // LinkedIn
    '*.linkedin.com',
    // Apple iCloud
    '*.icloud.com',
    '*.apple.com',
    '*.me.com',
    // Zoho
    '*.zoho.com',
    '*.zoho.eu',
    '*.zohomail.com',
    // Proton
    '*.protonmail.ch',
    '*.proton.ch',
    // Fastmail
    '*.messagingengine.com',
    // GitHub
    '*.github.com',
    '*.github.net',
    // Other large pool senders from postgrey's list and common ESPs
    '*.mailgun.net',
    '*.mailgun.org',
    '*.sparkpostmail.com',
    '*.mtasv.net',
    '*.postmarkapp.com',
    '*.mailjet.com',
    '*.gmx.net',
    '*.web.de',
    '*.yandex.net',
    '*.mail.ru',
  ],
  clients: [
    // Google: _netblocks.google.com, _netblocks2 (v6), _netblocks3
    '35.190.247.0/24',
    '64.233.160.0/19',
    '66.102.0.0/20',
    '66.249.80.0/20',
    '72.14.192.0/18',
    '74.125.0.0/16',
    '108.177.8.0/21',
    '173.194.0.0/16',
    '209.85.128.0/17',
    '216.58.192.0/19',
    '216.239.32.0/19',
    '172.217.0.0/19',
    '172.217.32.0/20',
    '172.217.128.0/19',
    '172.217.160.0/20',
    '172.217.192.0/19',
    '172.253.56.0/21',
    '172.253.112.0/20',
    '108.177.96.0/19',
    '2001:4860:4000::/36',
    '2404:6800:4000::/36',
    '2607:f8b0:4000::/36',
    '2800:3f0:4000::/36',
    '2a00:1450:4000::/36',
    '2c0f:fb50:4000::/36',
    // Microsoft: spf.protection.outlook.com
    '40.92.0.0/15',
    '40.107.0.0/16',
    '52.100.0.0/15',
    '52.102.0.0/16',
    '52.103.0.0/17',
    '104.47.0.0/17',
    '2a01:111:f400::/48',
    '2a01:111:f403::/48',
    // Yahoo / AOL outbound pools
    '66.163.160.0/19',
    '68.142.192.0/18',
    '74.6.0.0/16',
    '98.136.0.0/14',
    // Amazon SES: amazonses.com
    '199.255.192.0/22',
    '199.127.232.0/22',
    '54.240.0.0/18',
    '69.169.224.0/20',
    '23.249.208.0/20',
    '23.251.224.0/19',
    '76.223.176.0/20',
    '54.240.64.0/19',
    '54.240.96.0/19',
    '76.223.128.0/19',
    // SendGrid: sendgrid.net
    '167.89.0.0/17',
    '208.117.48.0/20',
    '50.31.32.0/19',
    '198.37.144.0/20',
    '198.21.0.0/21',
    '192.254.112.0/20',
    '168.245.0.0/17',
    '149.72.0.0/16',
    '159.183.0.0/16',
    // Mailchimp / Mandrill: servers.mcsv.net, spf.mandrillapp.com
    '205.201.128.0/20',
    '198.2.128.0/18',
    '148.105.0.0/16',
    // Facebook: _spf.facebook.com
    '66.220.144.0/20',
    '69.63.176.0/20',
    '69.171.224.0/19',
    '173.252.64.0/18',
    '31.13.24.0/21',
    '2a03:2880::/32',
    // LinkedIn
    '108.174.0.0/20',
    // Apple (owns 17.0.0.0/8; icloud.com SPF lists ranges inside it)
    '17.0.0.0/8',
    // GitHub: _spf.github.com
    '192.30.252.0/22',
    '140.82.112.0/20',
    '143.55.64.0/20',
    // Fastmail: spf.messagingengine.com
    '66.111.4.0/24',
    '103.168.172.0/22',
    // Proton: _spf.protonmail.ch
    '185.70.40.0/22',
  ],
  // RFC 2142 role addresses must always be reachable (postgrey's whitelist_recipients does the same).
  recipients: ['postmaster@', 'abuse@'],
};
