// Who the client is: our own networks, a SASL login.
// Trusts mynetworks from the spec and the SASL login the edge verified.
import { type Ctx, DUNNO, fixStatus, MAIL, type Result } from '../engine/context.ts';
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

/** The two unknown-client checks: no name (of their kind) is unknown_client_reject_code, 450 when the lookup failed for now. */
function unknownClient<const N extends string>(d: {
  name: N;
  aliases?: readonly string[];
  known(f: Ctx['facts']): boolean;
  tempFail(f: Ctx['facts']): boolean;
  status: string;
  what: string;
  reasons: { tempFail: string; unknown: string };
}) {
  return define({
    name: d.name,
    ...(d.aliases ? { aliases: d.aliases } : {}),
    arg: 'none',
    stage: 0,
    rejectCode: 450, // unknown_client_reject_code (results carry it)
    evaluate: (_c, ctx): Result => {
      const f = ctx.facts;
      if (d.known(f)) return DUNNO;
      const tempFail = d.tempFail(f);
      const code = tempFail ? 450 : ctx.env.unknownClientRejectCode;
      return {
        outcome: code < 500 ? 'defer' : 'reject',
        status: fixStatus(code, d.status),
        text: `Client host rejected: cannot find your ${d.what}, [${f.clientAddress}]`,
        reason: tempFail ? d.reasons.tempFail : d.reasons.unknown,
        smtpCode: code,
      };
    },
  });
}

/** Postfix reject_unknown_client: no forward-confirmed name. */
export const rejectUnknownClientHostname = unknownClient({
  name: 'reject_unknown_client_hostname',
  aliases: ['reject_unknown_client'],
  known: (f) => !!f.clientName,
  tempFail: (f) => !!f.clientNameTempFail,
  status: '4.7.25', // RFC 7372
  what: 'hostname',
  reasons: { tempFail: 'client name lookup failed for now', unknown: 'no forward-confirmed client name' },
});

/** Postfix reject_unknown_reverse_client_hostname: no PTR name at all. */
export const rejectUnknownReverseClientHostname = unknownClient({
  name: 'reject_unknown_reverse_client_hostname',
  known: (f) => !!f.reverseClientName,
  tempFail: (f) => !!f.reverseClientNameTempFail,
  status: '4.7.1',
  what: 'reverse hostname',
  reasons: { tempFail: 'reverse lookup failed for now', unknown: 'no reverse name' },
});
