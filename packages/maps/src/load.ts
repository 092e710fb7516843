// Parses one table from its spec and, for file tables, its file's text: the per-type dispatch.
// Trusts nothing in the text; reading the file is the registry's job.
import { parseAliasTable } from './aliases.ts';
import { parseCidrTable } from './cidr.ts';
import { parseFixedTable } from './fixed.ts';
import { parseInlineTable, parseStaticTable } from './inline.ts';
import type { Parsed } from './parsed.ts';
import { parseRegexpTable } from './regexp.ts';
import type { TableSpec } from './spec.ts';

/**
 * The source format of a compiled table's file: `postmap` (key whitespace value), or `postalias` (aliases(5),
 * `name: value`) for hash/btree/lmdb tables in alias_maps, which Postfix builds with postalias / newaliases.
 * texthash is always postmap's format (Postfix reads that file itself).
 */
export type SourceFormat = 'postmap' | 'postalias';

/** Parses a file table's text (`file` names it in errors), or an inline/static spec (text unused). */
export function parseTable(spec: TableSpec, text: string, file: string, source: SourceFormat = 'postmap'): Parsed {
  switch (spec.type) {
    case 'texthash':
      return parseFixedTable(text, file);
    case 'hash':
    case 'btree':
    case 'lmdb':
      return source === 'postalias' ? parseAliasTable(text, file) : parseFixedTable(text, file);
    case 'cidr':
      return parseCidrTable(text, file);
    case 'regexp':
    case 'pcre':
      return parseRegexpTable(text, file, spec.type);
    case 'inline':
      return parseInlineTable(spec.name);
    case 'static':
      return parseStaticTable(spec.name);
  }
}
