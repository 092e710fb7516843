// Where moat answers differently from Postfix on purpose, and why. The suite fails on any difference not
// listed here, and on an entry that no longer matches anything (so the table stays true).
import type { Case } from './cases.ts';

export interface KnownDifference {
  field: 'rcpt' | 'data' | 'dest';
  matches(c: Case): boolean;
  /** The exact outcomes, when the difference is about one pair of answers. */
  postfix?: string | undefined;
  moat?: string | undefined;
  reason: string;
}

const rcpt = (r: string) => (c: Case) => c.recipient === r;
const trusted = (c: Case) => c.client.name === 'mynetworks' || c.client.name === 'sasl';
/** The forms that route elsewhere through a domain of ours: the percent hack, a quoted `@`, an address literal. */
const HOSTILE = ['<user%remote.test@local.test>', '<"user@remote.test"@local.test>', '<user@[192.0.2.1]>'];
const hostile = (c: Case) => HOSTILE.includes(c.recipient);

const HOSTILE_REASON =
  'moat refuses recipient forms that route elsewhere (percent hack, quoted @, address literals) before any list runs, for every client ' +
  '(docs/design.md: relay safety). Postfix rewrites them (allow_percent_hack, resolve_dequoted_address) and relays them for trusted ' +
  'clients, and answers a stranger with its default defer_unauth_destination (454); moat answers 554 5.7.1 (501 5.1.3 for the quoted form).';

// The DNS-whitelisted client (permit_dnswl_client, answered by the same rbldnsd for both) shows no difference of
// its own: like Postfix, moat still refuses its unknown users (smtpd_reject_unlisted_recipient after the OK) and
// its relaying (smtpd_relay_restrictions first); its hostile forms fall under the untrusted HOSTILE entries.
export const KNOWN_DIFFERENCES: readonly KnownDifference[] = [
  {
    field: 'dest',
    matches: rcpt('<ALICE@LOCAL.TEST>'),
    postfix: 'local:ALICE@LOCAL.TEST',
    moat: 'local:ALICE@local.test',
    reason: 'moat lower-cases the domain of a resolved address (domains are case-insensitive, RFC 5321 2.4); the local part keeps its case, as in Postfix',
  },
  {
    field: 'rcpt',
    matches: rcpt('<loop1@alias.test>'),
    postfix: '250 2.1.5',
    moat: '550 5.4.6',
    reason: 'a virtual alias loop: Postfix accepts at RCPT and then answers 451 4.6.0 at end of DATA on every retry (the sender keeps trying for days); moat refuses it at RCPT with 5.4.6 (RFC 3463: routing loop)',
  },
  { field: 'data', matches: rcpt('<loop1@alias.test>'), postfix: '451 4.6.0', moat: '-', reason: 'the same alias loop, refused by moat at RCPT' },
  {
    field: 'dest',
    matches: rcpt('<nobody@olddomain.test>'),
    postfix: 'local:nobody@local.test',
    moat: 'remote:sender@remote.test(from <>)',
    reason:
      '@olddomain.test rewrites to nobody@local.test, a user local_recipient_maps does not list. In this suite Postfix hands local mail to a sink (no local(8)) and so delivers it; ' +
      "moat's delivery checks the rewritten address as local(8) would and bounces it to the sender, which is what Postfix does with its own local delivery",
  },
  { field: 'rcpt', matches: (c) => hostile(c) && !trusted(c), postfix: '454 4.7.1', reason: HOSTILE_REASON },
  { field: 'rcpt', matches: (c) => hostile(c) && trusted(c), postfix: '250 2.1.5', reason: HOSTILE_REASON },
  { field: 'data', matches: (c) => hostile(c) && trusted(c), postfix: '250 2.0.0', moat: '-', reason: HOSTILE_REASON },
  { field: 'dest', matches: (c) => hostile(c) && trusted(c), moat: 'nowhere', reason: HOSTILE_REASON },
];
