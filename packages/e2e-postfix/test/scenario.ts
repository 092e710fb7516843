// The admin's setup both servers get: one main.cf and its map files, with a loopback sink per next hop.
// Trusts nothing but itself; every address and port is on loopback or in a reserved test domain.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** The next hops a message can end at: each is its own smtp-sink, so "where it went" is observable. */
export const HOPS = ['local', 'virtual', 'relay', 'remote', 'special'] as const;
export type Hop = (typeof HOPS)[number];

export const MYNETWORK_CLIENT = '192.0.2.10';
export const STRANGER = '203.0.113.9';
export const OVERRIDE_CLIENT = '198.51.100.7';
export const BLOCKED_CLIENT = '198.51.100.66';
/** Listed in the test DNS whitelist (DNSWL_ZONE), served by rbldnsd to both servers. */
export const DNSWL_CLIENT = '198.51.100.20';
export const DNSWL_ZONE = 'dnswl.moat.test';
/** The zone's data (rbldnsd ip4set): the client, and RFC 5782's test point (moat's zone health check asks it). */
export const DNSWL_DATA = `:127.0.10.2:listed at ${DNSWL_ZONE}\n127.0.0.2\n${DNSWL_CLIENT}\n`;

/** The map files, by name, as an admin writes them (postmap source syntax). */
export const MAP_FILES: Readonly<Record<string, string>> = {
  local_recipients: `# the local users of mydestination
alice   x
bob     x
wlonly  x
defer43 x
reject517 x
reject41 x
postmaster x
`,
  virtual: `# virtual_alias_maps
info@alias.test        alice@local.test
team@alias.test        alice@local.test, bob@local.test
outside@alias.test     someone@remote.test
nested@alias.test      info@alias.test
self@alias.test        self@alias.test, bob@local.test
loop1@alias.test       loop2@alias.test
loop2@alias.test       loop1@alias.test
relayed@alias.test     r1@relay.test
@catchall.test         alice@local.test
@olddomain.test        @local.test
`,
  vmailbox: `carol@mbox.test  carol/
dave@mbox.test   dave/
`,
  relay_recipients: `r1@relay.test   x
r2@relay.test   x
`,
  transport: `special.test    smtp:[127.0.0.1]:{special}
error.test      error:5.1.2 This domain takes no mail
discard.test    discard:silently dropped
`,
  dnswl_only: `# reached only by clients that no earlier restriction permitted: the DNS whitelist's OK shows
wlonly@local.test   REJECT not on the DNS whitelist
# an admin's enhanced status without a code: access_map_defer_code / access_map_reject_code, the status's class fitted
defer43@local.test    DEFER 4.3.2 try later
reject517@local.test  REJECT 5.1.7 bad syntax
reject41@local.test   REJECT 4.1.1 wrong class
`,
  rbl_override: `${OVERRIDE_CLIENT}/32   OK
${BLOCKED_CLIENT}/32  REJECT go away
`,
};

/**
 * The main.cf both get (the admin's keys only; the Postfix instance adds its private queue/log settings).
 * `{dir}` is the map directory, `{hop}` a sink port.
 */
export const MAIN_CF = `# a site like the seed's: local users, virtual aliases, a virtual mailbox domain, a backup-MX relay domain
myhostname = mx.moat.test
mydestination = $myhostname, localhost, local.test
local_recipient_maps = texthash:{dir}/local_recipients
alias_maps =
virtual_alias_domains = alias.test, olddomain.test, catchall.test
virtual_alias_maps = texthash:{dir}/virtual
virtual_mailbox_domains = mbox.test
virtual_mailbox_maps = texthash:{dir}/vmailbox
relay_domains = relay.test
relay_recipient_maps = texthash:{dir}/relay_recipients
transport_maps = texthash:{dir}/transport
local_transport = smtp:[127.0.0.1]:{local}
virtual_transport = smtp:[127.0.0.1]:{virtual}
relay_transport = smtp:[127.0.0.1]:{relay}
default_transport = smtp:[127.0.0.1]:{remote}
recipient_delimiter = +
mynetworks = 192.0.2.0/24
strict_rfc821_envelopes = yes
smtpd_helo_required = yes
smtpd_delay_reject = yes
smtpd_sasl_auth_enable = yes
smtpd_recipient_restrictions =
 check_client_access cidr:{dir}/rbl_override,
 permit_mynetworks,
 permit_sasl_authenticated,
 permit_dnswl_client ${DNSWL_ZONE},
 check_recipient_access texthash:{dir}/dnswl_only,
 reject_unauth_destination,
 permit
`;

const fill = (text: string, dir: string, ports: Readonly<Record<Hop, number>>): string =>
  text.replace(/\{(\w+)\}/g, (m, k: string) => (k === 'dir' ? dir : k in ports ? String(ports[k as Hop]) : m));

/** Writes the maps into `dir` and returns the main.cf text (both filled in for these sink ports). */
export async function writeScenario(dir: string, ports: Readonly<Record<Hop, number>>): Promise<string> {
  for (const [name, text] of Object.entries(MAP_FILES)) await writeFile(join(dir, name), fill(text, dir, ports));
  const main = fill(MAIN_CF, dir, ports);
  await writeFile(join(dir, 'main.cf'), main);
  return main;
}

/**
 * testkit's private-instance settings that an admin's main.cf leaves to Postfix's defaults: removed, so the
 * Postfix under test applies its real defaults exactly where moat must apply them too.
 */
const POSTFIX_DEFAULTS_KEPT = ['smtpd_relay_restrictions', 'myorigin', 'mydomain', 'relay_domains', 'alias_maps', 'alias_database', 'local_recipient_maps'];

/**
 * main.cf text as `key -> value` (continuation lines joined), for handing to testkit's startPostfix; the
 * keys the text does not set and testkit would are removed (null), so Postfix's own defaults apply.
 */
export function mainCfEntries(text: string): Record<string, string | null> {
  const out: Record<string, string | null> = Object.fromEntries(POSTFIX_DEFAULTS_KEPT.map((k) => [k, null]));
  let key: string | undefined;
  for (const line of text.split('\n')) {
    if (/^\s*(#|$)/.test(line)) continue;
    if (/^\s/.test(line) && key) out[key] = `${out[key]} ${line.trim()}`.trim();
    else {
      const m = /^([A-Za-z0-9_]+)\s*=\s*(.*)$/.exec(line);
      if (!m) throw new Error(`main.cf: cannot read ${line}`);
      key = m[1]!;
      out[key] = m[2]!.trim();
    }
  }
  return out;
}
