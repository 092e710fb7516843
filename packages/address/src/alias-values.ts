// The right-hand sides of virtual(5) and aliases(5) tables, split into their addresses.
// Trusts nothing in the values (admin input): quotes and brackets are respected, nothing is evaluated.

/** A virtual(5) right-hand side: addresses separated by commas or white space; quotes and <> respected, (comments) dropped. */
export function splitAddressList(input: string): string[] {
  // cleanup's mail_addr_crunch parses with tok822 too: comments are dropped
  const value = stripComments(input);
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i] as string;
    if (c === '"') quoted = !quoted;
    if (c === '\\' && quoted && i + 1 < value.length) {
      cur += c + value[++i];
      continue;
    }
    if (!quoted && (c === ',' || c === ' ' || c === '\t' || c === '\n' || c === '\r')) {
      if (cur !== '') out.push(cur);
      cur = '';
      continue;
    }
    cur += c;
  }
  if (cur !== '') out.push(cur);
  return out.map((t) => (t.startsWith('<') && t.endsWith('>') ? t.slice(1, -1) : t)).filter((t) => t !== '' && t !== '<>');
}

/**
 * The value with its RFC 822 comments (`(text)`, nested, `\)` escaped) replaced by a blank, as tok822_parse moves
 * them aside: quoted strings and domain literals are kept as written. An unclosed comment runs to the end.
 */
export function stripComments(value: string): string {
  if (!value.includes('(')) return value;
  let out = '';
  let depth = 0;
  let quoted = false;
  let literal = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i] as string;
    if (depth > 0) {
      if (c === '\\') i++;
      else if (c === '(') depth++;
      else if (c === ')' && --depth === 0) out += ' ';
      continue;
    }
    if (c === '\\' && i + 1 < value.length) {
      out += c + value[++i];
      continue;
    }
    if (c === '"' && !literal) quoted = !quoted;
    else if (!quoted && c === '[') literal = true;
    else if (!quoted && c === ']') literal = false;
    else if (c === '(' && !quoted && !literal) {
      depth = 1;
      continue;
    }
    out += c;
  }
  return depth > 0 ? `${out} ` : out;
}

/**
 * What joins two words into one address when only blanks lie between them: tok822's operators (RFC 822 specials
 * plus `%`, `!` and `|`, tok822_opchar); two words side by side are two addresses (the missing comma added).
 */
const JOINS = new Set(['.', '@', ':', ';', '<', '>', '[', ']', '%', '!', '|']);

/**
 * The address of a `phrase <route-addr>` part (the last `<` outside quotes and domain literals, the part ending in
 * `>`), or undefined when the part is not one. Quotes inside the brackets (`<"a b"@x>`) are part of the address.
 */
function routeAddr(part: string): string | undefined {
  const text = part.trimEnd();
  if (!text.endsWith('>')) return undefined;
  let lt = -1;
  let quoted = false;
  let literal = false;
  let i = 0;
  for (; i < text.length - 1; i++) {
    const c = text[i] as string;
    if (c === '\\') i++;
    else if (c === '"' && !literal) quoted = !quoted;
    else if (quoted) continue;
    else if (c === '[') literal = true;
    else if (c === ']') literal = false;
    else if (c === '<' && !literal) lt = i;
  }
  // the closing `>` must itself be outside quotes and literals, and not escaped (then i passed it)
  if (lt < 0 || quoted || literal || i >= text.length) return undefined;
  // inside <> no comma is missing: words stay one address, a blank between them, as tok822_externalize writes it
  return words(text.slice(lt + 1, -1)).join(' ');
}

/**
 * One comma-separated part of an aliases(5) value as local(8)'s tok822_parse reads it: `phrase <addr>` is `addr`,
 * and two words with only blanks (or a comment) between them are two addresses (the missing comma is added).
 */
function aliasPart(part: string): string[] {
  const addr = routeAddr(part);
  return addr !== undefined ? [addr] : words(part);
}

/** The part's addresses: words joined by operators, blanks outside quotes and domain literals dropped. */
function words(part: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  let literal = false;
  let blank = false;
  for (let i = 0; i < part.length; i++) {
    const c = part[i] as string;
    if (!quoted && !literal && (c === ' ' || c === '\t' || c === '\n' || c === '\r')) {
      blank = cur !== '';
      continue;
    }
    // a new word after a blank starts a new address unless an operator joins it to the one before
    if (blank && !JOINS.has(c) && !JOINS.has(cur.charAt(cur.length - 1))) {
      out.push(cur);
      cur = '';
    }
    blank = false;
    if (c === '\\' && i + 1 < part.length) {
      cur += c + part[++i];
      continue;
    }
    if (c === '"' && !literal) quoted = !quoted;
    else if (!quoted && c === '[') literal = true;
    else if (!quoted && c === ']') literal = false;
    cur += c;
  }
  if (cur !== '') out.push(cur);
  return out;
}

/**
 * An aliases(5) right-hand side, as local(8) expands it (tok822_parse): comma-separated addresses, comments dropped
 * (`alice (the admin)` is alice), a missing comma between two words added, quotes respected. A `"|command"`,
 * `/file` or `:include:` part is kept whole (moat refuses it as one), unquoted.
 */
export function splitAliasValue(value: string): string[] {
  const parts: string[] = [];
  let cur = '';
  let quoted = false;
  const text = stripComments(value);
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (c === '\\' && i + 1 < text.length) {
      cur += c + text[++i];
      continue;
    }
    if (c === '"') quoted = !quoted;
    if (c === ',' && !quoted) {
      parts.push(cur.trim());
      cur = '';
    } else cur += c;
  }
  parts.push(cur.trim());
  const out: string[] = [];
  for (const t of parts) {
    if (t === '') continue;
    if (/^"?[|/]|^:include:/i.test(t)) out.push(/^"[|/]/.test(t) && t.endsWith('"') ? t.slice(1, -1) : t);
    else out.push(...aliasPart(t));
  }
  return out;
}
