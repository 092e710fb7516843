// The right-hand sides of virtual(5) and aliases(5) tables, split into their addresses.
// Trusts nothing in the values (admin input): quotes and brackets are respected, nothing is evaluated.

/** A virtual(5) right-hand side: addresses separated by commas or white space; quotes and <> respected. */
export function splitAddressList(value: string): string[] {
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

/** An aliases(5) right-hand side: comma-separated; a "|command" or /file may hold spaces, quotes respected. */
export function splitAliasValue(value: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (const c of value) {
    if (c === '"') quoted = !quoted;
    if (c === ',' && !quoted) {
      if (cur.trim() !== '') out.push(cur.trim());
      cur = '';
    } else cur += c;
  }
  if (cur.trim() !== '') out.push(cur.trim());
  return out.map((t) => (/^"[|/]/.test(t) && t.endsWith('"') ? t.slice(1, -1) : t));
}
