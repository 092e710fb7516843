// The main.cf importer's outbound TLS keys: smtp_tls_security_level (with the obsolete smtp_use_tls /
// smtp_enforce_tls / smtp_tls_enforce_peername it overrides) and smtp_tls_policy_maps, as queue.tls levels.
// Trusts the parsed main.cf and the table source files it names; each entry moat cannot honour is reported.
import { TLS_LEVELS } from '../sections/queue.ts';

/** What the importer offers this handler (its own methods). */
export interface SmtpTlsImportTarget {
  explicit(name: string): boolean;
  value(name: string): string | undefined;
  bool(name: string): boolean | undefined;
  set(path: string, value: unknown, name: string): void;
  use(name: string, note: string): void;
  warn(name: string, note: string): void;
  error(name: string, expected: string, found: string, line?: number): void;
  readonly opts: { readFile?: ((path: string) => string) | undefined };
}

export const SMTP_TLS_KEYS = ['smtp_tls_security_level', 'smtp_use_tls', 'smtp_enforce_tls', 'smtp_tls_enforce_peername', 'smtp_tls_policy_maps', 'smtp_dns_support_level'] as const;

type Level = (typeof TLS_LEVELS)[number];
const isLevel = (v: string): v is Level => (TLS_LEVELS as readonly string[]).includes(v);

const LEVEL_NOTE: Record<Level, string> = {
  may: 'opportunistic TLS; moat also applies DANE and MTA-STS where the recipient domain publishes them (stricter than Postfix\'s may, docs/tls.md)',
  dane: 'opportunistic DANE TLS, and MTA-STS where published',
  encrypt: 'TLS required, unauthenticated (DANE and an enforced MTA-STS policy still authenticate)',
  'dane-only': 'DNSSEC-validated TLSA records required for every MX host',
  verify: 'TLS required with a CA-signed certificate naming the MX host (system CAs)',
  secure: 'TLS required with a CA-signed certificate naming the recipient domain or a subdomain (system CAs)',
};

/**
 * Postfix's effective default level (smtp.c): smtp_tls_security_level when set, else smtp_enforce_tls = yes gives
 * verify (or encrypt without smtp_tls_enforce_peername), else smtp_use_tls = yes gives may, else none.
 */
export function effectiveLevel(imp: SmtpTlsImportTarget): { level: string; from: string } | undefined {
  const level = imp.value('smtp_tls_security_level');
  if (level === undefined) return undefined;
  if (level.trim() !== '') return { level: level.trim(), from: 'smtp_tls_security_level' };
  if (imp.bool('smtp_enforce_tls')) return { level: imp.bool('smtp_tls_enforce_peername') === false ? 'encrypt' : 'verify', from: 'smtp_enforce_tls' };
  if (imp.bool('smtp_use_tls')) return { level: 'may', from: 'smtp_use_tls' };
  return { level: 'none', from: 'smtp_tls_security_level' };
}

export function importSmtpTls(imp: SmtpTlsImportTarget): void {
  const eff = effectiveLevel(imp);
  if (eff) {
    const explicit = SMTP_TLS_KEYS.slice(0, 4).some((k) => imp.explicit(k));
    if (isLevel(eff.level)) {
      imp.set('queue.tls.security_level', eff.level, eff.from);
      imp.use(eff.from, `queue.tls.security_level = ${eff.level}: ${LEVEL_NOTE[eff.level]}`);
      for (const k of SMTP_TLS_KEYS.slice(0, 4)) if (k !== eff.from && imp.explicit(k)) imp.use(k, eff.from === 'smtp_tls_security_level' ? 'no effect: smtp_tls_security_level is set' : `with ${eff.from}: level ${eff.level}`);
      dnssecSupport(imp, eff.level, eff.from);
    } else if (eff.level === 'none' && !explicit) {
      imp.warn('smtp_tls_security_level', 'unset: Postfix\'s default is none (no TLS at all); moat uses opportunistic TLS, with DANE and MTA-STS where published (stricter)');
    } else if (eff.level === 'none') {
      imp.error(eff.from, 'may or stricter: moat always uses STARTTLS when the server offers it', 'none (no TLS)');
    } else {
      imp.error(eff.from, `one of ${TLS_LEVELS.join(', ')} (fingerprint is not implemented)`, JSON.stringify(eff.level));
    }
  }
  importPolicyMaps(imp);
}

/**
 * Postfix applies DANE only with smtp_dns_support_level = dnssec (smtp_tls_policy.c dane_init): without it dane
 * acts as may, and dane-only makes every delivery fail ("configured with dnssec lookups disabled").
 */
function dnssecSupport(imp: SmtpTlsImportTarget, level: string, from: string): void {
  if (level !== 'dane' && level !== 'dane-only') return;
  const support = (imp.value('smtp_dns_support_level') ?? '').trim();
  if (support === 'dnssec') {
    imp.use('smtp_dns_support_level', 'dnssec: moat validates through dns.resolver (which must validate: the bundled Unbound does)');
    return;
  }
  if (level === 'dane') imp.warn(from, `dane without smtp_dns_support_level = dnssec: Postfix falls back to may; moat applies DANE where published, through dns.resolver (stricter)`);
  else imp.error(from, 'smtp_dns_support_level = dnssec with dane-only (without it Postfix defers every delivery)', `smtp_dns_support_level = ${JSON.stringify(support)}`);
}

/** Table types whose source is a text file of `key value` lines (postmap's input; texthash reads it directly). */
const FILE_TABLES = new Set(['texthash', 'hash', 'btree', 'lmdb', 'cdb', 'dbm', 'sdbm']);

function importPolicyMaps(imp: SmtpTlsImportTarget): void {
  const name = 'smtp_tls_policy_maps';
  if (!imp.explicit(name)) return;
  const tables = (imp.value(name) ?? '').split(/[\s,]+/).filter(Boolean);
  const policies: Record<string, Level> = {};
  const read = imp.opts.readFile;
  for (const t of tables) {
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
      const where = `${m[2]}:${entry.line}`;
      const key = entry.key.toLowerCase();
      const [level = '', ...attrs] = entry.value.split(/\s+/);
      if (/^\[|:\d+$/.test(key)) {
        // moat applies levels to deliveries by MX lookup only: a required level here would be a silent downgrade
        if (level === 'may' || level === 'none') imp.warn(name, `${where}: ${entry.key}: a non-MX next hop (relayhost, transport smtp:[host]); moat applies TLS levels to deliveries by MX lookup only, this one keeps opportunistic TLS`);
        else imp.error(name, 'may (moat cannot yet require TLS of a non-MX next hop: relayhost, transport smtp:[host])', `${where}: ${entry.key} ${JSON.stringify(level)}`);
        continue;
      }
      if (!/^\.?[a-z0-9-]+(\.[a-z0-9-]+)*$/.test(key)) {
        imp.error(name, 'a domain or .domain key', `${where}: ${JSON.stringify(entry.key)}`);
        continue;
      }
      if (!isLevel(level)) {
        imp.error(name, level === 'none' ? 'may or stricter: moat always uses STARTTLS when offered' : `one of ${TLS_LEVELS.join(', ')}`, `${where}: ${entry.key} ${JSON.stringify(level)}`);
        continue;
      }
      if (attrs.length) imp.warn(name, `${where}: ${entry.key}: attributes ignored (${attrs.join(' ')}): moat uses its own protocols, ciphers and name matching for ${level}`);
      // the first table that has the key wins, as in Postfix's list of tables
      if (!(key in policies)) policies[key] = level;
    }
  }
  imp.set('queue.tls.policies', policies, name);
  imp.use(name, `queue.tls.policies: ${Object.entries(policies).map(([k, v]) => `${k} ${v}`).join(', ') || '(none)'}`);
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
