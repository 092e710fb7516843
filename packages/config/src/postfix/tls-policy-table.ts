// smtp_tls_policy_maps / lmtp_tls_policy_maps tables as the main.cf importer reads them: each table's source file
// (postmap's input) into `key level attrs` entries with file and line. Trusts the files main.cf names.
import type { SmtpTlsImportTarget } from './smtp-tls.ts';

/** Table types whose source is a text file of `key value` lines (postmap's input; texthash reads it directly). */
const FILE_TABLES = new Set(['texthash', 'hash', 'btree', 'lmdb', 'cdb', 'dbm', 'sdbm']);

export interface PolicyEntry {
  /** The key as written, and lower-cased (Postfix's tables fold case). */
  raw: string;
  key: string;
  level: string;
  attrs: string[];
  /** `file:line`, for reports. */
  where: string;
}

/** Every entry of every table of `name`, in table order; a table moat cannot read is an error naming it. */
export function policyTableEntries(imp: SmtpTlsImportTarget, name: string): PolicyEntry[] {
  const out: PolicyEntry[] = [];
  const read = imp.opts.readFile;
  for (const t of (imp.value(name) ?? '').split(/[\s,]+/).filter(Boolean)) {
    const m = /^([a-z0-9]+):(\/\S+)$/.exec(t);
    if (!m || !FILE_TABLES.has(m[1]!) || !read) {
      imp.error(name, 'tables moat reads from their source file (texthash:, hash:, lmdb:, btree:, cdb: with an absolute path)', JSON.stringify(t));
      continue;
    }
    let text: string;
    try {
      text = read(m[2]!);
    } catch (e) {
      imp.error(name, `a readable table source file ${m[2]} (postmap's input)`, (e as Error).message);
      continue;
    }
    for (const entry of tableEntries(text)) {
      const [level = '', ...attrs] = entry.value.split(/\s+/);
      out.push({ raw: entry.key, key: entry.key.toLowerCase(), level, attrs, where: `${m[2]}:${entry.line}` });
    }
  }
  return out;
}

/** postmap's source format: `key value`, continuation lines start with whitespace, # comments. */
function tableEntries(text: string): Array<{ key: string; value: string; line: number }> {
  const out: Array<{ key: string; value: string; line: number }> = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    if (/^\s*(#|$)/.test(line)) return;
    if (/^\s/.test(line) && out.length) {
      out[out.length - 1]!.value += ` ${line.trim()}`;
      return;
    }
    const m = /^(\S+)\s+(.*)$/.exec(line.trim());
    if (m) out.push({ key: m[1]!, value: m[2]!.trim(), line: i + 1 });
    else out.push({ key: line.trim(), value: '', line: i + 1 });
  });
  return out;
}
