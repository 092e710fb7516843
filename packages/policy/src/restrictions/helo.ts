// HELO restrictions: a HELO at all, its syntax, a fully-qualified name, and a stranger claiming to be us.
// Trusts nothing in the HELO name; our own name and addresses come from the spec.
import { heloSyntaxProblem, isFqdn, parseAddressLiteral } from '../address.ts';
import { type Ctx, DUNNO, HELO, lowerName, type Result, SKIP_NO_HELO } from '../engine/context.ts';
import { inMyNetworks } from '../engine/lookups.ts';
import { formatIp, parseIp } from '../ip.ts';
import { define } from './define.ts';

export const rejectMissingHelo = define({
  name: 'reject_missing_helo',
  arg: 'none',
  stage: HELO,
  rejectCode: 503, // smtpd_helo_required: "Error: send HELO/EHLO first"
  evaluate: (_c, ctx): Result => {
    const helo = ctx.facts.helo;
    if (helo === undefined || helo === '') return { outcome: 'reject', status: '5.5.1', text: 'Error: send HELO/EHLO first', reason: 'no HELO/EHLO' };
    return DUNNO;
  },
});

function invalidHelo(ctx: Ctx): Result {
  const helo = ctx.facts.helo;
  if (helo === undefined) return SKIP_NO_HELO;
  const problem = heloSyntaxProblem(helo);
  if (problem) {
    return { outcome: 'reject', status: '5.5.2', subject: { name: helo, context: 'Helo command rejected' }, text: 'Invalid name', reason: problem === 'literal' ? 'malformed address literal' : 'bad hostname syntax' };
  }
  // A stranger claiming to be us: forged. Our own networks may legitimately say our name.
  const env = ctx.env;
  const literal = parseAddressLiteral(helo);
  let ours = false;
  if (literal !== undefined) {
    const ip = parseIp(literal);
    ours = ip !== undefined && env.myAddresses.has(formatIp(ip));
  } else ours = helo.length - env.myHostnameLower.length <= 1 && lowerName(helo) === env.myHostnameLower;
  if (ours && !inMyNetworks(ctx)) {
    return { outcome: 'reject', status: '5.7.1', subject: { name: helo, context: 'Helo command rejected' }, text: 'You are not me', reason: 'claims our own name or address', smtpCode: 554 };
  }
  return DUNNO;
}

export const rejectInvalidHeloHostname = define({
  name: 'reject_invalid_helo_hostname',
  aliases: ['reject_invalid_hostname'],
  arg: 'none',
  stage: HELO,
  rejectCode: 501, // invalid_hostname_reject_code
  evaluate: (_c, ctx) => invalidHelo(ctx),
});

export const rejectNonFqdnHeloHostname = define({
  name: 'reject_non_fqdn_helo_hostname',
  aliases: ['reject_non_fqdn_hostname'],
  arg: 'none',
  stage: HELO,
  rejectCode: 504, // non_fqdn_reject_code
  evaluate: (_c, ctx): Result => {
    const helo = ctx.facts.helo;
    if (helo === undefined) return SKIP_NO_HELO;
    // address literals are not names; the syntax check handles them
    if (helo.startsWith('[')) return DUNNO;
    if (!isFqdn(helo)) return { outcome: 'reject', status: '5.5.2', subject: { name: helo, context: 'Helo command rejected' }, text: 'need fully-qualified hostname', reason: 'not a fully-qualified name' };
    return DUNNO;
  },
});
