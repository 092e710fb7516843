// Fixed-string tables: texthash, and hash/btree/lmdb read from the source text `postmap` compiles.
// Trusts nothing in the file: every line Postfix would skip with a warning is a TABLE_SYNTAX error here.
import { isSpace, logicalLines, trimEnd, trimStart } from './lines.ts';
import { foldKey } from './spec.ts';
import type { Parsed } from './parsed.ts';
import { TableError } from './types.ts';

/**
 * Parses postmap's input format (postmap.c, dict_thash.c): `key whitespace value`, the key ending at the
 * first whitespace that is neither quoted (`"..."`) nor escaped (`\`), kept as written (quotes and
 * backslashes included, as postmap stores it), folded to lower case; the value trimmed. A duplicate key
 * keeps the first value with a warning (postmap's default, and what `postmap -q texthash:` does).
 */
export function parseFixedTable(text: string, file: string): Parsed {
  const map = new Map<string, { key: string; value: string; line: number }>();
  const warnings: Array<{ line: number; message: string }> = [];
  const lines = logicalLines(text, (line) => {
    throw new TableError('TABLE_SYNTAX', `${file}:${line}: a continuation line (starting with whitespace) with no line before it`, { file, line });
  });
  for (const { text: l, line } of lines) {
    let i = 0;
    let inQuotes = false;
    for (; i < l.length; i++) {
      const c = l[i];
      if (c === '\\') {
        if (++i >= l.length) break;
      } else if (isSpace(c)) {
        if (!inQuotes) break;
      } else if (c === '"') inQuotes = !inQuotes;
    }
    if (inQuotes) throw new TableError('TABLE_SYNTAX', `${file}:${line}: unbalanced '"' in the key`, { file, line });
    const key = l.slice(0, Math.min(i, l.length));
    const value = trimEnd(trimStart(l.slice(i + 1)));
    if (key === '' || value === '') throw new TableError('TABLE_SYNTAX', `${file}:${line}: expected "key whitespace value"`, { file, line });
    if (key.endsWith(':')) warnings.push({ line, message: 'record is in "key: value" format; is this an alias file?' });
    const k = foldKey(key);
    if (map.has(k)) {
      warnings.push({ line, message: `duplicate entry (first seen on line ${map.get(k)!.line}): the first one is kept` });
      continue;
    }
    map.set(k, { key: k, value, line });
  }
  return {
    entries: map.size,
    warnings,
    lookup: (key) => map.get(foldKey(key))?.value,
    values: () => [...map.values()],
  };
}
