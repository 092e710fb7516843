// Who may send as whom: Postfix's reject_*_sender_login_mismatch against smtpd_sender_login_maps.
// Trusts the SASL login the edge verified and the maps' owners; the sender address is client input.
import { type Ctx, DUNNO, MAIL, type Result, SKIP_NO_SENDER, type Wait } from '../engine/context.ts';
import { lookupFirst } from './access.ts';
import { classifyOther, lookupFailed } from '../engine/lookups.ts';
import { isPatternMap, ownerKeys } from './access-keys.ts';
import { define } from './define.ts';

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

/**
 * moat's addition (PolicySpec.loginOwnsItself, the listeners' own check only): a login that is an address owns
 * that address; a bare login (`alice`) owns `alice@` each domain we host (never a relay domain's, the backup-MX
 * case, when the directory says which class it is); both with or without an extension, whatever the maps say.
 * `then(false)`: the maps decide.
 */
function ownAddress(ctx: Ctx, sender: string, login: string, then: (own: boolean) => Result | Wait): Result | Wait {
  const isAddress = /^[^@\s]+@[^@\s]+$/.test(login);
  if (!ctx.env.spec.loginOwnsItself || !(isAddress || /^[^@\s]+$/.test(login))) return then(false);
  const env = ctx.env;
  const l = login.toLowerCase();
  // the full address, then the address without its extension (a local part alone or `@domain` never equals an address)
  const keys = ownerKeys(sender, { delimiter: env.recipientDelimiter, myOrigin: env.myHostnameLower }, false);
  if (isAddress) return then(keys.includes(l));
  const address = keys[1]?.includes('@') && !keys[1].startsWith('@') ? keys[1] : keys[0]!;
  if (address.slice(0, address.lastIndexOf('@')) !== l) return then(false);
  const failed = (e: unknown): Result => lookupFailed(sender, 'recipient directory', e);
  // an address in a domain we host: never a relay domain's (a backup MX's customer: someone else's mailbox)
  const verify = env.ports.recipients.verifySync;
  if (verify) {
    try {
      const v = verify(address);
      return then(v.class !== undefined ? v.class !== 'relay' && v.class !== 'remote' : v.accepted);
    } catch (e) {
      return failed(e);
    }
  }
  // as the verifySync branch: whatever `then` throws (the maps' step) is a temporary failure, never an escape
  const next = (c: string): Result | Wait => {
    try {
      return then(c !== 'remote');
    } catch (e) {
      return failed(e);
    }
  };
  return classifyOther(ctx, address, next, failed);
}

/**
 * Postfix reject_auth_sender_login_mismatch: a logged-in client must own the sender (or, if allowed, the sender
 * has no owner). Without any map nobody owns anything, so a logged-in client is refused every sender, as Postfix
 * does (checked against Debian's Postfix 3.7.11: empty smtpd_sender_login_maps, XCLIENT LOGIN, 553 for any sender).
 */
function authMismatch(ctx: Ctx, sender: string, login: string, allowUnknown: boolean): Result | Wait {
  return ownAddress(ctx, sender, login, (own) => (own ? { outcome: 'dunno', reason: `${sender} is the login ${login}'s own address` } : byMaps(ctx, sender, login, allowUnknown)));
}

function byMaps(ctx: Ctx, sender: string, login: string, allowUnknown: boolean): Result | Wait {
  const none = ctx.env.senderLoginMaps.length === 0 ? 'no smtpd_sender_login_maps: ' : '';
  return owners(ctx, sender, (list): Result => {
    if (list === undefined && allowUnknown) return { outcome: 'dunno', reason: `${none}${sender} has no owner` };
    const names = list?.split(/[,\s]+/).filter((n) => n !== '') ?? [];
    const l = login.toLowerCase();
    if (names.some((n) => n.toLowerCase() === l)) return { outcome: 'dunno', reason: `${sender} owned by ${login}` };
    return {
      outcome: 'reject',
      status: '5.7.1',
      subject: { name: sender, context: 'Sender address rejected' }, text: `not owned by user ${login}`,
      reason: list === undefined ? `${none}${sender} has no owner` : `owners: ${names.join(', ')}`,
      smtpCode: 553,
    };
  });
}

/** Postfix reject_unauth_sender_login_mismatch: a sender address that has an owner needs a login. */
function unauthMismatch(ctx: Ctx, sender: string): Result | Wait {
  return owners(ctx, sender, (list): Result => {
    if (list === undefined) return { outcome: 'dunno', reason: `${sender} has no owner` };
    return { outcome: 'reject', status: '5.7.1', subject: { name: sender, context: 'Sender address rejected' }, text: 'not logged in', reason: `owners: ${list}`, smtpCode: 553 };
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
      return check(ctx, sender, ctx.facts.saslUsername || undefined);
    },
  });

export const rejectAuthenticatedSenderLoginMismatch = loginCheck('reject_authenticated_sender_login_mismatch', (ctx, sender, login) => (login ? authMismatch(ctx, sender, login, false) : DUNNO));

export const rejectUnauthenticatedSenderLoginMismatch = loginCheck('reject_unauthenticated_sender_login_mismatch', (ctx, sender, login) => (login ? DUNNO : unauthMismatch(ctx, sender)));

/** Postfix's restriction class: the authenticated check, then the unauthenticated one. */
export const rejectSenderLoginMismatch = loginCheck('reject_sender_login_mismatch', (ctx, sender, login) => (login ? authMismatch(ctx, sender, login, false) : unauthMismatch(ctx, sender)));

export const rejectKnownSenderLoginMismatch = loginCheck('reject_known_sender_login_mismatch', (ctx, sender, login) => (login ? authMismatch(ctx, sender, login, true) : unauthMismatch(ctx, sender)));
