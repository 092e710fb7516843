// Postfix DNS-list return-code filters (`zone=127.0.[0..255].[2..3]`, `zone=127.0.0.[1;5]`, `zone=`).
// Parses admin text once into per-octet ranges; matching is then four range checks, no allocation.
import { POLICY_ERROR_CODES, PolicyError } from './errors.ts';
import type { CodeFilter } from './types.ts';

/** One octet's allowed values, as inclusive [lo, hi] ranges. */
export type OctetRanges = ReadonlyArray<readonly [number, number]>;

/** A compiled filter: `any` (bare `=` or no filter) or four octets of ranges. */
export type CompiledCodeFilter = { any: true; text: string } | { any: false; text: string; octets: readonly [OctetRanges, OctetRanges, OctetRanges, OctetRanges] };

const NUM_RE = /^(0|[1-9]\d{0,2})$/;

function octetNumber(s: string, filter: string): number {
  if (!NUM_RE.test(s)) throw bad(filter, `${JSON.stringify(s)} is not a number 0-255`);
  const n = Number(s);
  if (n > 255) throw bad(filter, `${n} is larger than 255`);
  return n;
}

function bad(filter: string, reason: string): PolicyError {
  return new PolicyError(POLICY_ERROR_CODES.BAD_CODE_FILTER, filter, `malformed return-code filter: ${reason} (expected d.d.d.d where d is a number, or [a;b;c..d])`);
}

function parseOctet(part: string, filter: string): OctetRanges {
  if (part.startsWith('[')) {
    if (!part.endsWith(']') || part.length < 3) throw bad(filter, `${JSON.stringify(part)} has an unclosed or empty [...]`);
    const inner = part.slice(1, -1);
    const ranges: Array<readonly [number, number]> = [];
    for (const item of inner.split(';')) {
      if (item === '') throw bad(filter, `empty element in ${JSON.stringify(part)}`);
      const dots = item.indexOf('..');
      if (dots >= 0) {
        const lo = octetNumber(item.slice(0, dots), filter);
        const hi = octetNumber(item.slice(dots + 2), filter);
        if (lo > hi) throw bad(filter, `range ${item} runs backwards`);
        ranges.push([lo, hi]);
      } else {
        const n = octetNumber(item, filter);
        ranges.push([n, n]);
      }
    }
    return ranges;
  }
  const n = octetNumber(part, filter);
  return [[n, n]];
}

/**
 * Parses a Postfix return-code filter. `''` (bare `=`) matches any code. Octets are split on the
 * dots outside brackets, so `127.0.[0..255].[2..3]` has four parts. Throws PolicyError otherwise.
 */
export function parseCodeFilter(filter: CodeFilter): CompiledCodeFilter {
  if (filter === '') return { any: true, text: '' };
  const parts: string[] = [];
  let cur = '';
  let depth = 0;
  for (let i = 0; i < filter.length; i++) {
    const c = filter[i]!;
    if (c === '[') {
      if (depth > 0) throw bad(filter, 'nested [');
      depth++;
    } else if (c === ']') {
      if (depth === 0) throw bad(filter, 'unbalanced ]');
      depth--;
    } else if (c === '.' && depth === 0) {
      parts.push(cur);
      cur = '';
      continue;
    }
    cur += c;
  }
  if (depth !== 0) throw bad(filter, 'unclosed [');
  parts.push(cur);
  if (parts.length !== 4) throw bad(filter, `${parts.length} octets instead of 4`);
  const octets = parts.map((p) => parseOctet(p, filter)) as unknown as readonly [OctetRanges, OctetRanges, OctetRanges, OctetRanges];
  return { any: false, text: filter, octets };
}

function inRanges(r: OctetRanges, n: number): boolean {
  for (let i = 0; i < r.length; i++) {
    const x = r[i]!;
    if (n >= x[0] && n <= x[1]) return true;
  }
  return false;
}

/** True when a dotted-quad answer matches the filter (a string filter is parsed first). */
export function matchesCode(filter: CompiledCodeFilter | CodeFilter | undefined, code: string): boolean {
  if (filter === undefined) return true;
  const f = typeof filter === 'string' ? parseCodeFilter(filter) : filter;
  if (f.any) return true;
  let octet = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i <= code.length; i++) {
    const c = i < code.length ? code.charCodeAt(i) : 46;
    if (c === 46) {
      if (digits === 0 || octet > 3 || value > 255) return false;
      if (!inRanges(f.octets[octet]!, value)) return false;
      octet++;
      value = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      value = value * 10 + (c - 48);
      if (++digits > 3) return false;
    } else return false;
  }
  return octet === 4;
}
