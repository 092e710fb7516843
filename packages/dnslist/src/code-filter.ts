// Postfix return-code filters (`127.0.[0..255].[2..3]`, `127.0.0.[1;5]`, bare `=`) parsed once, matched many times.
// Trusts nothing: a filter is config text, a code is what a DNS server answered.

/** One octet position: a list of inclusive ranges. */
type OctetSet = ReadonlyArray<readonly [number, number]>;

/** A parsed filter: four octet sets, or `any` for no filter / bare `=`. */
export type CodeFilterSpec = { any: true } | { any: false; octets: readonly [OctetSet, OctetSet, OctetSet, OctetSet] };

export class CodeFilterError extends Error {
  readonly code = 'DNSLIST_BAD_CODE_FILTER';
  constructor(filter: string, why: string) {
    super(`bad DNS list return-code filter ${JSON.stringify(filter)}: ${why}`);
  }
}

function octet(text: string, filter: string): number {
  if (!/^\d{1,3}$/.test(text)) throw new CodeFilterError(filter, `${JSON.stringify(text)} is not an octet`);
  const n = Number(text);
  if (n > 255) throw new CodeFilterError(filter, `${n} is larger than 255`);
  return n;
}

function parseOctet(part: string, filter: string): OctetSet {
  if (!part.startsWith('[')) {
    const n = octet(part, filter);
    return [[n, n]];
  }
  if (!part.endsWith(']')) throw new CodeFilterError(filter, `unclosed bracket in ${JSON.stringify(part)}`);
  const body = part.slice(1, -1);
  if (body === '') throw new CodeFilterError(filter, 'empty brackets');
  return body.split(';').map((item): readonly [number, number] => {
    const range = item.split('..');
    if (range.length === 1) {
      const n = octet(item, filter);
      return [n, n];
    }
    if (range.length !== 2) throw new CodeFilterError(filter, `bad range ${JSON.stringify(item)}`);
    const lo = octet(range[0] ?? '', filter);
    const hi = octet(range[1] ?? '', filter);
    if (lo > hi) throw new CodeFilterError(filter, `range ${lo}..${hi} is backwards`);
    return [lo, hi];
  });
}

/**
 * Parse a filter as Postfix writes it after `zone=`. `undefined`, `''` and `'='` match any answer
 * (Postfix: no `=d.d.d.d` means any A record). A leading `=` is accepted. Throws CodeFilterError.
 */
export function parseCodeFilter(filter: string | undefined): CodeFilterSpec {
  const text = (filter ?? '').trim().replace(/^=/, '');
  if (text === '') return { any: true };
  // Split on dots outside brackets: `[0..255]` holds dots of its own.
  const parts: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of text) {
    if (ch === '[') depth++;
    if (ch === ']') depth--;
    if (depth < 0 || depth > 1) throw new CodeFilterError(text, 'unbalanced brackets');
    if (ch === '.' && depth === 0) {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  parts.push(cur);
  if (depth !== 0) throw new CodeFilterError(text, 'unbalanced brackets');
  if (parts.length !== 4) throw new CodeFilterError(text, `expected 4 octets, got ${parts.length}`);
  const [a, b, c, d] = parts.map((p) => parseOctet(p, text)) as [OctetSet, OctetSet, OctetSet, OctetSet];
  return { any: false, octets: [a, b, c, d] };
}

/** Whether one answered A record (dotted quad) matches a filter (text or parsed). */
export function matchesCode(filter: string | undefined | CodeFilterSpec, code: string): boolean {
  const spec = typeof filter === 'object' ? filter : parseCodeFilter(filter);
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(code);
  if (!m) return false;
  if (spec.any) return true;
  for (let i = 0; i < 4; i++) {
    const v = Number(m[i + 1]);
    const set = spec.octets[i] ?? [];
    if (!set.some(([lo, hi]) => v >= lo && v <= hi)) return false;
  }
  return true;
}
