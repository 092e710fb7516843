// The main.cf importer's LMTP TLS keys: lmtp_tls_security_level (with the obsolete lmtp_use_tls / lmtp_enforce_tls /
// lmtp_tls_enforce_peername it overrides) and lmtp_tls_policy_maps, as queue.tls.lmtp. Trusts the parsed main.cf.
import { HOP_TLS_LEVELS } from '../sections/queue.ts';
import type { SmtpTlsImportTarget } from './smtp-tls.ts';
import { policyTableEntries } from './tls-policy-table.ts';

export const LMTP_TLS_KEYS = ['lmtp_tls_security_level', 'lmtp_use_tls', 'lmtp_enforce_tls', 'lmtp_tls_enforce_peername', 'lmtp_tls_policy_maps'] as const;

type Level = (typeof HOP_TLS_LEVELS)[number];
const isLevel = (v: string): v is Level => (HOP_TLS_LEVELS as readonly string[]).includes(v);
const EXPECTED = `one of ${HOP_TLS_LEVELS.join(', ')} (moat applies no DANE and no fingerprint to LMTP)`;

/** As Postfix's lmtp (smtp.c with the lmtp_ prefix): the level, else lmtp_enforce_tls, else lmtp_use_tls, else none. */
function effectiveLevel(imp: SmtpTlsImportTarget): { level: string; from: string } | undefined {
  if (!LMTP_TLS_KEYS.slice(0, 4).some((k) => imp.explicit(k))) return undefined; // Postfix's default: none, moat's too
  const level = (imp.value('lmtp_tls_security_level') ?? '').trim();
  if (level !== '') return { level, from: 'lmtp_tls_security_level' };
  if (imp.bool('lmtp_enforce_tls')) return { level: imp.bool('lmtp_tls_enforce_peername') === false ? 'encrypt' : 'verify', from: 'lmtp_enforce_tls' };
  if (imp.bool('lmtp_use_tls')) return { level: 'may', from: 'lmtp_use_tls' };
  return { level: 'none', from: 'lmtp_tls_security_level' };
}

export function importLmtpTls(imp: SmtpTlsImportTarget): void {
  const eff = effectiveLevel(imp);
  if (eff) {
    if (isLevel(eff.level)) {
      imp.set('queue.tls.lmtp.security_level', eff.level, eff.from);
      imp.use(eff.from, `queue.tls.lmtp.security_level = ${eff.level} (LMTP next hops over TCP; a unix socket never uses TLS)`);
      for (const k of LMTP_TLS_KEYS.slice(0, 4)) if (k !== eff.from && imp.explicit(k)) imp.use(k, eff.from === 'lmtp_tls_security_level' ? 'no effect: lmtp_tls_security_level is set' : `with ${eff.from}: level ${eff.level}`);
    } else imp.error(eff.from, EXPECTED, JSON.stringify(eff.level));
  }
  const name = 'lmtp_tls_policy_maps';
  if (!imp.explicit(name)) return;
  const policies: Record<string, Level> = {};
  for (const { raw, key, level, attrs, where } of policyTableEntries(imp, name)) {
    if (!/^(\[[^\]\s]+\]|[a-z0-9.-]+)(:\d{1,5})?$/.test(key)) {
      imp.error(name, 'host, [host], host:port or [host]:port (the LMTP next hop without inet:)', `${where}: ${JSON.stringify(raw)}`);
      continue;
    }
    if (!isLevel(level)) {
      imp.error(name, EXPECTED, `${where}: ${raw} ${JSON.stringify(level)}`);
      continue;
    }
    if (attrs.length) imp.warn(name, `${where}: ${raw}: attributes ignored (${attrs.join(' ')})`);
    if (!(key in policies)) policies[key] = level;
  }
  imp.set('queue.tls.lmtp.policies', policies, name);
  imp.use(name, `queue.tls.lmtp.policies: ${Object.entries(policies).map(([k, v]) => `${k} ${v}`).join(', ') || '(none)'}`);
}
