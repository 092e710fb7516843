// Who the client is: our own networks, a SASL login.
// Trusts mynetworks from the spec and the SASL login the edge verified.
import { DUNNO, MAIL } from '../engine/context.ts';
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
