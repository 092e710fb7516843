// Who may send as whom: Postfix's reject_*_sender_login_mismatch against smtpd_sender_login_maps.
// Trusts the SASL login the edge verified and the maps' owners; the sender address is client input.
import { type Ctx, DUNNO, MAIL, type Result, SKIP_NO_SENDER, type Wait } from '../engine/context.ts';
import { lookupFirst } from './access.ts';
import { lookupFailed } from '../engine/lookups.ts';
import { isPatternMap, ownerKeys } from './access-keys.ts';
import { define } from './define.ts';

const NO_MAPS: Result = { outcome: 'dunno', reason: 'no smtpd_sender_login_maps' };

/** The owners (SASL logins) of a sender address: the first (key, map) pair found, in Postfix's order; undefined: none. */
function owners(ctx: Ctx, sender: string, then: (found: string | undefined) => Result): Result | Wait {
  const env = ctx.env;
  const pairs: Array<[string, string]> = [];
  const full = ownerKeys(sender, { delimiter: env.recipientDelimiter, myOrigin: env.myHostnameLower }, false);
  // Postfix's maps_find: each key in every map in turn; pattern tables only for the full key
  for (let k = 0; k < full.length; k++) for (const map of env.senderLoginMaps) if (k === 0 || !isPatternMap(map)) pairs.push([map, full[k]!]);
  const failed = (e: unknown): Result => lookupFailed(sender, 'smtpd_sender_login_maps', e);
  return lookupFirst(ctx, pairs.length, (i) => pairs[i]![0], (i) => pairs[i]![1], then, failed, () => then(undefined));
}

/** Postfix reject_auth_sender_login_mismatch: a logged-in client must own the sender (or, if allowed, the sender has no owner). */
function authMismatch(ctx: Ctx, sender: string, login: string, allowUnknown: boolean): Result | Wait {
  return owners(ctx, sender, (list): Result => {
    if (list === undefined && allowUnknown) return { outcome: 'dunno', reason: `${sender} has no owner` };
    const names = list?.split(/[,\s]+/).filter((n) => n !== '') ?? [];
    const l = login.toLowerCase();
    if (names.some((n) => n.toLowerCase() === l)) return { outcome: 'dunno', reason: `${sender} owned by ${login}` };
    return {
      outcome: 'reject',
      status: '5.7.1',
      text: `<${sender}>: Sender address rejected: not owned by user ${login}`,
      reason: list === undefined ? `${sender} has no owner` : `owners: ${names.join(', ')}`,
      smtpCode: 553,
    };
  });
}

/** Postfix reject_unauth_sender_login_mismatch: a sender address that has an owner needs a login. */
function unauthMismatch(ctx: Ctx, sender: string): Result | Wait {
  return owners(ctx, sender, (list): Result => {
    if (list === undefined) return { outcome: 'dunno', reason: `${sender} has no owner` };
    return { outcome: 'reject', status: '5.7.1', text: `<${sender}>: Sender address rejected: not logged in`, reason: `owners: ${list}`, smtpCode: 553 };
  });
}

type Check = (ctx: Ctx, sender: string, login: string | undefined) => Result | Wait;

const loginCheck = <const N extends string>(name: N, check: Check) =>
  define({
    name,
    arg: 'none',
    stage: MAIL,
    rejectCode: 553,
    evaluate: (_c, ctx) => {
      const sender = ctx.facts.sender;
      if (sender === undefined) return SKIP_NO_SENDER;
      if (sender === '') return DUNNO;
      if (ctx.env.senderLoginMaps.length === 0) return NO_MAPS;
      return check(ctx, sender, ctx.facts.saslUsername || undefined);
    },
  });

export const rejectAuthenticatedSenderLoginMismatch = loginCheck('reject_authenticated_sender_login_mismatch', (ctx, sender, login) => (login ? authMismatch(ctx, sender, login, false) : DUNNO));

export const rejectUnauthenticatedSenderLoginMismatch = loginCheck('reject_unauthenticated_sender_login_mismatch', (ctx, sender, login) => (login ? DUNNO : unauthMismatch(ctx, sender)));

/** Postfix's restriction class: the authenticated check, then the unauthenticated one. */
export const rejectSenderLoginMismatch = loginCheck('reject_sender_login_mismatch', (ctx, sender, login) => (login ? authMismatch(ctx, sender, login, false) : unauthMismatch(ctx, sender)));

export const rejectKnownSenderLoginMismatch = loginCheck('reject_known_sender_login_mismatch', (ctx, sender, login) => (login ? authMismatch(ctx, sender, login, true) : unauthMismatch(ctx, sender)));
