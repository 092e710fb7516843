// aliases(5) source files, as postalias (newaliases) compiles them for hash:/btree:/lmdb: tables in alias_maps.
// Trusts nothing in the file: every line postalias would skip with a warning is a TABLE_SYNTAX error here.
import { logicalLines, trimEnd, trimStart } from './lines.ts';
import type { Parsed } from './parsed.ts';
import { foldKey } from './spec.ts';
import { TableError } from './types.ts';

/**
 * Parses postalias' input (postalias.c): `name: value`, the name ending at the first `:` outside double quotes
 * (RFC 822 tokens, so a quoted name may hold `:`, `@` or blanks), stored unquoted and folded to lower case; the value
 * trimmed (the resolver splits it into addresses). A line with no `:`, no name, no value, a `,` in the name (several
 * names) or an unquoted `@` / `%` (a name with a domain) is an error, as postalias skips it with a warning. A duplicate
 * name keeps the first value with a warning.
 */
export function parseAliasTable(text: string, file: string): Parsed {
  const map = new Map<string, { key: string; value: string; line: number }>();
  const warnings: Array<{ line: number; message: string }> = [];
  const lines = logicalLines(text, (line) => {
    throw new TableError('TABLE_SYNTAX', `${file}:${line}: a continuation line (starting with whitespace) with no line before it`, { file, line });
  });
  for (const { text: l, line } of lines) {
    const bad = (why: string): never => {
      throw new TableError('TABLE_SYNTAX', `${file}:${line}: ${why}`, { file, line });
    };
    let name = '';
    let inQuotes = false;
    let colon = -1;
    let unquotedSpecial = '';
    for (let i = 0; i < l.length; i++) {
      const c = l[i]!;
      if (c === '\\' && i + 1 < l.length) {
        name += l[++i];
      } else if (c === '"') inQuotes = !inQuotes;
      else if (!inQuotes && c === ':') {
        colon = i;
        break;
      } else {
        if (!inQuotes && (c === ',' || c === '@' || c === '%') && unquotedSpecial === '') unquotedSpecial = c;
        name += c;
      }
    }
    if (inQuotes) bad('unbalanced \'"\' in the name');
    const key = trimEnd(trimStart(name));
    const value = colon < 0 ? '' : trimEnd(trimStart(l.slice(colon + 1)));
    // `postmaster alice`: a file written for postmap; moat read alias_maps' hash: files that way before (upgrade note, docs/postfix-keys.md)
    if (colon < 0 && /^\S+[ \t]+\S/.test(l) && unquotedSpecial === '') {
      bad('need name:value pair: this line looks like postmap format: write `name: value` (aliases(5), as postalias reads alias_maps files), or use texthash:');
    }
    if (colon < 0 || key === '' || value === '') bad('need name:value pair (aliases(5) format, as postalias reads it)');
    if (unquotedSpecial === ',') bad('need name:value pair (one name before the ":")');
    if (unquotedSpecial !== '') bad('name must be local and have no domain');
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
