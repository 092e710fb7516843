// `inline:{ key=value, { key = text with spaces } }` and `static:value` / `static:{ text with spaces }`.
// Trusts nothing in the spec text; parsed the way dict_inline.c and dict_static.c parse it.
import { isSpace, trimEnd, trimStart } from './lines.ts';
import type { Parsed } from './parsed.ts';
import { foldKey } from './spec.ts';
import { TableError } from './types.ts';

const SEP = ', \t\r\n';

/** balpar(): the length of the balanced `{...}` at the start of s, or 0. */
function balpar(s: string): number {
  if (s[0] !== '{') return 0;
  let level = 1;
  for (let i = 1; i < s.length; i++) {
    if (s[i] === '}') {
      if (--level === 0) return i + 1;
    } else if (s[i] === '{') level++;
  }
  return 0;
}

/** mystrtokq(): tokens separated by runs of `, \t\r\n`, never split inside balanced braces. */
function tokens(s: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < s.length) {
    while (i < s.length && SEP.includes(s[i]!)) i++;
    if (i >= s.length) break;
    const start = i;
    let level = 0;
    for (; i < s.length; i++) {
      const c = s[i]!;
      if (c === '{') level++;
      else if (level > 0 && c === '}') level--;
      else if (level === 0 && SEP.includes(c)) break;
    }
    out.push(s.slice(start, i));
    i++;
  }
  return out;
}

/** extpar(..., EXTPAR_FLAG_STRIP): `{ text }` to `text`; an error for a missing `}` or text after it. */
function extpar(s: string): { text: string; error?: string } {
  const len = balpar(s);
  if (len === 0) return { text: s, error: "missing '}'" };
  const text = trimEnd(trimStart(s.slice(1, len - 1)));
  return len === s.length ? { text } : { text, error: "text after '}'" };
}

/** split_qnameval(): `key = value`, the key possibly quoted; the value trimmed. */
function splitNameValue(buf: string): { key: string; value: string } | string {
  let k = 0;
  while (k < buf.length && isSpace(buf[k])) k++;
  if (k === buf.length) return 'no key found; expected format: key = value';
  let e = k;
  let inQuotes = false;
  for (; e < buf.length; e++) {
    const c = buf[e]!;
    if (c === '\\') {
      if (++e >= buf.length) break;
    } else if (isSpace(c) || c === '=') {
      if (!inQuotes) break;
    } else if (c === '"') inQuotes = !inQuotes;
  }
  if (inQuotes) return `unbalanced '"'`;
  let v = e;
  while (v < buf.length && isSpace(buf[v])) v++;
  if (buf[v] !== '=') return "missing '=' after attribute name";
  return { key: buf.slice(k, Math.min(e, buf.length)), value: trimEnd(trimStart(buf.slice(v + 1))) };
}

/**
 * Parses the name of an `inline:` table (`{ key=value, { key = text } }`). A later key replaces an
 * earlier one (dict_inline.c does no duplicate check). An empty table is an error, as in Postfix.
 */
export function parseInlineTable(name: string): Parsed {
  const fail = (why: string): never => {
    throw new TableError('TABLE_SYNTAX', `inline: ${why}; expected inline:{ key=value, { key = text with spaces } }`);
  };
  const len = balpar(name);
  if (len === 0 || len !== name.length) fail("the table must be one balanced '{...}'");
  const inner = name.slice(1, len - 1);
  if (inner === '') fail('empty table');
  const map = new Map<string, string>();
  for (let tok of tokens(inner)) {
    if (tok[0] === '{') {
      const x = extpar(tok);
      if (x.error) fail(x.error);
      tok = x.text;
    }
    const kv = splitNameValue(tok);
    if (typeof kv === 'string') fail(kv);
    else if (kv.value === '') fail('an empty value (Postfix: "empty string result is not allowed")');
    else map.set(foldKey(kv.key), kv.value);
  }
  if (map.size === 0) fail('empty table');
  return {
    entries: map.size,
    warnings: [],
    lookup: (key) => map.get(foldKey(key)),
    values: () => [...map.entries()].map(([key, value]) => ({ key, value, line: 1 })),
  };
}

/** `static:value` or `static:{ text with spaces }`: every key gets the value. */
export function parseStaticTable(name: string): Parsed {
  let value = name;
  if (name[0] === '{') {
    const x = extpar(name);
    if (x.error) throw new TableError('TABLE_SYNTAX', `static: bad static:name syntax: ${x.error}`);
    value = x.text;
  }
  if (value === '') throw new TableError('TABLE_SYNTAX', 'static: an empty value');
  return { entries: 1, warnings: [], lookup: () => value, values: () => [{ value, line: 1 }] };
}
