// Queue ids: sortable by arrival (time first), unique across processes sharing one spool (random tail).
// Trusts crypto.randomBytes for uniqueness.
import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789BCDFGHJKLMNPQRSTVWXYZ';

function base(n: number, width: number): string {
  let s = '';
  let v = Math.floor(n);
  while (v > 0) {
    s = ALPHABET[v % ALPHABET.length] + s;
    v = Math.floor(v / ALPHABET.length);
  }
  return s.padStart(width, '0');
}

/** e.g. `1BQZ4K7HG3` + `X` + 10 random chars: time in ms (base 31, fixed width), then randomness. */
export function newQueueId(nowMs: number): string {
  const rnd = randomBytes(10);
  let tail = '';
  for (const b of rnd) tail += ALPHABET[b % ALPHABET.length];
  return `${base(nowMs, 9)}${tail}`;
}

/** Queue ids are file names: only this alphabet, fixed length. */
export function isQueueId(s: string): boolean {
  return /^[0-9B-DF-HJ-NP-TV-Z]{19}$/.test(s);
}
