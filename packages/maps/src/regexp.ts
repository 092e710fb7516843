// `regexp:` (regexp_table(5), POSIX) and `pcre:` (pcre_table(5)) tables run with JavaScript RegExp:
// `/pattern/flags result`, `!/pattern/`, IF/ENDIF, `$1`, `${1}`, `$$`. Trusts nothing in the file.
import { setFlagsFromString } from 'node:v8';
import { isSpace, logicalLines, trimEnd, trimStart } from './lines.ts';
import type { Parsed } from './parsed.ts';
import { foldAsciiCase, pcreToJs, posixToJs } from './regex-translate.ts';
import { TableError } from './types.ts';

type Flavour = 'regexp' | 'pcre';

// Keys are client input and patterns admin input: a pattern like /^(a+)+$/ makes a backtracking engine
// take exponential time on `aaaa...!`, which would stall the event loop. glibc's matcher does not
// backtrack that way (and Postfix's PCRE stops at a match limit). This V8 flag makes a RegExp that
// backtracks excessively fall back to V8's linear-time engine (same answers; it supports patterns
// without back-references, look-around and the i flag: regexp: tables fold case in the source). It
// changes nothing for RegExps that do not backtrack excessively. Set before any table is compiled.
setFlagsFromString('--enable-experimental-regexp-engine-on-excessive-backtracks');

interface Pattern {
  re: RegExp;
  match: boolean;
}

/** A replacement split by mac_parse(): literal text (`$$` already `$`) and group numbers. */
type Part = string | number;

type Rule =
  | {
      op: 'match';
      first: Pattern;
      second?: Pattern | undefined;
      parts: Part[];
      literal?: string | undefined;
      line: number;
      value: string;
      /** regexp: with `|` and $n, the match is widened to POSIX's longest at its start (see longest()). */
      longest?: Map<number, RegExp> | undefined;
    }
  | { op: 'if'; pat: Pattern; end: number; line: number }
  | { op: 'endif'; line: number };

/** mac_parse() over a replacement text: `$n`, `${n}`, `$(n)`, `$$`; anything else after `$` is an error. */
function parseReplacement(text: string): Part[] | string {
  const parts: Part[] = [];
  let lit = '';
  for (let i = 0; i < text.length; ) {
    const c = text[i]!;
    if (c !== '$') {
      lit += c;
      i++;
      continue;
    }
    if (text[i + 1] === '$') {
      lit += '$';
      i += 2;
      continue;
    }
    let name: string;
    i++;
    const open = text[i];
    if (open === '{' || open === '(') {
      const close = open === '{' ? '}' : ')';
      let level = 1;
      let j = i + 1;
      for (; j < text.length && level > 0; j++) {
        if (text[j] === open) level++;
        else if (text[j] === close) level--;
      }
      if (level > 0) return 'truncated $ reference';
      name = text.slice(i + 1, j - 1);
      i = j;
    } else {
      let j = i;
      while (j < text.length && /[A-Za-z0-9_]/.test(text[j]!)) j++;
      name = text.slice(i, j);
      i = j;
    }
    if (name === '') return "a '$' with no group number (write $$ for a literal '$')";
    if (!/^\d+$/.test(name)) return `non-numeric replacement index $${name}`;
    const n = Number(name);
    if (n < 1) return `out-of-range replacement index $${name}`;
    if (lit !== '') parts.push(lit);
    lit = '';
    parts.push(n);
  }
  if (lit !== '') parts.push(lit);
  return parts;
}

/**
 * POSIX matching is leftmost-longest, JavaScript's leftmost-first: with alternation the two can end at
 * different places (`/^x(a|ab)/` on `xab`: `xab` in POSIX, `xa` in JavaScript), which shows in $n.
 * The start is the same in both; this finds the longest end by asking, from the longest down, for a
 * match at that start that ends exactly there (one sticky RegExp per remaining length, cached per rule).
 */
function longestMatch(re: RegExp, cache: Map<number, RegExp>, key: string, m: RegExpExecArray): RegExpExecArray {
  const start = m.index;
  for (let end = key.length; end > start + m[0].length; end--) {
    const rest = key.length - end;
    let exact = cache.get(rest);
    if (!exact) {
      exact = new RegExp(`(?:${re.source})(?=[\\s\\S]{${rest}}(?![\\s\\S]))`, `${re.flags.replace('y', '')}y`);
      if (cache.size < 512) cache.set(rest, exact);
    }
    exact.lastIndex = start;
    const wider = exact.exec(key);
    if (wider) return wider;
  }
  return m;
}

/** Counts capturing groups of a compiled RegExp (an empty alternative always matches). */
const groupCount = (re: RegExp): number => new RegExp(`${re.source}|`, re.flags.replace('y', '')).exec('')!.length - 1;

export function parseRegexpTable(text: string, file: string, flavour: Flavour): Parsed {
  const err = (line: number, why: string): never => {
    throw new TableError('TABLE_SYNTAX', `${file}:${line}: ${why}`, { file, line });
  };

  /** dict_regexp_get_pat / dict_pcre_get_pattern: negations, a delimiter, the pattern, its flags. */
  const getPattern = (s: string, line: number): { pat: Pattern; rest: string } => {
    let match = true;
    let i = 0;
    for (; i < s.length; i++) {
      if (s[i] === '!') match = !match;
      else if (!isSpace(s[i])) break;
    }
    if (i >= s.length) err(line, 'no regular expression');
    const delim = s[i]!;
    const start = ++i;
    for (; i < s.length; i++) {
      if (s[i] === '\\') {
        if (i + 1 < s.length) i++;
        else break;
      } else if (s[i] === delim) break;
    }
    if (i >= s.length) err(line, `no closing delimiter "${delim}"`);
    const body = s.slice(start, i);
    i++;
    let icase = true;
    let multiline = false;
    let dotall = flavour === 'pcre';
    let extended = false;
    let anchored = false;
    for (; i < s.length && !isSpace(s[i]) && !(flavour === 'regexp' && s[i] === '!'); i++) {
      const f = s[i]!;
      if (f === 'i') icase = !icase;
      else if (f === 'm') multiline = !multiline;
      else if (flavour === 'regexp' && f === 'x') err(line, 'flag "x" (POSIX basic regular expressions) is not supported; write the pattern as an extended one');
      else if (flavour === 'pcre' && f === 's') dotall = !dotall;
      else if (flavour === 'pcre' && f === 'x') extended = !extended;
      else if (flavour === 'pcre' && f === 'A') anchored = !anchored;
      else if (flavour === 'pcre' && f === 'E') {
        /* JavaScript's $ already matches only at the very end */
      } else if (flavour === 'pcre' && f === 'X') {
        /* obsolete; Postfix ignores it with a warning */
      } else if (flavour === 'pcre' && f === 'U') err(line, 'flag "U" (ungreedy) is not supported by JavaScript regular expressions');
      else err(line, `unknown regular expression flag "${f}"`);
    }
    // regexp: without REG_NEWLINE `.` matches a newline (dotAll); with it (m) ^ and $ match at lines.
    if (flavour === 'regexp') dotall = !multiline;
    let translated = flavour === 'regexp' ? posixToJs(body, icase) : pcreToJs(body, extended, false);
    if (typeof translated !== 'string') return err(line, `bad regular expression: ${translated.error}`);
    // pcre with i: fold ASCII in the source when the walk understands it (no i flag, see above); else
    // the i flag, with non-ASCII literals pinned case-sensitive
    const folded = flavour === 'pcre' && icase ? foldAsciiCase(translated) : undefined;
    if (flavour === 'pcre' && icase && folded === undefined) translated = pcreToJs(body, extended, true) as string;
    const source = folded ?? translated;
    let re: RegExp;
    try {
      // regexp: case folding is written into the source (ASCII only, as glibc does): no i flag
      const i = icase && flavour === 'pcre' && folded === undefined ? 'i' : '';
      re = new RegExp(source, `${i}${multiline ? 'm' : ''}${dotall ? 's' : ''}${anchored ? 'y' : ''}`);
    } catch (e) {
      // JavaScript's message quotes the pattern: keep only the reason (no file contents in messages)
      const reason = String((e as Error).message).split(': ').pop();
      return err(line, `bad regular expression: ${reason}`);
    }
    return { pat: { re, match }, rest: s.slice(i) };
  };

  const rules: Rule[] = [];
  const stack: number[] = [];
  const lines = logicalLines(text, (line) => err(line, 'a continuation line (starting with whitespace) with no line before it'));
  for (const { text: raw, line } of lines) {
    const l = trimEnd(raw);
    if (!/^[A-Za-z0-9]/.test(l)) {
      const first = getPattern(l, line);
      let rest = first.rest;
      let second: Pattern | undefined;
      if (flavour === 'regexp' && rest[0] === '!') {
        const s = getPattern(rest, line);
        second = s.pat;
        rest = s.rest;
      }
      const value = trimStart(rest);
      if (value === '') err(line, 'no replacement text (Postfix would use an empty string)');
      const parts = parseReplacement(value);
      if (typeof parts === 'string') return err(line, `bad replacement text: ${parts}`);
      const maxSub = Math.max(0, ...parts.filter((p): p is number => typeof p === 'number'));
      if (maxSub > 0 && !first.pat.match) err(line, '$number in the result of a negated pattern');
      if (maxSub > groupCount(first.pat.re)) err(line, `out-of-range replacement index $${maxSub}`);
      const literal = maxSub === 0 ? parts.join('') : undefined;
      const longest = flavour === 'regexp' && maxSub > 0 && first.pat.re.source.includes('|') ? new Map<number, RegExp>() : undefined;
      rules.push({ op: 'match', first: first.pat, second, parts, literal, line, value, longest });
    } else if (/^if(?![A-Za-z0-9])/i.test(l)) {
      const { pat, rest } = getPattern(trimStart(l.slice(2)), line);
      if (trimStart(rest) !== '') err(line, 'text after the IF pattern (lines between IF and ENDIF must not start with whitespace)');
      stack.push(rules.length);
      rules.push({ op: 'if', pat, end: -1, line });
    } else if (/^endif(?![A-Za-z0-9])/i.test(l)) {
      if (trimStart(l.slice(5)) !== '') err(line, 'text after ENDIF');
      const open = stack.pop();
      if (open === undefined) err(line, 'ENDIF without IF');
      (rules[open!] as { end: number }).end = rules.length;
      rules.push({ op: 'endif', line });
    } else err(line, 'not a rule (expected /pattern/ result, IF /pattern/ or ENDIF)');
  }
  if (stack.length > 0) err(rules[stack[stack.length - 1]!]!.line, 'IF has no matching ENDIF');

  const test = (p: Pattern, key: string): RegExpExecArray | null | boolean => {
    p.re.lastIndex = 0;
    const m = p.re.exec(key);
    return p.match ? m : m === null;
  };
  const values = rules.flatMap((r) => (r.op === 'match' ? [{ value: r.value, line: r.line }] : []));
  return {
    entries: values.length,
    warnings: [],
    values: () => values,
    lookup: (key) => {
      for (let i = 0; i < rules.length; i++) {
        const r = rules[i]!;
        if (r.op === 'match') {
          const m = test(r.first, key);
          if (!m) continue;
          if (r.second && !test(r.second, key)) continue;
          if (r.literal !== undefined) return r.literal;
          const groups = r.longest ? longestMatch(r.first.re, r.longest, key, m as RegExpExecArray) : (m as RegExpExecArray);
          let out = '';
          for (const p of r.parts) out += typeof p === 'string' ? p : (groups[p] ?? '');
          return out;
        }
        if (r.op === 'if' && !test(r.pat, key)) i = r.end;
      }
      return undefined;
    },
  };
}
