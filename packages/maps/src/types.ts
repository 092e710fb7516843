// The contract of a Postfix lookup table as moat uses it: a key in, the right-hand side out.
// Trusts nothing in the files it reads (admin input) nor in the keys (client input).

/** The table types moat reads. `hash`/`btree`/`lmdb` read the source text file `postmap` would compile. */
export type TableType = 'texthash' | 'hash' | 'btree' | 'lmdb' | 'cidr' | 'regexp' | 'pcre' | 'inline' | 'static';

/** One Postfix lookup table, opened from its `type:name` spec (e.g. `hash:/etc/postfix/virtual`). */
export interface LookupTable {
  /** The spec as the admin wrote it, e.g. `cidr:/etc/postfix/rbl_override` (never a secret). */
  readonly spec: string;
  readonly type: TableType;
  /**
   * Postfix's DICT_FLAG_PATTERN: regexp, pcre and cidr tables match the whole key against patterns
   * and are asked once with the full key; fixed-string tables (hash, texthash, inline, static) are
   * asked the partial keys Postfix derives (user@domain, user, @domain; domain and its parents).
   */
  readonly pattern: boolean;
  /**
   * The right-hand side for `key` with Postfix's semantics for this type (fixed-string tables fold
   * the key to lower case; regexp/pcre substitute $1..$9; cidr matches addresses; first match wins),
   * or undefined when nothing matches. Synchronous: tables are held in memory.
   * Throws TableError when the table cannot answer (never loaded); callers treat that as a
   * temporary lookup failure (Postfix: 451 4.3.0), never as "not found".
   */
  lookup(key: string): string | undefined;
  /**
   * Counts the snapshots served: it changes when a reload swaps the table's contents. Absent: the table
   * never changes. Lets a caller keep derived answers (a domain's class) until the table changes.
   */
  readonly generation?: number | undefined;
  /**
   * Every key of a fixed-string table built from a list (texthash; hash, btree, lmdb read from their source file;
   * inline), folded as looked up, for static checks (`moat config check`'s transport_maps and alias lints).
   * Absent for pattern tables (regexp, pcre, cidr: their keys are patterns) and static (every key matches).
   */
  keys?(): Iterable<string>;
  /**
   * The format a hash/btree/lmdb table's source file is read in: `postalias` for alias_maps (aliases(5)). Absent:
   * `postmap`, or a type without a compiled source. A thread that opens the table again must pass it on (plain-spec.ts).
   */
  readonly source?: 'postmap' | 'postalias' | undefined;
}

export class TableError extends Error {
  readonly code: 'TABLE_UNAVAILABLE' | 'TABLE_SYNTAX' | 'TABLE_TYPE';
  /** The file and 1-based line of a syntax error, when there is one. */
  readonly file?: string | undefined;
  readonly line?: number | undefined;
  constructor(code: TableError['code'], message: string, where?: { file?: string | undefined; line?: number | undefined }) {
    super(message);
    this.name = 'TableError';
    this.code = code;
    this.file = where?.file;
    this.line = where?.line;
  }
}
