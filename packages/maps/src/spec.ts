// The `type:name` spec of a Postfix lookup table (`hash:/etc/postfix/virtual`, `inline:{a=b}`), split.
// Trusts nothing: an unknown or unsupported type is a TableError TABLE_TYPE naming the spec.
import { TableError, type TableType } from './types.ts';

/** Every table type moat reads, in the order the README lists them. */
export const TABLE_TYPES: readonly TableType[] = ['texthash', 'hash', 'btree', 'lmdb', 'cidr', 'regexp', 'pcre', 'inline', 'static'];

/** Types whose name is a file; `hash`, `btree` and `lmdb` name the source text `postmap` compiles. */
export const FILE_TYPES: ReadonlySet<TableType> = new Set(['texthash', 'hash', 'btree', 'lmdb', 'cidr', 'regexp', 'pcre']);

/** Postfix's DICT_FLAG_PATTERN: the table matches the whole key against patterns. */
export const PATTERN_TYPES: ReadonlySet<TableType> = new Set(['cidr', 'regexp', 'pcre']);

export interface TableSpec {
  type: TableType;
  /** What follows the first colon: a path, or the inline/static text. */
  name: string;
}

const KNOWN_ELSEWHERE = new Set(['cdb', 'dbm', 'sdbm', 'ldap', 'mysql', 'pgsql', 'sqlite', 'memcache', 'unionmap', 'pipemap', 'tcp', 'socketmap', 'environ', 'nis', 'nisplus', 'netinfo', 'internal', 'fail', 'randmap', 'unix']);

/** Splits `type:name`; throws TableError TABLE_TYPE for a missing or unsupported type. */
export function parseTableSpec(spec: string): TableSpec {
  const s = spec.trim();
  const colon = s.indexOf(':');
  if (colon <= 0) throw new TableError('TABLE_TYPE', `${JSON.stringify(s)}: expected type:name (for example hash:/etc/postfix/access)`);
  const type = s.slice(0, colon).toLowerCase();
  const name = s.slice(colon + 1);
  // proxy:type:name (proxymap) answers what type:name answers; moat reads the table itself
  if (type === 'proxy') return parseTableSpec(name);
  if (!(TABLE_TYPES as readonly string[]).includes(type)) {
    const why = KNOWN_ELSEWHERE.has(type) ? 'a Postfix table type moat does not read' : 'not a Postfix table type';
    throw new TableError('TABLE_TYPE', `${type}: ${why} (moat reads ${TABLE_TYPES.join(', ')})`);
  }
  if (name === '') throw new TableError('TABLE_TYPE', `${type}: no table name after the colon`);
  return { type: type as TableType, name };
}

const NON_ASCII = /[^\x00-\x7f]/;

/**
 * Postfix's DICT_FLAG_FOLD_FIX: fixed-string tables fold keys (in the file and in lookups). With
 * smtputf8_enable=yes (the default since compatibility_level 1; Debian ships 3.6) Postfix folds UTF-8
 * with full Unicode case folding (`Straße` = `STRASSE`); lower(upper(key)) is that for every key the
 * differential test tries. ASCII keys take the plain fast path.
 */
export function foldKey(key: string): string {
  return NON_ASCII.test(key) ? key.toUpperCase().toLowerCase() : key.toLowerCase();
}
