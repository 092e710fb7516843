// Access maps (Postfix access(5)): check_client_access, looked up key by key in Postfix's order.
// Trusts the access-map port's answers; a right-hand side moat does not implement defers (451 4.3.5).
import { type AccessAction, parseAccessAction } from '../access-action.ts';
import { type Compiled, type Ctx, clientReplyName, NOT_FOUND, type Result, type Wait, wait } from '../engine/context.ts';
import { define } from './define.ts';

function actOnAccess(ctx: Ctx, rhs: string, key: string): Result {
  const act: AccessAction | undefined = parseAccessAction(rhs);
  const subject = `<${clientReplyName(ctx)}>: Client host rejected`;
  if (!act) return { outcome: 'defer', status: '4.3.5', text: `${subject}: Server configuration error`, reason: `${key}: unsupported action ${JSON.stringify(rhs)}`, smtpCode: 451 };
  switch (act.kind) {
    case 'permit':
      return { outcome: 'permit', status: '2.0.0', text: 'Ok', reason: `${key}: ${rhs}` };
    case 'dunno':
      return { outcome: 'dunno', reason: `${key}: DUNNO` };
    case 'prepend':
      ctx.prepend.push(act.header);
      return { outcome: 'dunno', reason: `${key}: PREPEND` };
    case 'warn':
      return { outcome: 'dunno', reason: `${key}: WARN ${act.text}` };
    case 'reject':
      return { outcome: 'reject', status: act.status ?? '5.7.1', text: `${subject}: ${act.text ?? 'Access denied'}`, reason: `${key}: ${rhs}`, smtpCode: act.code };
    case 'defer':
      return { outcome: 'defer', status: act.status ?? '4.7.1', text: `${subject}: ${act.text ?? 'Access denied'}`, reason: `${key}: ${rhs}`, smtpCode: act.code };
  }
}

/** Postfix's client keys: for cidr tables the address; else the name and its parents, the address and its prefixes. */
function clientKeys(map: string, ctx: Ctx): string[] {
  const keys: string[] = [];
  if (map.startsWith('cidr:')) {
    if (ctx.client) keys.push(ctx.clientText);
    return keys;
  }
  const name = ctx.facts.clientName?.toLowerCase().replace(/\.$/, '');
  if (name) {
    const labels = name.split('.');
    for (let i = 0; i < labels.length; i++) keys.push(labels.slice(i).join('.'));
  }
  if (ctx.client) {
    keys.push(ctx.clientText);
    if (ctx.client.v4) {
      const p = ctx.clientText.split('.');
      for (let n = 3; n >= 1; n--) keys.push(p.slice(0, n).join('.'));
    }
  }
  return keys;
}

/** Asks the map each key in turn; the first found decides. */
function lookupKeys(ctx: Ctx, map: string, keys: string[]): Result | Wait {
  const env = ctx.env;
  const tempFail = (e: unknown): Result => ({
    outcome: 'defer',
    status: '4.3.0',
    text: `<${clientReplyName(ctx)}>: Temporary lookup failure`,
    reason: `${map}: ${(e as Error).message}`,
    smtpCode: 451,
  });
  const tryKey = (k: number): Result | Wait => {
    if (k >= keys.length) return NOT_FOUND;
    const key = keys[k]!;
    if (env.lookupSync) {
      let rhs: string | undefined;
      try {
        rhs = env.lookupSync(map, key);
      } catch (e) {
        return tempFail(e);
      }
      return rhs === undefined ? tryKey(k + 1) : actOnAccess(ctx, rhs, key);
    }
    let pending: Promise<string | undefined>;
    try {
      pending = env.ports.accessMaps.lookup(map, key);
    } catch (e) {
      return tempFail(e);
    }
    return wait(pending, (rhs) => (rhs === undefined ? tryKey(k + 1) : actOnAccess(ctx, rhs, key)), tempFail);
  };
  return tryKey(0);
}

export const checkClientAccess = define({
  name: 'check_client_access',
  arg: 'map',
  stage: 0,
  rejectCode: 554, // access_map_reject_code
  evaluate: (c: Compiled, ctx) => lookupKeys(ctx, c.r.map!, clientKeys(c.r.map!, ctx)),
});
