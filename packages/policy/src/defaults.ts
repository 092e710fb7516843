// Postfix 2.10+'s default relay control list, as data: the only place relaying is authorised.
// Trusts nothing: permits here are the client's network or a SASL login, nothing a DNS list says.
import type { Restriction } from './types.ts';

/** smtpd_relay_restrictions default: `permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination`. */
export const DEFAULT_RELAY_RESTRICTIONS: readonly Restriction[] = Object.freeze([
  Object.freeze({ type: 'permit_mynetworks' }),
  Object.freeze({ type: 'permit_sasl_authenticated' }),
  Object.freeze({ type: 'reject_unauth_destination' }),
] as const);
