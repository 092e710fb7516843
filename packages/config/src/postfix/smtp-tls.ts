// The main.cf importer's outbound TLS keys: smtp_tls_security_level (with the obsolete smtp_use_tls /
// smtp_enforce_tls / smtp_tls_enforce_peername it overrides) and smtp_tls_policy_maps (domains and [host]:port next hops).
// Trusts the parsed main.cf and the table source files it names; each entry moat cannot honour is reported.
import { TLS_LEVELS } from '../sections/queue.ts';
import { policyTableEntries } from './tls-policy-table.ts';

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
  const policies = importPolicyMaps(imp);
  if (eff?.level === 'dane-only') daneOnlyHops(imp, eff.from, policies);
}

/**
 * dane-only with a next hop without MX lookup (relayhost, relay_transport, default_transport `smtp:[host]`): Postfix
 * would look TLSA up for the host itself; moat applies DANE to MX deliveries only and would defer every delivery
 * there, so it is an error unless smtp_tls_policy_maps gives that hop another level. transport_maps entries are
 * left to `moat config check` (the same check on the imported config).
 */
function daneOnlyHops(imp: SmtpTlsImportTarget, from: string, policies: Readonly<Record<string, Level>>): void {
  for (const param of ['relayhost', 'relay_transport', 'default_transport']) {
    const v = (imp.value(param) ?? '').trim();
    const dest = param === 'relayhost' ? v : v.replace(/^(smtp|relay):/i, '');
    if (!/^\[[^\]\s]+\](:\S+)?$/.test(dest) || (param !== 'relayhost' && !/^(smtp|relay):/i.test(v))) continue;
    const level = policies[dest.toLowerCase()];
    if (level !== undefined && level !== 'dane-only') continue;
    imp.error(from, `a level other than dane-only, or an smtp_tls_policy_maps entry for ${dest} (moat applies DANE to MX deliveries only; every delivery to ${param} would defer)`, `dane-only with ${param} = ${v}`);
  }
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

function importPolicyMaps(imp: SmtpTlsImportTarget): Record<string, Level> {
  const name = 'smtp_tls_policy_maps';
  if (!imp.explicit(name)) return {};
  const policies: Record<string, Level> = {};
  for (const { raw, key, level, attrs, where } of policyTableEntries(imp, name)) {
    const bracketed = /^\[[^\]\s]+\](:\d{1,5})?$/.test(key);
    if (!bracketed && /:\d+$/.test(key)) {
      // host:port: an MX lookup of that host on another port; moat looks levels of MX deliveries up by domain only
      if (level === 'may' || level === 'none') imp.warn(name, `${where}: ${raw}: an MX next hop with a port (transport smtp:host:port); moat looks TLS levels of MX deliveries up by domain, this one keeps the default`);
      else imp.error(name, 'a domain, .domain, [host] or [host]:port key (moat cannot apply a level to smtp:host:port, an MX lookup on another port)', `${where}: ${raw} ${JSON.stringify(level)}`);
      continue;
    }
    if (!bracketed && !/^\.?[a-z0-9-]+(\.[a-z0-9-]+)*$/.test(key)) {
      imp.error(name, 'a domain, .domain, [host] or [host]:port key', `${where}: ${JSON.stringify(raw)}`);
      continue;
    }
    if (!isLevel(level)) {
      imp.error(name, level === 'none' ? 'may or stricter: moat always uses STARTTLS when offered' : `one of ${TLS_LEVELS.join(', ')}`, `${where}: ${raw} ${JSON.stringify(level)}`);
      continue;
    }
    if (bracketed && level === 'dane-only') {
      // Postfix would look up TLSA for the host itself; moat applies DANE to MX deliveries only and would defer all
      imp.error(name, 'a level other than dane-only for a next hop without MX lookup (moat applies DANE to MX deliveries only)', `${where}: ${raw} "dane-only"`);
      continue;
    }
    if (bracketed && level === 'dane') imp.warn(name, `${where}: ${raw}: dane for a next hop without MX lookup is opportunistic TLS in moat (no TLSA lookup for the host)`);
    if (attrs.length) imp.warn(name, `${where}: ${raw}: attributes ignored (${attrs.join(' ')}): moat uses its own protocols, ciphers and name matching for ${level}`);
    // the first table that has the key wins, as in Postfix's list of tables
    if (!(key in policies)) policies[key] = level;
  }
  imp.set('queue.tls.policies', policies, name);
  imp.use(name, `queue.tls.policies: ${Object.entries(policies).map(([k, v]) => `${k} ${v}`).join(', ') || '(none)'}`);
  return policies;
}
