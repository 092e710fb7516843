// `cidr:` tables (cidr_table(5)): networks matched in file order, first match wins, `!` negation, IF/ENDIF.
// Trusts nothing in the file; a rule Postfix would skip with a warning is a TABLE_SYNTAX error here.
import { inetPton, inetPton4, inetPton6 } from './inet.ts';
import { isSpace, logicalLines, trimEnd, trimStart } from './lines.ts';
import type { Parsed } from './parsed.ts';
import { TableError } from './types.ts';

interface Net {
  v6: boolean;
  bytes: Uint8Array;
  bits: number;
  /** false for a negated pattern (`!192.0.2.0/24`): matches addresses of the family outside it. */
  match: boolean;
  /** IPv4 only: the network and mask as unsigned 32-bit numbers (one compare per rule). */
  net32: number;
  mask32: number;
}

const toU32 = (b: Uint8Array): number => ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
const mask32 = (bits: number): number => (bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0);

type Rule =
  | { op: 'match'; net: Net; value: string; line: number }
  | { op: 'if'; net: Net; line: number; end: number }
  | { op: 'endif'; line: number };

/** cidr_match_parse(): `addr/len`, `[addr]/len`, `[addr/len]`, or a bare address (all bits). */
function parseNet(pattern: string, match: boolean): Net | string {
  let p = pattern;
  let maskSearch: string;
  if (p[0] === '[') {
    const close = p.indexOf(']');
    if (close < 0) return "missing ']'";
    const after = p.slice(close + 1);
    if (after !== '' && after[0] !== '/') return "text after ']'";
    p = p.slice(1, close) + after;
    maskSearch = p;
  } else maskSearch = p;
  const slash = maskSearch.indexOf('/');
  const addr = slash < 0 ? p : p.slice(0, slash);
  const v6 = addr.includes(':');
  const total = v6 ? 128 : 32;
  const bytes = v6 ? inetPton6(addr) : inetPton4(addr);
  if (slash < 0) {
    if (!bytes) return 'bad address pattern';
    return { v6, bytes, bits: total, match, net32: v6 ? 0 : toU32(bytes), mask32: v6 ? 0 : mask32(32) };
  }
  const mask = p.slice(slash + 1);
  if (!/^\d*$/.test(mask)) return 'bad mask value';
  const bits = Number(mask || '0');
  if (bits > total) return 'bad mask length';
  if (!bytes) return 'bad network value';
  for (let i = bits; i < total; i++) {
    if (bytes[i >> 3]! & (0x80 >> (i & 7))) return 'non-null host address bits (the address has bits set beyond the prefix length)';
  }
  return { v6, bytes, bits, match, net32: v6 ? 0 : toU32(bytes), mask32: v6 ? 0 : mask32(bits) };
}

/** The key as Postfix compares it: family by ':', IPv4 as one 32-bit number. */
interface Key {
  v6: boolean;
  bytes: Uint8Array;
  u32: number;
}

function matches(n: Net, k: Key): boolean {
  if (n.v6 !== k.v6) return false;
  if (!k.v6) return (((k.u32 & n.mask32) >>> 0) === n.net32) === n.match;
  return contains(n, k.bytes);
}

function contains(n: Net, bytes: Uint8Array): boolean {
  const full = n.bits >> 3;
  for (let i = 0; i < full; i++) if (bytes[i] !== n.bytes[i]) return !n.match;
  const rest = n.bits & 7;
  if (rest !== 0) {
    const m = (0xff << (8 - rest)) & 0xff;
    if ((bytes[full]! & m) !== n.bytes[full]) return !n.match;
  }
  return n.match;
}

/** Skips `!` and whitespace, counting negations (dict_cidr.c). */
function negations(s: string): { rest: string; match: boolean } {
  let match = true;
  let i = 0;
  for (; i < s.length; i++) {
    if (s[i] === '!') match = !match;
    else if (!isSpace(s[i])) break;
  }
  return { rest: s.slice(i), match };
}

const keyword = (s: string, word: string): boolean => s.slice(0, word.length).toUpperCase() === word && !/^[A-Za-z0-9]/.test(s.slice(word.length));

export function parseCidrTable(text: string, file: string): Parsed {
  const rules: Rule[] = [];
  const stack: number[] = [];
  const err = (line: number, why: string): never => {
    throw new TableError('TABLE_SYNTAX', `${file}:${line}: ${why}`, { file, line });
  };
  const lines = logicalLines(text, (line) => err(line, 'a continuation line (starting with whitespace) with no line before it'));
  for (const { text: raw, line } of lines) {
    const l = trimEnd(raw);
    if (keyword(l, 'IF')) {
      const { rest, match } = negations(l.slice(2));
      if (rest === '') err(line, 'IF: no address pattern');
      const net = parseNet(rest, match);
      if (typeof net === 'string') err(line, `IF: ${net}`);
      stack.push(rules.length);
      rules.push({ op: 'if', net: net as Net, line, end: -1 });
    } else if (keyword(l, 'ENDIF')) {
      if (trimStart(l.slice(5)) !== '') err(line, 'text after ENDIF');
      const open = stack.pop();
      if (open === undefined) err(line, 'ENDIF without IF');
      (rules[open!] as { end: number }).end = rules.length;
      rules.push({ op: 'endif', line });
    } else {
      const { rest, match } = negations(l);
      let k = 0;
      while (k < rest.length && !isSpace(rest[k])) k++;
      const pattern = rest.slice(0, k);
      const value = trimStart(rest.slice(k));
      if (pattern === '') err(line, 'no address pattern');
      const net = parseNet(pattern, match);
      if (typeof net === 'string') err(line, net);
      if (value === '') err(line, 'no lookup result');
      rules.push({ op: 'match', net: net as Net, value, line });
    }
  }
  if (stack.length > 0) err(rules[stack[stack.length - 1]!]!.line, 'IF has no matching ENDIF');
  const values = rules.flatMap((r) => (r.op === 'match' ? [{ value: r.value, line: r.line }] : []));
  return {
    entries: values.length,
    warnings: [],
    values: () => values,
    lookup: (key) => {
      const a = inetPton(key);
      if (!a) return undefined;
      const k: Key = { v6: a.v6, bytes: a.bytes, u32: a.v6 ? 0 : toU32(a.bytes) };
      for (let i = 0; i < rules.length; i++) {
        const r = rules[i]!;
        if (r.op === 'match') {
          if (matches(r.net, k)) return r.value;
        } else if (r.op === 'if') {
          if (!matches(r.net, k)) i = r.end;
        }
      }
      return undefined;
    },
  };
}
