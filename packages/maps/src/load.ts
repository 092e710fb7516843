// Parses one table from its spec and, for file tables, its file's text: the per-type dispatch.
// Trusts nothing in the text; reading the file is the registry's job.
import { parseCidrTable } from './cidr.ts';
import { parseFixedTable } from './fixed.ts';
import { parseInlineTable, parseStaticTable } from './inline.ts';
import type { Parsed } from './parsed.ts';
import { parseRegexpTable } from './regexp.ts';
import type { TableSpec } from './spec.ts';

/** Parses a file table's text (`file` names it in errors), or an inline/static spec (text unused). */
export function parseTable(spec: TableSpec, text: string, file: string): Parsed {
  switch (spec.type) {
    case 'texthash':
    case 'hash':
    case 'btree':
    case 'lmdb':
      return parseFixedTable(text, file);
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
