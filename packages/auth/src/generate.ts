// Generated passwords: letters and digits only, so no shell, URL, config file or command-line client misreads them.
// Trusts node:crypto's CSPRNG; nothing else.
import { randomInt } from 'node:crypto';

/**
 * Letters and digits without the look-alikes 0 O 1 l I: no `-` to be taken for an option, no quote, `$`, `\`,
 * `!`, `#`, `%`, space or `:` for a shell, a URL or the users file to mangle, and easy to read aloud.
 */
export const PASSWORD_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';

/** Bits of entropy of a generated password of `length` characters. */
export function passwordEntropyBits(length: number): number {
  return length * Math.log2(PASSWORD_ALPHABET.length);
}

/** A uniformly random password; the default 22 characters carry 128 bits. */
export function generatePassword(length = 22): string {
  if (!Number.isInteger(length) || length < 12 || length > 256) throw new RangeError('a generated password has 12 to 256 characters');
  let out = '';
  for (let i = 0; i < length; i++) out += PASSWORD_ALPHABET[randomInt(PASSWORD_ALPHABET.length)];
  return out;
}
