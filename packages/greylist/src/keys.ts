// Every Redis key the greylist writes, in one place (the README's key table mirrors this file).
// Keys touched by one decision share the hash tag `{identity}`, so the script runs on Redis Cluster.
import { hash } from 'node:crypto';

export const DEFAULT_PREFIX = 'moat:gl:';

/** `<prefix>{<identity>}:t:<sha256(sender \n recipient)[0..32]>`: one triplet (hash). */
export function tripletKey(prefix: string, identity: string, sender: string, recipient: string): string {
  const h = hash('sha256', `${sender}\n${recipient}`, 'hex').slice(0, 32); // one-shot: a third of createHash's cost
  return `${prefix}{${identity}}:t:${h}`;
}

/** `<prefix>{<identity>}:awl`: the identity's auto-whitelist counter (hash). */
export function awlKey(prefix: string, identity: string): string {
  return `${prefix}{${identity}}:awl`;
}

/** `<prefix>wl:clients`: CIDRs whitelisted through the admin API (sorted set, score = expiry). */
export function adminWhitelistKey(prefix: string): string {
  return `${prefix}wl:clients`;
}

/** SCAN pattern for every triplet (glob characters in the prefix escaped). */
export function tripletPattern(prefix: string): string {
  return `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*:t:*`;
}

/** The identity inside a key's hash tag. */
export function identityOfKey(key: string): string | undefined {
  const m = /\{([^}]*)\}/.exec(key);
  return m?.[1];
}
