// The corpus: client classes x senders x recipients, each one SMTP session run against both servers.
// Every address is in a reserved test domain; the client identities are set with XCLIENT.
import { BLOCKED_CLIENT, DNSWL_CLIENT, MYNETWORK_CLIENT, OVERRIDE_CLIENT, STRANGER } from './scenario.ts';

export interface Client {
  name: string;
  /** XCLIENT attributes (ADDR, NAME, LOGIN). */
  xclient: string;
}

export const CLIENTS: readonly Client[] = [
  { name: 'stranger', xclient: `ADDR=${STRANGER} NAME=[UNAVAILABLE]` },
  { name: 'mynetworks', xclient: `ADDR=${MYNETWORK_CLIENT} NAME=[UNAVAILABLE]` },
  { name: 'sasl', xclient: `ADDR=${STRANGER} NAME=[UNAVAILABLE] LOGIN=alice` },
  { name: 'override', xclient: `ADDR=${OVERRIDE_CLIENT} NAME=[UNAVAILABLE]` },
  { name: 'blocked', xclient: `ADDR=${BLOCKED_CLIENT} NAME=[UNAVAILABLE]` },
  // permit_dnswl_client: OK in smtpd_recipient_restrictions, yet no relay (smtpd_relay_restrictions runs first)
  // and no unknown user (smtpd_reject_unlisted_recipient applies after an OK too)
  { name: 'dnswl', xclient: `ADDR=${DNSWL_CLIENT} NAME=[UNAVAILABLE]` },
];

/** Recipients as written after `RCPT TO:` (the path, brackets included). */
export const RECIPIENTS: readonly string[] = [
  '<alice@local.test>',
  '<nobody@local.test>',
  '<alice+tag@local.test>',
  '<ALICE@LOCAL.TEST>',
  '<"alice"@local.test>',
  '<alice@mx.moat.test>',
  '<postmaster>',
  '<info@alias.test>',
  '<info+x@alias.test>',
  '<team@alias.test>',
  '<nested@alias.test>',
  '<self@alias.test>',
  '<loop1@alias.test>',
  '<outside@alias.test>',
  '<relayed@alias.test>',
  '<anything@catchall.test>',
  '<alice@olddomain.test>',
  '<nobody@olddomain.test>',
  '<nobody@alias.test>',
  '<carol@mbox.test>',
  '<nobody@mbox.test>',
  '<r1@relay.test>',
  '<nobody@relay.test>',
  '<someone@remote.test>',
  '<user@special.test>',
  '<user@error.test>',
  '<user@discard.test>',
  '<user%remote.test@local.test>',
  '<"user@remote.test"@local.test>',
  '<@local.test:user@remote.test>',
  '<user@[192.0.2.1]>',
  // a local user that check_recipient_access refuses unless an earlier restriction permitted the client
  '<wlonly@local.test>',
  // DEFER / REJECT with an enhanced status and no code (access_map_defer_code, access_map_reject_code)
  '<defer43@local.test>',
  '<reject517@local.test>',
  '<reject41@local.test>',
];

/** MAIL FROM paths: the common one, then the forms the sender variants use. */
export const SENDER = '<sender@remote.test>';
export const SENDER_VARIANTS: readonly string[] = ['<alice@local.test>', '<>', 'sender@remote.test', '<sender@remote>', '<bad sender@remote.test>'];

export interface Case {
  id: string;
  client: Client;
  sender: string;
  recipient: string;
}

export function allCases(): Case[] {
  const cases: Case[] = [];
  for (const client of CLIENTS) {
    for (const recipient of RECIPIENTS) cases.push({ id: `${client.name} ${SENDER} ${recipient}`, client, sender: SENDER, recipient });
  }
  for (const client of CLIENTS.slice(0, 3)) {
    for (const sender of SENDER_VARIANTS) {
      for (const recipient of ['<alice@local.test>', '<someone@remote.test>']) cases.push({ id: `${client.name} ${sender} ${recipient}`, client, sender, recipient });
    }
  }
  return cases;
}
