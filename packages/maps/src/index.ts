// Postfix lookup tables from the admin's own files: texthash, hash (its source text), cidr, regexp,
// pcre, inline, static. Trusts nothing in the files or the keys; a broken edit keeps the last good table.
export { type LookupTable, type TableType, TableError } from './types.ts';
