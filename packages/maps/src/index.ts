// Postfix lookup tables from the admin's own files: texthash, hash (its source text), cidr, regexp,
// pcre, inline, static. Trusts nothing in the files or the keys; a broken edit keeps the last good table.
export { type LookupTable, type TableType, TableError } from './types.ts';
export { TABLE_TYPES, PATTERN_TYPES, FILE_TYPES, parseTableSpec, foldKey, type TableSpec } from './spec.ts';
export { type SourceFormat } from './load.ts';
export { createTables, type Tables, type TablesOptions, type OpenOptions, type OpenTable, type ReloadResult, type Observe } from './tables.ts';
export { createTableAccessMap, type TableAccessMap } from './access-map.ts';
