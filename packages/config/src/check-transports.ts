// `moat config check`'s static routing checks: no relay or remote address may be routed into a maildir, and no
// next hop without MX lookup may be left at a TLS level moat cannot meet there (dane-only).
// Trusts the compiled resolver (asked as at run time, through AddressResolver.route); table entries are admin input.
import type { AddressResolver, NextHop, ResolverSpec } from '@moat/address';
import type { LookupTable } from '@moat/maps';
import type { ConfigIssue } from './load.ts';
import type { Config } from './schema.ts';

/** A local part no table lists, to ask a domain key's route without matching a per-address key. */
const PROBE = 'moat-config-check';

interface Row {
  key: string;
  line?: number | undefined;
}

type Rows = LookupTable & { rows?: () => ReadonlyArray<{ key?: string | undefined; line: number }>; keys?: () => Iterable<string>; file?: string | undefined };

/** The keys a table can list (file tables by line, moat's in-memory ones by key); pattern tables cannot. */
function rowsOf(t: Rows): Row[] | undefined {
  if (t.pattern) return undefined;
  if (typeof t.rows === 'function') return t.rows().flatMap((r) => (r.key === undefined ? [] : [{ key: r.key, line: r.line }]));
  if (typeof t.keys === 'function') return [...t.keys()].map((key) => ({ key }));
  return undefined;
}

/** The address a transport_maps key is for (transport(5): user@domain, domain, .domain, *). */
function probeFor(key: string): string | undefined {
  if (key === '*') return `${PROBE}@${PROBE}.invalid`;
  if (key.startsWith('@')) return undefined;
  if (key.includes('@')) return key;
  if (key.startsWith('.')) return `${PROBE}@${PROBE}${key}`;
  return `${PROBE}@${key}`;
}

const OFF_HOST = new Set(['relay', 'remote']);

/**
 * Every transport that would write mail of the relay or remote class into a maildir: transport_maps
 * entries (file and line), queue.transports entries, relay_transport and default_transport. At run time
 * the maildir guard defers such mail (nothing remote is ever written into a mailbox); here it is an error
 * naming the domain, so the admin hears of it before a message waits in the queue. Pattern tables cannot
 * be listed and are left to the run-time guard.
 */
export function mailboxTransportIssues(config: Config, spec: ResolverSpec, resolver: AddressResolver): ConfigIssue[] {
  const file = config.source.file;
  const issues: ConfigIssue[] = [];
  const expected = 'a maildir: transport only for a local or virtual mailbox domain (relay and remote mail goes on by smtp: or lmtp:)';
  if (spec.defaultTransport.transport === 'maildir') {
    issues.push({ file, path: ['routing', 'default_transport'], expected, found: `${spec.defaultTransport.raw}: every remote domain would be written into a mailbox` });
  }
  const hasRelay = spec.relayDomains.length > 0 || (spec.relayDomainMaps ?? []).length > 0;
  if (hasRelay && spec.relayTransport.transport === 'maildir') {
    issues.push({ file, path: ['routing', 'relay_transport'], expected, found: `${spec.relayTransport.raw}: relay domains ${spec.relayDomains.join(', ') || '(from a table)'} would be written into a mailbox` });
  }
  for (const t of spec.transportMaps as readonly Rows[]) {
    const legacy = t.spec === 'moat:queue.transports';
    for (const row of rowsOf(t) ?? []) {
      const probe = probeFor(row.key);
      if (probe === undefined) continue;
      let r: ReturnType<AddressResolver['route']>;
      try {
        r = resolver.route(probe);
      } catch {
        continue; // a table that cannot answer, or a transport moat cannot parse: other checks say so
      }
      // Only the entry that decides: an earlier table's same key is reported on its own row.
      if (r.via !== row.key || !OFF_HOST.has(r.class) || r.nextHop.transport !== 'maildir') continue;
      const what = row.key === '*' ? 'every remote domain (*)' : row.key;
      const found = `${what}: ${r.nextHop.raw} for a ${r.class === 'relay' ? 'relay domain (relay_domains)' : 'remote domain'}; the delivery would defer it`;
      issues.push(legacy ? { file, path: ['queue', 'transports', row.key], expected, found } : { file: t.file ?? file, path: ['routing', 'transport_maps'], line: row.line, expected, found: `${t.spec}: ${found}` });
    }
  }
  return issues;
}

/** The key a next hop without MX lookup is looked up by in queue.tls.policies (@moat/tlspolicy hopPolicyKey). */
function hopKey(hop: Extract<NextHop, { transport: 'smtp' }>): string {
  return (hop.dest ?? `[${hop.host}]${hop.port === 25 ? '' : `:${hop.port}`}`).toLowerCase();
}

/**
 * queue.tls.security_level dane-only with a next hop without MX lookup (relayhost, `smtp:[host]:port` in a
 * transport setting, queue.transports or a listable transport_maps table) that no queue.tls.policies entry
 * gives another level: moat applies DANE to MX deliveries only, so every delivery there would defer forever.
 */
export function daneOnlyHopIssues(config: Config, spec: ResolverSpec, resolver: AddressResolver): ConfigIssue[] {
  const tls = config.queue.tls;
  if (tls.security_level !== 'dane-only') return [];
  const file = config.source.file;
  const expected = 'a security_level other than dane-only, or a queue.tls.policies entry for each next hop without MX lookup (moat applies DANE to MX deliveries only)';
  const issues: ConfigIssue[] = [];
  const seen = new Set<string>();
  const check = (hop: NextHop, where: string) => {
    if (hop.transport !== 'smtp' || hop.mx || hop.host === undefined) return;
    const key = hopKey(hop);
    const level = tls.policies[key];
    if ((level !== undefined && level !== 'dane-only') || seen.has(key)) return;
    seen.add(key);
    issues.push({ file, path: ['queue', 'tls', 'security_level'], expected, found: `dane-only for ${key} (${where}: ${hop.raw}): every delivery there would defer` });
  };
  check(spec.defaultTransport, 'default_transport / relayhost');
  check(spec.relayTransport, 'relay_transport / relayhost');
  check(spec.localTransport, 'local_transport');
  check(spec.virtualTransport, 'virtual_transport');
  for (const t of spec.transportMaps as readonly Rows[]) {
    for (const row of rowsOf(t) ?? []) {
      const probe = probeFor(row.key);
      if (probe === undefined) continue;
      try {
        const r = resolver.route(probe);
        if (r.via === row.key) check(r.nextHop, `${t.spec}${row.line ? `:${row.line}` : ''} ${row.key}`);
      } catch {
        // a table that cannot answer, or a transport moat cannot parse: other checks say so
      }
    }
  }
  return issues;
}
