// The shipped default whitelist: big senders that retry from pools of addresses, as data.
// Never edited by operators (they add their own `whitelist`, or set `defaultWhitelist: false`).
import type { WhitelistSpec } from './whitelist.ts';

/**
 * SOURCE, and how far to trust it:
 * - client names: the pool senders of postgrey's `postgrey_whitelist_clients` plus the outbound
 *   hostnames the same providers use; matched only against a forward-confirmed client name, so a
 *   spoofed PTR never hits.
 * - CIDRs: the providers' published SPF records, checked (2025) against stored copies of those
 *   records: dig output and SPF expansions in public repositories, the MISP warning list of SMTP
 *   sending ranges (version 20241104) and the expurgate SPF snapshots (2022-2023). The build has no
 *   network, so nothing is fetched at build time. Each block below names its sources; where copies
 *   differ in time the newest one wins, and "not verified" marks entries no source confirmed. SPF
 *   records drift: the pool-aware SPF matching covers what this list misses, and operators can
 *   refresh it from live SPF with `dig TXT` and add entries in their own config.
 * The list only skips greylisting; every other check (DNS lists, SPF policy, spamd) still applies.
 */
export const DEFAULT_WHITELIST_SOURCE =
  "postgrey whitelist_clients + providers' SPF records, checked against stored copies (newest seen 2024-2026)";

export const defaultWhitelist: WhitelistSpec = {
  // Sources for names: postgrey_whitelist_clients in github.com/schweikert/postgrey (upstream) and
  // its forks Theta-Psi/postgrey (entries to 2024-06-26) and bjarn/postgrey (to 2025-06-22), which
  // list google.com, yahoo.com, outlook.com, amazonses.com, mtasv.net, github.com, github.net,
  // mailgun.com/.net/.us, sparkpostmail.com, me.com, protonmail.ch, outmail.facebook.com,
  // mout-xforward.gmx.net / .web.de and fallback*.mail.ru. Entries not in postgrey are the
  // providers' own outbound domains; marked "not in postgrey" where so.
  clientNames: [
    // Google (Gmail, Workspace); postgrey: google.com
    '*.google.com',
    '*.googlemail.com', // not in postgrey
    // Microsoft (Outlook.com, Exchange Online); postgrey: outlook.com
    '*.outlook.com',
    '*.protection.outlook.com',
    '*.hotmail.com', // not in postgrey
    // Yahoo / AOL; postgrey: yahoo.com. yahoodns.net and aol.com: not in postgrey, not verified
    '*.yahoo.com',
    '*.yahoodns.net',
    '*.aol.com',
    // Amazon SES; postgrey: amazonses.com
    '*.amazonses.com',
    // SendGrid (Twilio): not in postgrey
    '*.sendgrid.net',
    // Mailchimp / Mandrill: not in postgrey (postgrey lists their CIDRs and systemalerts.mailchimp.com)
    '*.mcsv.net',
    '*.mcdlv.net',
    '*.rsgsv.net',
    '*.mandrillapp.com',
    // Salesforce / ExactTarget / Marketing Cloud: not in postgrey, not verified
    '*.salesforce.com',
    '*.exacttarget.com',
    // Meta / Facebook; postgrey: outmail.facebook.com, outappmail.facebook.com, mail-mail.facebook.com
    '*.facebook.com',
    '*.facebookmail.com',
    // LinkedIn: not in postgrey, not verified
    '*.linkedin.com',
    // Apple iCloud; postgrey: me.com (2024-02-04)
    '*.icloud.com',
    '*.apple.com',
    '*.me.com',
    // Zoho: not in postgrey, not verified
    '*.zoho.com',
    '*.zoho.eu',
    '*.zohomail.com',
    // Proton; postgrey: protonmail.ch (2019-06-25). proton.ch: not in postgrey, not verified
    '*.protonmail.ch',
    '*.proton.ch',
    // Fastmail: not in postgrey; messagingengine.com is the domain of Fastmail's DKIM (fm1/fm3) and SPF
    '*.messagingengine.com',
    // GitHub; postgrey: github.com, github.net (2016-11-16)
    '*.github.com',
    '*.github.net',
    // Other large pool senders. postgrey: mailgun.com/.net/.us (2022-01-22), sparkpostmail.com
    // (2024-02-04), mtasv.net (2016-05-05), mout-xforward.gmx.net / .web.de (2014-01-29),
    // fallback*.mail.ru (2014-12-18). mailgun.org, postmarkapp.com, mailjet.com, yandex.net:
    // not in postgrey, not verified.
    '*.mailgun.com',
    '*.mailgun.net',
    '*.mailgun.org',
    '*.mailgun.us',
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
    // Google: _spf.google.com -> _netblocks (v4), _netblocks2 (v6), _netblocks3 (v4).
    // Sources: smck83/expurgate expurgate-resolver/output/github-com (2022-09-17, expands all
    // three) and dig output in several public repositories; all agree. _netblocks3 also lists
    // 35.191.0.0/16 and 130.211.0.0/22 (added here).
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
    '35.191.0.0/16',
    '130.211.0.0/22',
    '2001:4860:4000::/36',
    '2404:6800:4000::/36',
    '2607:f8b0:4000::/36',
    '2800:3f0:4000::/36',
    '2a00:1450:4000::/36',
    '2c0f:fb50:4000::/36',
    // Microsoft: spf.protection.outlook.com. Newest copy seen (a DNS report dated 2026-06-09 in a
    // public repository): ip4 40.92.0.0/15 40.107.0.0/16 52.100.0.0/15 52.102.0.0/16 52.103.0.0/17
    // 104.47.0.0/17, ip6 2a01:111:f400::/48 2a01:111:f403::/49 2a01:111:f403:8000::/51
    // 2a01:111:f403:c000::/51 2a01:111:f403:f000::/52. Older: 52.100.0.0/14 and f403::/48 (2020
    // gist jatrost/e342a1b7...), f403:8000::/50 (expurgate spf-protection-outlook-com 2023-03-26,
    // MISP smtp-sending-ips 20241104).
    '40.92.0.0/15',
    '40.107.0.0/16',
    '52.100.0.0/15',
    '52.102.0.0/16',
    '52.103.0.0/17',
    '104.47.0.0/17',
    '2a01:111:f400::/48',
    '2a01:111:f403::/49',
    '2a01:111:f403:8000::/51',
    '2a01:111:f403:c000::/51',
    '2a01:111:f403:f000::/52',
    // Yahoo / AOL outbound pools: Yahoo-held blocks. Not verified as a whole: yahoo.com redirects to
    // _spf.mail.yahoo.com (ptr: plus ip4 ranges) and no stored copy of it was found; the Yahoo
    // ranges in MISP smtp-sending-ips 20241104 (66.163.184.0/21, 68.142.203.0/24, 74.6.128.0/21,
    // 98.136.164.0/24, 98.137.64.0/21, 98.138.84.0/22, 98.139.212.0/23 ...) fall inside these.
    '66.163.160.0/19',
    '68.142.192.0/18',
    '74.6.0.0/16',
    '98.136.0.0/14',
    // Amazon SES: amazonses.com. Newest copy seen (DNS reports dated 2026-06-09 in a public
    // repository, same record in several others): 199.255.192.0/22 199.127.232.0/22 54.240.0.0/18
    // 69.169.224.0/20 23.249.208.0/20 23.251.224.0/19 76.223.176.0/20 54.240.64.0/18
    // 76.223.128.0/19 216.221.160.0/19 206.55.144.0/20 24.110.64.0/18. Older copies split
    // 54.240.64.0/18 into two /19s and lacked the last three.
    '199.255.192.0/22',
    '199.127.232.0/22',
    '54.240.0.0/18',
    '69.169.224.0/20',
    '23.249.208.0/20',
    '23.251.224.0/19',
    '76.223.176.0/20',
    '54.240.64.0/18',
    '76.223.128.0/19',
    '216.221.160.0/19',
    '206.55.144.0/20',
    '24.110.64.0/18',
    // SendGrid: sendgrid.net. Source: smck83/expurgate expurgate-resolver/output/sendgrid-net
    // (2023-03-26); same nine ranges in MISP smtp-sending-ips 20241104. Left out: its
    // include:ab.sendgrid.net (223.165.113.0/24, 223.165.115.0/24, 223.165.118.0/23, 223.165.120.0/23).
    '167.89.0.0/17',
    '208.117.48.0/20',
    '50.31.32.0/19',
    '198.37.144.0/20',
    '198.21.0.0/21',
    '192.254.112.0/20',
    '168.245.0.0/17',
    '149.72.0.0/16',
    '159.183.0.0/16',
    // Mailchimp / Mandrill: servers.mcsv.net = 205.201.128.0/20 198.2.128.0/18 148.105.8.0/21
    // (gist jatrost/e342a1b7... 2020-07-05; expurgate github-com 2022-09-17; MISP 20241104).
    // postgrey (2018-09-23) had 148.105.0.0/16; the newer SPF has only the /21. spf.mandrillapp.com
    // ranges (198.2.128.0/24, 198.2.132.0/22, 205.201.136.0/23 ...) fall inside the first two.
    '205.201.128.0/20',
    '198.2.128.0/18',
    '148.105.8.0/21',
    // Facebook: _spf.facebook.com = facebookmail.com SPF = 66.220.144.128/25 66.220.155.0/24
    // 66.220.157.0/25 69.63.178.128/25 69.63.181.0/24 69.63.184.0/25 69.171.232.0/24
    // 69.171.244.0/23, no ip6 (ucode resolv docs; a 2019 blog post quoting facebookmail.com; MISP
    // 20241104). Replaces the wider 66.220.144.0/20, 69.63.176.0/20, 69.171.224.0/19 and the
    // 173.252.64.0/18, 31.13.24.0/21, 2a03:2880::/32 that no SPF copy lists.
    '66.220.144.128/25',
    '66.220.155.0/24',
    '66.220.157.0/25',
    '69.63.178.128/25',
    '69.63.181.0/24',
    '69.63.184.0/25',
    '69.171.232.0/24',
    '69.171.244.0/23',
    // LinkedIn: 108.174.0.0/20 is LinkedIn's block (not verified as a whole). linkedin.com SPF
    // (a scan dated 2026-09-27 in a public repository): 108.174.0.0/24 108.174.3.0/24
    // 108.174.6.0/24 (inside the /20), 199.101.162.0/25, 199.101.161.130 and four ip6 /64s (added).
    '108.174.0.0/20',
    '199.101.162.0/25',
    '199.101.161.130',
    '2620:109:c00d:104::/64',
    '2620:109:c006:104::/64',
    '2620:109:c003:104::/64',
    '2620:119:50c0:207::/64',
    // Apple: holds 17.0.0.0/8; apple.com SPF (_spf.apple.com, _spf-txn.apple.com; expurgate
    // apple-com 2022-09-17) lists only ranges inside it. icloud.com SPF (a copy dated 2025-09-09;
    // MISP 20241104) also lists 144.178.36.0/24, 144.178.38.0/24, 57.103.64.0/18 and seven ip6
    // /56s (added); its /29s at Chinese carriers are left out.
    '17.0.0.0/8',
    '144.178.36.0/24',
    '144.178.38.0/24',
    '57.103.64.0/18',
    '2a01:b747:3000:200::/56',
    '2a01:b747:3001:200::/56',
    '2a01:b747:3002:200::/56',
    '2a01:b747:3003:200::/56',
    '2a01:b747:3004:200::/56',
    '2a01:b747:3005:200::/56',
    '2a01:b747:3006:200::/56',
    // GitHub: github.com SPF (expurgate github-com 2022-09-15/17; 2020 dig output) lists one own
    // range, 192.30.252.0/22 (the rest are includes and hosts at SendGrid/Rackspace). No copy of
    // _spf.github.com was found; 140.82.112.0/20 and 143.55.64.0/20 (GitHub web/API ranges) are in
    // no SPF copy and were dropped.
    '192.30.252.0/22',
    // Fastmail: 66.111.4.0/24 (SPF rule in an Authentication-Results header for fastmail.com) and
    // 103.168.172.128/27 (SPF rule in rspamd headers of Fastmail mail, 2025; MISP 20241104).
    // Replaces 103.168.172.0/22, wider than any SPF copy.
    '66.111.4.0/24',
    '103.168.172.128/27',
    // Proton: _spf.protonmail.ch = 185.70.40.0/24 185.70.41.0/24 185.70.43.0/24 79.135.106.0/24
    // 79.135.107.0/24 109.224.244.0/24 + include:_spf2.protonmail.ch (newest copy in a public
    // repository; MISP 20241104 has 185.70.40.0/23, 185.70.43.0/24, 79.135.106.0/23,
    // 109.224.244.0/24). Replaces 185.70.40.0/22, which also covered 185.70.42.0/24.
    '185.70.40.0/23',
    '185.70.43.0/24',
    '79.135.106.0/23',
    '109.224.244.0/24',
  ],
  // RFC 2142 role addresses must always be reachable (postgrey's whitelist_recipients does the same).
  recipients: ['postmaster@', 'abuse@'],
};
