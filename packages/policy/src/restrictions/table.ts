// The table of every restriction moat knows, in the order error messages list them (Postfix's smtpd_check.c name table).
// Adding a restriction: one module (or one export in its family's module) and one line here.
import * as access from './access.ts';
import type { RestrictionDef } from './define.ts';
import * as dns from './dns-lists.ts';
import * as dnsblScore from './dnsbl-score.ts';
import * as generic from './generic.ts';
import * as helo from './helo.ts';
import * as networks from './networks.ts';
import * as policyService from './policy-service.ts';
import * as recipient from './recipient.ts';
import * as relay from './relay.ts';
import * as sender from './sender.ts';
import * as senderLogin from './sender-login.ts';
import * as unknownDomain from './unknown-domain.ts';

export const RESTRICTIONS = [
  generic.permit,
  generic.reject,
  generic.defer,
  generic.dunno,
  helo.rejectMissingHelo,
  helo.rejectInvalidHeloHostname,
  helo.rejectNonFqdnHeloHostname,
  sender.rejectNonFqdnSender,
  recipient.rejectNonFqdnRecipient,
  recipient.rejectUnlistedRecipient,
  networks.permitMynetworks,
  access.checkClientAccess,
  networks.permitSaslAuthenticated,
  dns.permitDnswlClient,
  dns.permitRhswlClient,
  dns.rejectRblClient,
  dns.rejectRhsblClient,
  dns.rejectRhsblReverseClient,
  dns.rejectRhsblSender,
  dns.rejectRhsblHelo,
  dnsblScore.permitDnsblScore,
  dnsblScore.rejectDnsblScore,
  policyService.checkPolicyService,
  relay.rejectUnauthDestination,
  relay.permitAuthDestination,
  relay.deferUnauthDestination,
  sender.rejectUnlistedSender,
  access.checkHeloAccess,
  access.checkSenderAccess,
  access.checkRecipientAccess,
  senderLogin.rejectSenderLoginMismatch,
  senderLogin.rejectAuthenticatedSenderLoginMismatch,
  senderLogin.rejectKnownSenderLoginMismatch,
  senderLogin.rejectUnauthenticatedSenderLoginMismatch,
  unknownDomain.rejectUnknownSenderDomain,
  unknownDomain.rejectUnknownRecipientDomain,
  networks.rejectUnknownClientHostname,
  networks.rejectUnknownReverseClientHostname,
  generic.rejectUnauthPipelining,
  generic.warnIfReject,
  generic.deferIfPermitRestriction,
  generic.deferIfRejectRestriction,
] as const;

/** By name, and by each older name (Postfix's aliases). Names are interned: the table's own strings. */
export const BY_NAME: ReadonlyMap<string, RestrictionDef> = new Map<string, RestrictionDef>(RESTRICTIONS.flatMap((d): Array<[string, RestrictionDef]> => [[d.name, d], ...(d.aliases ?? []).map((a): [string, RestrictionDef] => [a, d])]));
