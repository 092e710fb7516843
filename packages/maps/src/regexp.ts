// `regexp:` (regexp_table(5), POSIX) and `pcre:` (pcre_table(5)) tables run with JavaScript RegExp:
// `/pattern/flags result`, `!/pattern/`, IF/ENDIF, `$1`, `${1}`, `$$`. Trusts nothing in the file.
import { isSpace, logicalLines, trimEnd, trimStart } from './lines.ts';
import type { Parsed } from './parsed.ts';
import { pcreToJs, posixToJs } from './regex-translate.ts';
import { TableError } from './types.ts';

type Flavour = 'regexp' | 'pcre';

interface Pattern {
  re: RegExp;
  match: boolean;
}

/** A replacement split by mac_parse(): literal text (`$$` already `$`) and group numbers. */
type Part = string | number;

type Rule =
  | { op: 'match'; first: Pattern; second?: Pattern | undefined; parts: Part[]; literal?: string | undefined; line: number; value: string }
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
    const source = flavour === 'regexp' ? posixToJs(body, icase) : pcreToJs(body, extended, icase);
    if (typeof source !== 'string') return err(line, `bad regular expression: ${source.error}`);
    let re: RegExp;
    try {
      re = new RegExp(source, `${icase ? 'i' : ''}${multiline ? 'm' : ''}${dotall ? 's' : ''}${anchored ? 'y' : ''}`);
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
      rules.push({ op: 'match', first: first.pat, second, parts, literal, line, value });
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
          const groups = m as RegExpExecArray;
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
