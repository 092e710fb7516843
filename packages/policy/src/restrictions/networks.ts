// Who the client is: our own networks, a SASL login.
// Trusts mynetworks from the spec and the SASL login the edge verified.
import { DUNNO, fixStatus, MAIL, type Result } from '../engine/context.ts';
import { inMyNetworks } from '../engine/lookups.ts';
import { define } from './define.ts';

export const permitMynetworks = define({
  name: 'permit_mynetworks',
  arg: 'none',
  stage: 0,
  evaluate: (_c, ctx) => (inMyNetworks(ctx) ? { outcome: 'permit', status: '2.0.0', text: 'Ok', reason: `${ctx.clientText} in mynetworks` } : DUNNO),
});

export const permitSaslAuthenticated = define({
  name: 'permit_sasl_authenticated',
  arg: 'none',
  stage: MAIL,
  evaluate: (_c, ctx) => (ctx.facts.saslUsername ? { outcome: 'permit', status: '2.0.0', text: 'Ok', reason: 'authenticated' } : DUNNO),
});

/** Postfix reject_unknown_client: no forward-confirmed name. 450 when the lookup failed for now. */
export const rejectUnknownClientHostname = define({
  name: 'reject_unknown_client_hostname',
  aliases: ['reject_unknown_client'],
  arg: 'none',
  stage: 0,
  rejectCode: 450, // unknown_client_reject_code (results carry it)
  evaluate: (_c, ctx): Result => {
    const f = ctx.facts;
    if (f.clientName) return DUNNO;
    const code = f.clientNameTempFail ? 450 : ctx.env.unknownClientRejectCode;
    return {
      outcome: code < 500 ? 'defer' : 'reject',
      status: fixStatus(code, '4.7.25'), // RFC 7372
      text: `Client host rejected: cannot find your hostname, [${f.clientAddress}]`,
      reason: f.clientNameTempFail ? 'client name lookup failed for now' : 'no forward-confirmed client name',
      smtpCode: code,
    };
  },
});

/** Postfix reject_unknown_reverse_client_hostname: no PTR name at all. 450 when the lookup failed for now. */
export const rejectUnknownReverseClientHostname = define({
  name: 'reject_unknown_reverse_client_hostname',
  arg: 'none',
  stage: 0,
  rejectCode: 450,
  evaluate: (_c, ctx): Result => {
    const f = ctx.facts;
    if (f.reverseClientName) return DUNNO;
    const code = f.reverseClientNameTempFail ? 450 : ctx.env.unknownClientRejectCode;
    return {
      outcome: code < 500 ? 'defer' : 'reject',
      status: fixStatus(code, '4.7.1'),
      text: `Client host rejected: cannot find your reverse hostname, [${f.clientAddress}]`,
      reason: f.reverseClientNameTempFail ? 'reverse lookup failed for now' : 'no reverse name',
      smtpCode: code,
    };
  },
});
